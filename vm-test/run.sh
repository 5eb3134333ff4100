#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The kernel shim, proven in a VM (QEMU, TCG only: never KVM here).
#
#   bash vm-test/run.sh [PHASE...]      phases: 1 2 3 4 (default: all)
#
# Host: builds kernel-shim/ against Debian's kernel headers (W=1 + sparse, must be
# silent), a static probe for the guest, the secret page, and a busybox initramfs.
#   phase 1  the device itself: loads, refusals, reads, seeks, erase-only writes.
#   phase 2  the real thing: the host's Java runs the project jar in the guest
#            (host root over 9p, read-only) with its default backing /dev/coco_secret;
#            ls, cat, rm on the FUSE mount; SIGTERM.
#   phase 3  systemd as PID 1, booted through OVMF as phase 4 is (no modprobe options):
#            the host's root (9p, read-only) under a tmpfs overlay,
#            the .deb installed there as an operator would (dpkg -i, its Depends met by
#            the host's root; postinst has DKMS build the shim); then switch_root to
#            systemd, which mounts /run/coco at boot. Checks (guest/systemd-checks): the
#            mount as PID 1 sees it, readiness, the journal's priorities, the fd store, rm,
#            stop, start with the shim unloaded; then, with a reader in a mount namespace of
#            its own looping through a read-write and a read-only bind of /run/coco (probe
#            readloop), SIGKILL and the automatic restart, systemctl restart, an upgrade to
#            a higher version while the service runs, a JDK upgrade (the trigger): each time
#            the next daemon takes the mount over, the same connection, and the reader never
#            sees ENOTCONN (after the kill, EIO at most; after the others, no error at all);
#            then a stop (the mount and the store go, the binds fail with ENOTCONN), a
#            start, dpkg -r, dpkg -P. Before all that, with a policy in /etc/coco-secretfs/policy,
#            three consumers: a LUKS volume (a file made here with cryptsetup, its key the
#            first secret) that systemd-cryptsetup opens at boot through /etc/crypttab's
#            keyfile=/run/coco/luks-key,keyfile-erase, the secret wiped after it (once);
#            a DynamicUser= service that gets a root-only secret through LoadCredential=;
#            a non-root user in a mount namespace who reads what the policy gives it and
#            nothing else; then systemctl reload with a changed policy, and a bad one.
#            Needs `make deb deb-upgrade` first.
#   phase 4  the EFI route, as on a real confidential VM: Debian's OVMF (q35) starts our
#            UEFI application (efi/coco-efi.c), which publishes the page as OVMF's AmdSev
#            build does and boots the kernel. Six boots: the shim loads with no
#            parameters and the daemon serves and wipes as in phase 2; refused: the
#            older OVMF layouts (location, or area, in boot-services memory), a location
#            with size 16, efi=noruntime; no entry at all is a notice-level ENODEV.
# After each guest powers off, the host reads the page from the guest's RAM (a
# memory-backend-file) and compares it byte for byte with what must be there; in phase
# 4 at the address the firmware chose, which the application prints on the console.
# run_vm_efi boots any phase's guest that way (see there).
#
# Prints one PASS/FAIL line per check and ends with "N passed, M failed"; exits 1
# if anything failed. Artefacts and console logs are in vm-test/out/.
#
# Environment: KVER (default: the newest /lib/modules/*/build with a /boot/vmlinuz),
# VM_SMP (2), VM_TIMEOUT1 (60 s), VM_TIMEOUT2 (150 s), VM_TIMEOUT3 (1500 s),
# VM_TIMEOUT4 (90 s for a boot that only loads the shim; VM_TIMEOUT2 + 60 s with the daemon), VM_JAVA_OPTS
# (-Xint: options for the guest's JVM, see below), VM_START_TIMEOUT (120 s: the service's
# TimeoutStartSec in phase 3), VM_APPEND (extra kernel parameters, e.g. loglevel=7),
# VM_DEB (the package; default: the newest target/coco-secretfs_*_amd64.deb), VM_DEB_UPGRADE
# (the one phase 3 upgrades to; default: the newest target/upgrade/coco-secretfs_*_amd64.deb),
# VM_PHASE3_CHECKS (all; "consumers": phase 3 stops after the policy's consumers and the
# reload, skipping the rm, the restarts and the package's life: for developing those checks).

set -u
set -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$HERE/out
JAR=$ROOT/fuse-daemon/target/coco-secretfs.jar
PHYS=0x10000000
SIZE=4096
SMP=${VM_SMP:-2}
T1=${VM_TIMEOUT1:-60}
T2=${VM_TIMEOUT2:-150}
T3=${VM_TIMEOUT3:-1500}  # phase 3 ran 815-1036 s here with the restart checks
T4=${VM_TIMEOUT4:-90}
# Debian's OVMF: its code read-only, and a fresh copy of its variable store per boot.
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
# The shipped unit allows 30 s to start, enough on hardware; an interpreted JVM under
# TCG on a busy host can take longer than that (phase 2 mounted after 10-30 s).
START_TIMEOUT=${VM_START_TIMEOUT:-120s}
# The guest's JVM runs interpreted. Under TCG, and with two vCPUs in particular,
# HotSpot's live patching of JIT-compiled code sometimes ends in a SIGILL that
# the JVM cannot attribute (cross-modifying code as the emulator sees it); and
# compiling costs more than it saves for a daemon that serves a handful of
# requests: -Xint mounted in 10-14 s here, the default JIT in 17-30 s.
JAVA_OPTS=${VM_JAVA_OPTS--Xint}
PASS_CODE=85  # (0x2a << 1) | 1, what QEMU exits with when the guest writes 0x2a
START=$SECONDS

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
summary() {
	echo "vm-test: $((SECONDS - START)) s"
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
}
# Fatal: nothing after this step can run.
stop() {
	fail "$*"
	summary
}

phases=${*:-1 2 3 4}

# ---------------------------------------------------------------- prerequisites
for tool in qemu-system-x86_64 gcc make cpio sparse timeout od cmp sha256sum; do
	command -v $tool >/dev/null ||
		stop "tool '$tool' present (install with: sh scripts/ensure-deps.sh vm)"
done
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' &&
	[ -x /bin/busybox ] ||
	stop "a static busybox at /bin/busybox (install with: sh scripts/ensure-deps.sh vm)"

if [ -z "${KVER:-}" ]; then
	for d in $(ls -d /lib/modules/*/build 2>/dev/null | sort -V); do
		v=$(basename "$(dirname "$d")")
		[ -f "/boot/vmlinuz-$v" ] && [ -f "$d/Makefile" ] && KVER=$v
	done
fi
[ -n "${KVER:-}" ] ||
	stop "a Debian kernel with headers (linux-image-amd64 linux-headers-amd64)"
KDIR=/lib/modules/$KVER/build
MODDIR=/lib/modules/$KVER
echo "vm-test: kernel $KVER, $SMP vCPU(s), TCG"

rm -rf "$OUT"
mkdir -p "$OUT/build" "$OUT/initramfs"

# ---------------------------------------------------------------- the module
# Built from a copy, so that a developer's own build in kernel-shim/ is left alone.
cp "$ROOT"/kernel-shim/{Kbuild,Makefile,coco_secret_shim.c} "$OUT/build/"
if make -C "$OUT/build" KDIR="$KDIR" check >"$OUT/build.log" 2>&1; then
	pass "module builds against $KVER with W=1 and sparse (C=2), no warnings"
else
	sed 's/^/  /' "$OUT/build.log"
	stop "module builds against $KVER with W=1 and sparse (C=2), no warnings"
fi
if gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/probe" "$HERE/guest/probe.c" 2>"$OUT/probe.log"; then
	pass "guest probe builds"
else
	cat "$OUT/probe.log"
	stop "guest probe builds"
fi

# ---------------------------------------------------------------- the page
# Secrets: GUID and data. The second one is the one phases 2 and 3 remove, so that the
# bytes on both sides of it prove untouched. Phase 3's policy gives the first to LUKS
# (name=luks-key, once), the third to a service's LoadCredential= (root's, 0400) and the
# fourth to a non-root user.
GUIDS=(736869e5-84f0-4973-92ec-06879ce3da0b
	2cf13667-ea72-4013-9dd6-155e89c5a28f
	e6f5a162-d67f-4750-a67c-5d065f2a9910
	1ee27366-0c87-43a6-af48-28543eaf7cb0)
LUKS_GUID=${GUIDS[0]}
REMOVE_GUID=${GUIDS[1]}
CRED_GUID=${GUIDS[2]}
READER_GUID=${GUIDS[3]}
SECRETS=$OUT/initramfs/coco/secrets
mkdir -p "$SECRETS"
printf 'vm-test LUKS passphrase: stapled horse battery\0' >"$SECRETS/${GUIDS[0]}"
printf 'test secret' >"$SECRETS/${GUIDS[1]}"
printf '{"kid-vm-test":"c2VjcmV0IGtleSBieXRlcyBmb3IgdGhlIFZNIHRlc3Q="}' >"$SECRETS/${GUIDS[2]}"
printf '{"client_id":"vm-test","key":"a2V5IGZvciB0aGUgVk0gdGVzdCByZWFkZXI="}' >"$SECRETS/${GUIDS[3]}"

# GUID text -> its 16 bytes as printf escapes, EFI mixed-endian (first three
# fields little-endian).
guid_escapes() {
	local h=${1//-/} out="" i
	for i in 6 4 2 0 10 8 14 12 16 18 20 22 24 26 28 30; do
		out+="\\x${h:i:2}"
	done
	printf '%s' "$out"
}
u32_escapes() {
	printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) \
		$(($1 >> 16 & 255)) $(($1 >> 24 & 255))
}
# The harness's own packer, used until the project's jar exists.
shell_pack() { # shell_pack OUT SIZE GUID=@FILE...
	local out=$1 size=$2 total=20 arg f
	shift 2
	for arg; do
		total=$((total + 20 + $(wc -c <"${arg#*=@}")))
	done
	{
		printf "$(guid_escapes 1e74f542-71dd-4d66-963e-ef4287ff173b)$(u32_escapes $total)"
		for arg; do
			f=${arg#*=@}
			printf "$(guid_escapes "${arg%%=@*}")$(u32_escapes $((20 + $(wc -c <"$f"))))"
			cat "$f"
		done
	} >"$out.tmp"
	[ "$(wc -c <"$out.tmp")" -le "$size" ] || return 1
	cp "$out.tmp" "$out" && rm "$out.tmp" && truncate -s "$size" "$out"
}
u32_at() { od -An -tu4 --endian=little -j "$2" -N4 "$1" | tr -d ' '; }
hex_at() { od -An -tx1 -v -j "$2" -N "$3" "$1" | tr -d ' \n'; }
guid_hex() { guid_escapes "$1" | sed 's/\\x//g'; }
# Entry offset of GUID in PAGE, walking the table as efi_secret does.
entry_offset() {
	local page=$1 want=$(guid_hex "$2") total off=20 len
	total=$(u32_at "$page" 16)
	while [ $((off + 20)) -le "$total" ]; do
		len=$(u32_at "$page" $((off + 16)))
		[ "$len" -ge 20 ] || return 1
		if [ "$(hex_at "$page" $off 16)" = "$want" ]; then
			echo $off
			return 0
		fi
		off=$((off + len))
	done
	return 1
}
# zero_range FILE OFF LEN: overwrite bytes in place with zeros.
zero_range() {
	dd if=/dev/zero of="$1" bs=1 seek="$2" count="$3" conv=notrunc status=none
}

PAGE=$OUT/initramfs/coco/page.bin
pack_args=()
for g in "${GUIDS[@]}"; do pack_args+=("$g=@$SECRETS/$g"); done
if [ -f "$JAR" ]; then
	if java -jar "$JAR" pack --out "$PAGE" --size $SIZE "${pack_args[@]}" >"$OUT/pack.log" 2>&1 &&
		[ "$(wc -c <"$PAGE")" = $SIZE ]; then
		pass "page packed by coco-secretfs pack"
	else
		cat "$OUT/pack.log"
		stop "page packed by coco-secretfs pack"
	fi
else
	echo "vm-test: $JAR not built; the page comes from the harness's own packer"
	shell_pack "$PAGE" $SIZE "${pack_args[@]}" || stop "page packed by the harness"
	pass "page packed by the harness"
fi
[ "$(hex_at "$PAGE" 0 16)" = "$(guid_hex 1e74f542-71dd-4d66-963e-ef4287ff173b)" ] ||
	stop "the page starts with the table header GUID"
OFFS=()
for g in "${GUIDS[@]}"; do
	o=$(entry_offset "$PAGE" "$g") || stop "the page holds an entry for $g"
	OFFS+=("$o")
done

# Phase 1 erases 7 bytes inside the first secret's data (neighbours non-zero) and
# the last 8 bytes of the page (a write across the end).
ERASE_OFF=$((OFFS[0] + 20 + 3))
ERASE_LEN=7
cp "$PAGE" "$OUT/initramfs/coco/phase1-expected.bin"
zero_range "$OUT/initramfs/coco/phase1-expected.bin" $ERASE_OFF $ERASE_LEN
zero_range "$OUT/initramfs/coco/phase1-expected.bin" $((SIZE - 8)) 8
# Phases 2 and 3 remove the second secret: its GUID and data become zero, its length stays.
# In phase 3 the LUKS secret (the first) goes too, once systemd-cryptsetup has read it.
RM_OFF=${OFFS[1]}
RM_LEN=$(u32_at "$PAGE" $((RM_OFF + 16)))
LUKS_OFF=${OFFS[0]}
LUKS_LEN=$(u32_at "$PAGE" $((LUKS_OFF + 16)))
wipe_entry() { # wipe_entry FILE OFF LEN: as an unlink leaves an entry
	zero_range "$1" "$2" 16
	zero_range "$1" $(($2 + 20)) $(($3 - 20))
}
cp "$PAGE" "$OUT/initramfs/coco/phase2-expected.bin"
wipe_entry "$OUT/initramfs/coco/phase2-expected.bin" "$RM_OFF" "$RM_LEN"
PHASE3_CHECKS=${VM_PHASE3_CHECKS:-all}
if [ "$PHASE3_CHECKS" = consumers ]; then  # no rm: only the LUKS secret goes
	cp "$PAGE" "$OUT/phase3-expected.bin"
else
	cp "$OUT/initramfs/coco/phase2-expected.bin" "$OUT/phase3-expected.bin"
fi
wipe_entry "$OUT/phase3-expected.bin" "$LUKS_OFF" "$LUKS_LEN"
cp "$PAGE" "$OUT/page.bin"

# ---------------------------------------------------------------- the initramfs
IRD=$OUT/initramfs
mkdir -p "$IRD"/{bin,proc,sys,dev,tmp,coco/modules}
cp /bin/busybox "$IRD/bin/busybox"
cp "$HERE/guest/init" "$IRD/init"
chmod 755 "$IRD/init"
cp "$HERE/guest/systemd-checks" "$HERE/guest/coco-vm-test.service" "$IRD/coco/"
cp "$OUT/build/coco_secret_shim.ko" "$OUT/probe" "$IRD/coco/"

# Modules for FUSE, 9p over virtio and overlayfs, with their dependencies first (modules.dep);
# for phase 3's LUKS volume a loop device and dm-crypt with aes-xts (AES itself is built in),
# and AF_ALG, which libcryptsetup uses for its key slots.
declare -A seen=()
add_module() { # add_module kernel/path/x.ko
	local m=$1 dep
	[ -n "${seen[$m]:-}" ] && return
	seen[$m]=1
	for dep in $(sed -n "s|^$m: *||p" "$MODDIR/modules.dep"); do
		add_module "$dep"
	done
	cp "$MODDIR/$m" "$IRD/coco/modules/" || return 1
	basename "$m" >>"$IRD/coco/modules.order"
}
: >"$IRD/coco/modules.order"
for name in fuse 9p 9pnet_virtio virtio_pci overlay loop dm-mod dm-crypt ecb xts af_alg algif_skcipher; do
	m=$(grep -o "^kernel/[^:]*/$name\.ko[^:]*" "$MODDIR/modules.dep" | head -n1)
	[ -n "$m" ] && add_module "$m" || stop "module $name of $KVER found"
done
if grep -q '\.ko\.' "$IRD/coco/modules.order"; then
	stop "kernel modules are uncompressed (busybox insmod needs plain .ko)"
fi

JAVA=$(readlink -f "$(command -v java 2>/dev/null)" 2>/dev/null || true)
DEB=${VM_DEB:-$(ls -t "$ROOT"/target/coco-secretfs_*_amd64.deb 2>/dev/null | head -n 1)}
[ -z "$DEB" ] || DEB=$(readlink -f "$DEB")
cat >"$IRD/coco/conf" <<EOF
PHYS=$PHYS
SIZE=$SIZE
ERASE_OFF=$ERASE_OFF
ERASE_LEN=$ERASE_LEN
JAR='$JAR'
JAVA='$JAVA'
JAVA_OPTS='$JAVA_OPTS'
ALL_GUIDS='$(printf '%s\n' "${GUIDS[@]}" | sort | tr '\n' ' ')'
KEPT_GUIDS='$(printf '%s\n' "${GUIDS[@]}" | grep -v "$REMOVE_GUID" | sort | tr '\n' ' ')'
REMOVE_GUID=$REMOVE_GUID
LUKS_GUID=$LUKS_GUID
CRED_GUID=$CRED_GUID
READER_GUID=$READER_GUID
KVER=$KVER
DEB='$DEB'
START_TIMEOUT=$START_TIMEOUT
EOF
(cd "$IRD" && find . | cpio -o -H newc --quiet) >"$OUT/initramfs.cpio" ||
	stop "initramfs built"
pass "initramfs built ($(wc -l <"$IRD/coco/modules.order") modules)"

# ---------------------------------------------------------------- the VM
# run_vm NAME TIMEOUT [QEMU ARGS...]: boots the guest of phase ${NAME%%-*} (NAME is "2",
# or "4-old-layout" for one of several boots of a phase) with the kernel and initramfs
# given to QEMU directly and the page at PHYS, reserved by memmap=; its RAM is a file in
# /dev/shm so that the host can read the page after it powers off. Sets VM_RC, and
# AREA_PA to where the page is in guest physical memory. Logs: console-NAME.log.
RAM=/dev/shm/coco-vm-test.$$.ram
if [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -lt 1200000 ] 2>/dev/null ||
	[ ! -d /dev/shm ]; then
	RAM=$OUT/guest.ram  # no room in /dev/shm: a file on disk works too, only slower
fi
cleanup() { rm -f "$RAM"; }
trap cleanup EXIT
phase_append() { # phase_append NAME: the kernel parameters every boot of that phase gets
	[ "${1%%-*}" != 3 ] || printf '%s' "$PHASE3_APPEND"
}
run_vm() {
	local name=$1 limit=$2 log=$OUT/console-$1.log t0=$SECONDS
	shift 2
	rm -f "$RAM"
	AREA_PA=$PHYS
	timeout -k 5 "$limit" qemu-system-x86_64 \
		-accel tcg -machine pc,memory-backend=ram -m 1G -smp "$SMP" \
		-object memory-backend-file,id=ram,size=1G,mem-path="$RAM",share=on \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial file:"$log" \
		-kernel "/boot/vmlinuz-$KVER" -initrd "$OUT/initramfs.cpio" \
		-append "console=ttyS0 quiet panic=-1 memmap=4K\$$PHYS cocophase=${name%%-*} $(phase_append "$name") ${VM_APPEND:-}" \
		-device loader,file="$OUT/page.bin",addr=$PHYS,force-raw=on \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		"$@" >"$OUT/qemu-$name.log" 2>&1
	VM_RC=$?
	echo "vm-test: $name guest ran $((SECONDS - t0)) s (QEMU exit $VM_RC)"
}

# ---------------------------------------------------------------- the EFI route
# efi_ready: the UEFI application is built (once) and OVMF and the FAT tools are here.
# Prints a FAIL line and returns 1 if not.
EFI_APP=$OUT/efi/BOOTX64.EFI
MKFS_VFAT=$(PATH=$PATH:/usr/sbin:/sbin command -v mkfs.vfat)
efi_ready() {
	local missing="" f
	[ ! -f "$EFI_APP" ] || return 0
	for f in "$OVMF_CODE" "$OVMF_VARS" /usr/lib/crt0-efi-x86_64.o /usr/lib/elf_x86_64_efi.lds \
		/usr/include/efi/efi.h; do
		[ -f "$f" ] || missing="$missing $f"
	done
	for f in mcopy mmd ld objcopy; do
		command -v $f >/dev/null || missing="$missing $f"
	done
	[ -n "$MKFS_VFAT" ] || missing="$missing mkfs.vfat"
	if [ -n "$missing" ]; then
		fail "EFI route: host has$missing (install with: sh scripts/ensure-deps.sh vm)"
		return 1
	fi
	mkdir -p "$OUT/efi"
	# gnu-efi: an ELF shared object, linked with its crt0 and script, turned into PE32+.
	if gcc -O2 -Wall -Wextra -Werror -I/usr/include/efi -I/usr/include/efi/x86_64 \
		-DGNU_EFI_USE_MS_ABI -fpic -ffreestanding -fno-stack-protector -fno-stack-check \
		-fshort-wchar -mno-red-zone -maccumulate-outgoing-args \
		-c "$HERE/efi/coco-efi.c" -o "$OUT/efi/coco-efi.o" >"$OUT/efi/build.log" 2>&1 &&
		ld -shared -Bsymbolic -nostdlib -znocombreloc -T /usr/lib/elf_x86_64_efi.lds \
			/usr/lib/crt0-efi-x86_64.o "$OUT/efi/coco-efi.o" -o "$OUT/efi/coco-efi.so" \
			-L/usr/lib -lefi -lgnuefi >>"$OUT/efi/build.log" 2>&1 &&
		objcopy -j .text -j .sdata -j .data -j .rodata -j .dynamic -j .dynsym -j .rel \
			-j '.rel.*' -j .rela -j '.rela.*' -j .reloc --target efi-app-x86_64 \
			--subsystem=10 "$OUT/efi/coco-efi.so" "$EFI_APP" >>"$OUT/efi/build.log" 2>&1; then
		pass "EFI application (gnu-efi) builds with -Wall -Wextra -Werror"
	else
		sed 's/^/  /' "$OUT/efi/build.log"
		rm -f "$EFI_APP"
		fail "EFI application (gnu-efi) builds with -Wall -Wextra -Werror"
		return 1
	fi
}

# run_vm_efi NAME TIMEOUT [QEMU ARGS...]: as run_vm, but the way a confidential VM boots:
# Debian's OVMF on q35 starts efi/coco-efi.c from a FAT volume (no partition table, on
# virtio) holding it as \EFI\BOOT\BOOTX64.EFI, \vmlinuz, \initrd and \coco\*. The
# application puts the page in EfiReservedMemoryType memory, its location struct in
# EfiACPIReclaimMemory, installs the LINUX_EFI_COCO_SECRET_AREA_GUID configuration table
# entry and starts the kernel with initrd=\initrd. No memmap=, no address anywhere: the
# firmware picks it, the application prints it, and this sets AREA_PA from that line
# (empty if there is none). The guest sees cocoboot=efi on its command line.
# EFI_FLAGS: files put in \coco on the volume (old-layout, area-boot-services, tiny-size,
# no-entry: see coco-efi.c);
# EFI_APPEND: kernel parameters for this boot only. Needs efi_ready first.
efi_flags() { # efi_flags IMAGE FLAG...: empty files \coco\FLAG
	local img=$1 f
	shift
	for f; do
		mcopy -i "$img" /dev/null ::/coco/"$f" || return 1
	done
}
run_vm_efi() {
	local name=$1 limit=$2 log=$OUT/console-$1.log t0=$SECONDS
	local img=$OUT/efi/$1.img vars=$OUT/efi/$1.vars f kib
	shift 2
	rm -f "$RAM" "$img"
	export MTOOLS_SKIP_CHECK=1  # mtools would complain about an image's odd geometry
	AREA_PA=
	printf 'initrd=\\initrd console=ttyS0 quiet panic=-1 cocoboot=efi cocophase=%s %s %s %s\n' \
		"${name%%-*}" "$(phase_append "$name")" "${EFI_APPEND:-}" "${VM_APPEND:-}" >"$OUT/efi/$name.cmdline"
	kib=$((($(stat -c %s "/boot/vmlinuz-$KVER") + $(stat -c %s "$OUT/initramfs.cpio")) / 1024 + 8192))
	if ! { "$MKFS_VFAT" -C "$img" $kib &&
		mmd -i "$img" ::/EFI ::/EFI/BOOT ::/coco &&
		mcopy -i "$img" "$EFI_APP" ::/EFI/BOOT/BOOTX64.EFI &&
		mcopy -i "$img" "/boot/vmlinuz-$KVER" ::/vmlinuz &&
		mcopy -i "$img" "$OUT/initramfs.cpio" ::/initrd &&
		mcopy -i "$img" "$OUT/page.bin" ::/coco/page.bin &&
		mcopy -i "$img" "$OUT/efi/$name.cmdline" ::/coco/cmdline &&
		efi_flags "$img" ${EFI_FLAGS:-}
	} >"$OUT/efi/$name.log" 2>&1; then
		sed 's/^/  /' "$OUT/efi/$name.log"
		VM_RC=1
		fail "$name: FAT volume for the EFI boot built"
		return
	fi
	cp "$OVMF_VARS" "$vars"
	timeout -k 5 "$limit" qemu-system-x86_64 \
		-accel tcg -machine q35,memory-backend=ram -cpu max -m 1G -smp "$SMP" \
		-object memory-backend-file,id=ram,size=1G,mem-path="$RAM",share=on \
		-nodefaults -no-user-config -display none -no-reboot \
		-drive if=pflash,format=raw,unit=0,readonly=on,file="$OVMF_CODE" \
		-drive if=pflash,format=raw,unit=1,file="$vars" \
		-drive if=virtio,format=raw,file="$img" \
		-serial file:"$log" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		"$@" >"$OUT/qemu-$name.log" 2>&1
	VM_RC=$?
	rm -f "$img" "$vars"
	AREA_PA=$(tr -d '\r' <"$log" | grep -a -o 'coco-efi: area 0x[0-9a-fA-F]*' | head -n 1 | sed 's/.* //')
	echo "vm-test: $name guest ran $((SECONDS - t0)) s (QEMU exit $VM_RC)${AREA_PA:+, area at $AREA_PA}"
}

# report_vm NAME EXPECTED-PAGE [RESULTS]: the guest's own checks (from RESULTS if given,
# else from the console), its verdict, then the page as it is in the guest's physical
# memory at AREA_PA (not checked if EXPECTED-PAGE is empty: a boot without an area).
report_vm() {
	local name=$1 expected=$2 log=$OUT/console-$1.log what
	local results=${3:-$log}
	touch "$log" "$results"
	tr -d '\r' <"$results" | grep -a -E '^GUEST-(PASS|FAIL) ' | while read -r verdict check; do
		[ "$verdict" = GUEST-PASS ] && echo "PASS: phase $name: $check" ||
			echo "FAIL: phase $name: $check"
	done >"$OUT/guest-$name.results"
	cat "$OUT/guest-$name.results"
	passed=$((passed + $(grep -c '^PASS' "$OUT/guest-$name.results")))
	failed=$((failed + $(grep -c '^FAIL' "$OUT/guest-$name.results")))

	case $VM_RC in
	$PASS_CODE) what="" ;;
	124 | 137) what=" (timed out after the limit; hang?)" ;;
	0) what=" (the guest rebooted or powered off without a verdict; panic?)" ;;
	*) what=" (QEMU exit $VM_RC)" ;;
	esac
	if [ -z "$what" ]; then
		pass "phase $name: guest finished and reported success"
	else
		fail "phase $name: guest finished and reported success$what"
		echo "---- tail of $log"
		tail -n 40 "$log" | sed 's/^/  | /'
		[ -s "$OUT/qemu-$name.log" ] && sed 's/^/  qemu: /' "$OUT/qemu-$name.log"
		echo "----"
	fi

	if [ -z "$expected" ]; then
		:
	elif [ -z "$AREA_PA" ] || [ $((AREA_PA % 4096)) != 0 ]; then
		fail "phase $name: the firmware reported a page-aligned area address (got '$AREA_PA')"
	elif [ -f "$RAM" ]; then
		dd if="$RAM" of="$OUT/pmem-$name.bin" bs=4096 skip=$((AREA_PA / 4096)) count=$((SIZE / 4096)) status=none
		if cmp -s "$OUT/pmem-$name.bin" "$expected"; then
			pass "phase $name: guest physical memory at $AREA_PA holds exactly the expected page"
		else
			fail "phase $name: guest physical memory at $AREA_PA holds exactly the expected page"
			cmp -l "$OUT/pmem-$name.bin" "$expected" | head -n 10 | sed 's/^/  offset(1-based) got(octal) want(octal): /'
		fi
	else
		fail "phase $name: guest RAM file readable after power-off"
	fi
	rm -f "$RAM"
}

# removed_entry_wiped PHASE [WHAT OFF LEN]: the removed entry (by default the one rm
# removes), spelled out: GUID and data zero, length kept.
removed_entry_wiped() {
	local p=$OUT/pmem-$1.bin off=${3:-$RM_OFF} len=${4:-$RM_LEN}
	local what="phase $1: ${2:-removed} entry at $off: GUID and $((len - 20)) data bytes zero, length $len kept"
	[ -f "$p" ] || return
	if [ "$(hex_at "$p" "$off" 16)" = "00000000000000000000000000000000" ] &&
		[ "$(hex_at "$p" $((off + 20)) $((len - 20)) | tr -d 0)" = "" ] &&
		[ "$(u32_at "$p" $((off + 16)))" = "$len" ]; then
		pass "$what"
	else
		fail "$what"
	fi
}
# efi_load_line_matches NAME: the shim's load line, as the guest printed it, names the
# address where the application put the page and the location struct it installed.
efi_load_line_matches() {
	local log=$OUT/console-$1.log line app got loc want_loc
	line=$(tr -d '\r' <"$log" | grep -a '^guest: shim: .* bytes at 0x.* from the EFI configuration table' | head -n 1)
	app=$(tr -d '\r' <"$log" | grep -a -o 'coco-efi: area .*' | head -n 1)
	got=$(printf '%s' "$line" | sed -n 's/.* bytes at \(0x[0-9a-f]*\) .*/\1/p')
	loc=$(printf '%s' "$line" | sed -n 's/.*(location at \(0x[0-9a-f]*\),.*/\1/p')
	want_loc=$(printf '%s' "$app" | sed -n 's/.*location \(0x[0-9a-fA-F]*\) .*/\1/p')
	if [ -n "$got" ] && [ -n "$loc" ] && [ -n "$want_loc" ] && [ -n "$AREA_PA" ] &&
		[ $((got)) = $((AREA_PA)) ] && [ $((loc)) = $((want_loc)) ]; then
		pass "phase $1: the shim found the area at $AREA_PA through the location at $want_loc, as the firmware published them"
	else
		fail "phase $1: the shim found the area where the firmware published it (shim: '${line#guest: shim: }', firmware: '$app')"
	fi
}

# Phase 3 boots the default target: multi-user, where the package enabled the service.
# No interactive first-boot questions; no status lines between the checks' own.
PHASE3_APPEND="systemd.unit=multi-user.target systemd.firstboot=off systemd.show_status=0"

for phase in $phases; do
	case $phase in
	1)
		run_vm 1 "$T1"
		report_vm 1 "$OUT/initramfs/coco/phase1-expected.bin"
		;;
	2)
		if [ ! -f "$JAR" ]; then
			fail "phase 2: $JAR exists (build it first: make build)"
			continue
		fi
		if [ -z "$JAVA" ]; then
			fail "phase 2: a java on the host to share with the guest"
			continue
		fi
		run_vm 2 "$T2" \
			-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
		report_vm 2 "$OUT/initramfs/coco/phase2-expected.bin"
		removed_entry_wiped 2
		;;
	3)
		if [ -z "$DEB" ] || [ ! -f "$DEB" ]; then
			fail "phase 3: the package target/coco-secretfs_*_amd64.deb exists (build it first: make deb)"
			continue
		fi
		DEB2=${VM_DEB_UPGRADE:-$(ls -t "$ROOT"/target/upgrade/coco-secretfs_*_amd64.deb 2>/dev/null | head -n 1)}
		if [ -z "$DEB2" ] || [ ! -f "$DEB2" ]; then
			fail "phase 3: the upgrade package target/upgrade/coco-secretfs_*_amd64.deb exists (make deb-upgrade)"
			continue
		fi
		DEB2=$(readlink -f "$DEB2")
		# The guest boots the host's own systemd; the package's Depends must be installed
		# here (the guest's root is this one), dkms among them.
		missing=""
		CRYPTSETUP=$(PATH=$PATH:/usr/sbin:/sbin command -v cryptsetup)
		for tool in dkms /lib/systemd/systemd systemctl journalctl deb-systemd-helper dpkg-deb \
			/lib/systemd/systemd-cryptsetup $CRYPTSETUP setpriv; do
			command -v $tool >/dev/null || missing="$missing $tool"
		done
		if [ -n "$missing" ]; then
			fail "phase 3: host has$missing (install with: sh scripts/ensure-deps.sh vm)"
			continue
		fi
		v1=$(dpkg-deb -f "$DEB" Version)
		v2=$(dpkg-deb -f "$DEB2" Version)
		if ! dpkg --compare-versions "$v2" gt "$v1"; then
			fail "phase 3: the upgrade package's version ($v2) is newer than the package's ($v1)"
			continue
		fi
		echo "vm-test: phase 3 installs $DEB, then upgrades to $DEB2"
		[ ! "$JAR" -nt "$DEB" ] ||
			echo "vm-test: note: the package is older than $JAR; phase 3 tests the package (make deb)"
		# The results share also brings what only this phase needs: the two packages and
		# the page as it must be in the device at the end.
		rm -rf "$OUT/share-3"
		mkdir -p "$OUT/share-3"
		cat >"$OUT/share-3/conf-3" <<-EOF
			DEB='$DEB'
			DEB_VERSION='$v1'
			DEB2='$DEB2'
			DEB2_VERSION='$v2'
			PHASE3_CHECKS='$PHASE3_CHECKS'
		EOF
		cp "$OUT/phase3-expected.bin" "$OUT/share-3/expected.bin"
		# The LUKS data volume: a file, its passphrase every byte of the first secret (its
		# NUL included, as crypttab reads a key file). Argon2id as Debian's default, at a cost
		# TCG affords; with it, unlike PBKDF2 (whose HMAC pads a short key with zeros), the
		# same passphrase without its NUL is another one.
		luks=$OUT/share-3/luks.img
		rm -f "$luks" && truncate -s 2M "$luks" &&
			"$CRYPTSETUP" luksFormat --batch-mode --type luks2 --pbkdf argon2id --pbkdf-memory 32 \
				--pbkdf-parallel 1 --pbkdf-force-iterations 4 --luks2-metadata-size 16k \
				--luks2-keyslots-size 512k --key-file "$SECRETS/$LUKS_GUID" "$luks" >"$OUT/luks.log" 2>&1 ||
			{ sed 's/^/  /' "$OUT/luks.log"; fail "phase 3: a LUKS2 volume made with cryptsetup"; continue; }
		head -c -1 "$SECRETS/$LUKS_GUID" >"$OUT/luks-key-without-nul"
		if "$CRYPTSETUP" open --test-passphrase --key-file "$SECRETS/$LUKS_GUID" "$luks" &&
			! "$CRYPTSETUP" open --test-passphrase --key-file "$OUT/luks-key-without-nul" "$luks" 2>/dev/null; then
			pass "phase 3: a LUKS2 volume (cryptsetup) opened by the first secret, NUL included, not without it"
		else
			fail "phase 3: a LUKS2 volume (cryptsetup) opened by the first secret, NUL included, not without it"
		fi
		rm -f "$OUT/luks-key-without-nul"
		# Booted as a confidential VM boots (OVMF publishes the area): the installed
		# package finds it with no modprobe options at all.
		efi_ready || continue
		run_vm_efi 3 "$T3" \
			-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
			-virtfs local,path="$OUT/share-3",mount_tag=results,security_model=none
		report_vm 3 "$OUT/phase3-expected.bin" "$OUT/share-3/guest-3.results"
		[ "$PHASE3_CHECKS" = consumers ] || removed_entry_wiped 3
		removed_entry_wiped 3 "LUKS key's (once, after systemd-cryptsetup read it)" "$LUKS_OFF" "$LUKS_LEN"
		rm -f "$OUT/share-3/luks.img"
		;;
	4)
		efi_ready || continue
		# The whole route: no parameters, the daemon on it, the wipe in RAM.
		if [ -f "$JAR" ] && [ -n "$JAVA" ]; then
			EFI_APPEND=cocoefi=area run_vm_efi 4 $((T2 + 60)) \
				-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
			report_vm 4 "$OUT/initramfs/coco/phase2-expected.bin"
			removed_entry_wiped 4
			efi_load_line_matches 4
		else
			fail "phase 4: $JAR and a host java exist (build it first: make build)"
		fi
		# The refusals: the page stays as the firmware left it.
		EFI_FLAGS=old-layout EFI_APPEND=cocoefi=old-layout run_vm_efi 4-old-layout "$T4"
		report_vm 4-old-layout "$OUT/page.bin"
		EFI_APPEND="cocoefi=noruntime efi=noruntime" run_vm_efi 4-noruntime "$T4"
		report_vm 4-noruntime "$OUT/page.bin"
		EFI_FLAGS=area-boot-services EFI_APPEND=cocoefi=area-boot-services \
			run_vm_efi 4-area-boot-services "$T4"
		report_vm 4-area-boot-services ""  # Linux has reused that memory
		EFI_FLAGS=tiny-size EFI_APPEND=cocoefi=tiny-size run_vm_efi 4-tiny-size "$T4"
		report_vm 4-tiny-size "$OUT/page.bin"
		EFI_FLAGS=no-entry EFI_APPEND=cocoefi=no-entry run_vm_efi 4-no-entry "$T4"
		report_vm 4-no-entry ""
		;;
	*) fail "unknown phase '$phase' (phases: 1 2 3 4)" ;;
	esac
done

summary

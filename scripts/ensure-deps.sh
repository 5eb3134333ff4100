#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Makes sure this Debian machine has what a make target needs.
# Usage: ensure-deps.sh GROUP...   (groups: build, fuse, fusedev, abi, container, systemd, vm, bench, deb, man)
# As root, missing packages are installed with apt-get; otherwise the one
# command that would install them is printed and the script fails.
set -eu

need=""
want() { # want PACKAGE TEST-COMMAND...
	pkg=$1; shift
	if ! "$@" >/dev/null 2>&1; then
		need="$need $pkg"
	fi
}
has_java17() {
	command -v javac >/dev/null 2>&1 || return 1
	v=$(javac -version 2>&1 | sed -n 's/^javac \([0-9][0-9]*\).*/\1/p')
	[ "${v:-0}" -ge 17 ]
}
installed() { # installed PACKAGE: dpkg has it configured
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
}
kernel_pkgs_present() {
	ls /boot/vmlinuz-*-amd64 >/dev/null 2>&1 &&
		ls -d /lib/modules/*-amd64/build >/dev/null 2>&1
}

for group in "$@"; do
	case $group in
	build)
		want openjdk-17-jdk-headless has_java17
		want curl command -v curl
		want make command -v make
		;;
	fuse)
		want fuse command -v fusermount
		want libfuse2 sh -c 'ldconfig -p | grep -q "libfuse.so.2 "'
		want util-linux command -v setpriv
		;;
	container)
		want busybox-static installed busybox-static
		want util-linux command -v unshare
		;;
	vm)
		want qemu-system-x86 command -v qemu-system-x86_64
		want busybox-static installed busybox-static
		want build-essential command -v gcc
		want sparse command -v sparse
		want cpio command -v cpio
		want kmod command -v modinfo
		want "linux-image-amd64 linux-headers-amd64" kernel_pkgs_present
		want systemd test -x /lib/systemd/systemd
		want init-system-helpers command -v deb-systemd-helper
		want dpkg-dev command -v dpkg-deb
		# The EFI route (vm-test phase 4): firmware, a UEFI application, its FAT volume.
		want ovmf test -f /usr/share/OVMF/OVMF_CODE_4M.fd
		want gnu-efi test -f /usr/lib/crt0-efi-x86_64.o
		want binutils command -v objcopy
		want dosfstools sh -c 'PATH=$PATH:/usr/sbin:/sbin command -v mkfs.vfat'
		want mtools command -v mcopy
		# The guest's root is this machine's: what the package depends on must be installed
		# here for phase 3's dpkg -i (no --force-depends) and its DKMS build of the shim.
		want dkms installed dkms
		want fuse command -v fusermount
		want libfuse2 sh -c 'ldconfig -p | grep -q "libfuse.so.2 "'
		want openjdk-17-jre-headless installed openjdk-17-jre-headless
		# Phase 3's consumers: the LUKS volume made here (cryptsetup) and opened in the guest
		# by systemd-cryptsetup (part of Debian 12's systemd); a non-root reader (setpriv).
		want cryptsetup-bin sh -c 'PATH=$PATH:/usr/sbin:/sbin command -v cryptsetup'
		want systemd test -x /lib/systemd/systemd-cryptsetup
		want util-linux command -v setpriv
		;;
	bench)
		want build-essential command -v gcc
		want pkg-config command -v pkg-config
		want libfuse-dev test -f /usr/include/fuse/fuse.h
		want bindfs command -v bindfs
		want linux-perf command -v perf
		;;
	fusedev)
		;;
	abi)
		# FuseAbiTest compiles libfuse's headers to check the struct offsets written by hand.
		want build-essential command -v gcc
		want libfuse-dev test -f /usr/include/fuse/fuse_lowlevel.h
		;;
	systemd)
		want systemd command -v systemd-analyze
		;;
	deb)
		want dpkg-dev command -v dpkg-deb
		;;
	man)
		# The man pages: AsciiDoc (from picocli's generator) to roff; man-db to read them back in
		# make check (groff-base comes with it); bash to source the completion in that check.
		want asciidoctor command -v asciidoctor
		want man-db command -v man
		want bash command -v bash
		;;
	*)
		echo "ensure-deps: unknown group '$group'" >&2
		exit 64
		;;
	esac
done

# Group fusedev: /dev/fuse as the fuse package's udev rule leaves it, 0666 (opening it grants
# nothing; mounting stays root's or setuid fusermount's). A machine without udev keeps the kernel's
# 0600 root, where a daemon that the mount tests run as uid 65534 cannot serve its mount. Only root
# runs those tests, so only root changes it; it says so.
fuse_device() {
	[ -c /dev/fuse ] && [ "$(id -u)" -eq 0 ] || return 0
	[ "$(stat -c %a /dev/fuse)" = 666 ] && return 0
	echo "ensure-deps: chmod 0666 /dev/fuse (was $(stat -c %a /dev/fuse); the fuse package's udev rule, which no udev applied here)" >&2
	chmod 0666 /dev/fuse
}

if [ -z "$need" ]; then
	case " $* " in *" fusedev "*) fuse_device ;; esac
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "coco-secretfs: missing packages; run: sudo apt-get install -y$need" >&2
	exit 1
fi
echo "ensure-deps: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends $need >/dev/null 2>&1; then
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends $need >/dev/null
fi
case " $* " in *" fusedev "*) fuse_device ;; esac

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The coco-secretfs benchmark (`make bench`): the same 32 secrets of 64 bytes served by
#   tmpfs    a tmpfs directory holding them as files: the limit for any filesystem
#   c-floor  bench/c-floor/c-floor.c, a minimal in-memory libfuse2 server with our mount options,
#            on libfuse's multithreaded loop (its default); c-floor-st is the same with -s (one thread)
#   bindfs   Debian's bindfs -o direct_io over a tmpfs copy: a real C libfuse2 filesystem
#   ours     coco-secretfs on a page of the same secrets, started through dist/coco-secretfs
#   ours-b   (only if BENCH_B_OPTS is set) the same, with BENCH_B_OPTS added to the JVM options:
#            an A/B comparison of JVM options, measured side by side with the rest
# measured side by side and interleaved (each round visits every filesystem, in a rotating order),
# with one client program (bench/client.c). Besides them, an idle JVM (bench/Idle.java) started
# through the launcher, with its options and archive: the memory and the wake-ups of the JVM alone.
# Prints a table and issue 12's targets, writes target/bench/results.json, target/bench/table.txt
# and target/bench/targets.tsv. A report, not a test: it asserts no timing and exits 0 whatever the
# figures; it fails only if something does not work (a mount, a read, an exit status).
#
# Needs: root (or the right to mount FUSE), /dev/fuse, gcc, pkg-config, libfuse-dev, bindfs, java,
# and the built jar (scripts/ensure-deps.sh bench installs the packages).
#
# Knobs (environment): COCO_SECRETFS_JAR (default fuse-daemon/target/coco-secretfs.jar),
# BENCH_CDS_DIR (default target/cds; built or refreshed by dist/build-cds.sh), BENCH_ROUNDS (7),
# BENCH_RUN_MS (700: one timed open+read+close run), BENCH_START_RUNS (9), BENCH_READS (400000),
# BENCH_IDLE_S (10: the window in which idle wake-ups are counted), BENCH_B_OPTS (unset: no ours-b).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
jar=${COCO_SECRETFS_JAR:-$root/fuse-daemon/target/coco-secretfs.jar}
out=$root/target/bench
cds=${BENCH_CDS_DIR:-$root/target/cds}
rounds=${BENCH_ROUNDS:-7}
run_ms=${BENCH_RUN_MS:-700}
start_runs=${BENCH_START_RUNS:-9}
reads_target=${BENCH_READS:-400000}
idle_s=${BENCH_IDLE_S:-10}
b_opts=${BENCH_B_OPTS:-}
launcher=$root/dist/coco-secretfs
nsecrets=32

say() { echo "bench: $*" >&2; }
fail() { say "$*"; exit 1; }

[ -r "$jar" ] || fail "no jar at $jar: build first (make build)"
[ -c /dev/fuse ] || fail "/dev/fuse is missing"
for tool in gcc pkg-config bindfs java javac; do
	command -v $tool >/dev/null || fail "$tool is missing (scripts/ensure-deps.sh bench)"
done

# ---- build the client and the C floor ----
mkdir -p "$out/bin"
bin=$out/bin
gcc -O2 -Wall -Wextra -pthread -o "$bin/bench-client" "$root/bench/client.c"
# shellcheck disable=SC2046
gcc -O2 -Wall -Wextra $(pkg-config --cflags fuse) -o "$bin/c-floor" "$root/bench/c-floor/c-floor.c" \
	$(pkg-config --libs fuse) -pthread
client=$bin/bench-client
mkdir -p "$bin/idle"
javac -d "$bin/idle" "$root/bench/Idle.java"

# ---- the launcher's class-data archive, rebuilt only if the jar changed ----
sh "$root/dist/build-cds.sh" "$jar" "$cds" >&2

# ---- workspace on tmpfs ----
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
	work=$(mktemp -d /dev/shm/coco-bench.XXXXXX)
else
	work=$(mktemp -d)
	mount -t tmpfs -o size=64m,mode=0700 coco-bench "$work"
fi
declare -A pid=()
cleanup() {
	local fs
	for fs in "${!pid[@]}"; do
		kill -TERM "${pid[$fs]}" 2>/dev/null || :
	done
	wait 2>/dev/null || :
	for m in "$work"/mnt-*; do
		if grep -q " $m " /proc/self/mounts; then
			umount -l "$m" 2>/dev/null || fusermount -uz "$m" 2>/dev/null || :
		fi
	done
	if grep -q " $work tmpfs" /proc/self/mounts; then
		umount -l "$work" || :
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

raw=$out/raw.txt
: >"$raw"
record() { echo "$*" >>"$raw"; }

# ---- the secrets: 32 GUIDs, 64 random hex characters each ----
mkdir -p "$work/tmpfs" "$work/bindfs-src"
pack_args=()
: >"$work/names"
for i in $(seq 1 $nsecrets); do
	guid=$(printf '%08x-c0c0-4b0b-8e4c-%012x' $((0x5ec0000 + i)) $((i * 7919)))
	data=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf '%s' "$data" >"$work/tmpfs/$guid"
	printf '%s' "$data" >"$work/bindfs-src/$guid"
	pack_args+=("$guid=$data")
	echo "$guid" >>"$work/names"
done
chmod 0440 "$work"/tmpfs/* "$work"/bindfs-src/*
probe=$(head -n 1 "$work/names")
# The page is made by the jar itself, on tmpfs like the rest.
COCO_SECRETFS_JAR=$jar COCO_SECRETFS_CDS_DIR=$cds "$launcher" pack --out "$work/page.bin" --size 4096 \
	"${pack_args[@]}" >/dev/null
# ours-b's own copy: a page is served by one daemon at a time (the daemon locks it).
cp "$work/page.bin" "$work/page-b.bin"

# ---- starting and stopping the servers ----
# start FS LOGNAME: forks the server through `bench-client spawn` (which stamps the time and execs
# it in place), waits until a secret reads back through the mount; sets pid[FS] and started_ms.
start() {
	local fs=$1 log=$work/$2.log mnt=$work/mnt-$1 stamp=$work/stamp r
	mkdir -p "$mnt"
	rm -f "$stamp"
	case $fs in
	c-floor) "$client" spawn "$stamp" "$bin/c-floor" "$work/tmpfs" "$mnt" >"$log" 2>&1 & ;;
	c-floor-st) "$client" spawn "$stamp" "$bin/c-floor" "$work/tmpfs" "$mnt" -s >"$log" 2>&1 & ;;
	bindfs) "$client" spawn "$stamp" bindfs -f -o direct_io "$work/bindfs-src" "$mnt" >"$log" 2>&1 & ;;
	ours) COCO_SECRETFS_JAR=$jar COCO_SECRETFS_CDS_DIR=$cds \
		"$client" spawn "$stamp" "$launcher" mount --backing "$work/page.bin" "$mnt" >"$log" 2>&1 & ;;
	ours-nocds) COCO_SECRETFS_JAR=$jar COCO_SECRETFS_CDS_DIR='' \
		"$client" spawn "$stamp" "$launcher" mount --backing "$work/page.bin" "$mnt" >"$log" 2>&1 & ;;
	ours-jar) "$client" spawn "$stamp" java -jar "$jar" mount --backing "$work/page.bin" "$mnt" >"$log" 2>&1 & ;;
	ours-b) COCO_SECRETFS_JAR=$jar COCO_SECRETFS_CDS_DIR=$cds COCO_SECRETFS_JAVA_OPTS="$b_opts ${COCO_SECRETFS_JAVA_OPTS:-}" \
		"$client" spawn "$stamp" "$launcher" mount --backing "$work/page-b.bin" "$mnt" >"$log" 2>&1 & ;;
	*) fail "unknown filesystem $fs" ;;
	esac
	pid[$fs]=$!
	if ! r=$("$client" wait-usable "$stamp" "$mnt/$probe" 60000 "${pid[$fs]}"); then
		cat "$log" >&2
		fail "$fs did not become usable"
	fi
	started_ms=${r#start_ms=}
	started_ms=${started_ms%% *}
}
# stop FS: SIGTERM, wait, and insist on exit status 0 and no mount left behind.
stop() {
	local fs=$1 status=0
	kill -TERM "${pid[$fs]}"
	wait "${pid[$fs]}" || status=$?
	unset "pid[$fs]"
	if grep -q " $work/mnt-$fs " /proc/self/mounts; then
		fail "$fs left its mount behind after SIGTERM"
	fi
	[ $status -eq 0 ] || fail "$fs exited with status $status after SIGTERM"
}
proc() { "$client" proc "${pid[$1]}"; }
field() { # field KEY LINE
	local k=$1 line=" $2 "
	line=${line#* "$k"=}
	echo "${line%% *}"
}
# dir FS: where the client reads FS.
dir() { if [ "$1" = tmpfs ]; then echo "$work/tmpfs"; else echo "$work/mnt-$1"; fi; }

host_info() {
	echo "host cpus=$(nproc) load=$(cut -d' ' -f1 /proc/loadavg) kernel=$(uname -r)" \
		"java=$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p')" \
		"commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
}
record "$(host_info) phase=begin"
t_begin=$(date +%s)

# ---- 1. process start to usable mount, interleaved ----
# The JVM's own floor on this machine: `java -version` through the launcher, so with its
# environment, its JVM options and its class-data archive (what any JVM daemon started that way pays
# before its first line of code). `-cp JAR` first: the archive is valid only with the jar as the
# class path, and -version ends the JVM before the launcher's own `-jar JAR` is read.
jvm_floor() { # jvm_floor [JVM-OPTION...]
	COCO_SECRETFS_JAR=$jar COCO_SECRETFS_CDS_DIR=$cds COCO_SECRETFS_JAVA_OPTS="-cp $jar $* -version" "$launcher"
}
if jvm_floor -Xlog:cds=info 2>&1 | grep -q 'Mapped dynamic region'; then
	record "kind=jvm-floor-archive used=yes"
else
	say "the JVM floor runs without the class-data archive (it did not map): its figure is too high"
	record "kind=jvm-floor-archive used=no"
fi
start_fs=(c-floor bindfs ours ours-nocds ours-jar)
[ -z "$b_opts" ] || start_fs+=(ours-b)
say "start to usable mount: $start_runs runs each"
for i in $(seq 1 "$start_runs"); do
	for fs in "${start_fs[@]}"; do
		start $fs start-$fs
		p=$(proc $fs)
		record "kind=start fs=$fs run=$i start_ms=$started_ms $p"
		stop $fs
	done
	r=$(COCO_SECRETFS_JAR=$jar COCO_SECRETFS_CDS_DIR=$cds COCO_SECRETFS_JAVA_OPTS="-cp $jar -version" \
		"$client" run "$launcher") || fail "java -version through the launcher failed: $r"
	record "kind=jvm-floor run=$i $r"
done

# Where the start goes: a few more starts of ours with class loading logged against the JVM's
# clock. Each phase runs from the first load of one class to that of the next, classes the daemon
# loads at that step of a mount (Daemon.serve): Main; Logs (command line parsed); Daemon (logging set
# up); Handover (signals, limits and hardening done: Hardening binds libc, platform.LibC, through
# jffi); SecretFs (mount point claimed, page locked and opened, table parsed); FuseLowLevel (SecretFs
# built, libfuse about to be bound); the first of SystemdNotify, Handover$Log, FuseMount (libfuse
# bound: its symbols and the callback closures); the mount live, INIT answered: the first of the
# first log record after FuseMount (the "mounted" line, logged once INIT is answered) and
# Operations$Call (the first request after INIT, the probe's: the two race); ReplyBuffer (the probe's
# first READ). READY=1 is sent by the main thread after the "mounted" line while the probe is being
# served: no class marks it, and the bench's start (until a read succeeds) does not wait for it.
phases() { # phases LOG: prints key=ms pairs
	awk '
	function ms(s) { gsub(/[][s]/, "", s); return s * 1000 }
	!($2 in seen) { seen[$2] = ms($1) }
	$2 == "java.util.logging.LogRecord" && ("dev.cocosecretfs.fuse.FuseMount" in seen) && !logged { logged = ms($1) }
	END {
		m = seen["dev.cocosecretfs.cli.Main"]; l = seen["dev.cocosecretfs.cli.Logs"]
		d = seen["dev.cocosecretfs.cli.Daemon"]; h = seen["dev.cocosecretfs.cli.Handover"]
		f = seen["dev.cocosecretfs.fuse.SecretFs"]; b = seen["dev.cocosecretfs.platform.FuseLowLevel"]
		n = split("dev.cocosecretfs.platform.SystemdNotify dev.cocosecretfs.cli.Handover$Log dev.cocosecretfs.fuse.FuseMount", after, " ")
		u = 0
		for (k = 1; k <= n; k++) if ((after[k] in seen) && (!u || seen[after[k]] < u)) u = seen[after[k]]
		c = seen["dev.cocosecretfs.platform.Operations$Call"]; r = seen["dev.cocosecretfs.platform.ReplyBuffer"]
		if (!m || !l || !d || !h || !f || !b || !u || !logged || !c || !r) { print "phases=unknown"; exit }
		i = logged < c ? logged : c
		printf "jvm_ms=%.0f cli_ms=%.0f logging_ms=%.0f harden_ms=%.0f table_ms=%.0f fs_ms=%.0f libfuse_ms=%.0f mount_ms=%.0f probe_ms=%.0f read_uptime_ms=%.0f\n",
			m, l - m, d - l, h - d, f - h, b - f, u - b, i - u, r - i, r
	}' "$1"
}
say "start phases: 3 more starts of ours with class loading logged"
for i in 1 2 3; do
	rm -f "$work/classes.log"
	COCO_SECRETFS_JAVA_OPTS="-Xlog:class+load:file=$work/classes.log:uptime" start ours start-phases
	record "kind=start-phases fs=ours run=$i start_ms=$started_ms $(phases "$work/classes.log")"
	stop ours
done

# ---- 2. the long-lived servers ----
fuse_fs=(c-floor c-floor-st bindfs ours)
[ -z "$b_opts" ] || fuse_fs+=(ours-b)
all_fs=(tmpfs "${fuse_fs[@]}")
declare -A reads=()
for fs in "${all_fs[@]}"; do
	reads[$fs]=0
done
# mapped FS: whether process FS maps the launcher's class-data archive (a JVM that refused it, for
# options it was not dumped with, starts without it and says nothing).
mapped() { if grep -q '/coco-secretfs\.jsa$' "/proc/${pid[$1]}/maps"; then echo yes; else echo no; fi; }
for fs in "${fuse_fs[@]}"; do
	start $fs $fs
	sleep 1
	record "kind=rss-mount fs=$fs $(proc $fs)"
	case $fs in ours*) record "kind=archive fs=$fs mapped=$(mapped $fs)" ;; esac
done
# The idle JVM: the launcher with Idle as the main class, the jar first on the class path so that
# the archive maps (the launcher's own `-jar JAR` after it become Idle's ignored arguments).
COCO_SECRETFS_JAR=$jar COCO_SECRETFS_CDS_DIR=$cds COCO_SECRETFS_JAVA_OPTS="-cp $jar:$bin/idle Idle" \
	"$launcher" >"$work/idle-jvm.log" 2>&1 &
pid[idle-jvm]=$!
sleep 1
kill -0 "${pid[idle-jvm]}" 2>/dev/null || { cat "$work/idle-jvm.log" >&2; fail "the idle JVM did not start"; }
record "kind=rss-mount fs=idle-jvm $(proc idle-jvm)"
record "kind=archive fs=idle-jvm mapped=$(mapped idle-jvm)"

# orc FS THREADS MILLIS [COUNT] ROUND: one timed run, with the server's CPU and system calls
# around it.
orc() {
	local fs=$1 threads=$2 ms=$3 count=$4 round=$5 before after r
	[ "$fs" = tmpfs ] || before=$(proc "$fs")
	r=$("$client" orc "$(dir "$fs")" "$threads" "$ms" "$count") || fail "$fs: reads failed: $r"
	if [ "$fs" != tmpfs ]; then
		after=$(proc "$fs")
		r="$r cpu_ms=$(awk -v a="$(field cpu_ms "$before")" -v b="$(field cpu_ms "$after")" 'BEGIN { print b - a }')"
		r="$r syscr=$(($(field syscr "$after") - $(field syscr "$before")))"
		r="$r syscw=$(($(field syscw "$after") - $(field syscw "$before")))"
	fi
	reads[$fs]=$((reads[$fs] + $(field ops "$r")))
	record "kind=orc fs=$fs threads=$threads round=$round $r"
}

say "warm-up: 1 s of reads each"
for fs in "${all_fs[@]}"; do
	orc "$fs" 2 1000 0 0
done

say "open+read+close: $rounds rounds x (1, 2 threads) x ${#all_fs[@]} filesystems x $run_ms ms"
for r in $(seq 1 "$rounds"); do
	for threads in 1 2; do
		n=${#all_fs[@]}
		for k in $(seq 0 $((n - 1))); do
			orc "${all_fs[$(((k + r) % n))]}" "$threads" "$run_ms" 0 "$r"
		done
	done
done

# Where the servers' CPU goes, by component, if perf works here: samples of the server during one
# more single-thread run, then the share of each shared object (kernel, libfuse, libc, the JVM, the
# Java code it compiled, jffi).
if command -v perf >/dev/null && perf record -q -e cpu-clock -o "$work/perf.test" -- true >/dev/null 2>&1; then
	say "CPU profile: perf on each server, 2 s each"
	for fs in "${fuse_fs[@]}"; do
		perf record -q -e cpu-clock -F 1999 -p "${pid[$fs]}" -o "$work/perf-$fs.data" -- sleep 2 \
			>/dev/null 2>&1 &
		perf_pid=$!
		sleep 0.2
		orc "$fs" 1 2300 0 profile
		wait $perf_pid || :
		shares=$(perf report -i "$work/perf-$fs.data" --no-children --sort dso -g none --stdio 2>/dev/null |
			awk '
			/^#/ || NF < 2 { next }
			{
				p = $1; sub(/%/, "", p); d = $2
				if (d ~ /kernel/) k = "kernel"
				else if (d ~ /^libfuse/) k = "libfuse"
				else if (d ~ /^libc[.-]/ || d ~ /^ld-linux/ || d ~ /^libpthread/) k = "libc"
				else if (d ~ /^libjvm/) k = "jvm"
				else if (d ~ /^libjffi/) k = "jffi"
				else if (d ~ /JIT|unknown|perf-[0-9]+[.]map|anon/) k = "java"
				else if (d ~ /^c-floor$|^bindfs$/) k = "server"
				else k = "other"
				share[k] += p
			}
			END { for (k in share) printf "%s_pct=%.1f ", k, share[k] }')
		record "kind=profile fs=$fs $shares"
	done
else
	say "perf is missing or cannot sample here: no CPU profile by component"
fi

say "readdir: $rounds rounds x 300 ms"
for r in $(seq 1 "$rounds"); do
	for fs in "${all_fs[@]}"; do
		[ "$fs" = tmpfs ] || before=$(proc "$fs")
		res=$("$client" readdir "$(dir "$fs")" 300) || fail "$fs: readdir failed: $res"
		if [ "$fs" != tmpfs ]; then
			after=$(proc "$fs")
			res="$res cpu_ms=$(awk -v a="$(field cpu_ms "$before")" -v b="$(field cpu_ms "$after")" 'BEGIN { print b - a }')"
			res="$res syscw=$(($(field syscw "$after") - $(field syscw "$before")))"
		fi
		record "kind=readdir fs=$fs round=$r $res"
	done
done

say "reads up to $reads_target per server, then RSS"
for fs in "${fuse_fs[@]}"; do
	left=$((reads_target - reads[$fs]))
	if [ $left -gt 0 ]; then
		orc "$fs" 2 0 "$left" topup
	fi
	record "kind=rss-reads fs=$fs reads=${reads[$fs]} $(proc $fs)"
done

# Idle: nothing is asked of any server (nor of the idle JVM) for BENCH_IDLE_S seconds, after two
# to settle; every thread's context switches are counted, all processes at once.
say "idle: context switches of every server over $idle_s s, nothing asked"
sleep 2
idle_fs=("${fuse_fs[@]}" idle-jvm)
counters=()
for fs in "${idle_fs[@]}"; do
	"$client" idle "${pid[$fs]}" $((idle_s * 1000)) >"$work/idle-$fs.txt" &
	counters+=($!)
done
for c in "${counters[@]}"; do
	wait "$c" || fail "counting idle context switches failed"
done
for fs in "${idle_fs[@]}"; do
	{
		read -r line
		record "kind=idle fs=$fs $line"
		while read -r line; do
			record "kind=idle-thread fs=$fs $line"
		done
	} <"$work/idle-$fs.txt"
done
record "kind=rss-idle fs=idle-jvm $(proc idle-jvm)"
kill -TERM "${pid[idle-jvm]}"
wait "${pid[idle-jvm]}" 2>/dev/null || :
unset "pid[idle-jvm]"

say "unlink: every secret, interleaved"
dirs=()
for fs in "${all_fs[@]}"; do
	dirs+=("$(dir "$fs")")
done
res=$("$client" unlink "$work/names" "${dirs[@]}") ||
	fail "unlink failed: $res"
k=0
while read -r line; do
	record "kind=unlink fs=${all_fs[$k]} ${line#dir=* }"
	k=$((k + 1))
done <<<"$res"

for fs in "${fuse_fs[@]}"; do
	stop "$fs"
done
record "$(host_info) phase=end seconds=$(($(date +%s) - t_begin))"

# ---- the report ----
java "$root/bench/Report.java" "$raw" "$out/results.json" "$out/targets.tsv" | tee "$out/table.txt"
say "raw figures: $raw; JSON: $out/results.json; targets: $out/targets.tsv"

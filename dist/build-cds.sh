#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# build-cds.sh JAR OUTDIR [--force]
#
# Builds what the coco-secretfs launcher needs to start fast, into OUTDIR:
#   coco-secretfs.jsa   an AppCDS archive of the classes a mount loads (JDK 17: a dynamic archive
#                       written at the exit of a training run with -XX:ArchiveClassesAtExit)
#   jni/libjffi-1.2.so  jffi's native stub, extracted once (jffi.boot.library.path)
#   jar.stamp           modification time of JAR; java.stamp: that of the java binary. The
#                       launcher uses the archive only while both still match.
#   jvm-options         the launcher's JVM options the archive was dumped with, one a line
#   build-info          what it was built from, for people
#
# The training run is the real thing, started through the launcher with the launcher's flags (the
# archive is only valid for the same JVM options; the launcher's idle-quiet diagnostic options are
# among them, so the archive is dumped with what it is used with): pack a page, mount it, list,
# stat, read every file, unlink one, try a write, SIGTERM. It needs /dev/fuse and the right to mount (root, or
# fusermount); without them it trains on `inspect` only and says so (an archive that covers fewer
# classes: the mount still works, it starts a little slower).
#
# JAR must be at the path the launcher will run it from: the JVM refuses an archive whose class
# path differs. So a package builds it after installation (postinst), not in its build root.
# Does nothing if OUTDIR is already up to date for JAR, java and the launcher's JVM options, unless
# --force.
#
# The launcher is found next to this script, else on PATH, or set COCO_SECRETFS_LAUNCHER.
set -eu

usage() {
	echo "usage: build-cds.sh JAR OUTDIR [--force]" >&2
	exit 64
}
[ $# -ge 2 ] && [ $# -le 3 ] || usage
force=false
if [ $# -eq 3 ]; then
	[ "$3" = --force ] || usage
	force=true
fi
jar=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
launcher=${COCO_SECRETFS_LAUNCHER:-$here/coco-secretfs}
if [ -z "${COCO_SECRETFS_LAUNCHER:-}" ] && [ ! -x "$launcher" ]; then
	launcher=$(command -v coco-secretfs || echo "$launcher") # installed apart, e.g. /usr/bin
fi
[ -r "$jar" ] || { echo "build-cds: cannot read $jar" >&2; exit 66; }
[ -x "$launcher" ] || { echo "build-cds: no launcher at $launcher (set COCO_SECRETFS_LAUNCHER)" >&2; exit 66; }
# The same java as the launcher picks.
if [ -n "${COCO_SECRETFS_JAVA:-}" ]; then
	java=$COCO_SECRETFS_JAVA
elif [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
	java=$JAVA_HOME/bin/java
else
	java=$(command -v java) || { echo "build-cds: java not found" >&2; exit 69; }
fi

fresh() { # as in the launcher
	[ -e "$2" ] && ! [ "$1" -nt "$2" ] && ! [ "$1" -ot "$2" ]
}
# The JVM options the launcher gives (its dry run without an archive: from after java to -jar). A
# launcher whose options changed gets a new archive: some options (the collector, say) make the JVM
# refuse an archive dumped without them, and it would then start without one, silently.
launcher_options() {
	COCO_SECRETFS_DRY_RUN=1 COCO_SECRETFS_JAR="$jar" COCO_SECRETFS_CDS_DIR= COCO_SECRETFS_JAVA="$java" \
		"$launcher" mount | sed -e 1d -e '/^-jar$/,$d'
}
options=$(launcher_options) || { echo "build-cds: the launcher's dry run failed" >&2; exit 1; }
if ! $force && [ -r "$out/coco-secretfs.jsa" ] && fresh "$jar" "$out/jar.stamp" && fresh "$java" "$out/java.stamp" &&
	[ -r "$out/jvm-options" ] && [ "$options" = "$(cat "$out/jvm-options")" ]; then
	echo "build-cds: $out is up to date for $jar"
	exit 0
fi

mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/coco-secretfs-cds.XXXXXX")
daemon=
cleanup() {
	if [ -n "$daemon" ]; then
		kill -TERM "$daemon" 2>/dev/null || :
		wait "$daemon" 2>/dev/null || :
	fi
	if grep -q " $work/mnt fuse" /proc/self/mounts 2>/dev/null; then
		umount -l "$work/mnt" 2>/dev/null || fusermount -uz "$work/mnt" 2>/dev/null || :
	fi
	rm -rf "$work" "$out/coco-secretfs.jsa.new" "$out/jni.new"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The launcher without any archive, with extra JVM options (training ones, given as arguments).
base_opts=${COCO_SECRETFS_JAVA_OPTS:-}
export COCO_SECRETFS_JAR="$jar" COCO_SECRETFS_CDS_DIR= COCO_SECRETFS_JAVA="$java"

g1=736869e5-84f0-4973-92ec-06879ce3da0b
g2=e6f5a162-d67f-4750-a67c-5d065f2a9910
g3=1ee27366-0c87-43a6-af48-28543eaf7cb0
COCO_SECRETFS_JAVA_OPTS=$base_opts "$launcher" pack --out "$work/page.bin" --size 4096 "$g1=training passphrase" "$g2={\"k\":\"dHJhaW5pbmc=\"}" \
	"$g3=training record" >/dev/null

train="-XX:ArchiveClassesAtExit=$out/coco-secretfs.jsa.new -Djffi.extract.dir=$out/jni.new"
train="$train -Djffi.extract.name=libjffi-1.2.so"
rm -rf "$out/coco-secretfs.jsa.new" "$out/jni.new"
mkdir -p "$out/jni.new" "$work/mnt"
mode=mount
mounted() {
	grep -q "^coco-secretfs $work/mnt fuse.coco-secretfs " /proc/self/mounts
}
if [ -c /dev/fuse ]; then
	# Started directly (no subshell), so that $! is the JVM itself: the launcher execs java.
	COCO_SECRETFS_JAVA_OPTS="$base_opts $train" "$launcher" mount --backing "$work/page.bin" "$work/mnt" \
		>"$work/train.out" 2>"$work/daemon.log" &
	daemon=$!
	i=0
	until mounted; do
		if ! kill -0 "$daemon" 2>/dev/null || [ $i -ge 600 ]; then
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	if mounted; then
		ls -l "$work/mnt" >/dev/null
		for f in "$work/mnt"/*; do
			cat "$f" >/dev/null
			stat "$f" >/dev/null
		done
		(: >"$work/mnt/$g1") 2>/dev/null || :
		rm -f "$work/mnt/$g3"
		df "$work/mnt" >/dev/null 2>&1 || :
		kill -TERM "$daemon"
		status=0
		wait "$daemon" || status=$?
		daemon=
		if [ $status -ne 0 ]; then
			cat "$work/daemon.log" "$work/train.out" >&2
			echo "build-cds: the training mount exited with status $status" >&2
			exit 1
		fi
	else
		kill -TERM "$daemon" 2>/dev/null || :
		wait "$daemon" 2>/dev/null || :
		daemon=
		mode=inspect
	fi
else
	mode=inspect
fi
if [ $mode = inspect ]; then
	echo "build-cds: cannot mount here ($(tail -n 1 "$work/daemon.log" 2>/dev/null || echo no /dev/fuse));" \
		"training on 'inspect' only: the archive covers fewer classes" >&2
	COCO_SECRETFS_JAVA_OPTS="$base_opts $train" "$launcher" inspect "$work/page.bin" >"$work/train.out"
fi
# The JVM prints a warning for each class it cannot archive (those compiled for Java 5, such as
# picocli's and ASM's: CDS takes class files of version 50 and later); kept in train.out.
if [ ! -s "$out/coco-secretfs.jsa.new" ]; then
	grep -v 'not supported by CDS' "$work/train.out" >&2 || :
	echo "build-cds: the JVM wrote no archive" >&2
	exit 1
fi

# Swap in: stamps go first and come back last, so a launcher starting meanwhile sees a stale
# archive (and starts without it), never a half-replaced one.
rm -f "$out/jar.stamp" "$out/java.stamp"
mv -f "$out/coco-secretfs.jsa.new" "$out/coco-secretfs.jsa"
rm -rf "$out/jni"
mv "$out/jni.new" "$out/jni"
{
	echo "jar: $jar"
	echo "jar sha256: $(sha256sum "$jar" | cut -d' ' -f1)"
	echo "java: $java"
	"$java" -version 2>&1 | sed 's/^/java -version: /'
	echo "trained on: $mode"
	echo "classes left out (compiled for Java 5, which CDS cannot archive):" \
		"$(grep -c 'not supported by CDS' "$work/train.out" || :)"
	echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$out/build-info"
printf '%s\n' "$options" >"$out/jvm-options"
touch -r "$jar" "$out/jar.stamp"
touch -r "$java" "$out/java.stamp"
echo "build-cds: wrote $out/coco-secretfs.jsa (trained on $mode)"

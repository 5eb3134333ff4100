#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# verify.sh DESTDIR: runs systemd-analyze verify on the unit as `make install DESTDIR=...`
# laid it out (ExecStart pointed at the staged launcher, which verify requires to exist),
# then prints systemd-analyze security's exposure score.
set -eu
root=$(cd "${1:?usage: verify.sh DESTDIR}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#/usr/bin/coco-secretfs#$root/usr/bin/coco-secretfs#" "$root/lib/systemd/system/coco-secretfs.service" \
	>"$tmp/coco-secretfs.service"
if ! out=$(systemd-analyze verify "$tmp/coco-secretfs.service" 2>&1) || [ -n "$out" ]; then
	echo "systemd-analyze verify: FAIL" >&2
	echo "$out" >&2
	exit 1
fi
echo "systemd-analyze verify coco-secretfs.service: clean"
systemd-analyze security --offline=true "$tmp/coco-secretfs.service" 2>/dev/null | tail -n 1

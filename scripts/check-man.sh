#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Checks the man pages and the bash completion as installed (a DESTDIR tree made by `make
# install-files`, the package's root) and as packaged:
# - every page renders with `man -l` and groff warns about nothing;
# - `man coco-secretfs` (and `man coco-secretfs-CMD`) finds the page through the installed tree, and
#   after a real `make install` (PREFIX=/usr/local, in a throwaway mount namespace) with man's own path;
# - coco-secretfs(1) names every command that `coco-secretfs --help` lists, each has a page of its
#   own, and each page names every option that the command's --help lists (so a new command or option
#   cannot miss the manual), among them issue 13's mount --policy, --optional-policy, --dir-mode and
#   inspect --policy;
# - bash, with the installed completion sourced, completes the commands and mount's options;
# - pack's --help examples (a secret on standard input, with and without its NUL) write those bytes;
# - the .deb holds the pages and the completion.
# Usage: check-man.sh JAR ROOT DEB
set -eu
jar=$1 root=$2 deb=$3
man1=$root/usr/share/man/man1
completion=$root/usr/share/bash-completion/completions/coco-secretfs
failures=0
fail() {
	echo "check-man: FAIL: $*" >&2
	failures=$((failures + 1))
}
# Plain ASCII at a fixed width: hyphens stay '-', lines are not broken inside an option.
export LC_ALL=C MANWIDTH=200 MANPAGER=cat PAGER=cat
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The commands, as the top-level help lists them: the lines under "Commands:".
java -jar "$jar" --help >"$tmp/help"
commands=$(sed -n '/^Commands:/,$p' "$tmp/help" | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[ -n "$commands" ] || fail "no commands found in 'coco-secretfs --help'"

# Every option a command's --help lists: its long names (and short ones without a long one).
options() { # options CMD...
	java -jar "$jar" "$@" --help | sed -n 's/^ *\(-[A-Za-z], \)\{0,1\}\(--\{0,1\}[A-Za-z][A-Za-z-]*\).*/\2/p' | sort -u
}

render() { # render PAGE OUT: man -l, failing on any groff warning
	if ! man -l --warnings=w "$1" >"$2" 2>"$tmp/warn"; then
		fail "man -l $1 failed: $(cat "$tmp/warn")"
	elif [ -s "$tmp/warn" ]; then
		fail "man -l $1 warns: $(head -n 3 "$tmp/warn")"
	fi
}

check_page() { # check_PAGE NAME CMD...: the page of CMD (none: the top level)
	name=$1
	shift
	page=$man1/$name.1.gz
	if [ ! -f "$page" ]; then
		fail "$page is missing"
		return
	fi
	render "$page" "$tmp/$name.txt"
	grep -q "^NAME" "$tmp/$name.txt" || fail "$name(1) has no NAME section"
	grep -q "^ *$name - " "$tmp/$name.txt" || fail "$name(1) does not start its NAME with '$name - '"
	for option in $(options "$@"); do
		grep -q -- "$option\\b" "$tmp/$name.txt" || fail "$name(1) does not name $option"
	done
	# Through the installed tree, as `man NAME` finds it once installed.
	if ! MANPATH=$root/usr/share/man man "$name" >"$tmp/$name.found" 2>"$tmp/warn"; then
		fail "man $name (MANPATH=$root/usr/share/man) finds nothing: $(cat "$tmp/warn")"
	elif ! cmp -s "$tmp/$name.txt" "$tmp/$name.found"; then
		fail "man $name shows something other than $page"
	fi
}

check_page coco-secretfs
for command in $commands; do
	grep -q "^ \{4,\}$command\$" "$tmp/coco-secretfs.txt" || fail "coco-secretfs(1) does not list the command $command"
	check_page "coco-secretfs-$command" "$command"
done

# Issue 13's options, by name: the generic check above covers them only once the commands have them.
for option in --policy --optional-policy --dir-mode; do
	grep -q -- "^ *$option=" "$tmp/coco-secretfs-mount.txt" 2>/dev/null || fail "coco-secretfs-mount(1) does not describe $option"
done
grep -q -- "^ *--policy=" "$tmp/coco-secretfs-inspect.txt" 2>/dev/null || fail "coco-secretfs-inspect(1) does not describe --policy"
# The hand-kept sections of coco-secretfs(1).
for section in POLICY SIGNALS "EXIT STATUS" FILES "SEE ALSO"; do
	grep -q "^$section" "$tmp/coco-secretfs.txt" || fail "coco-secretfs(1) has no $section section"
done
for section in "WHO MAY DELETE" "SEE ALSO"; do
	grep -q "^$section" "$tmp/coco-secretfs-mount.txt" || fail "coco-secretfs-mount(1) has no $section section"
done

# The completion, sourced by bash as bash-completion would, asked what picocli's script offers.
complete_words() { # complete_words WORD...: what TAB offers after the words (the last one being typed)
	bash -c 'compopt() { :; }  # only a real completion may call it; what it sets does not matter here
		. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_complete_coco-secretfs; printf "%s\n" "${COMPREPLY[@]}"' complete "$completion" coco-secretfs "$@"
}
if [ ! -f "$completion" ]; then
	fail "$completion is missing"
else
	offered=$(complete_words "")
	for command in $commands; do
		echo "$offered" | grep -qx "$command" || fail "completion of 'coco-secretfs ' does not offer $command"
	done
	offered=$(complete_words mount --)
	for option in $(options mount); do
		case $option in --*) echo "$offered" | grep -qx -- "$option" || fail "completion of 'coco-secretfs mount --' does not offer $option" ;; esac
	done
	[ "$(complete_words mo)" = mount ] || fail "completion of 'coco-secretfs mo' is not 'mount'"
fi

# pack's --help examples as written: the secret on standard input, without and with its trailing NUL,
# lands in the page byte for byte (the first entry's data starts at offset 40).
guid=736869e5-84f0-4973-92ec-06879ce3da0b
java -jar "$jar" pack --help | grep -q "=@/dev/stdin" || fail "pack --help shows no GUID=@/dev/stdin"
for format in '%s' '%s\0'; do
	case $format in *0) label="with its NUL" ;; *) label="without a NUL" ;; esac
	printf "$format" 'correct horse battery staple' >"$tmp/want"
	want=$(wc -c <"$tmp/want")
	if ! printf "$format" 'correct horse battery staple' | java -jar "$jar" pack --out "$tmp/page" "$guid=@/dev/stdin"; then
		fail "pack $guid=@/dev/stdin ($label) failed"
		continue
	fi
	# The length as inspect reads it from the entry's header, then the bytes themselves.
	got=$(java -jar "$jar" inspect "$tmp/page" | awk -v g="$guid" '$2 == g { print $3 }')
	[ "$got" = "$want" ] || fail "pack $guid=@/dev/stdin ($label): length ${got:-none}, want $want"
	tail -c +41 "$tmp/page" | head -c "$want" | cmp -s - "$tmp/want" ||
		fail "pack $guid=@/dev/stdin ($label): the page does not hold those bytes"
done

# `make install` itself, then `man coco-secretfs` with no MANPATH: as root, in a mount namespace of its own
# where /usr/local and /var/cache are empty tmpfs (the install builds its class-data archive there), so
# nothing of this machine changes; the unit, modules-load.d and /etc files go under /usr/local too.
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null 2>&1; then
	step=0
	unshare --mount --propagation private sh -c '
		mount -t tmpfs none /usr/local && mount -t tmpfs none /var/cache || exit 2
		make --no-print-directory install-files PREFIX=/usr/local SYSCONFDIR=/usr/local/etc \
			SYSTEMDUNITDIR=/usr/local/lib/systemd/system MODULESLOADDIR=/usr/local/lib/modules-load.d \
			>"$1/install.log" 2>&1 || exit 3
		for name in coco-secretfs coco-secretfs-mount; do
			env -u MANPATH man "$name" >"$1/$name.installed" 2>&1 || exit 4
		done
		test -f /usr/local/share/bash-completion/completions/coco-secretfs || exit 5' sh "$tmp" || step=$?
	case $step in
	0) ;;
	2) fail "make install PREFIX=/usr/local: no tmpfs for /usr/local and /var/cache in a mount namespace" ;;
	3) fail "make install PREFIX=/usr/local failed: $(tail -n 3 "$tmp/install.log")" ;;
	4) fail "after make install PREFIX=/usr/local, man does not find the page: $(cat "$tmp/"*.installed | head -n 2)" ;;
	*) fail "after make install PREFIX=/usr/local, the bash completion is not in /usr/local/share/bash-completion/completions" ;;
	esac
	if [ "$step" = 0 ]; then
		for name in coco-secretfs coco-secretfs-mount; do
			cmp -s "$tmp/$name.txt" "$tmp/$name.installed" || fail "after make install, man $name shows another page"
		done
	fi
else
	echo "check-man: not root: make install and man coco-secretfs without MANPATH left out" >&2
fi

# The package holds what the tree holds.
dpkg-deb -c "$deb" | awk '{print $NF}' >"$tmp/deb"
for file in $(cd "$root" && find usr/share/man usr/share/bash-completion -type f); do
	grep -qx "./$file" "$tmp/deb" || fail "$deb does not hold /$file"
done

if [ "$failures" -ne 0 ]; then
	echo "check-man: $failures failures" >&2
	exit 1
fi
echo "check-man: $(echo $commands | wc -w) commands: every page renders, man finds it (in the tree, and after make install), names each option; the completion completes them; pack's stdin examples write their bytes; the package holds them"

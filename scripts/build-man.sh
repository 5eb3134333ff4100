#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Generates the man pages and the bash completion from the picocli commands of the built jar, with
# picocli's own generators: picocli-codegen's ManPageGenerator writes one AsciiDoc page per command
# (coco-secretfs and each subcommand), Debian's asciidoctor turns them into roff, picocli.AutoComplete
# writes the completion. A page with a hand-kept template in dist/man/ (the generated sections
# included by tag, with text of ours between them) is converted from the template instead.
# Usage: build-man.sh JAR CODEGEN_JAR VERSION OUTDIR
set -eu
jar=$1 codegen=$2 version=$3 out=$4
here=$(cd "$(dirname "$0")/.." && pwd)

rm -rf "$out"
mkdir -p "$out/adoc" "$out/man1"
java -cp "$jar:$codegen" picocli.codegen.docgen.manpage.ManPageGenerator --exit -d "$out/adoc" \
	dev.cocosecretfs.cli.Main
java -Dpicocli.autocomplete.systemExitOnError -cp "$jar" picocli.AutoComplete -f -n coco-secretfs \
	-o "$out/coco-secretfs.bash" dev.cocosecretfs.cli.Main

adoc=$(cd "$out/adoc" && pwd)
# The pages' date: the last commit's (or SOURCE_DATE_EPOCH's), not the build's, so that two builds of one
# commit give the same pages.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct 2>/dev/null || true)
fi
if [ -n "$SOURCE_DATE_EPOCH" ]; then
	export SOURCE_DATE_EPOCH
fi
set --
for page in "$adoc"/*.adoc; do
	name=$(basename "$page")
	if [ -f "$here/dist/man/$name" ]; then
		set -- "$@" "$here/dist/man/$name"
	else
		set -- "$@" "$page"
	fi
done
# Attributes given here win over the generated header's: the subcommands' pages have no version of
# their own, and the manual's name is spelt as the command is.
asciidoctor -b manpage -a includedir="$adoc" -a mansource="coco-secretfs $version" \
	-a manmanual="coco-secretfs manual" --failure-level=WARN -D "$out/man1" "$@"
for page in "$adoc"/*.adoc; do
	test -s "$out/man1/$(basename "$page" .adoc).1"
done
test -s "$out/coco-secretfs.bash"

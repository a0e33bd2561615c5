#!/bin/sh
# gen_man.sh PROGRAM INCLUDE OUT — a program's manual page from its own --help and --version
# (help2man), plus INCLUDE's sections; for the shmc tool also a COMMANDS section with every
# subcommand's --help, so the page and the program cannot disagree.
set -eu
prog=$1 include=$2 out=$3
tmp=$out.h2m
cp "$include" "$tmp"
if [ "$(basename "$prog")" = shmc ]; then
    printf '\n[COMMANDS]\n' >>"$tmp"
    for cmd in $("$prog" --help | awk '/^commands:/{on=1; next} /^  --help/{on=0} on {print $1}'); do
        printf '.SS %s\n.nf\n' "$cmd" >>"$tmp"
        "$prog" "$cmd" --help | sed -e '/^exit status:/,$d' -e 's/\\/\\e/g' -e 's/^\./\\\&./' >>"$tmp"
        printf '.fi\n' >>"$tmp"
    done
fi
LC_ALL=C.UTF-8 help2man --no-info --include="$tmp" --output="$out" "$prog"
rm -f "$tmp"

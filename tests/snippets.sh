#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/snippets.sh — compile every C snippet of the documentation, so that
# what a reader copies from README.md or docs/*.md is C that builds cleanly.
#
# Usage: sh tests/snippets.sh CC SOURCE_DIR WORK_DIR
#
# Every ```c block becomes a translation unit of its own, compiled (not
# linked) with the project's warnings (-std=c11 -Wall -Wextra -Wpedantic
# -Werror) and -O2, which some warnings need (a variable maybe used
# uninitialized), against SOURCE_DIR/include.  The unit is:
#   - _POSIX_C_SOURCE, the standard headers a snippet may use without showing
#     them (stdbool, stddef, stdint, stdio, stdlib, string) and <weft.h>;
#   - the block's prelude, if it has one;
#   - the block, under #line directives, so errors name the Markdown file
#     and line.
#
# A block is file-scope C: declarations and whole functions, never bare
# statements, so that it compiles as the reader sees it.  What it takes from
# the reader's own program (their functions, variables, types) is declared
# in a prelude: an HTML comment, which Markdown does not show, right before
# the block (blank lines between are allowed, nothing else):
#
#     <!-- snippet-prelude:
#     void use(void *result);
#     -->
#
# A prelude declares; it does not define what the snippet is about.  There
# is no way to skip a block: text that is not C gets another fence tag.
set -eu

if [ $# -ne 3 ]; then
    echo "usage: $0 CC SOURCE_DIR WORK_DIR" >&2
    exit 2
fi
cc=$1
src=$2
work=$3

mkdir -p "$work"
rm -f "$work"/*.c "$work"/*.o

# Extract: print the name of each unit written.  Fences may be indented
# (inside a list item); the closing fence is a line of just ```.
extract() { # markdown-path-relative-to-src
    awk -v md="$1" -v out="$work" '
    function fail(msg) { printf "%s:%d: %s\n", md, NR, msg > "/dev/stderr"; bad = 1; exit 2 }
    function add_prelude(text) { prelude = prelude text "\n" }
    BEGIN { n = 0; inblock = 0; inprelude = 0; pending = 0; prelude = ""; bad = 0
            base = md; gsub(/[^A-Za-z0-9]/, "_", base) }
    inprelude {
        if (index($0, "-->")) {
            add_prelude(substr($0, 1, index($0, "-->") - 1))
            inprelude = 0; pending = 1
        } else add_prelude($0)
        next
    }
    inblock {
        if ($0 ~ /^[ \t]*```[ \t]*$/) {
            if (body == "") fail("empty c block")
            file = sprintf("%s/%s_%02d.c", out, base, n)
            print "/* " md ":" start " */" > file
            print "#define _POSIX_C_SOURCE 200809L" > file
            print "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>" > file
            print "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>" > file
            print "#include <weft.h>" > file
            if (prelude != "")
                printf "#line %d \"%s\"\n%s", prelude_line, md, prelude > file
            printf "#line %d \"%s\"\n%s", start, md, body > file
            close(file)
            print file
            inblock = 0; prelude = ""
        } else body = body $0 "\n"
        next
    }
    /^[ \t]*<!--[ \t]*snippet-prelude:/ {
        if (pending) fail("two preludes in a row")
        prelude_line = NR
        rest = $0; sub(/^[ \t]*<!--[ \t]*snippet-prelude:/, "", rest)
        if (index(rest, "-->")) {
            add_prelude(substr(rest, 1, index(rest, "-->") - 1)); pending = 1
        } else { add_prelude(rest); inprelude = 1 }
        next
    }
    /^[ \t]*```c[ \t]*$/ { inblock = 1; pending = 0; n++; start = NR + 1; body = ""; next }
    pending && $0 !~ /^[ \t]*$/ { fail("a snippet-prelude must come right before a ```c block") }
    END {
        if (bad) exit 2
        if (inblock) fail("unterminated ```c block")
        if (inprelude || pending) fail("snippet-prelude without a ```c block")
    }' "$src/$1"
}

units=$work/units.txt
: >"$units"
for md in README.md docs/*.md; do
    [ -f "$src/$md" ] || continue
    extract "$md" >>"$units"
done

count=$(wc -l <"$units")
if [ "$count" -eq 0 ]; then
    echo "no C snippets found under $src: the extractor is broken" >&2
    exit 1
fi

failed=0
while read -r unit; do
    if ! "$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -c -o "${unit%.c}.o" \
            -I"$src/include" "$unit"; then
        echo "FAILED: the snippet at $(sed -n '1s|^/\* \(.*\) \*/$|\1|p' "$unit") ($unit)" >&2
        failed=$((failed + 1))
    fi
done <"$units"

if [ "$failed" -ne 0 ]; then
    echo "$failed of $count C snippets do not compile" >&2
    exit 1
fi
echo "all $count C snippets compile"

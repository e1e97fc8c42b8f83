#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/layers/run.sh -- the layering of src/ holds: no two files call each
# other (directly), and the operators (shape.c, semi.c, qtree.c) call
# nothing of ivm but each other.
# Reads the sources only: needs no cluster.
# ---------------------------------------------------------------------------
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../../src" && pwd)
# the operator layer: query trees in, SQL out, no SPI
OPERATORS="shape.c outer.c scalar.c semi.c topk.c window.c qtree.c"
cd "$SRC"

# the non-static functions each file defines: "file name" lines
defs=$(awk '
    FNR == 1 { prev = "" }
    /^(Ivm|ivm_)[A-Za-z0-9_]*\(/ {
        if (prev !~ /static/ && prev != "") {
            name = $0; sub(/\(.*/, "", name); print FILENAME, name
        }
    }
    { prev = $0 }' ./*.c)

# "caller callee" pairs of files
pairs=$(while read -r file name; do
    for other in ./*.c; do
        [ "$other" = "./$file" ] && continue
        [ "$other" = "$file" ] && continue
        if grep -qw -- "$name" "$other"; then
            echo "${other#./} ${file#./}"
        fi
    done
done <<<"$defs" | sort -u)

fail=0
while read -r a b; do
    [ -z "$a" ] && continue
    if grep -qx -- "$b $a" <<<"$pairs"; then
        if [[ "$a" < "$b" ]]; then
            echo "FAIL: $a and $b call each other" >&2
            fail=1
        fi
    fi
    if [[ " $OPERATORS " == *" $a "* && " $OPERATORS " != *" $b "* ]]; then
        echo "FAIL: $a (an operator) calls $b" >&2
        fail=1
    fi
done <<<"$pairs"
echo "$(wc -l <<<"$defs") functions in $(ls ./*.c | wc -l) files, $(wc -l <<<"$pairs") calls between files"
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "layers: ok (no two files call each other)"

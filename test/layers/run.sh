#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/layers/run.sh -- the layering of src/ holds: no two files call each
# other (directly), the operators call nothing of ivm but each other, and a
# file includes the headers of its own layer and those below it only.
# Reads the sources only: needs no cluster.
# ---------------------------------------------------------------------------
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../../src" && pwd)
# the operator layer: query trees in, SQL out, no SPI
OPERATORS="shape.c join.c joinorder.c agg.c outer.c scalar.c semi.c topk.c window.c recursive.c qtree.c route.c"
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
# (one grep per function over every file: a grep per file and function took
# a minute on a loaded machine)
pairs=$(while read -r file name; do
    grep -lw -- "$name" ./*.c | while read -r other; do
        [ "$other" = "./$file" ] || [ "$other" = "$file" ] || echo "${other#./} ${file#./}"
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
# each layer's header is included only by its layer and the layers above it
# (an operator includes operators.h alone); ivm.h declares no layer's functions
rank() {
    case $1 in
        exec.h | exec.c | rights.c | evidence.c) echo 0 ;;
        catalog.h | catalog.c) echo 1 ;;
        rows.h | rows.c) echo 2 ;;
        operators.h) echo 3 ;;
        strategies.h | diff.c | incr.c | margin.c | fixpoint.c) echo 4 ;;
        work.h) echo 5 ;;
        ivm.c) echo 6 ;;
        *) if [[ " $OPERATORS " == *" $1 "* ]]; then echo 3; else echo 5; fi ;;
    esac
}
for f in ./*.c; do
    f=${f#./}
    for h in $(grep -o '^#include "[a-z]*\.h"' "$f" | sed 's/#include "\(.*\)"/\1/'); do
        case $h in exec.h | catalog.h | rows.h | operators.h | strategies.h | work.h) ;; *) continue ;; esac
        if [ "$(rank "$h")" -gt "$(rank "$f")" ]; then
            echo "FAIL: $f includes $h, a layer above its own" >&2
            fail=1
        fi
        if [[ " $OPERATORS " == *" $f "* && "$h" != operators.h ]]; then
            echo "FAIL: $f (an operator) includes $h" >&2
            fail=1
        fi
    done
done
if grep -q '^extern [^;]*\bIvm[A-Za-z]*(' ivm.h; then
    echo "FAIL: ivm.h declares functions (they belong in their layer's header)" >&2
    fail=1
fi

echo "$(wc -l <<<"$defs") functions in $(ls ./*.c | wc -l) files, $(wc -l <<<"$pairs") calls between files"
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "layers: ok (no two files call each other)"

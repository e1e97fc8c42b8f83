#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/dump/across.sh -- a database with incremental views dumped by one
# PostgreSQL version and restored into another: the path users take from 15
# to 17 or 18.
#
#   bash test/dump/across.sh export DIR   (on the older server)
#   bash test/dump/across.sh import DIR   (on the newer one)
#
# export: the randomised test runs IVM_DUMP_TICKS ticks (40 by default) in
#   database ivm_xv_src; watches and writes are left pending
#   (test/dump/pending.sql); pg_dump writes DIR/plain.sql and DIR/custom.dump;
#   DIR/before.txt is the database as test/dump/snapshot.sql sees it.  Then one
#   tick: its summary goes to DIR/tick.txt and the database after it to
#   DIR/after.txt.  DIR/meta holds the seed and the server's version.
# import: each dump is restored into an empty database (psql for the plain
#   one, pg_restore for the custom one, nothing installed beforehand); each
#   must equal before.txt; one tick must give tick.txt and after.txt, every
#   view equal to its query; then the randomised test goes on for
#   IVM_DUMP_TICKS ticks in each (capture active, every tick correct).
# Uses the cluster exported by run-all.sh when there is one, else its own.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"

usage() {
    echo "usage: bash test/dump/across.sh export|import DIR" >&2
    exit 2
}
[ $# -eq 2 ] || usage
MODE=$1
DIR=$2
TICKS=${IVM_DUMP_TICKS:-40}
SRC=ivm_xv_src
FAILS=0

fail() {
    echo "FAILED: $*" >&2
    FAILS=$((FAILS + 1))
}

q() {
    local db=$1
    shift
    ivm_psql -d "$db" -At "$@"
}

snapshot() {
    q "$1" -f "$HERE/snapshot.sql"
}

fresh_db() {
    ivm_psql -d postgres -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
}

server_version() {
    q postgres -c "SHOW server_version"
}

# The older server's side: the dumps and what the newer one must find.
export_dumps() {
    local seed=${IVM_SEED:-$(( ((RANDOM << 15) | RANDOM) % 1000000 ))}

    mkdir -p "$DIR"
    chmod 755 "$DIR"
    ivm_say "across: the randomised test in $SRC on PostgreSQL $(server_version) (seed $seed, $TICKS ticks)"
    fresh_db "$SRC"
    IVM_DB=$SRC IVM_SEED=$seed IVM_TICKS=$TICKS bash "$HERE/../random/run.sh" | tail -n 1
    q "$SRC" -f "$HERE/pending.sql" >/dev/null
    pg_dump -d "$SRC" -f "$DIR/plain.sql"
    pg_dump -Fc -d "$SRC" -f "$DIR/custom.dump"
    snapshot "$SRC" >"$DIR/before.txt"
    q "$SRC" -c "SELECT rows_in, rows_out, views_processed FROM ivm.tick()" >"$DIR/tick.txt"
    q "$SRC" -c "SELECT rt_check('across', -1)" >/dev/null ||
        fail "$SRC: a view differs from its query after the tick"
    snapshot "$SRC" >"$DIR/after.txt"
    printf 'seed %s\nversion %s\n' "$seed" "$(server_version)" >"$DIR/meta"
    chmod 644 "$DIR"/*
    ivm_psql -d postgres -c "DROP DATABASE $SRC" >/dev/null
    echo "dumps of $SRC and its state ($(wc -l <"$DIR/before.txt") lines) written to $DIR"
}

# The newer server's side: restore both dumps and hold them to what the
# older server saw.
import_dumps() {
    local db kind seed from summary

    for kind in plain.sql custom.dump before.txt after.txt tick.txt meta; do
        [ -f "$DIR/$kind" ] || { echo "FAILED: $DIR/$kind is missing: run 'across.sh export $DIR' first" >&2; exit 1; }
    done
    seed=$(sed -n 's/^seed //p' "$DIR/meta")
    from=$(sed -n 's/^version //p' "$DIR/meta")
    ivm_say "across: dumps of PostgreSQL $from restored into PostgreSQL $(server_version)"
    for kind in plain custom; do
        db=ivm_xv_$kind
        fresh_db "$db"
        if [ "$kind" = plain ]; then
            ivm_psql -d "$db" -f "$DIR/plain.sql" >/dev/null
        else
            pg_restore --exit-on-error -d "$db" "$DIR/custom.dump"
        fi
        if ! diff -u "$DIR/before.txt" <(snapshot "$db") >"$DIR.$kind.diff" 2>&1; then
            fail "$db differs from the dumped database after the restore:"
            head -n 40 "$DIR.$kind.diff" >&2
        else
            echo "$db: same views, rows, pending deltas, watches and catalog ($(wc -l <"$DIR/before.txt") lines compared)"
        fi
        summary=$(q "$db" -c "SELECT rows_in, rows_out, views_processed FROM ivm.tick()")
        [ "$summary" = "$(cat "$DIR/tick.txt")" ] ||
            fail "$db: the first tick gave $summary, the dumped database's $(cat "$DIR/tick.txt")"
        q "$db" -c "SELECT rt_check('across', -1)" >/dev/null ||
            fail "$db: a view differs from its query after the first tick"
        if ! diff -u "$DIR/after.txt" <(snapshot "$db") >"$DIR.$kind.diff" 2>&1; then
            fail "$db differs from the dumped database after one tick:"
            head -n 40 "$DIR.$kind.diff" >&2
        fi
        rm -f "$DIR.$kind.diff"
        if ! IVM_DB=$db IVM_CONTINUE=1 IVM_SEED=$((seed + 1)) IVM_TICKS=$TICKS \
                bash "$HERE/../random/run.sh" >"$DIR.$kind.log" 2>&1; then
            fail "$db: the randomised test failed after the restore"
            tail -n 30 "$DIR.$kind.log" >&2
        else
            echo "$db: one tick as on PostgreSQL $from ($summary), then $(tail -n 1 "$DIR.$kind.log")"
        fi
        rm -f "$DIR.$kind.log"
        ivm_psql -d postgres -c "DROP DATABASE $db" >/dev/null
    done
}

ivm_cluster_use_or_start
case "$MODE" in
    export) export_dumps ;;
    import) import_dumps ;;
    *) usage ;;
esac
if [ "$FAILS" -gt 0 ]; then
    echo "FAILED: dump across versions ($MODE), $FAILS failure(s)" >&2
    exit 1
fi
echo "PASSED: dump across versions ($MODE)"

#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# test/s3/run.sh -- checkpoints in object storage: ivm.checkpoint,
# ivm.restore, ivm.checkpoint_manifest and ivm.checkpoint_full with
# s3://bucket/prefix targets.
#
#   bash test/s3/run.sh
#
# Starts a local S3-compatible server, s3rver (from the npm registry, pinned,
# installed once under $IVM_S3_CACHE, default /var/cache/ivm-s3), and in
# front of it test/s3/proxy.js, which checks every request's SigV4
# signature and payload hash with its own key pair (s3rver checks neither)
# and injects faults on command.  Always runs in a cluster of its own,
# started with the credentials in its environment (AWS_ACCESS_KEY_ID, ...).
#  1. the proxy's check is real: curl signing with the right secret passes,
#     with a wrong one gets 403.
#  2. round trip: checkpoint to s3, writes and ticks, two delta checkpoints
#     (the manifest is each one's last upload), restore into a fresh database:
#     views equal their queries and the source's views, and tick on alike;
#     checkpoint_manifest reads it; no staging files are left; the objects,
#     copied into a directory, restore from it.
#  3. checkpoint_full to s3: the object downloaded with curl replays with
#     psql -f into an empty database, views equal their queries and the
#     source's.
#  4. faults: a transient 500 (retried, the checkpoint succeeds); a 500 that
#     lasts (a clear error after 4 attempts, the previous checkpoint still
#     restores); the server dying half-way through the upload of a rows file
#     and of the manifest (the checkpoint fails, the previous one restores,
#     a checkpoint after the server is back works and restores); a server
#     that never answers: statement_timeout cancels the transfer, and
#     ivm.s3_timeout fails it.
#  5. wrong secret, unknown key id (403), wrong region (400), missing bucket
#     (404): each a clear error naming the bucket and the status.
#  6. rights: without pg_write_server_files / pg_read_server_files 42501;
#     the settings are superuser-only, the secret not shown to others; with
#     the roles, the server's credentials serve the caller.
#  7. credentials from the settings (ALTER SYSTEM) with none in the
#     environment; with neither, a clear error.
#  8. the credentials cannot be stored where every role reads them: ALTER
#     ROLE / ALTER DATABASE ... SET (pg_db_role_setting, pg_roles) and
#     CREATE / ALTER FUNCTION ... SET (pg_proc) are refused (22023), nothing
#     is stored; one stored before (by an older ivm) is refused at session
#     start with a warning and not applied; no message quotes the value.
#  9. a service that answers every listing with 50000 more keys and "more
#     follow": the listing stops with 54000 naming the bucket and prefix
#     past 1,000,000 objects, the backend's peak memory grows by less than
#     128 MB (a watchdog cancels it past 1 GB), and the next listing works.
# 10. the secret (the right one and the wrong one tried) appears in no error
#     text and nowhere in the server log.
# ---------------------------------------------------------------------------
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=test/lib.sh
. "$HERE/../lib.sh"

S3RVER_VERSION=3.7.1
IVM_S3_CACHE=${IVM_S3_CACHE:-/var/cache/ivm-s3}
BUCKET=ivm-ckpt
KEY_ID=ivmtestkey
SECRET="s3cret-$RANDOM$RANDOM-Zq"
WRONG_SECRET="wr0ng-$RANDOM$RANDOM-Xy"
REGION=eu-test-1

FAILS=0
CHECKS=0

fail() {
    echo "FAILED: $*" >&2
    FAILS=$((FAILS + 1))
}

ok() {
    CHECKS=$((CHECKS + 1))
    echo "  ok: $*"
}

# ---- the servers -------------------------------------------------------------
install_s3rver() {
    local bin=$IVM_S3_CACHE/node_modules/.bin/s3rver
    if ! command -v node >/dev/null || ! command -v npm >/dev/null || ! command -v curl >/dev/null; then
        ivm_say "installing node, npm and curl (Debian packages)"
        ivm_sudo apt-get install -y -qq --no-install-recommends nodejs npm curl ca-certificates >/dev/null
    fi
    if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$S3RVER_VERSION" ]; then
        return 0
    fi
    ivm_say "installing s3rver $S3RVER_VERSION from the npm registry into $IVM_S3_CACHE"
    mkdir -p "$IVM_S3_CACHE"
    npm install --prefix "$IVM_S3_CACHE" --no-audit --no-fund --loglevel=error "s3rver@$S3RVER_VERSION" >/dev/null
    [ "$("$bin" --version)" = "$S3RVER_VERSION" ]
}

S3_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ivm-s3.XXXXXX")
OUTPUTS=$S3_DIR/outputs.log     # every error text the tests saw
PROXY_LOG=$S3_DIR/proxy.log
S3RVER_PID=
PROXY_PID=

start_s3rver() {
    "$IVM_S3_CACHE/node_modules/.bin/s3rver" -d "$S3_DIR/data" -a 127.0.0.1 -p "$S3RVER_PORT" \
        --no-vhost-buckets --configure-bucket "$BUCKET" -s >"$S3_DIR/s3rver.log" 2>&1 &
    S3RVER_PID=$!
    wait_port "$S3RVER_PORT"
}

start_proxy() {
    PROXY_KEY_ID=$KEY_ID PROXY_SECRET=$SECRET PROXY_REGION=$REGION \
        node "$HERE/proxy.js" "$PROXY_PORT" "$S3RVER_PORT" "$PROXY_LOG" >>"$S3_DIR/proxy.out" 2>&1 &
    PROXY_PID=$!
    wait_port "$PROXY_PORT"
}

wait_port() {
    local _
    for _ in $(seq 1 100); do
        if ! ivm_port_free "$1"; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

stop_servers() {
    if [ -n "$PROXY_PID" ]; then kill "$PROXY_PID" 2>/dev/null || true; fi
    if [ -n "$S3RVER_PID" ]; then kill "$S3RVER_PID" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    PROXY_PID=
    S3RVER_PID=
}

cleanup() {
    local rc=$?
    set +e
    stop_servers
    [ "${IVM_KEEP:-0}" = 1 ] || rm -rf "$S3_DIR"
    (exit "$rc")
    ivm_cluster_cleanup
    exit "$rc"
}

# fault QUERY: tell the proxy what to do to the next requests
fault() {
    curl -sS -o /dev/null "http://127.0.0.1:$PROXY_PORT/__fault?$1"
}

# ---- helpers ----------------------------------------------------------------
q() {
    local db=$1
    shift
    ivm_psql -d "$db" -At "$@"
}

expect_eq() {
    if [ "$2" != "$3" ]; then
        fail "$1: got '$2', expected '$3'"
    else
        ok "$1 ($2)"
    fi
}

# expect_error LABEL DB SQLSTATE PATTERN SQL [psql options]: SQL must fail
# with SQLSTATE and an error text matching PATTERN (grep -E); the text is kept
# in $OUTPUTS for the secret's search.
expect_error() {
    local label=$1 db=$2 code=$3 pattern=$4 sql=$5 out
    shift 5
    if out=$(ivm_psql -d "$db" "$@" -c '\set VERBOSITY verbose' -c "$sql" 2>&1); then
        echo "$out" >>"$OUTPUTS"
        fail "$label: succeeded, expected SQLSTATE $code"
        return
    fi
    echo "$out" >>"$OUTPUTS"
    if ! grep -qE "ERROR:  ($code):" <<<"$out"; then
        fail "$label: expected SQLSTATE $code, got: $out"
    elif ! grep -qE -- "$pattern" <<<"$out"; then
        fail "$label: the error does not match /$pattern/: $out"
    else
        ok "$label: $(grep -m1 'ERROR:' <<<"$out" | cut -c1-160)"
    fi
}

TABLES=$(cat <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION ivm;
CREATE TABLE t (id int PRIMARY KEY, g int NOT NULL, x numeric, s text, ts timestamptz);
CREATE TABLE dim (k int PRIMARY KEY, name text);
SQL
)
# the views and their queries, and functions to compare them
HELPERS=$(cat <<'SQL'
SET client_min_messages = warning;
CREATE TABLE s3_views (name text PRIMARY KEY, query text NOT NULL);
INSERT INTO s3_views VALUES
  ('v_agg',    'SELECT g, count(*) AS n, sum(x) AS sx, min(s) AS mn FROM t GROUP BY g'),
  ('v_join',   'SELECT t.id, t.g, d.name, t.ts FROM t JOIN dim d ON d.k = t.g'),
  ('v_dist',   'SELECT DISTINCT d.name, t.g % 2 AS odd FROM t JOIN dim d ON d.k = t.g'),
  ('v_over',   'SELECT g, n, sx FROM v_agg WHERE n > 3'),
  ('v_clicks', 'SELECT url, count(*) AS n, sum(user_id) AS su FROM clicks GROUP BY url');
CREATE FUNCTION s3_check() RETURNS SETOF text LANGUAGE sql AS $fn$
    SELECT d FROM s3_views, test_view_diff(name, query) d ORDER BY name
$fn$;
CREATE FUNCTION s3_digest(v text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE d text;
BEGIN
    EXECUTE format('SELECT count(*) || '':'' || coalesce(md5(string_agg(r::text, E''\n'' ORDER BY r::text)), ''-'') FROM %I r', v)
        INTO d;
    RETURN d;
END $fn$;
CREATE FUNCTION s3_write(r int) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE t SET x = x + r WHERE id % 10 = r % 10;
    DELETE FROM t WHERE id % 17 = r % 17 AND id < 1000;
    INSERT INTO t SELECT 1000 * r + i, i % 9, i * 0.25 + r, 'new ' || r || ' ' || i,
           '2024-03-01 12:00+02'::timestamptz + i * interval '1 min' FROM generate_series(1, 40) i;
    UPDATE dim SET name = name || '!' WHERE k = r % 9;
    IF to_regclass('clicks') IS NOT NULL THEN
        PERFORM ivm.push('clicks', jsonb_build_array(jsonb_build_object('user_id', r, 'url', '/x' || r % 3),
                                                     jsonb_build_object('user_id', r, 'url', '/y', '_weight', 2)));
    END IF;
END $fn$;
SQL
)

new_db() {
    ivm_psql -d postgres -c "CREATE DATABASE $1" >/dev/null
    ivm_psql -d "$1" >/dev/null <<<"$TABLES"
    ivm_psql -d "$1" -f "$HERE/../lib/view_diff.sql" >/dev/null
    ivm_psql -d "$1" >/dev/null <<<"$HELPERS"
}

copy_tables() {
    local tab
    for tab in t dim; do
        ivm_psql -d "$1" -c "COPY (SELECT * FROM $tab) TO STDOUT" | ivm_psql -d "$2" -c "COPY $tab FROM STDIN"
    done
}

digests() {
    q "$1" -c "SELECT string_agg(name || '=' || s3_digest(name), ' ' ORDER BY name) FROM s3_views"
}

check_views() {
    local out
    if ! out=$(q "$1" -c "SELECT * FROM s3_check()" 2>&1); then
        fail "$2: s3_check() failed: $out"
    elif [ -n "$out" ]; then
        fail "$2: views differ from their queries in $1:"
        echo "$out" | head -20 >&2
    else
        ok "$2: every view of $1 equals its query"
    fi
}

# the manifests in the bucket under a prefix (s3rver keeps objects as files)
manifests() {
    (cd "$S3_DIR/data/$BUCKET/$1" 2>/dev/null && ls | sed -n 's/\.manifest\._S3rver_object$//p' | tr '\n' ' ')
}

staging_left() {
    ls "$IVM_PGDATA/base/pgsql_tmp" 2>/dev/null | grep -c 'ivm_s3' || true
}

# restore_as_of LABEL PREFIX DB SEQUENCE DIGESTS: restore PREFIX into DB (its
# tables copied when the wanted checkpoint was taken): the checkpoint
# SEQUENCE, those digests, views equal to their queries after a tick
restore_as_of() {
    local out
    out=$(q "$3" -c "SELECT sequence || '|' || sources_changed FROM ivm.restore('s3://$BUCKET/$2')" 2>&1) || {
        fail "$1: the restore failed: $out"
        return
    }
    expect_eq "$1: the restore finds checkpoint $4 (sequence|sources changed)" "$out" "$4|0"
    expect_eq "$1: its views hold what they held then" "$(digests "$3")" "$5"
    q "$3" -c "SELECT * FROM ivm.tick()" >/dev/null
    check_views "$3" "$1: after a tick"
}

# ---- start ------------------------------------------------------------------
install_s3rver
S3RVER_PORT=$(ivm_free_port 45300)
PROXY_PORT=$(ivm_free_port $((S3RVER_PORT + 1)))
mkdir -p "$S3_DIR/data"
start_s3rver
start_proxy

ivm_say "s3 test: starting a cluster of its own, the credentials in its environment"
# nothing of the caller's AWS environment may reach the server
unset AWS_ENDPOINT_URL_S3 AWS_DEFAULT_REGION AWS_SESSION_TOKEN AWS_PROFILE
export AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET AWS_REGION=$REGION
export AWS_ENDPOINT_URL=http://127.0.0.1:$PROXY_PORT
IVM_EXTRA_CONF="log_min_messages = info
log_error_verbosity = verbose" ivm_cluster_start
trap cleanup EXIT
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY   # the server has them; the clients need none

DBS="s3_src s3_dst s3_dir s3_full s3_prev s3_prev2 s3_late s3_conf"
ivm_psql -d postgres -c "CREATE ROLE s3_app LOGIN" >/dev/null

# ---- 1. the proxy checks signatures --------------------------------------
ivm_say "1. the proxy checks SigV4 signatures"
echo hello >"$S3_DIR/probe"
sha=$(sha256sum "$S3_DIR/probe" | cut -c1-64)
code=$(curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$REGION:s3" --user "$KEY_ID:$SECRET" \
    -H "x-amz-content-sha256: $sha" -T "$S3_DIR/probe" "http://127.0.0.1:$PROXY_PORT/$BUCKET/probe/hello")
expect_eq "a PUT signed with the right secret" "$code" "200"
code=$(curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$REGION:s3" --user "$KEY_ID:$WRONG_SECRET" \
    -H "x-amz-content-sha256: $sha" -T "$S3_DIR/probe" "http://127.0.0.1:$PROXY_PORT/$BUCKET/probe/hello")
expect_eq "a PUT signed with a wrong secret" "$code" "403"
code=$(curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$REGION:s3" --user "$KEY_ID:$SECRET" \
    -H "x-amz-content-sha256: $(sha256sum /dev/null | cut -c1-64)" -T "$S3_DIR/probe" "http://127.0.0.1:$PROXY_PORT/$BUCKET/probe/hello")
expect_eq "a PUT whose body is not the signed payload hash" "$code" "400"

# ---- 2. round trip -----------------------------------------------------------
ivm_say "2. checkpoints to s3://$BUCKET/chain, restore into a fresh database"
new_db s3_src
ivm_psql -d s3_src >/dev/null <<'SQL'
INSERT INTO t SELECT i, i % 9, i * 1.5, 'row ' || i, '2024-01-01 00:00+00'::timestamptz + i * interval '1 hour'
  FROM generate_series(1, 900) i;
INSERT INTO t VALUES (9001, 1, NULL, E'quote''s "x"\n\ttab', 'infinity');
INSERT INTO dim SELECT k, 'name ' || k FROM generate_series(0, 8) k;
SELECT ivm.create_source('clicks', 'user_id int NOT NULL, url text');
SELECT ivm.set_dedup('clicks', true);
SELECT ivm.push('clicks', '[{"user_id": 1, "url": "/a"}, {"user_id": 2, "url": "/b", "_weight": 2}]');
SELECT ivm.create_view(name, query) FROM s3_views WHERE name <> 'v_over' ORDER BY name;
SELECT ivm.create_view('v_over', (SELECT query FROM s3_views WHERE name = 'v_over'));
SELECT ivm.watch('v_agg');
SELECT * FROM ivm.tick();
SQL
check_views s3_src "after setup"

: >"$PROXY_LOG"
out=$(q s3_src -c "SELECT sequence || '|' || bases || '|' || deltas FROM ivm.checkpoint('s3://$BUCKET/chain')")
expect_eq "checkpoint 1: a base of each view, the push source and its seen-set" "$out" "1|7|0"
expect_eq "the manifest is the last upload of checkpoint 1" \
    "$(grep '^PUT' "$PROXY_LOG" | tail -1 | cut -d' ' -f2)" "/$BUCKET/chain/00000001.manifest"
n=$(grep -c '^PUT .*\.rows 200' "$PROXY_LOG" || true)
expect_eq "every rows file was uploaded before it" "$n" "7"
q s3_src -c "SELECT s3_write(1)" -c "SELECT * FROM ivm.tick()" >/dev/null
q s3_src -c "SELECT s3_write(2)" -c "SELECT * FROM ivm.tick()" >/dev/null
q s3_src -c "UPDATE t SET s = s || '+' WHERE id % 50 = 1" >/dev/null   # pending: travels in the checkpoint
: >"$PROXY_LOG"
out=$(q s3_src -c "SELECT sequence || '|' || deltas FROM ivm.checkpoint('s3://$BUCKET/chain/')")
expect_eq "checkpoint 2 (trailing slash: the same prefix)" "${out%%|*}" "2"
ndeltas=${out#*|}
[ "$ndeltas" -ge 2 ] && ok "checkpoint 2 wrote $ndeltas deltas" || fail "checkpoint 2 wrote $ndeltas deltas"
expect_eq "the manifest is the last upload of checkpoint 2" \
    "$(grep '^PUT' "$PROXY_LOG" | tail -1 | cut -d' ' -f2)" "/$BUCKET/chain/00000002.manifest"
out=$(q s3_src -c "SELECT count(*) FROM jsonb_array_elements(ivm.checkpoint_manifest('s3://$BUCKET/chain') -> 'objects') o
                   WHERE o -> 'file' ->> 'type' = 'delta'")
expect_eq "ivm.checkpoint_manifest reads the newest manifest from s3" "$out" "$ndeltas"
expect_eq "the bucket holds manifests 1 and 2" "$(manifests chain)" "00000001 00000002 "
expect_eq "no staging directory is left on the server" "$(staging_left)" "0"

new_db s3_dst
copy_tables s3_src s3_dst
src_epoch=$(q s3_src -c "SELECT epoch FROM ivm._state")
out=$(q s3_dst -c "SELECT sequence || '|' || epoch || '|' || views || '|' || push_sources || '|' || sources_changed || '|' || watches FROM ivm.restore('s3://$BUCKET/chain')")
expect_eq "restore: sequence|epoch|views|push sources|sources changed|watches" "$out" "2|$src_epoch|5|1|0|1"
expect_eq "restored views equal the source's" "$(digests s3_dst)" "$(digests s3_src)"
expect_eq "no staging directory is left after the restore" "$(staging_left)" "0"
# the objects are the files of a directory checkpoint, byte for byte
mkdir -p "$IVM_TMP/from-s3"
for f in "$S3_DIR/data/$BUCKET/chain/"*._S3rver_object; do
    b=$(basename "$f")
    cp "$f" "$IVM_TMP/from-s3/${b%._S3rver_object}"
done
[ "$EUID" -eq 0 ] && chown -R postgres: "$IVM_TMP/from-s3"
new_db s3_dir
copy_tables s3_src s3_dir
out=$(q s3_dir -c "SELECT sequence FROM ivm.restore('$IVM_TMP/from-s3')")
expect_eq "the objects copied into a directory restore from it" "$out|$(digests s3_dir)" "2|$(digests s3_src)"

tick_sql="SET ivm.fallback_ratio = 1000000; SELECT epoch || ' ' || rows_in || ' ' || rows_out FROM ivm.tick()"
expect_eq "the first tick after the restore does what the source's does" "$(q s3_dst -c "$tick_sql")" "$(q s3_src -c "$tick_sql")"
for db in s3_src s3_dst; do
    q "$db" -c "SELECT s3_write(3)" -c "SELECT * FROM ivm.tick()" >/dev/null
done
check_views s3_dst "after writes and a tick on both sides"
expect_eq "the restored database's views equal the source's after the same writes" "$(digests s3_dst)" "$(digests s3_src)"

# ---- 3. full checkpoint --------------------------------------------------------
ivm_say "3. ivm.checkpoint_full to s3, replayed with psql -f"
bytes=$(q s3_src -c "SELECT ivm.checkpoint_full('s3://$BUCKET/full/ivm full.sql')")
code=$(curl -sS -o "$S3_DIR/full.sql" -w '%{http_code}' --aws-sigv4 "aws:amz:$REGION:s3" --user "$KEY_ID:$SECRET" \
    -H "x-amz-content-sha256: $(sha256sum /dev/null | cut -c1-64)" "http://127.0.0.1:$PROXY_PORT/$BUCKET/full/ivm%20full.sql")
expect_eq "the full checkpoint downloads with curl --aws-sigv4" "$code|$(stat -c %s "$S3_DIR/full.sql")" "200|$bytes"
ivm_psql -d postgres -c "CREATE DATABASE s3_full" >/dev/null
ivm_psql -d s3_full -f "$S3_DIR/full.sql" >/dev/null
ivm_psql -d s3_full -f "$HERE/../lib/view_diff.sql" >/dev/null
ivm_psql -d s3_full >/dev/null <<<"$HELPERS"
expect_eq "the replayed database's views equal the source's" "$(digests s3_full)" "$(digests s3_src)"
q s3_full -c "INSERT INTO t VALUES (777777, 3, 1, 'after', now())" -c "SELECT * FROM ivm.tick()" >/dev/null
check_views s3_full "the replayed database ticks"
expect_error "a full checkpoint needs an object key" s3_src 22023 'does not name an object' \
    "SELECT ivm.checkpoint_full('s3://$BUCKET/full/')"

# ---- 4. faults --------------------------------------------------------------------
ivm_say "4. a failing server"
# the state of the newest checkpoint, with the tables it saw, for restores later
q s3_src -c "SELECT * FROM ivm.checkpoint('s3://$BUCKET/chain')" >/dev/null   # checkpoint 3
good=$(digests s3_src)
new_db s3_prev
copy_tables s3_src s3_prev
new_db s3_prev2
copy_tables s3_src s3_prev2
q s3_src -c "SELECT s3_write(4)" -c "SELECT * FROM ivm.tick()" >/dev/null

: >"$PROXY_LOG"
fault "mode=fail&status=500&n=2"
out=$(q s3_src -c "SELECT sequence FROM ivm.checkpoint('s3://$BUCKET/retry')" 2>&1) || true
expect_eq "two 500s, then the checkpoint goes through" "$out" "1"
expect_eq "the two 500s were answered" "$(grep -c ' 500 injected' "$PROXY_LOG" || true)" "2"
if grep -q 'trying again (attempt 2 of 4)' "$IVM_LOG"; then ok "the retries are in the server log"; else fail "no retry in the server log"; fi
fault "mode=none"

: >"$PROXY_LOG"
fault "mode=fail&status=500&n=-1"
expect_error "a 500 that lasts: a clear error after 4 attempts" s3_src 58030 \
    "could not (list|download|upload) \"s3://$BUCKET/chain.*HTTP status 500" \
    "SELECT * FROM ivm.checkpoint('s3://$BUCKET/chain')"
expect_eq "one request tried 4 times" "$(grep -c ' 500 injected' "$PROXY_LOG" || true)" "4"
fault "mode=none"
expect_eq "no staging directory is left after the failure" "$(staging_left)" "0"

# the server dies half-way through a rows file of checkpoint 4
fault "mode=die&n=2&match=.rows"
expect_error "the server dies during the upload of a rows file" s3_src 58030 \
    "could not upload \"s3://$BUCKET/chain/00000004-" \
    "SELECT * FROM ivm.checkpoint('s3://$BUCKET/chain')"
if kill -0 "$PROXY_PID" 2>/dev/null; then fail "the proxy did not die"; else ok "the server died mid-upload"; fi
wait "$PROXY_PID" 2>/dev/null || true
expect_eq "no manifest 4 in the bucket" "$(manifests chain)" "00000001 00000002 00000003 "
start_proxy
restore_as_of "after the server died mid-upload" chain s3_prev 3 "$good"

# ... and during the upload of the manifest
fault "mode=die&n=1&match=.manifest"
expect_error "the server dies during the upload of the manifest" s3_src 58030 \
    "could not upload \"s3://$BUCKET/chain/00000004.manifest\"" \
    "SELECT * FROM ivm.checkpoint('s3://$BUCKET/chain')"
wait "$PROXY_PID" 2>/dev/null || true
start_proxy
expect_eq "still no manifest 4" "$(manifests chain)" "00000001 00000002 00000003 "
restore_as_of "after the server died during the manifest" chain s3_prev2 3 "$good"

# the server is back: the next checkpoint works, and restores
out=$(q s3_src -c "SELECT sequence FROM ivm.checkpoint('s3://$BUCKET/chain')")
expect_eq "a checkpoint after the server is back" "$out" "4"
now=$(digests s3_src)
new_db s3_late
copy_tables s3_src s3_late
restore_as_of "the checkpoint after the failures" chain s3_late 4 "$now"
# in the bucket: the manifests, and the files the newest one lists, no more
listed=$(q s3_src -c "SELECT f FROM (
          SELECT c ->> 'name' AS f FROM jsonb_array_elements(ivm.checkpoint_manifest('s3://$BUCKET/chain') -> 'objects') o,
                 jsonb_array_elements(CASE jsonb_typeof(o -> 'chain') WHEN 'array' THEN o -> 'chain' ELSE '[]' END) c
          UNION SELECT o -> 'pending' ->> 'name' FROM jsonb_array_elements(ivm.checkpoint_manifest('s3://$BUCKET/chain') -> 'objects') o
          UNION SELECT format('%s.manifest', lpad(s::text, 8, '0')) FROM generate_series(1, 4) s) x
         WHERE f IS NOT NULL ORDER BY 1" | tr '\n' ' ')
stored=$(cd "$S3_DIR/data/$BUCKET/chain" && ls | sed -n 's/\._S3rver_object$//p' | sort | tr '\n' ' ')
expect_eq "the bucket holds the manifests and what the newest lists: what failed attempts left is gone" "$stored" "$listed"

# a server that takes the request and never answers
fault "mode=stall&n=1"
start=$SECONDS
expect_error "statement_timeout cancels a transfer that hangs" s3_src 57014 'canceling statement due to statement timeout' \
    "SET statement_timeout = '2s'; SELECT * FROM ivm.checkpoint('s3://$BUCKET/chain')"
[ $((SECONDS - start)) -lt 15 ] && ok "the cancel came in $((SECONDS - start))s" || fail "the cancel took $((SECONDS - start))s"
expect_eq "no staging directory is left after the cancel" "$(staging_left)" "0"
fault "mode=stall&n=-1"
start=$SECONDS
expect_error "ivm.s3_timeout fails a transfer that makes no progress" s3_src 58030 'after 4 attempts|did not answer' \
    "SET ivm.s3_timeout = 1; SELECT * FROM ivm.checkpoint('s3://$BUCKET/chain')"
echo "  (it took $((SECONDS - start))s)"
fault "mode=none"
out=$(q s3_src -c "SELECT sequence FROM ivm.checkpoint('s3://$BUCKET/chain')")
expect_eq "and the next checkpoint works" "$out" "5"

# ---- 5. credentials, region, bucket --------------------------------------------
ivm_say "5. wrong credentials, region, bucket"
# (SET in a statement of its own: a failing statement's text is logged, and
# a statement that sets a secret should not be one that fails)
expect_error "a wrong secret: 403, named bucket, no secret" s3_src 42501 \
    "could not list \"s3://$BUCKET/chain/\": object storage refused access \(HTTP status 403\)" \
    "SELECT * FROM ivm.checkpoint('s3://$BUCKET/chain')" -c "SET ivm.s3_secret_access_key = '$WRONG_SECRET'"
expect_error "an unknown key id: 403" s3_src 42501 "InvalidAccessKeyId" \
    "SELECT * FROM ivm.restore('s3://$BUCKET/chain')" -c "SET ivm.s3_access_key_id = 'nobody'"
expect_error "a wrong region: 400" s3_src 58030 "HTTP status 400" \
    "SET ivm.s3_region = 'us-west-2'; SELECT * FROM ivm.checkpoint('s3://$BUCKET/chain')"
expect_error "a missing bucket: 404" s3_src 58P01 "bucket \"no-such-bucket\" does not exist \(HTTP status 404\)" \
    "SELECT * FROM ivm.checkpoint('s3://no-such-bucket/x')"
expect_error "an empty prefix holds no checkpoint" s3_src 58P01 "no checkpoint found in directory \"s3://$BUCKET/empty\"" \
    "SELECT * FROM ivm.restore('s3://$BUCKET/empty')"
expect_error "a malformed URL" s3_src 22023 "empty, \".\" or \"..\" segment" \
    "SELECT * FROM ivm.checkpoint('s3://$BUCKET/a/../b')"
expect_error "an endpoint that is not http(s)" s3_src 22023 "not an http:// or https:// URL" \
    "SET ivm.s3_endpoint = 'ftp://127.0.0.1/'; SELECT * FROM ivm.checkpoint('s3://$BUCKET/chain')"
expect_error "nothing listens at the endpoint" s3_src 58030 "could not list .*after 4 attempts|did not answer" \
    "SET ivm.s3_endpoint = 'http://127.0.0.1:1'; SELECT * FROM ivm.checkpoint('s3://$BUCKET/chain')"

# ---- 6. rights -------------------------------------------------------------------
ivm_say "6. who may use s3 targets and see the settings"
expect_error "checkpoint to s3 without pg_write_server_files" s3_src 42501 'permission denied to write checkpoints in object storage' \
    "SELECT * FROM ivm.checkpoint('s3://$BUCKET/app')" -U s3_app
expect_error "checkpoint_full to s3 without it" s3_src 42501 'permission denied to write checkpoints in object storage' \
    "SELECT ivm.checkpoint_full('s3://$BUCKET/app/full.sql')" -U s3_app
expect_error "restore from s3 without pg_read_server_files" s3_src 42501 'permission denied to read checkpoints in object storage' \
    "SELECT * FROM ivm.checkpoint_manifest('s3://$BUCKET/chain')" -U s3_app
expect_error "a non-superuser may not set the endpoint" s3_src 42501 'permission denied to set parameter "ivm.s3_endpoint"' \
    "SET ivm.s3_endpoint = 'http://attacker.example'" -U s3_app
expect_error "... nor the credentials" s3_src 42501 'permission denied to set parameter "ivm.s3_access_key_id"' \
    "SET ivm.s3_access_key_id = 'mine'" -U s3_app
expect_error "a non-superuser may not read the secret" s3_src 42501 'must be superuser or have privileges of pg_read_all_settings|permission denied' \
    "SHOW ivm.s3_secret_access_key" -U s3_app
expect_eq "pg_settings does not list the secret" \
    "$(q s3_src -U s3_app -c "SELECT count(*) FROM pg_settings WHERE name = 'ivm.s3_secret_access_key'")" "0"
expect_eq "SHOW ALL does not list it, even to a superuser" \
    "$(q s3_src -c "SHOW ALL" | grep -c 'ivm.s3_secret_access_key' || true)" "0"
ivm_psql -d postgres -c "GRANT pg_write_server_files, pg_read_server_files TO s3_app" >/dev/null
out=$(q s3_src -U s3_app -c "SELECT sequence FROM ivm.checkpoint('s3://$BUCKET/app')" 2>&1) || true
expect_eq "with pg_write_server_files, the server's credentials serve the caller" "$out" "1"
out=$(q s3_src -U s3_app -c "SELECT ivm.checkpoint_manifest('s3://$BUCKET/app') ->> 'sequence'" 2>&1) || true
expect_eq "with pg_read_server_files, it reads the checkpoint" "$out" "1"
ivm_psql -d postgres -c "REVOKE pg_write_server_files, pg_read_server_files FROM s3_app" >/dev/null

# ---- 7. credentials from the settings ---------------------------------------------
ivm_say "7. credentials from the settings, none in the environment"
ivm_psql -d postgres -c "ALTER SYSTEM SET ivm.s3_endpoint = 'http://127.0.0.1:$PROXY_PORT'" \
    -c "ALTER SYSTEM SET ivm.s3_region = '$REGION'" \
    -c "ALTER SYSTEM SET ivm.s3_access_key_id = '$KEY_ID'" \
    -c "ALTER SYSTEM SET ivm.s3_secret_access_key = '$SECRET'" >/dev/null
unset AWS_REGION AWS_ENDPOINT_URL
ivm_cluster_restart
ivm_cluster_wait_ready 60
out=$(q s3_src -c "SELECT sequence FROM ivm.checkpoint('s3://$BUCKET/chain')" 2>&1) || true
expect_eq "a checkpoint with the settings' credentials" "$out" "6"
new_db s3_conf
copy_tables s3_src s3_conf
out=$(q s3_conf -c "SELECT sequence FROM ivm.restore('s3://$BUCKET/chain')" 2>&1) || true
expect_eq "and its restore" "$out" "6"
expect_eq "views equal the source's" "$(digests s3_conf)" "$(digests s3_src)"
ivm_psql -d postgres -c "ALTER SYSTEM RESET ivm.s3_access_key_id" -c "ALTER SYSTEM RESET ivm.s3_secret_access_key" \
    -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
expect_error "with no credentials anywhere" s3_src 28000 'no credentials for object storage' \
    "SELECT * FROM ivm.checkpoint('s3://$BUCKET/chain')"

# ---- 8. no credentials in catalogs every role reads ---------------------------------
ivm_say "8. the credentials may not be stored per role, per database or per function"
STORED="stored-$RANDOM$RANDOM-Qk"
REFUSED='cannot be set per role, per database or per function'
q s3_src -c "CREATE FUNCTION s3_plain() RETURNS int LANGUAGE sql AS 'SELECT 1'" >/dev/null
for setting in ivm.s3_secret_access_key ivm.s3_access_key_id; do
    expect_error "ALTER ROLE ... SET $setting" s3_src 22023 "$REFUSED" \
        "ALTER ROLE s3_app SET $setting = '$STORED'"
    expect_error "ALTER ROLE ... IN DATABASE ... SET $setting" s3_src 22023 "$REFUSED" \
        "ALTER ROLE s3_app IN DATABASE s3_src SET $setting = '$STORED'"
    expect_error "ALTER ROLE ALL SET $setting" s3_src 22023 "$REFUSED" \
        "ALTER ROLE ALL SET $setting = '$STORED'"
    expect_error "ALTER DATABASE ... SET $setting" s3_src 22023 "$REFUSED" \
        "ALTER DATABASE s3_src SET $setting = '$STORED'"
    expect_error "CREATE FUNCTION ... SET $setting" s3_src 22023 "$REFUSED" \
        "CREATE FUNCTION s3_keyed() RETURNS int LANGUAGE sql SET $setting = '$STORED' AS 'SELECT 1'"
    expect_error "ALTER FUNCTION ... SET $setting" s3_src 22023 "$REFUSED" \
        "ALTER FUNCTION s3_plain() SET $setting = '$STORED'"
done
expect_eq "pg_db_role_setting and pg_proc hold no credential, to any role" \
    "$(q s3_src -U s3_app -c "SELECT (SELECT count(*) FROM pg_db_role_setting WHERE setconfig::text ~ 's3_')
                                    + (SELECT count(*) FROM pg_proc WHERE proconfig::text ~ 's3_')")" "0"
expect_eq "nor pg_roles" "$(q s3_src -U s3_app -c "SELECT count(*) FROM pg_roles WHERE rolconfig::text ~ 's3_'")" "0"
# one stored by an older ivm: refused at session start with a warning that
# does not quote it, and not applied
q s3_src -c "INSERT INTO pg_db_role_setting
             VALUES ((SELECT oid FROM pg_database WHERE datname = 's3_src'), 'postgres'::regrole,
                     '{ivm.s3_secret_access_key=$STORED}')" >/dev/null
out=$(ivm_psql -d s3_src -At -c "SELECT 'in effect: ' || current_setting('ivm.s3_secret_access_key')" 2>&1) || true
echo "$out" >>"$OUTPUTS"
if grep -q "WARNING:  ivm.s3_secret_access_key $REFUSED" <<<"$out" && grep -q 'RESET ivm.s3_secret_access_key' <<<"$out"; then
    ok "a stored secret is refused at session start, with a warning saying how to remove it"
else
    fail "a stored secret at session start: $out"
fi
expect_eq "and is not in effect" "$(grep '^in effect:' <<<"$out")" "in effect: "
# (this session starts with the warning too)
q s3_src -c "DELETE FROM pg_db_role_setting WHERE setrole = 'postgres'::regrole" >/dev/null 2>&1
expect_eq "and is removed" "$(q s3_src -c "SELECT count(*) FROM pg_db_role_setting WHERE setconfig::text ~ 's3_'")" "0"
if grep -qF -- "$STORED" "$OUTPUTS"; then fail "an error or warning quotes the refused value"; else ok "no error or warning quotes the refused value"; fi
# whatever a broken build stored, gone before the next step
ivm_psql -d s3_src -c "ALTER ROLE s3_app RESET ALL" -c "ALTER ROLE s3_app IN DATABASE s3_src RESET ALL" \
    -c "ALTER ROLE ALL RESET ALL" -c "ALTER DATABASE s3_src RESET ALL" \
    -c "DROP FUNCTION IF EXISTS s3_keyed()" -c "DROP FUNCTION s3_plain()" >/dev/null 2>&1

# ---- 9. a listing that never ends --------------------------------------------------
ivm_say "9. a listing that never ends: a clear error, in bounded memory"
# Every listing answered with a page of 50000 more keys (named like a
# checkpoint's files) that says more follow: 20 pages reach the bound, and
# a page of many entries must cost no more than its body.  A watchdog cancels the backend
# should it pass 1 GB (the code before the bound grew until the OOM killer
# came); the bound must stop it long before.
# (credentials back; a restart, as a reload would log the secret's new value)
ivm_psql -d postgres -c "ALTER SYSTEM SET ivm.s3_access_key_id = '$KEY_ID'" \
    -c "ALTER SYSTEM SET ivm.s3_secret_access_key = '$SECRET'" >/dev/null
ivm_cluster_restart
ivm_cluster_wait_ready 60
fault "mode=endless&keys=50000"
rm -f "$S3_DIR/backend.pid" "$S3_DIR/watchdog"
(
    for _ in $(seq 1 1200); do
        [ -s "$S3_DIR/backend.pid" ] && break
        sleep 0.1
    done
    pid=$(cat "$S3_DIR/backend.pid" 2>/dev/null || true)
    while [ -n "$pid" ] && [ -e "/proc/$pid" ]; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        if [ "${rss:-0}" -gt 1048576 ]; then
            echo "cancelled at ${rss} kB" >"$S3_DIR/watchdog"
            ivm_psql -d postgres -c "SELECT pg_cancel_backend($pid)" >/dev/null 2>&1 || true
            break
        fi
        sleep 0.2
    done
) &
WATCHDOG=$!
start=$SECONDS
out=$(ivm_psql -d s3_src 2>&1 <<SQL || true
\set ON_ERROR_STOP 0
\set VERBOSITY verbose
SET statement_timeout = '180s';
SELECT pg_backend_pid() AS pid \gset
\setenv IVM_BACKEND :pid
\! echo "\$IVM_BACKEND" >"$S3_DIR/backend.pid"
\! echo "before: \$(awk '/^VmHWM:/ {print \$2}' /proc/\$IVM_BACKEND/status)"
SELECT ivm.checkpoint_manifest('s3://$BUCKET/endless');
\! echo "after: \$(awk '/^VmHWM:/ {print \$2}' /proc/\$IVM_BACKEND/status)"
SQL
)
took=$((SECONDS - start))
kill "$WATCHDOG" 2>/dev/null || true
wait "$WATCHDOG" 2>/dev/null || true
fault "mode=none"
echo "$out" >>"$OUTPUTS"
if [ -s "$S3_DIR/watchdog" ]; then
    fail "the listing grew the backend past 1 GB: $(cat "$S3_DIR/watchdog")"
fi
if grep -qE "ERROR:  54000: could not list \"s3://$BUCKET/endless/\": more than 1000000 objects under the prefix" <<<"$out" &&
    grep -q 'HINT:  Use a prefix of its own' <<<"$out"; then
    ok "the listing stops past 1,000,000 objects, naming the bucket and prefix, in ${took}s"
else
    fail "a listing that never ends: $(grep -E 'ERROR|HINT' <<<"$out" | head -3)"
fi
before=$(sed -n 's/^before: //p' <<<"$out")
after=$(sed -n 's/^after: //p' <<<"$out")
if [ -n "$before" ] && [ -n "$after" ] && [ $((after - before)) -lt 131072 ]; then
    ok "the backend's peak memory grew by $(((after - before) / 1024)) MB (less than 128 MB)"
else
    fail "the backend's peak memory: before ${before:-?} kB, after ${after:-?} kB"
fi
out=$(q s3_src -c "SELECT ivm.checkpoint_manifest('s3://$BUCKET/chain') ->> 'sequence'" 2>&1) || true
expect_eq "and the next listing works" "$out" "6"

# ---- 10. the secret is never shown ------------------------------------------------
ivm_say "10. the secret in no error text and nowhere in the server log"
for s in "$SECRET" "$WRONG_SECRET"; do
    if grep -qF -- "$s" "$OUTPUTS"; then fail "a secret appears in an error text"; else ok "no error text holds a secret"; fi
    if grep -qF -- "$s" "$IVM_LOG"; then fail "a secret appears in the server log"; else ok "the server log does not hold it"; fi
done
if grep -qF -- "$KEY_ID" "$OUTPUTS"; then fail "the access key id appears in an error text"; else ok "nor the access key id"; fi
n=$(grep -c 'object storage' "$IVM_LOG" || true)
[ "$n" -gt 5 ] && ok "the log holds the failures ($n lines about object storage)" || fail "the log holds $n lines about object storage"

echo
for d in $DBS; do
    ivm_psql -d postgres -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
done
echo "s3: $CHECKS checks passed, $FAILS failed"
[ "$FAILS" -eq 0 ]

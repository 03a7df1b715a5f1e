#!/usr/bin/env bash
# Storage throughput: a 100 MB object uploaded to and downloaded from /storage/v1 (local-disk
# backend), against `cp` of the same bytes on the same disk, in one run; and the server's peak
# memory (VmHWM) before and after, which must stay flat (uploads and downloads stream).
#
# Uploads use curl. Downloads are timed twice: with curl, and with bench/fetch.rs, a minimal client
# that writes in 1 MiB blocks as cp does — curl 7.88 writes its output 16 KiB at a time, and
# copying the local file with `curl file://` (also reported) costs it about twice what cp takes
# with no server involved, so only the second download measures the server.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bash bench/storage.sh
#
# Options: BENCH_MB (default 100), BENCH_ROUNDS (default 3; the median of each is reported).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${BENCH_MB:-100}
ROUNDS=${BENCH_ROUNDS:-3}
: "${DATABASE_URL:?set DATABASE_URL to a server where databases may be created}"
SERVER=${DATABASE_URL%/*}
DB=bizbase_bench_storage
URL=$SERVER/$DB
PORT=18902
SECRET=bench-secret-bench-secret-bench-secret-42
BIN=target/release/bizbase
FETCH=target/release/examples/bench-fetch
cargo build --release --quiet --bin bizbase --example bench-fetch

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/bizbase-bench-storage.XXXXXX")
psql "$SERVER/postgres" -qc "drop database if exists $DB with (force)" -c "create database $DB" >/dev/null
DATABASE_URL=$URL BIZBASE_ADDR=127.0.0.1:$PORT BIZBASE_JWT_SECRET=$SECRET BIZBASE_DATA_DIR="$WORK/data" \
  BIZBASE_LOG=warn BIZBASE_STORAGE_FILE_SIZE_LIMIT=1GB $BIN serve &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"; psql "$SERVER/postgres" -qc "drop database if exists $DB with (force)" >/dev/null' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.1; done
SERVICE=$(BIZBASE_JWT_SECRET=$SECRET BIZBASE_DATA_DIR="$WORK/keys" $BIN keys --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["service_role_key"])')
H=(-H "apikey: $SERVICE" -H "Authorization: Bearer $SERVICE")
curl -sf "${H[@]}" -H 'content-type: application/json' -d '{"id":"bench","name":"bench"}' \
    "http://127.0.0.1:$PORT/storage/v1/bucket" >/dev/null

head -c "$((MB * 1024 * 1024))" /dev/urandom >"$WORK/source.bin"
sync
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$PID/status"; }
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
hwm_before=$(hwm_kb)

cps=(); ups=(); downs=(); fetches=(); curlcps=()
timed() { # command…: seconds to run it and sync
    local t0 t1
    t0=$(now); "$@"; sync; t1=$(now)
    echo "$t1 - $t0" | bc -l
}
for r in $(seq "$ROUNDS"); do
    object="http://127.0.0.1:$PORT/storage/v1/object/bench/big-$r.bin"
    cps+=("$(timed cp "$WORK/source.bin" "$WORK/copy.bin")")
    rm -f "$WORK/copy.bin"
    curlcps+=("$(timed curl -sf -o "$WORK/copy.bin" "file://$WORK/source.bin")")
    rm -f "$WORK/copy.bin"
    ups+=("$(timed curl -sf "${H[@]}" -H 'content-type: application/octet-stream' -H 'x-upsert: true' \
        -X POST --upload-file "$WORK/source.bin" -o /dev/null "$object")")
    downs+=("$(timed curl -sf "${H[@]}" -o "$WORK/down.bin" "$object")")
    cmp -s "$WORK/source.bin" "$WORK/down.bin" || { echo "round $r: downloaded bytes differ (curl)"; exit 1; }
    rm -f "$WORK/down.bin"
    fetches+=("$(timed "$FETCH" "$object" "$SERVICE" "$WORK/down.bin")")
    cmp -s "$WORK/source.bin" "$WORK/down.bin" || { echo "round $r: downloaded bytes differ (fetch)"; exit 1; }
    rm -f "$WORK/down.bin"
done
hwm_after=$(hwm_kb)

cp_s=$(printf '%s\n' "${cps[@]}" | median)
up_s=$(printf '%s\n' "${ups[@]}" | median)
down_s=$(printf '%s\n' "${downs[@]}" | median)
fetch_s=$(printf '%s\n' "${fetches[@]}" | median)
curlcp_s=$(printf '%s\n' "${curlcps[@]}" | median)
echo "bizbase $(git rev-parse --short HEAD) · $(nproc) cores · ${MB} MB object · median of $ROUNDS rounds"
row() { # label seconds
    printf '%-34s %8.3f %8.0f %8.2f\n' "$1" "$2" "$(echo "$MB / $2" | bc -l)" "$(echo "$2 / $cp_s" | bc -l)"
}
printf '%-34s %8s %8s %8s\n' what seconds MB/s "x of cp"
row "cp" "$cp_s"
row "upload (curl)" "$up_s"
row "download (1 MiB client, fetch.rs)" "$fetch_s"
row "download (curl)" "$down_s"
row "curl file:// copy, no server" "$curlcp_s"
echo "server peak memory (VmHWM): $((hwm_before / 1024)) MB before, $((hwm_after / 1024)) MB after $((ROUNDS * 2)) transfers of ${MB} MB"

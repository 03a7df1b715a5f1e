#!/usr/bin/env bash
# Storage throughput: a 100 MB object uploaded to and downloaded from /storage/v1 (local-disk
# backend) with curl, against `cp` of the same bytes on the same disk, in one run; and the server's
# peak memory (VmHWM) before and after, which must stay flat (uploads and downloads stream).
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
cargo build --release --quiet

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

cps=(); ups=(); downs=()
for r in $(seq "$ROUNDS"); do
    t0=$(now); cp "$WORK/source.bin" "$WORK/copy.bin"; sync; t1=$(now)
    cps+=("$(echo "$t1 - $t0" | bc -l)")
    t0=$(now)
    curl -sf "${H[@]}" -H 'content-type: application/octet-stream' -H 'x-upsert: true' \
        -X POST --upload-file "$WORK/source.bin" "http://127.0.0.1:$PORT/storage/v1/object/bench/big-$r.bin" >/dev/null
    t1=$(now)
    ups+=("$(echo "$t1 - $t0" | bc -l)")
    t0=$(now)
    curl -sf "${H[@]}" -o "$WORK/down.bin" "http://127.0.0.1:$PORT/storage/v1/object/bench/big-$r.bin"
    sync; t1=$(now)
    downs+=("$(echo "$t1 - $t0" | bc -l)")
    cmp -s "$WORK/source.bin" "$WORK/down.bin" || { echo "round $r: downloaded bytes differ"; exit 1; }
    rm -f "$WORK/copy.bin" "$WORK/down.bin"
done
hwm_after=$(hwm_kb)

cp_s=$(printf '%s\n' "${cps[@]}" | median)
up_s=$(printf '%s\n' "${ups[@]}" | median)
down_s=$(printf '%s\n' "${downs[@]}" | median)
echo "bizbase $(git rev-parse --short HEAD) · $(nproc) cores · ${MB} MB object · median of $ROUNDS rounds"
printf '%-10s %10s %12s %10s\n' what seconds MB/s "x of cp"
printf '%-10s %10.2f %12.0f %10s\n' cp "$cp_s" "$(echo "$MB / $cp_s" | bc -l)" 1.00
printf '%-10s %10.2f %12.0f %10.2f\n' upload "$up_s" "$(echo "$MB / $up_s" | bc -l)" "$(echo "$up_s / $cp_s" | bc -l)"
printf '%-10s %10.2f %12.0f %10.2f\n' download "$down_s" "$(echo "$MB / $down_s" | bc -l)" "$(echo "$down_s / $cp_s" | bc -l)"
echo "server peak memory (VmHWM): $((hwm_before / 1024)) MB before, $((hwm_after / 1024)) MB after $((ROUNDS * 2)) transfers of ${MB} MB"

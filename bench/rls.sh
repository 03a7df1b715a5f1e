#!/usr/bin/env bash
# The cost of row-level security on the business schema: the first page of 50 leads of the demo org
# through /rest/v1, as its sales rep (RLS: `auth.orgs_with('leads.read')`) and as service_role (RLS
# bypassed), interleaved BENCH_ROUNDS times, on the data `bizbase seed demo` creates. Target: the
# sales rep's page costs at most 1.3x the service role's (time per request at the same concurrency).
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bash bench/rls.sh
#
# Options: BENCH_SECS (default 8), BENCH_CONNS (default 16), BENCH_ROUNDS (default 3). Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECS:-8}
CONNS=${BENCH_CONNS:-16}
ROUNDS=${BENCH_ROUNDS:-3}
: "${DATABASE_URL:?set DATABASE_URL to a server where databases may be created}"
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "install wrk"; exit 1; }
SERVER=${DATABASE_URL%/*}
DB=bizbase_bench_rls
URL=$SERVER/$DB
PORT=18901
SECRET=bench-secret-bench-secret-bench-secret-42
BIN=target/release/bizbase
cargo build --release --quiet

psql "$SERVER/postgres" -qc "drop database if exists $DB with (force)" -c "create database $DB" >/dev/null
DATABASE_URL=$URL BIZBASE_JWT_SECRET=$SECRET BIZBASE_DATA_DIR=$(mktemp -d) BIZBASE_LOG=warn $BIN seed demo >/dev/null
psql "$URL" -qc "analyze" >/dev/null
read -r ORG REP < <(psql "$URL" -Atc "select org_id || ' ' || user_id from public.org_members where role = 'sales_rep' limit 1")
CLAIMS="{\"sub\":\"$REP\",\"role\":\"authenticated\",\"aud\":\"authenticated\",\"aal\":\"aal1\",\"app_metadata\":{\"orgs\":{\"$ORG\":\"sales_rep\"}},\"exp\":4102444800}"
TOKEN=$(python3 - "$SECRET" "$CLAIMS" <<'PY'
import base64, hashlib, hmac, json, sys
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
head = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b(sys.argv[2].encode())
sig = b(hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)
KEYS=$(BIZBASE_JWT_SECRET=$SECRET BIZBASE_DATA_DIR=$(mktemp -d) $BIN keys --json)
ANON=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["anon_key"])' "$KEYS")
SERVICE=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["service_role_key"])' "$KEYS")

DATABASE_URL=$URL BIZBASE_ADDR=127.0.0.1:$PORT BIZBASE_JWT_SECRET=$SECRET BIZBASE_DATA_DIR=$(mktemp -d) \
  BIZBASE_LOG=warn BIZBASE_DB_POOL_MAX=$CONNS $BIN serve &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; psql "$SERVER/postgres" -qc "drop database if exists $DB with (force)" >/dev/null' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.1; done

PAGE="/rest/v1/leads?select=*&org_id=eq.$ORG&order=created_at.desc,id.desc&limit=50"
seen() { curl -sf -H "apikey: $ANON" -H "Authorization: Bearer $1" "http://127.0.0.1:$PORT$PAGE" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
[ "$(seen "$TOKEN")" = 50 ] && [ "$(seen "$SERVICE")" = 50 ] || { echo "both callers must see a full page"; exit 1; }

run() { # token -> "rps p99"
    local out
    out=$(BENCH_APIKEY=$ANON BENCH_TOKEN=$1 wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s bench/wrk/page.lua "http://127.0.0.1:$PORT$PAGE")
    echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out")"
}

echo "bizbase $(git rev-parse --short HEAD) · $(nproc) cores · $CONNS connections · ${SECS}s per run · demo data ($(psql "$URL" -Atc 'select count(*) from public.leads') leads)"
printf '%-7s %14s %10s %14s %10s %8s\n' round service/s p99 sales_rep/s p99 cost
ratios=()
for r in $(seq "$ROUNDS"); do
    read -r srps sp99 < <(run "$SERVICE")
    read -r rrps rp99 < <(run "$TOKEN")
    ratio=$(echo "$srps/$rrps" | bc -l)
    ratios+=("$ratio")
    printf '%-7s %14s %10s %14s %10s %7.2fx\n' "$r" "$srps" "$sp99" "$rrps" "$rp99" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'median cost of RLS for the sales rep: %.2fx the service role (target <= 1.30x)\n' "$median"

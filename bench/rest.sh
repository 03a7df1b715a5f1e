#!/usr/bin/env bash
# Data-API benchmark: bizbase's /rest/v1 against pgbench running the same SQL on the same data
# (100k rows, 10 orgs, RLS on), at the same concurrency, in one run.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bash bench/rest.sh
#
# Options: BENCH_SECS (default 10) per run, BENCH_ROUNDS (default 3) of bizbase-then-pgbench per scenario
# (medians reported), BENCH_CONNS (default 32), BENCH_POOL (bizbase's pool; default: its
# own default), BENCH_BIN (a prebuilt binary to measure instead of building this tree). Needs wrk
# and bc (installed with apt-get when missing and run as root) and pgbench (in Debian's postgresql package). Prints one line per scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-32}
: "${DATABASE_URL:?set DATABASE_URL to a server where databases may be created}"
for tool in wrk bc; do
    command -v $tool >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq $tool >/dev/null; } || { echo "install $tool"; exit 1; }
done
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
SERVER=${DATABASE_URL%/*}
DB=bizbase_bench_rest
URL=$SERVER/$DB
PORT=18900
SECRET=bench-secret-bench-secret-bench-secret-42
BIN=${BENCH_BIN:-target/release/bizbase}
[ -n "${BENCH_BIN:-}" ] || cargo build --release --quiet

psql "$SERVER/postgres" -qc "drop database if exists $DB with (force)" -c "create database $DB" >/dev/null
DATABASE_URL=$URL BIZBASE_DATA_DIR=$(mktemp -d) BIZBASE_LOG=warn $BIN migrate >/dev/null
psql "$URL" -q <<'SQL'
create table public.bench_items (
    id bigint primary key,
    org_id uuid not null,
    name text not null,
    amount numeric(12,2) not null,
    status text not null,
    created_at timestamptz not null default now()
);
insert into public.bench_items (id, org_id, name, amount, status)
select i, ('00000000-0000-0000-0000-00000000000' || (i % 10))::uuid, 'item ' || i, (i % 1000) + 0.5,
       (array['new','open','won','lost'])[1 + i % 4]
from generate_series(1, 100000) i;
create index bench_items_org_id_idx on public.bench_items (org_id, id);
alter table public.bench_items enable row level security;
alter table public.bench_items force row level security;
create policy bench_items_org on public.bench_items for all to authenticated
    using (org_id = any (auth.org_ids())) with check (org_id = any (auth.org_ids()));
grant select, insert on public.bench_items to authenticated, service_role;
create sequence public.bench_ids start 1000000;
grant usage on sequence public.bench_ids to authenticated;
alter table public.bench_items alter column id set default nextval('public.bench_ids');
analyze public.bench_items;
SQL

ORG=00000000-0000-0000-0000-000000000003
CLAIMS="{\"sub\":\"00000000-0000-0000-0000-0000000000aa\",\"role\":\"authenticated\",\"aud\":\"authenticated\",\"aal\":\"aal1\",\"app_metadata\":{\"orgs\":{\"$ORG\":\"sales_rep\"}},\"exp\":4102444800}"
TOKEN=$(python3 - "$SECRET" "$CLAIMS" <<'PY'
import base64, hashlib, hmac, json, sys
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
head = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b(sys.argv[2].encode())
sig = b(hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)
ANON=$(BIZBASE_JWT_SECRET=$SECRET BIZBASE_DATA_DIR=$(mktemp -d) $BIN keys --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["anon_key"])')

DATABASE_URL=$URL BIZBASE_ADDR=127.0.0.1:$PORT BIZBASE_JWT_SECRET=$SECRET BIZBASE_DATA_DIR=$(mktemp -d) \
  BIZBASE_LOG=warn env ${BENCH_POOL:+BIZBASE_DB_POOL_MAX=$BENCH_POOL} $BIN serve &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; psql "$SERVER/postgres" -qc "drop database if exists $DB with (force)" >/dev/null' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.1; done
curl -sf -H "apikey: $ANON" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/rest/v1/bench_items?limit=1" >/dev/null

export BENCH_APIKEY=$ANON BENCH_TOKEN=$TOKEN BENCH_ORG=$ORG
run_wrk() { # name script path
    local out
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "bench/wrk/$2" "http://127.0.0.1:$PORT$3")
    local rps p99
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {v=$2; m=1; if (v ~ /us$/) m=0.001; else if (v ~ /ms$/) m=1; else if (v ~ /s$/) m=1000;
                          sub(/[a-z]+$/, "", v); printf "%.2f", v*m}' <<<"$out")
    local non2xx
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    echo "$rps $p99 ${non2xx:-0}"
}
run_pgbench() { # script
    "$PGBIN/pgbench" -n -M prepared -c "$CONNS" -j 2 -T "$SECS" -f "$1" "$URL" 2>/dev/null | awk '/^tps/ {print $3; exit}'
}
# The settings bizbase makes when it begins a request's transaction (`db::identity::begin_sql`): the
# access mode, then the role, the claims, the role's statement timeout and the request's method,
# path and headers (those wrk sends, without apikey and Authorization, as bizbase publishes them).
# bizbase sends them as `SET LOCAL`s in the message that carries `BEGIN`; pgbench sends every SQL
# command of a script as a message of its own, so its cheapest way is one prepared
# `SELECT set_config(…, true), …` (the same settings, each local to the transaction).
identity() { # READ ONLY|READ WRITE, method, headers JSON
    echo "BEGIN ISOLATION LEVEL READ COMMITTED $1;"
    echo "SELECT set_config('role', E'authenticated', true), set_config('request.jwt.claims', E'$CLAIMS', true), set_config('statement_timeout', E'8000', true), set_config('request.method', E'$2', true), set_config('request.path', E'/bench_items', true), set_config('request.headers', E'$3', true);"
}
GET_HEADERS="{\"host\":\"127.0.0.1:$PORT\"}"
sqlfile() { # query: a read, as bizbase runs it
    local f; f=$(mktemp --suffix=.sql)
    { identity "READ ONLY" GET "$GET_HEADERS"; echo "$1"; echo "COMMIT;"; } >"$f"
    echo "$f"
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }

PAGE="with pgrst_source as (select pgrst_1.* from \"public\".\"bench_items\" pgrst_1 where pgrst_1.\"org_id\" = '$ORG'::uuid order by pgrst_1.\"id\" asc limit 50 offset 0) select null::bigint, coalesce(json_agg(pgrst_source), '[]')::text, count(*) from pgrst_source;"
ONE="\\set id 3 + 10 * random(0, 9999)
$(identity "READ ONLY" GET "$GET_HEADERS")
with pgrst_source as (select pgrst_1.* from \"public\".\"bench_items\" pgrst_1 where pgrst_1.\"id\" = :id limit 1000 offset 0) select null::bigint, coalesce(json_agg(pgrst_source), '[]')::text, count(*) from pgrst_source;
COMMIT;"
ONEF=$(mktemp --suffix=.sql); echo "$ONE" >"$ONEF"
ROWS=$(python3 -c "import json; print(json.dumps([{'org_id':'$ORG','name':'bulk %d'%i,'amount':i,'status':'new'} for i in range(100)]))")
INS="$(identity "READ WRITE" POST "{\"content-type\":\"application/json\",\"host\":\"127.0.0.1:$PORT\",\"content-length\":\"${#ROWS}\"}")
insert into \"public\".\"bench_items\" as pgrst_1 (\"org_id\", \"name\", \"amount\", \"status\") select \"org_id\", \"name\", \"amount\", \"status\" from json_populate_recordset(null::\"public\".\"bench_items\", '$ROWS'::json);
COMMIT;"
INSF=$(mktemp --suffix=.sql); echo "$INS" >"$INSF"
export BENCH_BODY=$ROWS

# Busy CPU time of the whole machine so far, in jiffies (1/100 s): user, nice, system, irq, softirq;
# not idle, iowait or steal. Divided by the operations of a run it gives the machine's CPU per
# request (bizbase, PostgreSQL and wrk) or per transaction (PostgreSQL and pgbench), which does not
# move with how fast a shared machine happens to be at the time.
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }
per_op() { # jiffies ops/s -> µs of machine CPU per operation
    echo "$1 * 10000 / ($2 * $SECS)" | bc -l | xargs printf '%.0f'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
scenario() { # label wrk-script path pgbench-file: ROUNDS alternating runs, medians and each round's ratio
    local label=$1 script=$2 path=$3 file=$4 rps p99 bad tps r j0 j1 j2 cb cp
    local -a rpss=() tpss=() p99s=() ratios=() bads=() cpus=()
    for r in $(seq "$ROUNDS"); do
        j0=$(busy)
        read -r rps p99 bad < <(run_wrk "$label" "$script" "$path")
        j1=$(busy)
        [ "$script" = page.lua ] && [ "$r" = 1 ] && rss_page=$(rss_kb)
        tps=$(run_pgbench "$file")
        j2=$(busy)
        rpss+=("$rps"); tpss+=("$tps"); p99s+=("$p99"); bads+=("$bad")
        ratios+=("$(echo "100*$rps/$tps" | bc -l | xargs printf '%.0f')")
        cb=$(per_op $((j1 - j0)) "$rps"); cp=$(per_op $((j2 - j1)) "$tps")
        cpus+=("$(echo "100*$cp/$cb" | bc -l | xargs printf '%.0f') $cb $cp")
    done
    printf '%-34s %12s %12s %7s%% %10s %8s   %-12s %6s%%   %s\n' "$label" \
        "$(printf '%s\n' "${rpss[@]}" | median)" "$(printf '%s\n' "${tpss[@]}" | median)" \
        "$(printf '%s\n' "${ratios[@]}" | median)" \
        "$(printf '%s\n' "${p99s[@]}" | median)ms" \
        "$(printf '%s\n' "${bads[@]}" | awk '{s+=$1} END {print s}')" \
        "$(IFS=/; echo "${ratios[*]}")" \
        "$(printf '%s\n' "${cpus[@]}" | median)" \
        "$(printf '%s\n' "${cpus[@]}" | awk '{printf "%s%s µs vs %s µs", (NR > 1 ? ", " : ""), $2, $3}')"
}

echo "bizbase $(git rev-parse --short HEAD) · $(nproc) cores · $CONNS connections · ${SECS}s per run · $ROUNDS rounds · 100k rows, 10 orgs, RLS on"
printf '%-34s %12s %12s %8s %10s %8s   %-12s %7s   %s\n' scenario bizbase/s pgbench/s ratio p99 non-2xx "per round" "by CPU" \
    "machine CPU per request vs per pgbench transaction, each round"
scenario "first page of 50 (sales_rep, RLS)" page.lua "/rest/v1/bench_items?select=*&org_id=eq.$ORG&order=id.asc&limit=50" "$(sqlfile "$PAGE")"
scenario "single row by id" one.lua "/rest/v1/bench_items" "$ONEF"
scenario "bulk insert of 100 rows" insert.lua "/rest/v1/bench_items" "$INSF"
echo "(medians of the rounds; each round runs bizbase, then pgbench; \"by CPU\" is the pgbench transaction's machine CPU over the request's)"
echo "RSS after the page run: $((rss_page / 1024)) MB; after all runs: $(( $(rss_kb) / 1024 )) MB"

#!/usr/bin/env bash
# The end-to-end benchmark (scripts/bench e2e; docs/benchmarks.md): loadgen's
# ATMs against switchd, hsm-sim and PostgreSQL, all on this machine. ATM
# withdrawals with PIN verification through hsm-sim, durable commits
# (synchronous_commit on), 100,000 cards, 1,000 connected ATMs. Prints
# "bench:" lines and writes build/bench/e2e/ (report.md, latency.png, the
# runs' CSV, the figures as figures.txt).
#
#   BENCH_CARDS (100000)  BENCH_ATMS (1000)  BENCH_IDLE (10000 idle terminals)
#   BENCH_E2E_SECONDS (10 measured per run, after 3 s of warm-up)
#   BENCH_RATES ("250 500 1000 1500 2000 2500 3000": the open-loop offered loads)
#   BENCH_POOL (switchd's database.pool_size, 8)  BENCH_HSM_CONNS (hsm.connections, 2)
#   BENCH_PGBENCH_CLIENTS (16: the database-alone figure)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
out=build/bench/e2e
rm -rf "$out"; mkdir -p "$out"
cards=${BENCH_CARDS:-100000} atms=${BENCH_ATMS:-1000} idle=${BENCH_IDLE:-10000}
secs=${BENCH_E2E_SECONDS:-10} pool=${BENCH_POOL:-8}
rates=${BENCH_RATES:-250 500 1000 1500 2000 2500 3000}
export SWITCH_PGDIR="$top/build/bench/pg"
export SWITCH_PAN_HMAC_KEY=${SWITCH_PAN_HMAC_KEY:-64656d6f2d70616e2d686d61632d6b65792d6e6f742d666f722d70726f642121}
figures=$out/figures.txt
: >"$figures"
fig() { echo "bench: $1 $2 $3"; echo "$1 $2 $3" >>"$figures"; }   # name value unit
work=$(mktemp -d)
swpid= hsmpid=
cleanup() {
  [ -n "$swpid" ] && kill "$swpid" 2>/dev/null
  [ -n "$hsmpid" ] && kill "$hsmpid" 2>/dev/null
  wait 2>/dev/null || true
  scripts/db stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }          # user + system, clock ticks
pg_ticks() {  # every process of the private cluster: the postmaster and its children
  local pm; pm=$(head -1 "$SWITCH_PGDIR/data/postmaster.pid")
  { echo "$pm"; ps -o pid= --ppid "$pm"; } | while read -r p; do
    awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true
  done | awk '{s += $1} END {print s + 0}'
}
hz=$(getconf CLK_TCK)
answered_0200() {  # switchd's count of answered 0200s, from /metrics
  curl -sf "http://127.0.0.1:$admin/metrics" \
    | awk '/^switchd_messages_total\{mti="0200"/ {s += $NF} END {print s + 0}'
}

# -- the bank: 100,000 cards with real PANs and PVVs, the ATMs --------------
scripts/db start >/dev/null
. "$SWITCH_PGDIR/env"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS bench_e2e WITH (FORCE)" >/dev/null 2>&1
build/bin/switchctl --db dbname=bench_e2e db init >/dev/null 2>&1
psql -X -q -v ON_ERROR_STOP=1 -d bench_e2e -f schema/bench/setup.sql >/dev/null
build/bin/hsm-sim --generate-lmk "$work/lmk" >/dev/null
build/bin/hsm-sim --lmk "$work/lmk" --port 0 --port-file "$work/hsm.port" --authorised 2>"$work/hsm.log" &
hsmpid=$!
for _ in $(seq 100); do [ -s "$work/hsm.port" ] && break; sleep 0.05; done
hsm=127.0.0.1:$(cat "$work/hsm.port")
tmk=$(grep -v '^#' schema/bench/tmk.txt | head -1)
terminals=$(( idle > atms ? idle : atms ))
t0=$(date +%s)
build/bin/loadgen-bench-data --hsm "$hsm" --cards "$cards" --tmk "$tmk" \
  | cat - schema/bench/switch.sql \
  | psql -X -q -v ON_ERROR_STOP=1 -v terminals="$terminals" -v pan_hmac_key="$SWITCH_PAN_HMAC_KEY" \
      -d bench_e2e >/dev/null
psql -X -q -d bench_e2e -c "VACUUM ANALYZE" >/dev/null
fig e2e.setup $(( $(date +%s) - t0 )) s

port=$(free_port) admin=$(free_port)
build/bin/switchd --set "listener atm.address=127.0.0.1:$port" --set "admin.address=127.0.0.1:$admin" \
  --set "hsm.address=$hsm" --set "hsm.connections=${BENCH_HSM_CONNS:-2}" \
  --set "database.conninfo=dbname=bench_e2e" --set "database.pool_size=$pool" \
  --set switch.log_level=warn 2>"$work/switchd.log" &
swpid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
csv=$out/runs.csv
lg() { build/bin/loadgen --port "$port" --terminals 'BA%06d' --tmk "$tmk" --cards-bench "$cards" \
         --mix withdraw=100 --csv "$csv" -q "$@"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$swpid/status"; }

# -- 1. memory: 10,000 terminals connected, signed on, keys changed, idle --
rss0=$(rss_kb)
lg --count "$idle" --rate 1 --warmup 0 --duration 5 --label "idle$idle" --name e2e.idle >"$work/idle.out" &
lgpid=$!
rssmax=$rss0
while kill -0 "$lgpid" 2>/dev/null; do
  r=$(rss_kb); [ "$r" -gt "$rssmax" ] && rssmax=$r
  sleep 0.2
done
wait "$lgpid" || echo "e2e: the idle run failed" >&2
ready=$(tail -1 "$csv" | cut -d, -f8)
fig switchd.rss_mb_start "$(awk -v k="$rss0" 'BEGIN {printf "%.1f", k / 1024}')" MB
fig switchd.rss_mb_10k_idle "$(awk -v k="$rssmax" 'BEGIN {printf "%.1f", k / 1024}')" MB
fig e2e.idle_terminals_set_up "$ready" terminals

# -- 2. closed loop: every ATM sends its next withdrawal as soon as the ----
#       last is answered (1,000 requests always outstanding: an overload)
if [ -n "${BENCH_PERF:-}" ]; then  # profiles of the closed run (docs/benchmarks.md)
  perf record -g -o "$out/perf.data" -p "$swpid,$hsmpid,$(head -1 "$SWITCH_PGDIR/data/postmaster.pid"),$(ps -o pid= --ppid "$(head -1 "$SWITCH_PGDIR/data/postmaster.pid")" | paste -sd,)" \
    -- sleep $(( secs + 2 )) >/dev/null 2>&1 &
  perfpid=$!
fi
lg --count "$atms" --closed --warmup 3 --duration "$secs" --label closed --name e2e.closed >"$work/closed.out"
row=$(tail -1 "$csv")
fig e2e.closed_approved_tps "$(awk -F, '{printf "%.0f", $17 / $10}' <<<"$row")" tx/s
fig e2e.closed_p99_ms "$(cut -d, -f25 <<<"$row" | awk '{printf "%.1f", $1 / 1000}')" ms
if [ -n "${BENCH_PERF:-}" ]; then
  wait "$perfpid" || true
  for comm in switchd hsm-sim postgres; do
    perf report -i "$out/perf.data" --comm "$comm" --no-children --sort symbol --stdio 2>/dev/null \
      | grep -E '^ +[0-9]' | head -40 >"$out/perf-$comm.txt" || true
  done
fi

# -- 3. latency against offered load: open loop, Poisson arrivals ----------
#    Each process's CPU time over the run at BENCH_CPU_RATE (1000) per
#    second, divided by the 0200s switchd answered (its /metrics), gives
#    *.cpu_us_per_tx: the cost of a withdrawal below saturation.
TIMEFORMAT='%U %S'
for rate in $rates; do
  n0=$(answered_0200); s0=$(ticks "$swpid"); h0=$(ticks "$hsmpid"); p0=$(pg_ticks)
  { time lg --count "$atms" --rate "$rate" --warmup 2 --duration "$secs" --label "open$rate" \
      --name "e2e.open$rate" >"$work/open$rate.out" || echo "e2e: the run at $rate tx/s failed" >&2; } \
    2>"$work/lg.time"
  n1=$(answered_0200); s1=$(ticks "$swpid"); h1=$(ticks "$hsmpid"); p1=$(pg_ticks)
  if [ "$rate" = 2000 ]; then
    fig e2e.p99_ms_at_2000 "$(tail -1 "$csv" | cut -d, -f25 | awk '{printf "%.1f", $1 / 1000}')" ms
  fi
  if [ "$rate" = "${BENCH_CPU_RATE:-1000}" ]; then
    n=$(( n1 - n0 ))
    per_tx() { awk -v t="$1" -v n="$n" -v hz="$hz" 'BEGIN {printf "%.0f", n ? t / hz * 1e6 / n : 0}'; }
    fig switchd.cpu_us_per_tx "$(per_tx $(( s1 - s0 )))" us
    fig hsm_sim.cpu_us_per_tx "$(per_tx $(( h1 - h0 )))" us
    fig postgres.cpu_us_per_tx "$(per_tx $(( p1 - p0 )))" us
    fig loadgen.cpu_us_per_tx "$(awk -v n="$n" '{printf "%.0f", n ? ($1 + $2) * 1e6 / n : 0}' "$work/lg.time")" us
  fi
done
# The throughput: the most approved withdrawals per second of any run
# (closed or open loop).
fig e2e.approved_tps "$(awk -F, 'NR > 1 && $2 != "idle'"$idle"'" && $10 > 0 {v = $17 / $10; if (v > m) m = v} END {printf "%.0f", m}' "$csv")" tx/s
kill "$swpid"; wait "$swpid" 2>/dev/null || true; swpid=

# -- 4. the database alone: the same statements switchd sends for a --------
#       withdrawal (card_lookup, authorise) from pgbench, synchronous_commit on
for c in ${BENCH_PGBENCH_CLIENTS:-16} "$pool"; do
  tps=$(pgbench -n -M prepared -c "$c" -j 2 -T "$secs" -f schema/bench/withdraw.pgbench \
          -D cards="$cards" -D atms="$atms" bench_e2e 2>/dev/null \
        | sed -n 's/^tps = \([0-9]*\).*without initial connection time.*/\1/p')
  fig "db.withdraw_c$c" "${tps:-0}" tx/s
done

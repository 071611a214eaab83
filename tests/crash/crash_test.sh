#!/usr/bin/env bash
# Crash consistency (issue 9, "prove it survives"): switchd killed with
# SIGKILL at random moments under load, again and again, and started again
# at once, while loadgen's ATMs keep sending withdrawals, purchases and
# reversals, reconnect by themselves and send the reversals they owe
# (time-outs, lost connections). Afterwards, against the outcomes file in
# which loadgen wrote what every terminal saw (tests/crash/checks.sql):
#  - every 00 a terminal received has exactly one approved row with its
#    posting or hold, fully reversed if and only if the terminal reversed
#    it and the reversal was acknowledged;
#  - nothing is held or posted that no terminal saw approved;
#  - every acknowledged reversal is logged; no terminal gave one up;
#  - journal entries balance, ledger = lines, held = active holds,
#    available = ledger - holds - minimum + overdraft;
#  - daily counters = the day's approved, not reversed transactions (from
#    the log and from the terminals' side), and each card's account moved
#    by what its terminals saw.
# The bench bank (schema/bench/setup.sql, switch.sql) with CRASH_CARDS
# cards (2000) and CRASH_ATMS ATMs (50), open loop at CRASH_RATE tx/s (150).
#
#   crash_test.sh BUILD_BIN_DIR                  reduced form: 5 kills (ctest crash_kill9)
#   CRASH_ROUNDS=50 crash_test.sh BUILD_BIN_DIR  full form (docs/testing.md)
#   CRASH_TARGET=hsm       kill -9 hsm-sim instead, restarted on its port
#   CRASH_TARGET=postgres  crash PostgreSQL instead (immediate shutdown, an
#                          outage of 0.5-2 s, restart with WAL recovery), on a
#                          cluster of its own (BUILD/pg-crash); switchd must
#                          serve again within 5 s of its return
#   CRASH_SEED=N     repeat a run's random choices (kill delays, loadgen's seed)
#   CRASH_KEEP=DIR   keep the outcomes, the logs and the database there
# Outside ctest it uses the build's test cluster (lib.sh).
set -euo pipefail
target=${CRASH_TARGET:-switchd}
case "$target" in switchd|hsm|postgres) ;; *) echo "CRASH_TARGET: switchd, hsm or postgres" >&2; exit 2 ;; esac
if [ "$target" = postgres ] && [ $# -eq 1 ]; then
  # it stops and starts PostgreSQL: a cluster of its own, not the shared one
  SWITCH_PGDIR=$(cd "$1/.." && pwd)/pg-crash
  export SWITCH_PGDIR
  "$(dirname "$0")/../../scripts/db" start >/dev/null
fi
# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"

rounds=${CRASH_ROUNDS:-5} cards=${CRASH_CARDS:-2000} atms=${CRASH_ATMS:-50} rate=${CRASH_RATE:-150}
seed=${CRASH_SEED:-$(( ($(date +%s) * 1009 + $$) % 1000000 ))}
RANDOM=$seed
ACQ=00000000001
echo "crash: $rounds rounds of $target, $cards cards, $atms ATMs, $rate tx/s, seed $seed"
crash_setup crash "$cards" "$atms"

# switchd with its defaults (deadline 3 s); the same ports every time.
sw_args=(--set switch.log_level=info)
sw_start "${sw_args[@]}"

# loadgen for the whole test: stopped by SIGTERM, it sends nothing new and
# waits for every request in flight and every reversal owed. Its time-out
# is above switchd's deadline; its repeats outlast any restart.
OUT=$TMP/outcomes.csv
"$BIN/loadgen" --port "$SW_PORT" --terminals 'BA%06d' --count "$atms" --tmk "$tmk" --cards-bench "$cards" \
  --rate "$rate" --duration 3600 --timeout 4000 --repeats 30 --seed "$seed" \
  --mix withdraw=50,purchase=35,reversal=15 --outcomes "$OUT" -v >"$TMP/loadgen.out" 2>"$TMP/loadgen.err" &
LG_PID=$!
stop_loadgen() {
  [ -n "${LG_PID:-}" ] && kill -9 "$LG_PID" 2>/dev/null
  [ "$target" = postgres ] && "$src/scripts/db" start >/dev/null 2>&1
  sw_cleanup
  [ "$target" = postgres ] && "$src/scripts/db" stop >/dev/null 2>&1
  return 0
}
trap stop_loadgen EXIT
lines() { [ -f "$OUT" ] && wc -l <"$OUT" || echo 0; }
sleep_ms() { sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"; }
# the kills start once the terminals are set up and answers come back
for _ in $(seq 300); do [ "$(lines)" -gt 20 ] && break; kill -0 "$LG_PID" 2>/dev/null || break; sleep 0.1; done
[ "$(lines)" -gt 20 ] || fail "loadgen did not get going: $(tail -5 "$TMP/loadgen.err")"

# Each round: wait until half the terminals are signed on again (they
# reconnect after 1 s), so that the kill lands under load, with the rest
# still reconnecting; then a random delay, and SIGKILL.
killed_inflight=0
for round in $(seq "$rounds"); do
  for _ in $(seq 100); do [ "$(metric switchd_signed_on)" -ge $((atms / 2)) ] && break; sleep 0.05; done
  ms=$((300 + RANDOM % 2701))
  sleep_ms "$ms"
  inflight=$(metric switchd_inflight)
  killed_inflight=$((killed_inflight + ${inflight:-0}))
  case "$target" in
  switchd)
    kill -9 "$SW_PID"
    wait "$SW_PID" 2>/dev/null || true
    echo "crash: round $round: killed switchd after ${ms} ms, ${inflight:-?} in flight ($(( $(lines) - 1 )) outcomes so far)"
    sw_start "${sw_args[@]}" ;;
  hsm)
    kill -9 "$HSM_PID"
    wait "$HSM_PID" 2>/dev/null || true
    echo "crash: round $round: killed hsm-sim after ${ms} ms, ${inflight:-?} in switchd ($(( $(lines) - 1 )) outcomes so far)"
    sleep 0.5
    hsm_start ;;
  postgres)
    "$src/scripts/db" crash
    out_ms=$((500 + RANDOM % 1501))
    sleep_ms "$out_ms"
    "$src/scripts/db" start >/dev/null
    back=$(date +%s%N)
    for _ in $(seq 100); do healthz >/dev/null 2>&1 && break; sleep 0.05; done
    healthz >/dev/null 2>&1 || fail "switchd not serving 5 s after PostgreSQL came back"
    echo "crash: round $round: crashed PostgreSQL after ${ms} ms for ${out_ms} ms, ${inflight:-?} in switchd;" \
         "switchd healthy $(( ($(date +%s%N) - back) / 1000000 )) ms after its return ($(( $(lines) - 1 )) outcomes so far)" ;;
  esac
done

# The load goes on a little after the last restart (terminals reconnect
# and send what they owe), then stops; loadgen waits for the reversals.
sleep 3
kill -TERM "$LG_PID"
for _ in $(seq 1500); do kill -0 "$LG_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$LG_PID" 2>/dev/null && fail "loadgen still draining after 150 s"
lg_rc=0; wait "$LG_PID" || lg_rc=$?
LG_PID=
[ "$lg_rc" = 0 ] || fail "loadgen exit $lg_rc: $(tail -5 "$TMP/loadgen.err")"
kill -0 "$SW_PID" 2>/dev/null || fail "switchd died by itself"
# switchd's own reversals (answers it could not deliver) finish too
for _ in $(seq 300); do
  [ "$(metric switchd_inflight)" = 0 ] && [ "$(metric switchd_pending_reversals)" = 0 ] && break
  sleep 0.1
done
[ "$(metric switchd_inflight)" = 0 ] && [ "$(metric switchd_pending_reversals)" = 0 ] \
  || fail "switchd busy: in flight $(metric switchd_inflight), pending reversals $(metric switchd_pending_reversals)"

# What the terminals saw (the file holds no PAN: bench card numbers).
count() { awk -F, -v k="$1" -v c="$2" 'NR > 1 && $5 ~ k && $7 ~ c { n++ } END { print n + 0 }' "$OUT"; }
requests=$(count '^(withdraw|purchase)$' '.')
approved=$(count '^(withdraw|purchase)$' '^00$')
timeouts=$(count '.' '^timeout$')
lost=$(count '^(withdraw|purchase)$' '^lost$')
reversals=$(count '^reversal$' '.')
owed=$(awk -F, 'NR > 1 && $5 == "reversal" && $14 > 1 { n++ } END { print n + 0 }' "$OUT")
echo "crash: rounds $rounds ($killed_inflight requests in flight in switchd when killed), requests $requests," \
     "approvals seen $approved, lost $lost, time-outs $timeouts, reversals $reversals ($owed sent more than once)"
grep -E '^  (requests|reversals owed|late)' "$TMP/loadgen.out" | sed 's/^ */crash: loadgen: /' || true
[ "$approved" -gt 50 ] || fail "only $approved approvals: the load did not get through"
[ "$reversals" -gt 0 ] || fail "no reversal at all"

INVARIANTS_SQL=$src/tests/switch/rules/invariants.sql \
  psql -X -q -v ON_ERROR_STOP=1 -v acquirer="$ACQ" -d "$DB" -f "$src/tests/db/helpers.sql" \
    -f "$crashdir/checks.sql" <"$OUT" >"$TMP/checks.out" 2>"$TMP/checks.err" \
  || fail "checks did not run: $(cat "$TMP/checks.err")"
sed 's/^/crash: /' "$TMP/checks.out"
if [ -n "${CRASH_KEEP:-}" ]; then
  mkdir -p "$CRASH_KEEP"
  cp "$OUT" "$TMP/switchd.log" "$TMP/loadgen.out" "$TMP/loadgen.err" "$TMP/checks.out" "$CRASH_KEEP/"
  echo "crash: outcomes and logs in $CRASH_KEEP; database $DB kept"
  DB=
fi
grep -qx 'violations 0' "$TMP/checks.out" \
  || { echo "crash: FAILED (seed $seed; CRASH_KEEP=DIR keeps the outcomes, logs and database)"; exit 1; }
echo ok

#!/usr/bin/env bash
# The bank's card rules (PRODUCTS.md, authorise()) through the real
# processes: atm-sim and pos-sim sessions against switchd with hsm-sim and
# PostgreSQL, one per row of a table (tests/switch/rules/atm.rules, the ATM
# rules; pos.rules, the point of sale), the database checked after each row
# and the ledger invariants after each section (docs/testing.md).
#   rules_test.sh BUILD_BIN_DIR [atm|pos|TABLE-FILE]     (atm by default)
# RULES_SECTION=NAME runs one section, RULES_CASE=NAME one section up to that
# case (exit 77, skipped, when the table has no such section or case);
# RULES_KNOWN_GAPS=run also runs the rows marked KNOWN-GAP.
. "$(dirname "$0")/lib.sh"
table=${2:-${RULES_TABLE:-atm}}
case $table in atm | pos) table=$here/rules/$table.rules ;; esac
rc=0
python3 "$here/rules.py" "$table" --check >/dev/null || rc=$?
[ $rc = 3 ] && { echo "skipped: RULES_SECTION / RULES_CASE not in $table"; exit 77; }
[ $rc = 0 ] || exit 2
sw_setup "$1"

# Terminals beyond the demo's, each with a public test key as its TMK:
# another bank's ATM and POS driven by our switch (a shared network; their
# owner is the demo's "Other Bank", DE 32 00000000002), and the e-commerce
# gateway of the demo's subscription merchant (StreamFlix, MER000000000004).
cp "$src/schema/demo/terminal_tmks.txt" "$TMP/rules-tmks.txt"
add_terminal() { # TID KIND ACQUIRER MERCHANT-ID|'' MCC LOCATION TMK
  sql "INSERT INTO terminals (terminal_id, kind, institution_id, merchant_id, mcc, location)
       SELECT '$1', '$2', i.id, (SELECT id FROM merchants WHERE merchant_id = '$4'), '$5', '$6'
         FROM institutions i WHERE i.acquirer_id = '$3'" >/dev/null
  echo "$7" | "$BIN/switchctl" --db "dbname=$DB" terminal set-tmk "$1" --hsm "127.0.0.1:$HSM_PORT" \
    >/dev/null 2>"$TMP/tmk.err" || fail "$1 TMK: $(cat "$TMP/tmk.err")"
  echo "$1  $7" >>"$TMP/rules-tmks.txt"
}
add_terminal OBATM001 atm 00000000002 '' 6011 'Other Bank ATM, Kampot' FEDCBA987654321089ABCDEF01234567
add_terminal OBPOS001 pos 00000000002 '' 5411 'Other Bank POS, Kep market' FEDCBA98765432100123456789ABCDEF
add_terminal WEB00001 pos 00000000001 MER000000000004 4899 'StreamFlix web payments' 89ABCDEF01234567FEDCBA9876543210

# Every group of sections ([name] and the [+name] after it) starts from this
# state: the database as it is now, copied (CREATE DATABASE ... TEMPLATE) for
# each group, the next copy made and the last one dropped in the background
# while a group runs.
BASE=$DB
NET_PORT=$(free_port)
cleanup() {
  set +e
  [ -n "${B_PID:-}" ] && { kill -9 "$B_PID"; wait "$B_PID"; } 2>/dev/null
  [ -n "${SW_PID:-}" ] && { kill -9 "$SW_PID"; wait "$SW_PID"; } 2>/dev/null
  wait ${jobs_db[@]+"${jobs_db[@]}"} 2>/dev/null
  for d in $(psql -X -At -d postgres -c "select datname from pg_database where datname like '${BASE}\\_%'"); do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1
  done
  DB=$BASE SW_PID='' sw_cleanup
}
trap cleanup EXIT
copy() { psql -X -q -d postgres -c "CREATE DATABASE ${BASE}_s$1 TEMPLATE $BASE" >/dev/null; }

# switchd B: another bank's switch with its own database, sending our BINs
# to our "net" listener with PIN blocks under a ZPK (only for rows at "net").
start_b() {
  "$BIN/switchctl" --db "dbname=${BASE}_b" db init >/dev/null
  "$BIN/switchctl" --db "dbname=${BASE}_b" load demo --hsm "127.0.0.1:$HSM_PORT" >/dev/null 2>&1
  # B is the Other Bank: its own acquirer id, and its terminals are its own
  # (a terminal speaks only for the institution that owns it).
  psql -X -q -d "${BASE}_b" -c "UPDATE bank_settings SET own_acquirer_id = '00000000002'" \
    -c "UPDATE terminals SET institution_id = (SELECT id FROM institutions WHERE acquirer_id = '00000000002')" >/dev/null
  B_PORT=$(free_port)
  "$BIN/switchd" --set "listener atm.address=127.0.0.1:$B_PORT" --set "admin.address=127.0.0.1:$(free_port)" \
    --set "hsm.address=127.0.0.1:$HSM_PORT" --set "database.conninfo=dbname=${BASE}_b" \
    --set "route us.bins=45391,52741,62128" --set "route us.address=127.0.0.1:$NET_PORT" \
    --set "route us.zpk=$NET_ZPK" 2>"$TMP/switchd-b.log" &
  B_PID=$!
  export B_PORT
}
route_ups() { # (0 until switchd B has written its log)
  if [ -f "$TMP/switchd-b.log" ]; then grep -c 'route=us up' "$TMP/switchd-b.log" || true; else echo 0; fi
}
wait_route() { # B's link to our switchd came up more than $1 times
  for _ in $(seq 60); do [ "$(route_ups)" -gt "$1" ] && return 0; sleep 0.1; done
  fail "switchd B's route to us not up"
}

# The ZPK the two banks exchanged (under a ZMK, in life): the same LMK form
# here, as both switches use this hsm-sim.
NET_ZPK=$("$BIN/hsmctl" --port "$HSM_PORT" genkey zpk | awk -F= '$1 == "key" { print $2 }')
export BIN SRC=$src TMP HSM_PORT SW_PORT=${SW_PORT:-$(free_port)}
python3 "$here/rules.py" "$table" --list >"$TMP/sections" || exit 2
mapfile -t sections <"$TMP/sections"
[ ${#sections[@]} -gt 0 ] || fail "no section to run"
failed='' jobs_db=()
copy 0 & next=$!; jobs_db+=("$next")
for i in "${!sections[@]}"; do
  read -r section net <<<"${sections[$i]}"
  wait $next || fail "copy of the demo bank for [$section]"
  [ $((i + 1)) -lt ${#sections[@]} ] && { copy $((i + 1)) & next=$!; jobs_db+=("$next"); }
  DB=${BASE}_s$i
  ups=$(route_ups)
  sw_start --set "listener net.address=127.0.0.1:$NET_PORT" --set "listener net.require_signon=no" \
    --set "listener net.peer_zpk=$NET_ZPK" --set "listener net.peer_acquirers=00000000002"
  if [ -n "$net" ]; then
    [ -z "${B_PID:-}" ] && { start_b; ups=0; }
    wait_route "${ups:-0}"
  fi
  RULES_STAN=$((1 + 20000 * i)) DB=$DB python3 "$here/rules.py" "$table" --run "$section" || failed="$failed $section"
  kill "$SW_PID"; wait "$SW_PID" || fail "switchd exit status $? after SIGTERM"; SW_PID=
  psql -X -q -d postgres -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null & jobs_db+=($!)
done
awk '!/^#/ && NF { print $2 }' "$src/atm-sim/demo-cards.txt" >"$TMP/pans"
grep -q -F -f "$TMP/pans" "$SW_LOG" "$TMP"/rules-*.out 2>/dev/null && fail "a clear PAN in a log"
[ -z "$failed" ] || fail "sections failed:$failed"
echo ok

#!/usr/bin/env bash
# switchd end to end with a real PostgreSQL and hsm-sim: network management,
# sign-on enforcement, an approved purchase and its hold, a repeat, a
# duplicate with other content, reversals, format errors, and hostile bytes
# that close one connection while another carries on.
#   flows_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/lib.sh"
sw_setup "$1"
sw_start --set switch.txn_deadline_ms=2000 --set switch.message_timeout_ms=1000 --set switch.log_format=json
T=$(de7)
acct=100000011
sql "update terminals set tmk_key_id = null where terminal_id = 'POS00003'"

iso - <<EOF2 || fail "network management and sign-on rules"
# echo needs no terminal id
MTI=0800
7=$T
11=000001
70=301
!expect MTI=0810 39=00 70=301

# a financial message before sign-on: 58
MTI=0200
2=4539100000001107
3=000000
4=000000001500
7=$T
11=000002
41=POS00001
42=MER000000000001
49=840
!expect MTI=0210 39=58 38=-

# an unknown terminal cannot sign on
MTI=0800
7=$T
11=000003
41=XXX00009
70=001
!expect 39=03

MTI=0800
7=$T
11=000004
41=POS00001
70=001
!expect MTI=0810 39=00 41=POS00001

# a key change: a new TPK and TAK under the terminal's TMK in DE 48
MTI=0800
7=$T
11=000005
41=POS00002
70=101
!expect 39=00 48=?

# a key change for a terminal without a TMK
MTI=0800
7=$T
11=000007
41=POS00003
70=101
!expect 39=03 48=-

# signed on as POS00001: another terminal id on this connection is refused
MTI=0200
2=4539100000001107
3=000000
4=000000001500
7=$T
11=000006
41=POS00002
42=MER000000000002
49=840
!expect 39=58
EOF2

held_before=$(sql "select held_amount from accounts where number='$acct'")
iso - <<EOF2 || fail "purchase, repeat, duplicate, reversal"
MTI=0800
7=$T
11=000010
41=POS00001
70=001
!expect 39=00

$(purchase 0200 000011 1500)
!expect MTI=0210 39=00 38=? 4=000000001500 11=000011

# the repeat gets the original answer and posts nothing
$(purchase 0201 000011 1500)
!expect MTI=0210 39=00 38=?

# the same key with other content: 94
$(purchase 0200 000011 9900)
!expect 39=94 38=-
EOF2
[ "$(sql "select held_amount from accounts where number='$acct'")" = $((held_before + 1500)) ] \
  || fail "hold not placed exactly once: held $(sql "select held_amount from accounts where number='$acct'")"
[ "$(sql "select count(*) from auth_log where stan='000011' and msg_class='auth'")" = 1 ] || fail "auth logged twice"

iso - <<EOF2 || fail "reversal"
MTI=0800
7=$T
11=000020
41=POS00001
70=001

MTI=0420
2=4539100000001107
3=000000
4=000000001500
7=$T
11=000021
32=00000000001
41=POS00001
49=840
90=0200000011${T}0000000000100000000000
!expect MTI=0430 39=00

MTI=0421
2=4539100000001107
3=000000
4=000000001500
7=$T
11=000021
32=00000000001
41=POS00001
49=840
90=0200000011${T}0000000000100000000000
!expect MTI=0430 39=00

# a reversal whose original never arrived: acknowledged (an advice must
# be, or the terminal repeats it for ever)...
MTI=0420
2=4539100000001107
3=000000
4=000000001500
7=$T
11=000022
32=00000000001
41=POS00001
49=840
90=0200999999${T}0000000000100000000000
!expect MTI=0430 39=00

# ... and should the original come after all, it takes nothing: 91
$(purchase 0200 999999 1500)
!expect MTI=0210 39=91 38=-

# the same key with other content: 94
$(purchase 0200 999999 1700)
!expect MTI=0210 39=94 38=-
EOF2
[ "$(sql "select response_code || ' ' || rule from auth_log where stan='000022'")" = "00 original_not_found_acknowledged" ] \
  || fail "unknown original's reversal: $(sql "select response_code, rule from auth_log where stan='000022'")"
[ "$(sql "select response_code || ' ' || rule || ' ' || coalesce(hold_id::text, '-') from auth_log where stan='999999' and msg_class='auth'")" = "91 reversed_before_arrival -" ] \
  || fail "original after its reversal: $(sql "select response_code, rule, hold_id from auth_log where stan='999999'")"
[ "$(sql "select held_amount from accounts where number='$acct'")" = "$held_before" ] || fail "hold not released"
[ "$(sql "select status from holds h join auth_log l on l.hold_id = h.id where l.stan='000011' and l.msg_class='auth'")" = reversed ] \
  || fail "hold not reversed"

# Format errors. A message that decodes but lacks DE 3: 30. A message with a
# letter in DE 4: 30, echoing the fields before DE 4. Neither closes the link.
body=$(printf '0200%s%s%s%s' 3020000000000000 000000 0000000012X4 000001 | xxd -p | tr -d '\n')
iso - <<EOF2 || fail "format errors"
MTI=0200
2=4539100000001107
4=000000001500
7=$T
11=000030
41=POS00001
49=840
!expect MTI=0210 39=30

!raw 002c$body
!recv
!expect MTI=0210 39=30 3=000000 4=-

MTI=0800
7=$T
11=000031
70=301
!expect 39=00

# an MTI we do not take (0600): 12
MTI=0600
7=$T
11=000032
41=POS00001
!expect MTI=0610 39=12
EOF2

# Hostile bytes: each closes its own connection; a terminal that was
# connected all along is unaffected.
iso - --timeout 8 >"$TMP/steady.out" <<EOF2 &
MTI=0800
7=$T
11=000040
70=301
!expect 39=00
!sleep 2
MTI=0800
7=$T
11=000041
70=301
!expect 39=00
EOF2
steady=$!
sleep 0.3
iso - <<EOF2 || fail "hostile input"
# over-long length (65535 > 4096)
!raw ffff3030
!expect-close
!reconnect
# zero length
!raw 0000
!expect-close
!reconnect
# an MTI that is not one
!raw 000439393939
!expect-close
!reconnect
# a message that never completes: closed after message_timeout_ms
!raw 00103030
!expect-close
!reconnect
# random bytes
!raw 0010deadbeef00112233445566778899aabb
!expect-close
!reconnect
MTI=0800
7=$T
11=000042
70=301
!expect 39=00
EOF2
wait $steady || fail "the steady connection was disturbed: $(cat "$TMP/steady.out")"
# SIGHUP empties the terminal cache: a terminal deactivated in the database
# is refused (03) from the next message on, without a restart.
( for _ in $(seq 100); do grep -q 'stan=000050' "$SW_LOG" && break; sleep 0.05; done
  sql "update terminals set status = 'inactive' where terminal_id = 'POS00001'"; kill -HUP "$SW_PID" ) &
hup=$!
iso - <<EOF2 || fail "SIGHUP reload of the terminal cache"
$(signon POS00001)
$(purchase 0200 000050 100)
!expect 39=00
!sleep 1.5
$(purchase 0200 000051 100)
!expect 39=03
EOF2
wait $hup
grep -q '"event":"reload"' "$SW_LOG" || fail "reload not logged"
[ "$(metric switchd_connections_framing_closed_total)" -ge 5 ] || fail "framing closes not counted"
grep -q "4539100000001107" "$SW_LOG" && fail "full PAN in the log"
grep -q "453910\*\*\*\*\*\*1107" "$SW_LOG" || fail "masked PAN not in the log"
# JSON lines: every line an object with the connection and transaction ids
python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert {"ts", "level", "conn", "txn", "event", "msg"} <= o.keys(), line
    n += o["event"] == "txn"
assert n >= 15, n
' "$SW_LOG" || fail "log is not JSON lines with ids"
echo "ok"

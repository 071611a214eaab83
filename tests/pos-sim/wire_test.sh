#!/usr/bin/env bash
# pos-sim's messages on the wire, and its DUKPT PIN blocks checked by
# hsm-sim, against a stand-in switch (fakeswitch.py) that logs every
# request's layout and verifies each DUKPT PIN block with GQ (BDK under the
# LMK, the card's PVV). The TDES BDK is formed in hsm-sim from the published
# X9.24-1 BDK as one clear component (FK, hsm-sim --authorised); the AES BDK
# (X9.24-3), which FK does not form, is wrapped under the test LMK by
# lmk-form. The log must equal wire_expected.txt line for line.
#   wire_test.sh BUILD_BIN_DIR
set -euo pipefail
BIN=$1
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
TMP=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$TMP/hsm.log" ] && tail -5 "$TMP/hsm.log"; exit 1; }
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done; fail "$2 did not start"; }

cp "$src/tests/hsm/test.lmk" "$TMP/lmk"; chmod 600 "$TMP/lmk"
"$BIN/hsm-sim" --lmk "$TMP/lmk" --port 0 --port-file "$TMP/hsm.port" --authorised 2>"$TMP/hsm.log" & pids+=($!)
wait_file "$TMP/hsm.port" hsm-sim
hsm() { "$BIN/hsmctl" --port "$(cat "$TMP/hsm.port")" "$@"; }

tdes=0123456789ABCDEFFEDCBA9876543210 aes=FEDCBA9876543210F1F1F1F1F1F1F1F1
grep -qE "^POS00001 +tdes +$tdes" "$src/schema/demo/terminal_bdks.txt" || fail "demo TDES BDK"
grep -qE "^POS00001 +aes +$aes" "$src/schema/demo/terminal_bdks.txt" || fail "demo AES BDK"
formed=$(echo "$tdes" | hsm form-key bdk) || fail "form-key bdk"
bdk_tdes=$(sed -n 's/^key=//p' <<<"$formed")
# hsm-sim formed the BDK the file holds: the same check value as a local wrap
read -r _ kcv < <("$BIN/lmk-form" "$TMP/lmk" 009 "$tdes")
[ "$(sed -n 's/^kcv=//p' <<<"$formed")" = "$kcv" ] || fail "formed BDK check value"
read -r bdk_aes _ < <("$BIN/lmk-form" "$TMP/lmk" 009 "$aes" aes)
pvk=$(hsm genkey pvk | sed -n 's/^key=//p')
pvv=$(echo 1234 | hsm pvv --pvk "$pvk" --pan 4539100000001107 | sed -n 's/^pvv=//p')
[ ${#pvv} = 4 ] || fail "no PVV"

python3 "$here/fakeswitch.py" --port-file "$TMP/sw.port" --log "$TMP/wire.log" \
  --hsm-port "$(cat "$TMP/hsm.port")" --bdk-tdes "$bdk_tdes" --bdk-aes "$bdk_aes" \
  --pvk "$pvk" --pvv "$pvv" 2>"$TMP/sw.err" & pids+=($!)
wait_file "$TMP/sw.port" fakeswitch.py
pos() {
  "$BIN/pos-sim" --port "$(cat "$TMP/sw.port")" --cards "$src/atm-sim/demo-cards.txt" \
    --bdk-file "$src/schema/demo/terminal_bdks.txt" "$@"
}

cat >"$TMP/tdes.txt" <<'EOF2'
signon expect=00
purchase visa-classic 10.00 pin=card expect=00                   # KSN ...E00001
purchase visa-classic 11.00 pin=9999 expect=55                   # ...E00002: hsm-sim says wrong PIN
repeat expect=55                                                 # 0201: the same block and KSN
purchase visa-classic 12.00 entry=contactless pin=card expect=00 # ...E00003
cashback visa-classic 20.00 5.00 entry=stripe pin=card expect=00 # ...E00004, DE 54
purchase visa-classic 13.00 expect=00                            # signature: no PIN, no KS
purchase visa-classic 14.00 entry=ecom cvv2=123 expect=00
purchase visa-classic 15.00 entry=manual cvv2=123 expect=00
purchase visa-classic 9.99 recurring expect=00
preauth visa-classic 40.00 pin=card expect=00                    # ...E00005
complete 45.00 expect=00
repeat expect=00
refund visa-classic 7.00 entry=stripe expect=00
purchase visa-classic 16.00 currency=KHR expect=00
void expect=00                                                   # the KHR purchase
repeat expect=00
batch expect=00
batch expect=00                                                  # a new batch: nothing in it
batch currency=KHR expect=00
echo expect=00
signoff expect=00
EOF2
pos --dukpt tdes --stan 1 --script "$TMP/tdes.txt" >"$TMP/out1" || { cat "$TMP/out1"; fail "TDES session"; }
cat >"$TMP/aes.txt" <<'EOF2'
signon expect=00
purchase visa-classic 10.00 pin=card expect=00                   # KSN ...00000001, P4
purchase visa-classic 10.00 pin=1111 expect=55
repeat expect=55
cashback visa-classic 20.00 5.00 pin=card expect=00
preauth visa-classic 30.00 pin=card expect=00
EOF2
pos --dukpt aes --terminal POS00002 --merchant MER000000000002 --stan 100 --script "$TMP/aes.txt" \
  >"$TMP/out2" || { cat "$TMP/out2"; fail "AES session"; }
cat "$TMP/out1" "$TMP/out2"

grep -qE '^L2 +purchase .* pin=dukpt ksn=FFFF9876543210E00001 0200 rc=00 ' "$TMP/out1" || fail "TDES KSN shown"
grep -qE '^L2 +purchase .* pin=dukpt ksn=123456789012345600000001 0200 rc=00 ' "$TMP/out2" || fail "AES KSN shown"
grep -qE '^L18 +batch +currency=USD debits=8/143.99 debit-reversals=0/0.00 credits=1/7.00 credit-reversals=0/0.00 0500 rc=00 ' "$TMP/out1" \
  || fail "USD batch totals"
grep -qE '^L19 +batch +currency=USD debits=0/0.00 ' "$TMP/out1" || fail "a new batch after the approved one"
grep -qE '^L20 +batch +currency=KHR debits=1/16.00 debit-reversals=1/16.00 ' "$TMP/out1" || fail "KHR batch totals"
diff -u "$here/wire_expected.txt" "$TMP/wire.log" || fail "the wire layout differs from wire_expected.txt"
! grep -qE '4539100000001107|cvv2=123' "$TMP/out1" "$TMP/out2" || fail "clear PAN or CVV2 printed"

# A PIN pad that cannot be set up stops pos-sim before anything is sent.
if pos --dukpt aes --terminal POS00009 --script "$TMP/aes.txt" 2>"$TMP/err" >/dev/null; then fail "no BDK accepted"; fi
[ "$(cat "$TMP/err")" = "pos-sim: $src/schema/demo/terminal_bdks.txt: no aes BDK for terminal POS00009" ] \
  || fail "missing BDK: $(cat "$TMP/err")"
if pos --dukpt tdes --ksn FFFF9876543210E00001 --script "$TMP/aes.txt" 2>"$TMP/err" >/dev/null; then fail "KSN accepted"; fi
grep -q "zero transaction counter" "$TMP/err" || fail "bad KSN: $(cat "$TMP/err")"
echo ok

#!/usr/bin/env bash
# hsmctl against a real hsm-sim: card issuance values from clear PINs (the
# PVV and IBM offset vectors of test_crypto.c), key generation, --json,
# exit status and one-line errors.
#   test_hsmctl.sh HSM_SIM HSMCTL TEST_LMK
set -euo pipefail
sim=$1 ctl=$2 lmk_src=$3
dir=$(mktemp -d /tmp/hsmctl.XXXXXX)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
cp "$lmk_src" "$dir/lmk"; chmod 600 "$dir/lmk"   # git keeps no file modes
"$sim" --lmk "$dir/lmk" --port 0 --port-file "$dir/port" 2>"$dir/log" & pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
port=$(cat "$dir/port")
c() { "$ctl" --port "$port" "$@"; }
fail() { echo "FAIL: $*"; cat "$dir/log"; exit 1; }

c diag | grep -q '^lmk_kcv=[0-9A-F]\{6\}$' || fail diag
c --help | grep -q '^usage: hsmctl' || fail help

# A PVK for the tests: generate one, check its KCV round trip.
out=$(c genkey pvk)
pvk=$(sed -n 's/^key=//p' <<<"$out"); kcv=$(sed -n 's/^kcv=//p' <<<"$out")
[ "$(c kcv pvk --key "$pvk")" = "kcv=$kcv" ] || fail kcv
# JSON output.
c --json genkey zpk | grep -q '^{"key":"U[0-9A-F]\{48\}","kcv":"[0-9A-F]\{6\}"}$' || fail json

# Errors: one line on stderr and the documented exit status.
set +e
c kcv zpk --key "$pvk" 2>"$dir/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$dir/err")" -eq 1 ] && grep -q 'HSM error 10' "$dir/err" || fail "wrong-type rc=$rc"
c frobnicate 2>/dev/null; [ $? -eq 2 ] || fail usage
"$ctl" --port 1 --timeout 300 diag 2>/dev/null; [ $? -eq 3 ] || fail unreachable
set -e

# Issuance values from clear PINs. The known-answer checks (psec vectors
# with a known PVK) are in test_hsm_server, which can put a clear key under
# the test LMK; here hsmctl's plumbing and output format are checked.
pvv=$(echo 4524 | c pvv --pvk "$pvk" --pan 1122334455667788 --pvki 1 | sed -n 's/^pvv=//p')
[[ "$pvv" =~ ^[0-9]{4}$ ]] || fail pvv
off=$(c offset --pvk "$pvk" --pan 1122334455667788 --dectab 1234567890123456 \
      --valdata 1122334455667788 --pin 1234 | sed -n 's/^offset=//p')
[[ "$off" =~ ^[0-9]{4}$ ]] || fail offset
echo "ok"

#!/usr/bin/env bash
# hsmctl form-key against real hsm-sims, one authorised and one not: the KCV
# of the formed key equals the one openssl computes from the XOR of the
# components; bad components are refused locally with one line that does not
# repeat them; the HSM logs the ceremony but never a component.
#   test_form_key.sh HSM_SIM HSMCTL TEST_LMK
set -euo pipefail
sim=$1 ctl=$2 lmk_src=$3
dir=$(mktemp -d /tmp/hsmfk.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT
cp "$lmk_src" "$dir/lmk"; chmod 600 "$dir/lmk"   # git keeps no file modes
start() { # NAME [hsm-sim options]; not in $(...): the server must not hold its pipe
  local name=$1; shift
  "$sim" --lmk "$dir/lmk" --port 0 --port-file "$dir/$name.port" "$@" </dev/null >/dev/null 2>"$dir/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$dir/$name.port" ] && break; sleep 0.05; done
}
start auth --authorised
start plain
auth=$(cat "$dir/auth.port") plain=$(cat "$dir/plain.port")
fail() { echo "FAIL: $*"; cat "$dir/auth.log"; exit 1; }
# KCV of a clear TDES key (32 or 48 hex) with openssl: first 3 bytes of E(0).
kcv() {
  local c=-des-ede; [ ${#1} -eq 48 ] && c=-des-ede3
  printf '\0\0\0\0\0\0\0\0' | openssl enc "$c" -K "$1" -nopad | od -An -tx1 | tr -d ' \n' | cut -c1-6 | tr a-f A-F
}
xor() { # two hex strings of equal length
  local out= i
  for ((i = 0; i < ${#1}; i += 2)); do out+=$(printf '%02X' $((16#${1:i:2} ^ 16#${2:i:2}))); done
  echo "$out"
}
K2=0123456789ABCDEFFEDCBA9876543210
[ "$(kcv $K2)" = 08D7B4 ] || fail "openssl KCV of the classic key"

# One component: the key itself.
out=$(echo $K2 | "$ctl" --port "$auth" form-key tmk)
grep -qx 'kcv=08D7B4' <<<"$out" || fail "one component: $out"
key=$(sed -n 's/^key=//p' <<<"$out")
[[ "$key" =~ ^U[0-9A-F]{48}$ ]] || fail "key under LMK: $key"
[ "$("$ctl" --port "$auth" kcv tmk --key "$key")" = "kcv=08D7B4" ] || fail "BU of the formed TMK"
# Two components, written in groups of four, lower case.
c1=F0E1D2C3B4A5968778695A4B3C2D1E0F c2=1C2D3E4F5A6B7C8D9EAFB0C1D2E3F405
want=$(kcv "$(xor $c1 $c2)")
got=$(printf '%s\n%s\n' "$(sed 's/..../& /g' <<<"$c1")" "$(tr A-F a-f <<<"$c2")" |
      "$ctl" --port "$auth" form-key zmk | sed -n 's/^kcv=//p')
[ "$got" = "$want" ] || fail "two components: $got, openssl $want"
# Three triple-length components, --json.
t1=0123456789ABCDEFFEDCBA987654321089ABCDEF01234567
t2=1C2D3E4F5A6B7C8D9EAFB0C1D2E3F405162738495A6B7C8D
t3=F1E2D3C4B5A69788796A5B4C3D2E1F0A0B1C2D3E4F5A6B7C
want=$(kcv "$(xor "$(xor $t1 $t2)" $t3)")
out=$(printf '%s\n%s\n%s\n' $t1 $t2 $t3 | "$ctl" --port "$auth" --json form-key bdk --scheme T)
grep -q "^{\"key\":\"T[0-9A-F]\{64\}\",\"kcv\":\"$want\"}\$" <<<"$out" || fail "three components: $out, openssl $want"

# AES (an AES DUKPT BDK): two AES-128 components; KCV = AES-ECB of a zero block.
a1=FEDCBA9876543210F1F1F1F1F1F1F1F1 a2=0123456789ABCDEF0E0E0E0E0E0E0E0E
want=$(printf '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' | openssl enc -aes-128-ecb -K "$(xor $a1 $a2)" -nopad |
       od -An -tx1 | tr -d ' \n' | cut -c1-6 | tr a-f A-F)
got=$(printf '%s\n%s\n' $a1 $a2 | "$ctl" --port "$auth" form-key bdk --scheme P | sed -n 's/^kcv=//p')
[ "$got" = "$want" ] || fail "AES components: $got, openssl $want"

# Refusals: one line, the documented exit status, no component digits.
check() { # EXPECTED-RC PATTERN INPUT ARGS...
  local rc=0 want=$1 pat=$2 in=$3; shift 3
  printf '%b' "$in" | "$ctl" "$@" >/dev/null 2>"$dir/err" || rc=$?
  [ $rc -eq "$want" ] || fail "$*: exit $rc, want $want"
  [ "$(wc -l <"$dir/err")" -eq 1 ] || fail "$*: not one line: $(cat "$dir/err")"
  grep -q "$pat" "$dir/err" || fail "$*: $(cat "$dir/err")"
  ! grep -qE '0123|89AB|FEDC' "$dir/err" || fail "$*: component in the error"
}
check 2 'component 1: not hexadecimal' "0123456789ABCDEFFEDCBA987654321G\n" --port "$auth" form-key tmk
check 2 'component 2: 30 hex digits, want 32' "$K2\n0123456789ABCDEFFEDCBA98765432\n" --port "$auth" form-key tmk
check 2 'component 1: 32 hex digits, want 48' "$K2\n" --port "$auth" form-key tmk --scheme T
check 2 'more than 3 components' "$K2\n$c1\n$c2\n$K2\n" --port "$auth" form-key tmk
check 2 'no key component' "" --port "$auth" form-key tmk
check 2 'master and card keys only' "$K2\n" --port "$auth" form-key tpk
check 2 'scheme must be U' "$K2\n" --port "$auth" form-key tmk --scheme X
check 2 'component 1: 32 hex digits, want 64' "$K2\n" --port "$auth" form-key bdk --scheme R
check 1 'HSM error 27' "$K2\n$K2\n" --port "$auth" form-key bdk --scheme P
check 1 'HSM error 27' "0123456789ABCDEF0123456789ABCDEF\n" --port "$auth" form-key tmk
check 1 'HSM error 27' "$K2\n$K2\n" --port "$auth" form-key tmk
check 1 'HSM error 17' "$K2\n" --port "$plain" form-key tmk

# The ceremony is logged (type and KCV), the components never are.
grep -q 'FK formed a key of type 004 from components, KCV 08D7B4' "$dir/auth.log" || fail "no FK log line"
grep -q 'authorised state' "$dir/auth.log" || fail "start-up does not say authorised"
! grep -q 'authorised state' "$dir/plain.log" || fail "plain hsm-sim says authorised"
grep -q 'FK form key from components refused: error 17' "$dir/plain.log" || fail "refusal not logged"
! grep -qiE "$K2|$c1|$c2|$t1|$t2|$t3|0123 4567" "$dir/auth.log" "$dir/plain.log" || fail "a component was logged"
echo "ok"

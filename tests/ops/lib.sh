# Shared by the ops_ tests: a demo database (tests/db/lib.sh) and the
# checks they make of switchctl's answers.
#   . lib.sh; ops_setup SWITCHCTL
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091
. "$here/../db/lib.sh"
export SWITCH_PAN_HMAC_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SWITCH_PAN_ENC_KEY=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100
ops_setup() {
  tmp=$(mktemp -d)
  db_setup "$1"
  trap 'rm -rf "$tmp"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
  : >"$tmp/all"
}
fail() { echo "FAIL: $*"; exit 1; }
q() { psql_t -At -c "$1"; }
# Runs switchctl; its output in $tmp/out and $tmp/err, and all of it in $tmp/all.
sc() {
  local rc=0
  "$SWITCHCTL" --db "dbname=$DB" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  cat "$tmp/out" "$tmp/err" >>"$tmp/all"
  return $rc
}
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
# expect RC PATTERN ARGS...: exit status RC and one line on stderr matching PATTERN (grep -E).
expect() {
  local rc=0 want=$1 pat=$2; shift 2
  sc "$@" || rc=$?
  [ "$rc" -eq "$want" ] || fail "$*: exit $rc, want $want: $(cat "$tmp/err")"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$*: not one line on stderr: $(cat "$tmp/err")"
  grep -qE -- "$pat" "$tmp/err" || fail "$*: stderr $(cat "$tmp/err"), want /$pat/"
  grep -q '^switchctl: ' "$tmp/err" || fail "$*: error does not start with 'switchctl:'"
}
ok() { sc "$@" || fail "$*: exit $?: $(cat "$tmp/err")"; }
out_is() { [ "$(cat "$tmp/out")" = "$1" ] || fail "output: got '$(cat "$tmp/out")', want '$1'"; }
invariants() { psql_t -f "$here/../db/helpers.sql" -c "SELECT pg_temp.check_invariants()" >/dev/null ||
               fail "ledger invariants after $1"; }
ledger() { q "select ledger_balance from accounts where number = '$1'"; }
# What a refused command must not change: disputes, their history, the
# ledger, the audit log, the end-of-day records.
state() { q "select (select count(*) from disputes) || '/' || (select count(*) from dispute_events) || '/'
  || (select count(*) from journal_lines) || '/' || (select count(*) from audit_log) || '/'
  || (select count(*) from eod_runs) || '/' || (select string_agg(status, ',' order by id) from disputes)"; }
# The PANs of the demo cards: none may appear in any output.
no_pans() {
  local pan
  for pan in $(q "select pan from demo_card_numbers"); do
    ! grep -q "$pan" "$tmp/all" || fail "a full PAN in switchctl's output"
  done
}

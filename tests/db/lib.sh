# Shared by the db_ tests: a fresh database per test, dropped on exit.
#   . lib.sh; db_setup SWITCHCTL   -> $DB (name), psql_t ... runs psql on it
set -euo pipefail
: "${SWITCH_PGDIR:?SWITCH_PGDIR not set (run through ctest)}"
[ -f "$SWITCH_PGDIR/env" ] || { echo "no $SWITCH_PGDIR/env: is the pg fixture up?" >&2; exit 1; }
# shellcheck disable=SC1091
. "$SWITCH_PGDIR/env"
db_setup() {
  SWITCHCTL=$1
  DB=t_$(basename "$0" .sh | tr -c 'a-z0-9\n' _)_$$_$RANDOM
  trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
  "$SWITCHCTL" --db "dbname=$DB" db init >/dev/null
  SWITCH_PAN_HMAC_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff \
  SWITCH_PAN_ENC_KEY=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100 \
    "$SWITCHCTL" --db "dbname=$DB" load demo >/dev/null
}
psql_t() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

# shellcheck shell=bash
# Shared by the crash tests: the bench bank on a fresh database, hsm-sim,
# and tests/switch/lib.sh's helpers (sw_start, metric, sql, fail, ...).
#   . lib.sh BUILD_BIN_DIR; crash_setup NAME CARDS ATMS   -> $BIN $TMP $DB $tmk $HSM_PORT
# Run outside ctest, it uses (and starts if needed) the build's test
# cluster, BUILD_BIN_DIR/../pg.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $(basename "$0") BUILD_BIN_DIR" >&2; exit 2; }
crashdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$crashdir/../.." && pwd)
if [ -z "${SWITCH_PGDIR:-}" ]; then
  SWITCH_PGDIR=$(cd "$1/.." && pwd)/pg
  export SWITCH_PGDIR
  "$src/scripts/db" start >/dev/null
fi
# shellcheck disable=SC1091
. "$src/tests/switch/lib.sh"
BIN=$(cd "$1" && pwd)

# crash_setup NAME CARDS ATMS: database t_NAME_..., setup.sql's accounts,
# CARDS cards with real PANs and PVVs, ATMs BA000001.. sharing the TMK of
# schema/bench/tmk.txt ($tmk), hsm-sim with tests/hsm/test.lmk.
crash_setup() {
  TMP=$(mktemp -d)
  DB=t_$1_$$_$RANDOM
  trap sw_cleanup EXIT
  "$BIN/switchctl" --db "dbname=$DB" db init >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$src/schema/bench/setup.sql" >/dev/null
  hsm_start
  tmk=$(grep -v '^#' "$src/schema/bench/tmk.txt" | head -1)
  "$BIN/loadgen-bench-data" --hsm "127.0.0.1:$HSM_PORT" --cards "$2" --tmk "$tmk" 2>"$TMP/bench.err" \
    | cat - "$src/schema/bench/switch.sql" \
    | psql -X -q -v ON_ERROR_STOP=1 -v terminals="$3" -v pan_hmac_key="$SWITCH_PAN_HMAC_KEY" -d "$DB" \
        >/dev/null 2>>"$TMP/bench.err" || fail "bench data: $(cat "$TMP/bench.err")"
}

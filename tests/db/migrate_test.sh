#!/usr/bin/env bash
# Migrations are recorded and idempotent; a changed applied file is refused;
# two concurrent migrators apply each file once.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
SWITCHCTL=$1
DB=t_migrate_$$_$RANDOM
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
tmp=$(mktemp -d)
psql -X -q -d postgres -c "CREATE DATABASE $DB"
"$SWITCHCTL" --db "dbname=$DB" db migrate >/dev/null &
"$SWITCHCTL" --db "dbname=$DB" db migrate >/dev/null
wait $!
n=$(ls "$here/../../schema"/[0-9][0-9][0-9]_*.sql | wc -l)
got=$(psql -X -qAt -d "$DB" -c "select count(*) from schema_migrations")
[ "$got" = "$n" ] || { echo "FAIL: $got migrations recorded, want $n"; exit 1; }
out=$("$SWITCHCTL" --db "dbname=$DB" db migrate)
[[ "$out" == *"0 applied now"* ]] || { echo "FAIL: second migrate applied something: $out"; exit 1; }
# a changed applied migration is refused with a one-line error, non-zero exit
cp -r "$here/../../schema/." "$tmp/"
echo "-- edited" >>"$tmp/003_ledger.sql"
if "$SWITCHCTL" --db "dbname=$DB" --schema-dir "$tmp" db migrate 2>"$tmp/err"; then
  echo "FAIL: changed migration accepted"; exit 1
fi
grep -q "changed since it was applied" "$tmp/err" || { echo "FAIL: wrong error: $(cat "$tmp/err")"; exit 1; }
[ "$(wc -l <"$tmp/err")" = 1 ] || { echo "FAIL: error not one line"; exit 1; }
# usage errors exit 2, --help exits 0
"$SWITCHCTL" card frobnicate 1 2>/dev/null && { echo "FAIL: bad verb accepted"; exit 1; }
for c in "db" "load" "card" "account"; do
  "$SWITCHCTL" $c --help | grep -q usage || { echo "FAIL: $c --help"; exit 1; }
done
echo "ok: migrations"

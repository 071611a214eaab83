#!/usr/bin/env bash
# run_sql_test.sh SWITCHCTL FILE.sql: fresh demo database, then FILE.sql
# (helpers.sql first); any failed assertion raises and fails the test.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
db_setup "$1"
psql_t -f "$here/helpers.sql" -f "$2"
echo "ok: $(basename "$2")"

#!/usr/bin/env bash
# Migration 010 replaces the voucher code hash by an HSM offset. A database
# whose open vouchers still hold a hash (made under 007's voucher_create) is
# refused with one line naming them, and nothing of 010 is applied; once
# voucher_expire() has returned their money, 010 applies and the closed
# vouchers keep their history without a code.
#   migrate_vouchers_test.sh SWITCHCTL
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
SWITCHCTL=$1
DB=t_migrate_vouchers_$$_$RANDOM
tmp=$(mktemp -d)
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
q() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
# The schema as it was before 010.
mkdir "$tmp/old"
cp -r "$here/../../schema/demo" "$tmp/old/"
for f in "$here"/../../schema/00[1-9]_*.sql; do cp "$f" "$tmp/old/"; done
"$SWITCHCTL" --db "dbname=$DB" --schema-dir "$tmp/old" db init >/dev/null
"$SWITCHCTL" --db "dbname=$DB" --schema-dir "$tmp/old" load demo >/dev/null 2>&1
rc=$(q "select response_code from voucher_create((select id from accounts where number = '100000011'), '7000000001',
        '+85599000001', sha256('12345678'::bytea), 5000, 840::smallint)")
[ "$rc" = 00 ] || fail "old voucher_create: $rc"
if "$SWITCHCTL" --db "dbname=$DB" db migrate >/dev/null 2>"$tmp/err"; then fail "010 applied over an open hashed voucher"; fi
[ "$(wc -l <"$tmp/err")" = 1 ] || fail "not one line: $(cat "$tmp/err")"
grep -q '010_cardless_stoppay.sql: migration 010: 1 open cardless voucher(s) still hold a code hash' "$tmp/err" ||
  fail "error: $(cat "$tmp/err")"
[ "$(q "select count(*) from schema_migrations where version >= 10")" = 0 ] || fail "010 recorded"
[ "$(q "select count(*) from information_schema.columns where table_name = 'cardless_vouchers' and column_name = 'code_hash'")" = 1 ] ||
  fail "010 half applied"
[ "$(q "select voucher_expire(now() + interval '31 days')")" = 1 ] || fail "old voucher did not expire"
"$SWITCHCTL" --db "dbname=$DB" db migrate >/dev/null || fail "010 after expiry"
[ "$(q "select status || ' ' || (code_offset is null) from cardless_vouchers")" = 'expired true' ] || fail "history: $(q "select status, code_offset from cardless_vouchers")"
echo "ok: migration 010 waits for open hashed vouchers"

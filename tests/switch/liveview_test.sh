#!/usr/bin/env bash
# The admin port's live view (/live, /live.json): refused without the token
# (401, empty body, counted, never logged), served with it (header or
# ?token=); the JSON's counts match the traffic atm-sim sent and the
# authorisation log (approvals, declines by code), the links' state follows
# the HSM going away; the page, rendered by headless Chromium after its
# script ran, shows the same numbers. Screenshots go to
# BUILD/test-artifacts/liveview.png and liveview-hsm-down.png.
#   liveview_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/lib.sh"

# Chromium: installed by scripts/setup (its package list has it); never skipped.
if ! command -v chromium >/dev/null 2>&1; then
  echo "liveview: chromium not installed: running scripts/setup to install it"
  SETUP_NO_BUILD=1 "$src/scripts/setup" || true
fi
command -v chromium >/dev/null 2>&1 \
  || { echo "FAIL: chromium is not installed and scripts/setup could not install it (Debian package 'chromium')"; exit 1; }

sw_setup "$1"
artifacts=$(cd "$1/.." && pwd)/test-artifacts
mkdir -p "$artifacts"
openssl rand -hex 32 >"$TMP/token"
chmod 600 "$TMP/token"
token=$(cat "$TMP/token")
sw_start --set "admin.token_file=$TMP/token"
base=http://127.0.0.1:$ADMIN_PORT

# code URL [curl options]: the HTTP status; the body goes to $TMP/body
code() { local u=$1; shift; curl -s -o "$TMP/body" -w '%{http_code}' "$@" "$base$u"; }
refused=0
refuse() { # URL [curl options]: must be 401 with nothing in the body
  local c; c=$(code "$@")
  [ "$c" = 401 ] || fail "$* answered $c, expected 401"
  [ ! -s "$TMP/body" ] || fail "$* 401 with a body: $(head -c 200 "$TMP/body")"
  refused=$((refused + 1))
}

# --- the token ------------------------------------------------------------------
refuse /live
refuse /live.json
refuse /live.json -H "Authorization: Bearer wrong-token-0123456789"
refuse /live.json -H "Authorization: Bearer ${token}0"
refuse /live.json -H "Authorization: Bearer ${token:0:63}"
refuse /live.json -H "Authorization: Basic $token"
refuse "/live.json?token=${token}x"
refuse "/live?token="
# a wrong header is not rescued by a right query
refuse "/live.json?token=$token" -H "Authorization: Bearer nope-nope-nope-nope"
[ "$(code /live.json -H "Authorization: Bearer $token")" = 200 ] || fail "right Bearer token refused"
[ "$(code "/live.json?token=$token")" = 200 ] || fail "right ?token= refused"
[ "$(code "/live?token=$token")" = 200 ] || fail "/live with the token: not 200"
grep -q '<title>switchd live</title>' "$TMP/body" || fail "/live is not the page"
grep -Eq '(src|href)="(https?:)?//' "$TMP/body" && fail "/live loads an external resource"
curl -s -D - -o /dev/null -H "Authorization: Bearer $token" "$base/live" | tr -d '\r' >"$TMP/headers"
grep -qi '^content-type: text/html' "$TMP/headers" || fail "/live content type: $(cat "$TMP/headers")"
grep -qi '^cache-control: no-store' "$TMP/headers" || fail "/live may be cached"
grep -qi "^content-security-policy: default-src 'none'" "$TMP/headers" || fail "/live without a CSP"
# /metrics and /healthz are as they were: no token
[ "$(code /metrics)" = 200 ] && [ "$(code /healthz)" = 200 ] || fail "/metrics or /healthz now need a token"
[ "$(metric switchd_admin_unauthorised_total)" = "$refused" ] \
  || fail "refusals counted $(metric switchd_admin_unauthorised_total), made $refused"
grep -qF "$token" "$SW_LOG" && fail "the token is in switchd's log"
grep -q 'refused: no or wrong token' "$SW_LOG" || fail "refusals not logged"

# A token file that cannot be used stops the start, naming the file.
printf 'short\n' >"$TMP/short"
if "$BIN/switchd" --set "listener atm.address=127.0.0.1:$(free_port)" --set "admin.address=127.0.0.1:$(free_port)" \
     --set "hsm.address=127.0.0.1:$HSM_PORT" --set "database.conninfo=dbname=$DB" \
     --set "admin.token_file=$TMP/short" >"$TMP/short.out" 2>&1; then
  fail "switchd started with a 5-character token"
fi
grep -q "admin.token_file $TMP/short: the token must be" "$TMP/short.out" || fail "short token: $(cat "$TMP/short.out")"

# browse OUTPUT-DOM [SCREENSHOT]: the page with the token, rendered after its script ran
browse() {
  local shot=() t0=$SECONDS
  [ -n "${2:-}" ] && shot=(--screenshot="$2")
  (cd "$TMP" && timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
     --no-first-run --user-data-dir="$TMP/chromium" --window-size=1280,900 \
     --virtual-time-budget=3000 "${shot[@]}" --dump-dom "$base/live?token=$token") \
     >"$1" 2>"$TMP/chromium.err" || { tail -20 "$TMP/chromium.err"; fail "chromium failed"; }
  echo "chromium: $(basename "$1") in $((SECONDS - t0)) s"
}
# elements FILE: "id<TAB>class<TAB>text" for every element with an id, to FILE.ids
elements() { python3 - "$1" >"$1.ids" <<'EOF2'
import html.parser, sys
class P(html.parser.HTMLParser):
    open_ = []  # [id, class, depth, texts]
    done = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("meta", "link", "br", "img", "input", "hr"): return
        for o in self.open_: o[2] += 1
        if a.get("id"): self.open_.append([a["id"], a.get("class") or "", 1, []])
    def handle_endtag(self, tag):
        for o in self.open_: o[2] -= 1
        self.done += [o for o in self.open_ if o[2] == 0]
        self.open_ = [o for o in self.open_ if o[2] > 0]
    def handle_data(self, data):
        for o in self.open_: o[3].append(data)
p = P(); p.feed(open(sys.argv[1]).read())
for o in p.done: print("%s\t%s\t%s" % (o[0], o[1], " ".join("".join(o[3]).split())))
EOF2
}
# text ID FILE [class]: the text (or the class) of the element with that id
text() { awk -F '\t' -v id="$1" -v f="${3:-text}" '$1 == id { print (f == "class" ? $2 : $3) }' "$2.ids"; }

# --- traffic --------------------------------------------------------------------
live() { curl -sf -H "Authorization: Bearer $token" "$base/live.json" >"$TMP/live.json" || fail "live.json"; }
# jcheck EXPR...: each a Python expression over the JSON (d) that must be true
jcheck() {
  python3 - "$TMP/live.json" "$@" <<'EOF2' || fail "live.json: $(cat "$TMP/live.json")"
import json, sys
d = json.load(open(sys.argv[1]))
bad = [e for e in sys.argv[2:] if eval(e) is not True]
for e in bad: print("not true:", e)
sys.exit(1 if bad else 0)
EOF2
}
# j EXPR: the value of a Python expression over the JSON (d)
j() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/live.json" "$1"; }
live
jcheck 'd["total"]["transactions"] == 0' 'd["declines"] == []' 'd["total"]["approval_rate"] is None' \
       'd["last_60s"]["latency_ms"]["p50"] is None'

cat >"$TMP/s1.txt" <<'EOF2'
signon expect=00
keychange expect=00
withdraw visa-classic 20.00 expect=00
withdraw visa-classic 50.00 pin=9999 expect=55
balance visa-classic expect=00
withdraw visa-classic 30.00 pin=1111 expect=55
withdraw visa-classic 900000.00 expect=61
EOF2
"$BIN/atm-sim" --port "$SW_PORT" --terminal ATM00001 --tmk-file "$src/schema/demo/terminal_tmks.txt" \
  --cards "$src/atm-sim/demo-cards.txt" --script "$TMP/s1.txt" >"$TMP/out1" 2>&1 \
  || { cat "$TMP/out1"; fail "atm-sim session"; }
cat "$TMP/out1"

live
cat "$TMP/live.json"
# --- the page, after its script ran (at once: its 60 s figures must still hold the traffic)
browse "$TMP/dom.html" "$artifacts/liveview.png"
elements "$TMP/dom.html"
[ "$(text tot-tx "$TMP/dom.html")" = 5 ] || fail "page: transactions '$(text tot-tx "$TMP/dom.html")'"
[ "$(text tot-approved "$TMP/dom.html")" = 2 ] || fail "page: approved '$(text tot-approved "$TMP/dom.html")'"
[ "$(text tot-declined "$TMP/dom.html")" = 3 ] || fail "page: declined"
[ "$(text tot-rate "$TMP/dom.html")" = 40.0% ] || fail "page: approval rate '$(text tot-rate "$TMP/dom.html")'"
[ "$(text appr60 "$TMP/dom.html")" = 40.0% ] || fail "page: 60 s approval rate"
[ "$(text status "$TMP/dom.html")" = "ALL LINKS UP" ] || fail "page: status '$(text status "$TMP/dom.html")'"
[ "$(text db-state "$TMP/dom.html")" = UP ] && [ "$(text hsm-state "$TMP/dom.html")" = UP ] || fail "page: links"
[ "$(text db-conns "$TMP/dom.html")" = 4/4 ] || fail "page: database connections '$(text db-conns "$TMP/dom.html")'"
grep -q '<tr data-rc="55"><td class="rc">55</td><td class="">incorrect PIN</td><td class="n count">2</td>' "$TMP/dom.html" \
  || fail "page: the 55 row: $(grep -o '<tbody id="declines">.*</tbody>' "$TMP/dom.html")"
grep -q '<tr data-rc="61"><td class="rc">61</td><td class="">exceeds amount limit</td><td class="n count">1</td>' "$TMP/dom.html" \
  || fail "page: the 61 row"
[ "$(text banner "$TMP/dom.html")" = "" ] || fail "page: banner '$(text banner "$TMP/dom.html")'"
[ "$(text tot-p50 "$TMP/dom.html")" = "$(j 'd["total"]["latency_ms"]["p50"]')" ] || fail "page: p50"
[ -s "$artifacts/liveview.png" ] || fail "no screenshot"

# --- the numbers ----------------------------------------------------------------
# What was sent: 5 financial requests (0200): 2 approved, 2 wrong PINs (55),
# 1 over the product's daily amount (61); 7 answers with the two 0800s.
# The declines by code are also what the authorisation log holds.
db_declines=$(sql "select string_agg(format('(%L, %s)', response_code, n), ', ' order by response_code)
                     from (select response_code, count(*) n from auth_log where mti = '0200'
                           and response_code <> '00' group by 1) x")
db_approved=$(sql "select count(*) from auth_log where mti = '0200' and response_code = '00'")
jcheck 'd["total"]["financial"] == 5' 'd["total"]["transactions"] == 5' \
       'd["total"]["approved"] == 2' 'd["total"]["declined"] == 3' \
       "d['total']['approved'] == $db_approved" \
       'd["total"]["approval_rate"] == 0.4' 'd["last_60s"]["transactions"] == 5' \
       'd["last_60s"]["approved"] == 2' 'd["last_60s"]["approval_rate"] == 0.4' \
       'd["last_10s"]["financial"] in (0, 5)' \
       'd["total"]["latency_ms"]["answers"] == 7' 'd["last_60s"]["latency_ms"]["answers"] == 7' \
       'd["total"]["latency_ms"]["p50"] is not None and d["total"]["latency_ms"]["p50"] > 0' \
       'd["total"]["latency_ms"]["p50"] <= d["total"]["latency_ms"]["p95"] <= d["total"]["latency_ms"]["p99"]' \
       'd["last_60s"]["per_s"] > 0' \
       '[(x["rc"], x["count"], x["meaning"]) for x in d["declines"]] == [("55", 2, "incorrect PIN"), ("61", 1, "exceeds amount limit")]' \
       "sorted((x['rc'], x['count']) for x in d['declines']) == [$db_declines]" \
       'all(x["last_s_ago"] is not None and x["last_s_ago"] < 60 for x in d["declines"])' \
       'd["database"]["up"] and d["database"]["connections_up"] == d["database"]["connections"] == 4' \
       'd["database"]["errors"] == 0 and d["database"]["last_error"] is None' \
       'd["hsm"]["up"] and d["hsm"]["connections_up"] == 2 and d["hsm"]["last_error_s_ago"] is None' \
       'd["routes"] == [] and d["terminals"]["pending_reversals"] == 0' \
       'd["uptime_s"] >= 0 and not d["draining"]'

# --- a link down ------------------------------------------------------------------
kill "$HSM_PID"; wait "$HSM_PID" 2>/dev/null || true; HSM_PID=
for _ in $(seq 100); do healthz >/dev/null 2>&1 || break; sleep 0.05; done
live
jcheck 'd["hsm"]["up"] is False and d["hsm"]["connections_up"] == 0' 'd["database"]["up"] is True'
browse "$TMP/dom3.html" "$artifacts/liveview-hsm-down.png"
elements "$TMP/dom3.html"
[ "$(text hsm-state "$TMP/dom3.html")" = DOWN ] || fail "page: HSM '$(text hsm-state "$TMP/dom3.html")'"
[ "$(text hsm-state "$TMP/dom3.html" class)" = "big bad" ] || fail "page: HSM down is not red"
[ "$(text hsm-tile "$TMP/dom3.html" class)" = "tile bad" ] || fail "page: HSM tile not marked"
[ "$(text db-state "$TMP/dom3.html" class)" = "big ok" ] || fail "page: database not green"
[ "$(text status "$TMP/dom3.html")" = "LINK DOWN" ] || fail "page: status with the HSM down"

# --- the database down, and no token_file ---------------------------------------------
# A second switchd whose database does not exist: the pool's last error
# says why; without admin.token_file /live.json needs no token.
port2=$(free_port)
"$BIN/switchd" --set "listener atm.address=127.0.0.1:$(free_port)" --set "admin.address=127.0.0.1:$port2" \
  --set "hsm.address=127.0.0.1:1" --set "database.conninfo=dbname=${DB}_missing" \
  --set "database.pool_size=2" 2>"$TMP/switchd2.log" &
SW2_PID=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port2/live.json" >"$TMP/live.json" 2>/dev/null \
    && [ "$(j 'd["database"]["last_error"] is not None')" = True ] && break
  sleep 0.1
done
kill "$SW2_PID"; rc=0; wait "$SW2_PID" || rc=$?
[ $rc = 0 ] || fail "the second switchd exited $rc on SIGTERM: $(tail -5 "$TMP/switchd2.log")"
jcheck 'd["database"]["up"] is False and d["database"]["connections_up"] == 0 and d["database"]["connections"] == 2' \
       "'database \"${DB}_missing\" does not exist' in d['database']['last_error']" \
       'd["database"]["last_error_s_ago"] is not None and d["database"]["last_error_s_ago"] < 30' \
       'd["hsm"]["up"] is False'
grep -q '/live without token: admin.token_file not set' "$TMP/switchd2.log" || fail "no-token start not logged"
echo "database down: $(j 'd["database"]["last_error"]')"

# a clean stop (the sanitizer build checks what the live view holds is freed)
kill "$SW_PID"; rc=0; wait "$SW_PID" || rc=$?; SW_PID=
[ $rc = 0 ] || fail "switchd exited $rc on SIGTERM"
grep -qF "$token" "$SW_LOG" && fail "the token is in switchd's log"
echo "screenshots: $artifacts/liveview.png $artifacts/liveview-hsm-down.png"
echo ok

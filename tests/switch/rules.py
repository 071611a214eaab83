#!/usr/bin/env python3
"""The card-rules scenario runner (docs/testing.md), driven by rules_test.sh.

A table (tests/switch/rules/atm.rules, pos.rules) holds sections: [name]
starts from a fresh copy of the demo bank, [+name] continues on the database
of the section before it (faster), touching no account of those sections, so
that it sees the demo bank's balances as when it runs alone. A section is a
list of rows, one case each:

  case | card | at | steps | rc | fee | ledger | avail | usage | rules

Every row becomes one simulator session (sign-on, key change, the row's
steps) at the row's terminal: pos-sim when its steps are a POS's (purchase,
cashback, preauth, complete, refund, void, batch), atm-sim otherwise. The
last step must get `rc` (the simulator checks it; atm-sim, for an approved
withdrawal or balance inquiry, also DE 28 = fee and DE 54 = ledger/avail);
then the database must show the rest: the card's account balances, the
card's daily_usage today in the row's channel (cash for atm-sim rows,
purchase for pos-sim rows; the table's column is named after it), the rules
of the auth_log rows the row wrote, and the fee of the last of them.

  rules.py TABLE --list              the sections to run, one database a line
  rules.py TABLE --run S1[,S2...]    run sections on one database
  rules.py TABLE --check             parse the table only

Environment: RULES_SECTION (--list gives that section alone), RULES_CASE
(its section, rows up to this case), RULES_KNOWN_GAPS=run (run the KNOWN-GAP
rows too, report whether they still fail); for --run also BIN, SRC, DB,
SW_PORT, TMP (rules_test.sh sets them), HSM_PORT (for cvv2=right|wrong) and
B_PORT (switchd B, for rows at `net`). Exit status: 0 all rows as expected,
1 a row or an invariant failed, 2 a bad table, 3 RULES_SECTION or
RULES_CASE names none of this table.
"""
import json
import os
import re
import subprocess
import sys
import time

COLUMNS = ["case", "card", "at", "steps", "rc", "fee", "ledger", "avail", "usage", "rules"]

# Where a row's messages come from: terminal (DE 41), acquirer (DE 32), and
# for a POS the merchant (DE 42) and its category (DE 18).
AT = {
    "own":   ("ATM00001", "00000000001", None, None),  # the bank's ATM
    "own2":  ("ATM00002", "00000000001", None, None),
    "other": ("OBATM001", "00000000002", None, None),  # another bank's ATM, connected to our switch
    "pos":   ("POS00001", "00000000001", "MER000000000001", "5411"),  # the bank's POS, a supermarket
    "web":   ("WEB00001", "00000000001", "MER000000000004", "4899"),  # the subscription merchant's gateway
    "opos":  ("OBPOS001", "00000000002", "OBMER0000000001", "5411"),  # another bank's POS on our switch
    "spoof": ("ATM00001", "00000000002", None, None),  # our ATM claiming another acquirer in DE 32
    "net":   ("ATM00002", "00000000002", None, None),  # another bank's ATM behind its own switchd B
}
# action -> how many arguments it takes
ACTIONS = {"@block": 0, "@unblock": 0, "@lost": 0, "@stolen": 0, "@close": 0, "@expired": 0,
           "@expiry-last-month": 0, "@pin-reset": 0, "@slow": 0, "@stop-payment": 1}
# A row is a pos-sim session when a step is one of these (docs/pos-sim.md),
# an atm-sim session otherwise; the other simulator's own steps are refused.
POS_STEPS = {"purchase", "cashback", "preauth", "complete", "refund", "void", "batch"}
ATM_STEPS = {"withdraw", "balance", "pinchange", "cardless", "duplicate-mismatch", "reverse", "raw",
             "expect-close"}
CARD_STEPS = {"withdraw", "balance", "purchase", "cashback", "preauth", "refund"}  # the card goes after the verb
CURRENCY = {840: "USD", 116: "KHR"}
CHANNEL = {"atm": "cash", "pos": "purchase"}  # the daily_usage channel a row's usage column shows
SLOW_TIMEOUT_MS = 700  # @slow: atm-sim waits this long for an answer
END = "--rules-end--"     # marks the end of a query's output on the psql session


class TableError(Exception):
    pass


def major(minor):
    """4980 00 -> '4980.00', -38500 -> '-385.00'."""
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return "%s%d.%02d" % (sign, minor // 100, minor % 100)


def parse_table(path):
    """-> [(section, joins, [row dict])]: joins when the section continues on
    the previous one's database ([+name]); rows carry 'line' and 'gap' (the
    KNOWN-GAP text or None)."""
    sections, names, cases = [], set(), set()
    gap = None
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            where = "%s:%d" % (path, n)
            m = re.match(r"#\s*KNOWN-GAP:\s*(.*)", line)
            if m:
                gap = (gap + " " if gap else "") + m.group(1)
                continue
            if not line or line.startswith("#"):
                if gap and not line.startswith("#"):
                    raise TableError(where + ": a KNOWN-GAP comment must stand right above its row")
                continue
            m = re.fullmatch(r"\[(\+?)([a-z0-9-]+)\]", line)
            if m:
                if m.group(2) in names:
                    raise TableError("%s: section %s twice" % (where, m.group(2)))
                if m.group(1) and not sections:
                    raise TableError(where + ": the first section cannot join a previous one")
                names.add(m.group(2))
                sections.append((m.group(2), bool(m.group(1)), []))
                continue
            if not sections:
                raise TableError(where + ": a row before the first [section]")
            cells = [c.strip() for c in line.split("|")]
            if len(cells) != len(COLUMNS):
                raise TableError("%s: %d columns, want %d (%s)" % (where, len(cells), len(COLUMNS),
                                                                  " | ".join(COLUMNS)))
            row = dict(zip(COLUMNS, cells), line=n, gap=gap)
            gap = None
            check_row(row, where, cases)
            rows = sections[-1][2]
            if rows and rows[-1]["gap"] and not row["gap"]:
                raise TableError(where + ": KNOWN-GAP rows must come last in their section "
                                 "(running them changes what later rows see)")
            rows.append(row)
    return sections


def check_row(row, where, cases):
    if row["case"] in cases or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", row["case"]):
        raise TableError("%s: case name %r used twice or not [a-z0-9-]" % (where, row["case"]))
    cases.add(row["case"])
    if row["at"] not in AT:
        raise TableError("%s: at=%s, want one of %s" % (where, row["at"], ", ".join(AT)))
    steps = [s.strip() for s in row["steps"].split(";")]
    if not steps or not steps[-1] or steps[-1].startswith("@"):
        raise TableError(where + ": steps must end in a message step")
    for s in steps:
        words = s.split()
        if s.startswith("@") and (words[0] not in ACTIONS or len(words) != 1 + ACTIONS[words[0]]):
            raise TableError("%s: unknown action or wrong arguments: %s (%s)" % (
                where, s, ", ".join(a + " ARG" * n for a, n in sorted(ACTIONS.items()))))
    verbs = {s.split()[0] for s in steps if not s.startswith("@")}
    row["sim"] = "pos" if verbs & POS_STEPS else "atm"
    if row["sim"] == "pos" and verbs & ATM_STEPS:
        raise TableError("%s: atm-sim steps (%s) in a pos-sim row" % (where, ", ".join(sorted(verbs & ATM_STEPS))))
    if row["sim"] == "pos" and not AT[row["at"]][2]:
        raise TableError("%s: pos-sim steps at %s, which is not a POS" % (where, row["at"]))
    if not re.fullmatch(r"[0-9A-Z]{2}|timeout", row["rc"]):
        raise TableError("%s: rc %r" % (where, row["rc"]))
    for k in ("fee", "ledger", "avail"):
        if row[k] != "-" and not re.fullmatch(r"-?\d+\.\d\d", row[k]):
            raise TableError("%s: %s %r: want -, or an amount like 20.00" % (where, k, row[k]))
    if row["usage"] != "-" and not re.fullmatch(r"\d+( (KHR|USD):\d+\.\d\d)*", row["usage"]):
        raise TableError("%s: usage %r: want -, or COUNT [CUR:AMOUNT...]" % (where, row["usage"]))
    if row["rules"] != "-" and not re.fullmatch(r"[a-z0-9_]+(\*\d+)?(,[a-z0-9_]+(\*\d+)?)*", row["rules"]):
        raise TableError("%s: rules %r: want -, or rule[*N],..." % (where, row["rules"]))


def expand_rules(text):
    if text == "-":
        return []
    out = []
    for item in text.split(","):
        name, _, times = item.partition("*")
        out += [name] * int(times or 1)
    return out


class Runner:
    def __init__(self, env):
        self.bin, self.src, self.db, self.tmp = env["BIN"], env["SRC"], env["DB"], env["TMP"]
        self.port = env["SW_PORT"]
        self.b_port = env.get("B_PORT", "")
        self.hsm_port = env.get("HSM_PORT", "")
        self.stan = int(env.get("RULES_STAN", "1"))
        self.cards_file = os.path.join(self.tmp, "rules-cards.txt")
        self.tmk_file = os.path.join(self.tmp, "rules-tmks.txt")
        self.card_ids = {}
        self.pans = {}      # card name -> PAN (for its CVV2)
        self.cvv2s = {}     # card id -> its right CVV2
        self.currency = {}  # card id -> its account's currency
        self.has_pin_reset = None
        self.psql = None
        self.accounts = {}  # account id -> the section that uses it
        self.last_id = None

    def sql(self, q):
        """One statement on the runner's own psql session (one process for
        the whole section: starting psql per query costs more than a row)."""
        if self.psql is None:
            self.psql = subprocess.Popen(["psql", "-X", "-q", "-At", "-d", self.db], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.psql.stdin.write(q.strip().rstrip(";") + ";\n\\echo " + END + "\n")
        self.psql.stdin.flush()
        out = []
        for line in self.psql.stdout:
            if line.rstrip("\n") == END:
                break
            out.append(line)
        else:
            raise RuntimeError("psql ended: " + "".join(out).strip())
        text = "".join(out).strip()
        if re.search(r"^(psql:.*)?(ERROR|FATAL):", text, re.M):
            raise RuntimeError("psql: " + text)
        return text

    def load_cards(self):
        """The demo card file with the database's expiry dates, and two
        variants of each card: NAME.wrongexp (a year later: DE 35 not the
        card's) and NAME.lastmonth (what a card that expired last month
        carries). Card ids come from the numeric aliases."""
        exp = dict(line.split("|") for line in self.sql(
            "select id, to_char(expiry, 'YYMM') from cards").splitlines())
        last = self.sql("select to_char(date_trunc('month', (now() at time zone business_tz)::date)"
                        " - interval '1 day', 'YYMM') from bank_settings")
        out = []
        with open(os.path.join(self.src, "atm-sim", "demo-cards.txt")) as f:
            for line in f:
                p = line.split()
                if not p or p[0].startswith("#"):
                    continue
                names = p[0].split(",")
                cid = next((n for n in names if n.isdigit()), None)
                for n in names:
                    self.card_ids[n] = cid
                    self.pans[n] = p[1]
                e = exp.get(cid, p[2])
                out.append(" ".join([p[0], p[1], e, p[3], p[4]]))
                wrong = "%02d%s" % ((int(e[:2]) + 1) % 100, e[2:])
                for variant, ve in (("wrongexp", wrong), ("lastmonth", last)):
                    out.append(" ".join(["%s.%s" % (names[0], variant), p[1], ve, p[3], p[4]]))
                    self.card_ids["%s.%s" % (names[0], variant)] = cid
        with open(self.cards_file, "w") as f:
            f.write("# generated by rules.py: demo cards with the database's expiry dates\n")
            f.write("\n".join(out) + "\n")
        self.last_id = int(self.sql("select coalesce(max(id), 0) from auth_log"))

    def card_id(self, row):
        if row["card"] not in self.card_ids:
            raise TableError("line %d: unknown card %s" % (row["line"], row["card"]))
        return self.card_ids[row["card"]]

    # ---- actions before a row's messages ---------------------------------

    def switchctl(self, *args):
        r = subprocess.run([os.path.join(self.bin, "switchctl"), "--db", "dbname=" + self.db] + list(args),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("switchctl %s: %s" % (" ".join(args), r.stderr.strip()))

    def act(self, step, cid):
        action, args = step.split()[0], step.split()[1:]
        if action in ("@block", "@unblock", "@lost", "@stolen", "@close"):
            self.switchctl("card", action[1:], cid, "--reason", "rules test")
        elif action == "@expired":
            self.sql("select card_set_status(%s, 'expired', 'rules test')" % cid)
        elif action == "@expiry-last-month":
            self.sql("update cards set expiry = date_trunc('month', (now() at time zone s.business_tz)::date)"
                     " - interval '1 day' from bank_settings s where cards.id = %s" % cid)
        elif action == "@pin-reset":
            if self.has_pin_reset is None:
                h = subprocess.run([os.path.join(self.bin, "switchctl"), "card", "--help"],
                                   capture_output=True, text=True)
                self.has_pin_reset = "pin-reset" in h.stdout + h.stderr
            if self.has_pin_reset:
                self.switchctl("card", "pin-reset", cid)
            else:
                self.sql("select card_pin_reset(%s, 'rules test')" % cid)
        elif action == "@stop-payment":
            self.switchctl("stop-payment", "add", cid, "--merchant", args[0], "--reason", "rules test")
        elif action == "@slow":
            return self.lock_account(cid)
        return None

    def lock_account(self, cid):
        """Another session holds the card's account row (as lib.sh
        lock_account) until release(); returns once it holds it."""
        tag = "rules_locker_%d" % os.getpid()
        p = subprocess.Popen(["psql", "-X", "-q", "-d", self.db, "-c",
                              "BEGIN; SELECT 1 FROM accounts a JOIN cards c ON c.account_id = a.id"
                              " WHERE c.id = %s FOR UPDATE OF a; SELECT pg_sleep(60) /* %s */; COMMIT;"
                              % (cid, tag)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p.tag = tag
        for _ in range(250):
            if self.sql("select count(*) from pg_stat_activity where query like '%%%s%%'"
                        " and wait_event = 'PgSleep' and pid <> pg_backend_pid()" % tag) == "1":
                return p
            time.sleep(0.02)
        raise RuntimeError("the account lock was not taken within 5 s")

    def release_when_timed_out(self, locker):
        """@slow: once the withdrawal waits for the lock inside authorise(),
        let atm-sim's time-out pass (it reverses), then release the lock."""
        waited = False
        for _ in range(500):
            if self.sql("select count(*) from pg_stat_activity where datname = current_database()"
                        " and wait_event_type = 'Lock'") != "0":
                waited = True
                break
            time.sleep(0.02)
        if waited:
            time.sleep(SLOW_TIMEOUT_MS / 1000 + 0.3)
        self.sql("select pg_cancel_backend(pid) from pg_stat_activity where query like '%%%s%%'"
                 " and pid <> pg_backend_pid()" % locker.tag)
        locker.wait()
        return waited

    # ---- one row -----------------------------------------------------------

    def state(self, cid, after_id, channel="cash"):
        q = """select json_build_object(
          'ledger', a.ledger_balance, 'avail', account_available(a), 'cur', a.currency,
          'usage', (select json_agg(json_build_object('cur', u.currency, 'n', u.count, 'amt', u.amount))
                      from daily_usage u, bank_settings s where u.card_id = c.id and u.channel = '%s'
                       and u.business_day = (now() at time zone s.business_tz)::date),
          'log', (select json_agg(json_build_object('rule', l.rule, 'fee', l.fee + l.fee_conversion)
                                  order by l.msg_class <> 'local', l.id) from auth_log l where l.id > %d),
          'max', (select coalesce(max(id), 0) from auth_log))
          from (select 1) x left join cards c on c.id = %s left join accounts a on a.id = c.account_id""" % (
            channel, after_id, cid if cid else "NULL")
        return json.loads(self.sql(q))

    def cvv2(self, row, which):
        """cvv2=right|wrong: the card's CVV2 from hsm-sim with the card's CVK
        (service code 000, the card's expiry), or the next number."""
        cid = self.card_id(row)
        if cid not in self.cvv2s:
            cvk, exp = self.sql("select k.key_lmk || ' ' || to_char(c.expiry, 'YYMM') from cards c"
                                " join crypto_keys k on k.id = c.cvk_key_id where c.id = %s" % cid).split()
            r = subprocess.run([os.path.join(self.bin, "hsmctl"), "--port", self.hsm_port, "cvv", "--cvk", cvk,
                                "--pan", self.pans[row["card"]], "--expiry", exp, "--service-code", "000"],
                               capture_output=True, text=True)
            m = re.search(r"^cvv=(\d{3})$", r.stdout, re.M)
            if not m:
                raise RuntimeError("hsmctl cvv: %s" % (r.stderr.strip() or r.stdout.strip()))
            self.cvv2s[cid] = m.group(1)
        right = self.cvv2s[cid]
        return right if which == "right" else "%03d" % ((int(right) + 1) % 1000)

    @staticmethod
    def usage_text(usage):
        if usage is None:
            return "0"
        n = sum(u["n"] for u in usage)
        parts = sorted("%s:%s" % (CURRENCY.get(u["cur"], u["cur"]), major(u["amt"]))
                       for u in usage if u["n"] or u["amt"])
        return " ".join([str(n)] + parts)

    def script(self, row, cur):
        """The simulator's script of a row: actions apart, the card after the
        verbs that take one, cvv2=right|wrong made the card's, the row's
        expectations on its last step (amounts only where switchd sends
        DE 28/54)."""
        lines = ["signon expect=00", "keychange expect=00"]
        steps = [s.strip() for s in row["steps"].split(";") if not s.strip().startswith("@")]
        request = None
        for i, s in enumerate(steps):
            times = 1
            m = re.fullmatch(r"(.*?)\s*\*(\d+)", s)
            if m:
                s, times = m.group(1), int(m.group(2))
            words = s.split()
            if words[0] in CARD_STEPS:
                words.insert(1, row["card"])
            words = ["cvv2=" + self.cvv2(row, w[5:]) if w in ("cvv2=right", "cvv2=wrong") else w
                     for w in words]
            if words[0] not in ("repeat", "duplicate-mismatch"):
                request = words[0]  # what a repeat resends
            if i == len(steps) - 1:
                words.append("expect=" + row["rc"])
                # switchd sends DE 28 and 54 on approved withdrawals and inquiries
                if row["rc"] == "00" and request in ("withdraw", "balance") and cur:
                    alpha = CURRENCY[cur]
                    for k in ("fee", "ledger", "avail"):
                        if row[k] != "-":
                            words.append("%s=%s%s" % (k, alpha if k != "fee" else "", row[k]))
            lines += [" ".join(words)] * times
        return "\n".join(lines) + "\n"

    def claim_accounts(self, name, rows):
        """Sections sharing a database must not share an account: each must
        see the demo bank's balances, as when it runs alone."""
        ids = sorted({self.card_id(r) for r in rows} - {None})
        if not ids:
            return
        for acct in self.sql("select distinct account_id from cards where id in (%s)" % ",".join(ids)).split():
            if acct in self.accounts and self.accounts[acct] != name:
                raise TableError("[%s] uses account %s of [%s]: start it afresh ([name], not [+name])"
                                 % (name, acct, self.accounts[acct]))
            self.accounts[acct] = name

    def run_row(self, row):
        """-> (list of failure texts, the simulator's output)"""
        after_id = self.last_id
        cid = self.card_id(row)
        locker = None
        for a in (s.strip() for s in row["steps"].split(";")):
            if a.startswith("@"):
                if not cid:
                    raise TableError("line %d: %s needs a card of the bank" % (row["line"], a))
                locker = self.act(a, cid) or locker
        if cid and cid not in self.currency:
            self.currency[cid] = self.state(cid, after_id)["cur"]
        cur = self.currency.get(cid)
        text = self.script(row, cur)
        path = os.path.join(self.tmp, "rules-%s.txt" % row["case"])
        with open(path, "w") as f:
            f.write(text)
        tid, acq, merchant, mcc = AT[row["at"]]
        sim_name = row["sim"] + "-sim"
        port = self.port
        if row["at"] == "net":
            if not self.b_port:
                raise TableError("line %d: rows at net need switchd B (rules_test.sh starts it "
                                 "for RULES_KNOWN_GAPS=run)" % row["line"])
            port = self.b_port
        cmd = [os.path.join(self.bin, sim_name), "--port", port, "--terminal", tid, "--acquirer", acq,
               "--tmk-file", self.tmk_file, "--cards", self.cards_file, "--script", path,
               "--stan", str(self.stan), "--timeout", str(SLOW_TIMEOUT_MS if locker else 3000)]
        if row["sim"] == "pos":
            cmd += ["--merchant", merchant, "--mcc", mcc]
        self.stan = self.stan + text.count("\n") * 6 + 10  # room for repeats and reversals
        sim = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        fails = []
        if locker and not self.release_when_timed_out(locker):
            fails.append("@slow: no withdrawal waited for the account lock within 10 s")
        output = sim.communicate()[0]
        with open(os.path.join(self.tmp, "rules-%s.out" % row["case"]), "w") as f:
            f.write(output)
        r = subprocess.CompletedProcess(cmd, sim.returncode, output, "")
        if r.returncode != 0:
            got = [ln for ln in r.stdout.splitlines() if ln.startswith("FAILED")]
            fails.append("%s exit %d: %s" % (sim_name, r.returncode, "; ".join(got) or r.stdout.strip()[-300:]))
        channel = CHANNEL[row["sim"]]
        st = self.state(cid, after_id, channel)
        # switchd writes the answers it gives itself (msg_class local) after
        # sending them, without waiting: give such a row a moment to land.
        # Its place among the case's other rows is a race (the next message
        # can be decided first), so state() lists local rows first.
        for _ in range(40):
            if [e["rule"] for e in st["log"] or []] == expand_rules(row["rules"]):
                break
            time.sleep(0.05)
            st = self.state(cid, after_id, channel)
        log = st["log"] or []
        if cid:
            for k in ("ledger", "avail"):
                if row[k] != "-" and major(st[k]) != row[k]:
                    fails.append("%s %s, expected %s" % (k, major(st[k]), row[k]))
            usage = self.usage_text(st["usage"])
            if row["usage"] != "-" and usage != row["usage"]:
                fails.append("%s usage '%s', expected '%s'" % (channel, usage, row["usage"]))
        if row["fee"] != "-":
            if not log:
                fails.append("fee: no auth_log row written")
            elif major(log[-1]["fee"]) != row["fee"]:
                fails.append("fee %s in auth_log, expected %s" % (major(log[-1]["fee"]), row["fee"]))
        rules = [entry["rule"] for entry in log]
        if rules != expand_rules(row["rules"]):
            fails.append("auth_log rules %s, expected %s" % (",".join(rules) or "-", row["rules"]))
        self.last_id = st["max"]
        return fails, r.stdout

    def invariants(self):
        with open(os.path.join(self.src, "tests", "switch", "rules", "invariants.sql")) as f:
            out = self.sql(f.read())
        return out.splitlines()


def groups(sections, only):
    """Sections that run on one database, in order: a section and the [+...]
    sections after it; with `only`, that section alone."""
    out = []
    for name, joins, rows in sections:
        if only:
            if name == only:
                out.append([(name, rows)])
        elif joins:
            out[-1].append((name, rows))
        else:
            out.append([(name, rows)])
    return out


def run_section(run, name, rows, case, gaps_run):
    """-> number of failed rows; raises TableError."""
    print("[%s]" % name)
    failed = 0
    for row in rows:
        if row["gap"] and not gaps_run:
            print("  gap  %-24s skipped: %s" % (row["case"], row["gap"]))
            continue
        t0 = time.monotonic()
        fails, out = run.run_row(row)
        if row["gap"]:
            print("  gap  %-24s %s" % (row["case"], "still fails: " + "; ".join(fails) if fails else
                                        "PASSES NOW: remove its KNOWN-GAP mark"))
            continue
        ms = int((time.monotonic() - t0) * 1000)
        print("  %s %-24s %5d ms %s" % ("ok  " if not fails else "FAIL", row["case"], ms, "; ".join(fails)))
        if fails:
            failed += 1
            print("        line %d: %s | %s | %s" % (row["line"], row["card"], row["at"], row["steps"]))
            print("".join("        " + ln + "\n" for ln in out.splitlines()), end="")
        if row["case"] == case:
            break
    for v in run.invariants():
        print("  FAIL  invariant: " + v)
        failed += 1
    return failed


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in ("--list", "--run", "--check"):
        sys.exit("usage: rules.py TABLE --list | --run SECTION[,SECTION...] | --check")
    try:
        sections = parse_table(sys.argv[1])
    except (TableError, OSError) as e:
        print("rules: %s" % e, file=sys.stderr)
        return 2
    only = os.environ.get("RULES_SECTION", "")
    case = os.environ.get("RULES_CASE", "")
    gaps_run = os.environ.get("RULES_KNOWN_GAPS", "") == "run"
    if case:
        only = next((n for n, _, rows in sections if any(r["case"] == case for r in rows)), None)
        if only is None:
            print("rules: no case %s in %s" % (case, sys.argv[1]), file=sys.stderr)
            return 3
    if only and only not in (n for n, _, _ in sections):
        print("rules: no section %s in %s" % (only, sys.argv[1]), file=sys.stderr)
        return 3
    if sys.argv[2] == "--check":
        print("%d sections, %d rows, %d KNOWN-GAP" % (
            len(sections), sum(len(r) for _, _, r in sections),
            sum(1 for _, _, rs in sections for r in rs if r["gap"])))
        return 0
    if sys.argv[2] == "--list":
        for g in groups(sections, only):
            net = any(r["at"] == "net" and (gaps_run or not r["gap"]) for _, rows in g for r in rows)
            print(",".join(n for n, _ in g) + (" net" if net else ""))
        return 0
    byname = {n: rows for n, _, rows in sections}
    names = sys.argv[3].split(",")
    run = Runner(os.environ)
    failed = 0
    try:
        run.load_cards()
        for name in names:
            if name not in byname:
                raise TableError("no section %s" % name)
            run.claim_accounts(name, byname[name])
            failed += run_section(run, name, byname[name], case, gaps_run)
    except TableError as e:
        print("rules: %s" % e, file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

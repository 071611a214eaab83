#!/usr/bin/env python3
"""The data-protection scan (docs/security.md, "What the scan test checks").

Looks through files a test run wrote and through the text columns of the
databases it left for what must never be written outside hsm-sim: a full
PAN, track data, a PIN block or a clear key. Python 3 standard library only.

    scan.py --src REPO [--dir DIR]... [--file FILE]... [--exclude NAME]...
            [--pgdir DIR] [--db] [--db-name NAME]... [--strict] [--known]

What counts as a finding (the choices and their false-positive trade-offs
are in docs/security.md):
  pan        a 13-19 digit run (not part of a longer digit run) that passes
             the Luhn check and starts with a BIN the project uses (from
             schema/demo/demo.sql's bin_ranges, loadgen's bench BIN and the
             first 6 digits of every test card of the source tree), or is
             one of those test cards; inside a longer digit run, a known
             test card, or 16 Luhn-valid digits after a project BIN (a PAN
             glued to a length prefix or other fields of a raw message).
             Also the same in ASCII hex (3x bytes) and in the hex of binary
             files (BCD). --strict: any Luhn-valid 15-19 digit run with a
             card scheme's prefix.
  track2     PAN, '=' or 'D', YYMM, service code (track 2 and its BCD
             form); track1: B PAN ^ name ^ YYMM service code.
  pinblock   a 16-hex string that is an ISO 9564 format 0 block in clear
             for any known test PAN (PIN of any length 4-12); a 32-hex
             string that starts with an ISO 9564-4 plain PIN field; any
             16/32-hex value labelled as a PIN block (pin_block=, DE 52,
             52=...).
  key        the hex of a clear key known to the test data (test LMK,
             demo TMKs and BDKs, the bench TMK, the PAN HMAC/encryption
             keys of the tests and the built-in demo ones, key components
             and keys written in the test scripts), also with its odd
             parity fixed, case-insensitive, in text or in the hex of a
             binary file.

Each finding is printed as FILE:LINE (binary files: FILE@OFFSET, database
cells: db NAME SCHEMA.TABLE.COLUMN KEY=VALUE) with the match masked: PANs
and track data first 6 and last 4, PIN blocks and keys by name and length
only. Exit status: 0 nothing found, 1 findings, 2 usage or access error.
Files byte-identical to an input file (the key and card files) are skipped:
an input is not an output.
"""
import argparse
import hashlib
import os
import re
import subprocess
import sys

# ---------------------------------------------------------------- helpers


def luhn_ok(d):
    total = 0
    for i, ch in enumerate(reversed(d)):
        n = ord(ch) - 48
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def scheme_prefix(d):
    """True when d starts like a card of a payment scheme (ISO/IEC 7812 IIN
    ranges of Visa, Mastercard incl. the 2-series, Amex, JCB, Diners,
    Discover and UnionPay)."""
    if d[0] == "4":
        return True
    two, four = int(d[:2]), int(d[:4])
    return (51 <= two <= 55 or 2221 <= four <= 2720 or two in (34, 37, 36, 38, 62, 64, 65)
            or 3528 <= four <= 3589 or 300 <= int(d[:3]) <= 305 or four == 6011)


def mask_pan(d):
    return d[:6] + "*" * (len(d) - 10) + d[-4:] if len(d) > 10 else "*" * len(d)


def fix_parity(hexkey):
    out = bytearray(bytes.fromhex(hexkey))
    for i, b in enumerate(out):
        if bin(b).count("1") % 2 == 0:
            out[i] = b ^ 1
    return out.hex()


HEX = "0123456789abcdefABCDEF"

# ------------------------------------------------------ known test secrets


class Known:
    """What the source tree says the test data is: PANs, BINs, clear keys,
    and the input files themselves (to skip copies of them)."""

    def __init__(self, src):
        self.src = src
        self.pans = set()          # known test card numbers
        self.bins = set()          # prefixes (5-8 digits) the project issues or routes
        self.keys = {}             # lower-case hex -> name
        self.input_hashes = {}     # sha256 of input files -> path
        self._cards()
        self._bins()
        self._keys()
        self._source_pans()
        # format-0 PAN fields (12 rightmost digits without the check digit)
        self.pan_fields = {}
        for p in self.pans:
            if len(p) >= 13:
                self.pan_fields[int("0000" + p[-13:-1], 16)] = p
        for p in self.pans:
            self.bins.add(p[:6])
        self.bin_lengths = sorted({len(b) for b in self.bins})

    def _read(self, rel):
        path = os.path.join(self.src, rel)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        self.input_hashes[hashlib.sha256(data).hexdigest()] = rel
        return data.decode("utf-8", "replace")

    def _cards(self):
        for line in self._read("atm-sim/demo-cards.txt").splitlines():
            f = line.split("#")[0].split()
            if len(f) >= 5 and f[1].isdigit():
                self.pans.add(f[1])

    def _bins(self):
        text = self._read("schema/demo/demo.sql")
        for lo, hi in re.findall(r"'(\d{6,11})',\s*'(\d{6,11})'", text):
            n = 0
            while n < min(len(lo), len(hi)) and lo[n] == hi[n]:
                n += 1
            if n >= 5:
                self.bins.add(lo[:n])
        m = re.search(r'LGC_BENCH_BIN\s+"(\d+)"', self._read("loadgen/lg_cards.h"))
        if m:
            self.bins.add(m.group(1))

    def _key(self, hexkey, name):
        k = hexkey.lower()
        parts = [k[i:i + 16] for i in range(0, len(k), 16)] if len(k) < 64 else []
        if any(a == b for a, b in zip(parts, parts[1:])):
            # K1 = K2 or K2 = K3: single DES in disguise, refused by
            # hsm-sim (FK error 27); the tests use such patterns as weak
            # components and as placeholder cryptograms, never as keys
            return
        if len(k) in (32, 48, 64) and all(c in HEX for c in k):
            self.keys.setdefault(k, name)
            p = fix_parity(k) if len(k) < 64 else k
            if p != k:
                self.keys.setdefault(p, name + " (odd parity)")

    def _keys(self):
        for line in self._read("tests/hsm/test.lmk").splitlines():
            if line.strip() and not line.startswith("#"):
                self._key(line.strip(), "test LMK (tests/hsm/test.lmk)")
                break
        for line in self._read("schema/demo/terminal_tmks.txt").splitlines():
            f = line.split("#")[0].split()
            if len(f) == 2:
                self._key(f[1], "demo TMK of " + f[0])
        for line in self._read("schema/demo/terminal_bdks.txt").splitlines():
            f = line.split("#")[0].split()
            if len(f) == 3:
                self._key(f[2], "demo %s BDK of %s" % (f[1], f[0]))
        for line in self._read("schema/bench/tmk.txt").splitlines():
            if line.strip() and not line.startswith("#"):
                self._key(line.strip(), "bench TMK (schema/bench/tmk.txt)")
        # the built-in public demo PAN keys of switchctl and switchd
        for rel in ("switch/switchctl_common.c", "switch/switchd.c"):
            for hexkey in re.findall(r'"\s*([0-9a-fA-F]{64})\s*"', self._read(rel)):
                self._key(hexkey, "built-in demo PAN key (" + rel + ")")
        for top in ("tests/db/lib.sh", "tests/switch/lib.sh"):
            for which, hexkey in re.findall(r"SWITCH_PAN_(HMAC|ENC)_KEY=([0-9a-fA-F]{64})", self._read(top)):
                self._key(hexkey, "the tests' PAN %s key" % which)
        # keys and key components the test scripts hand to the programs:
        # every 32/48/64-hex literal of a shell script under tests/ or
        # scripts/ (PAN keys, TMKs, BDKs, FK components). Not the C and
        # Python tests: their hex literals are mostly published vectors,
        # cryptograms and field values, not keys the run uses.
        for top in ("tests", "scripts"):
            for root, dirs, files in os.walk(os.path.join(self.src, top)):
                dirs[:] = [d for d in dirs if d not in ("fuzz", "corpus", "security")]
                for fn in files:
                    path = os.path.join(root, fn)
                    if not (fn.endswith(".sh") or os.path.dirname(path) == os.path.join(self.src, "scripts")):
                        continue
                    rel = os.path.relpath(path, self.src)
                    text = self._read(rel)
                    for m in re.finditer(r"(?<![0-9A-Za-z])([0-9A-Fa-f]{64}|[0-9A-Fa-f]{48}|[0-9A-Fa-f]{32})(?![0-9A-Za-z])", text):
                        self._key(m.group(1), "test key in " + rel)

    def _source_pans(self):
        """Luhn-valid card numbers written anywhere in the test inputs."""
        for top in ("tests", "schema", "atm-sim", "pos-sim", "loadgen"):
            for root, dirs, files in os.walk(os.path.join(self.src, top)):
                dirs[:] = [d for d in dirs if d != "security"]
                for fn in files:
                    path = os.path.join(root, fn)
                    try:
                        with open(path, "rb") as f:
                            data = f.read(1 << 20)
                    except OSError:
                        continue
                    text = data.decode("latin-1")
                    for m in re.finditer(r"\d{13,19}", text):
                        d = m.group(0)
                        s, e = m.span()
                        if (s and text[s - 1].isdigit()) or (e < len(text) and text[e].isdigit()):
                            continue
                        if d[0] in "3456" and luhn_ok(d) and scheme_prefix(d):
                            self.pans.add(d)

    def has_bin(self, d):
        return any(d[:n] in self.bins for n in self.bin_lengths)


# ---------------------------------------------------------------- scanner

RE_DIGITS = re.compile(r"\d{13,}")
RE_TRACK2 = re.compile(r"(\d{12,21})[=Dd](\d{2})(\d{2})(\d{3})")
RE_TRACK1 = re.compile(r"[Bb](\d{12,19})\^[^^\n]{2,26}\^(\d{4})(\d{3})")
RE_ASCIIHEX = re.compile(r"(?:3[0-9]|3[dD]|44){13,}")
RE_HEXTOK = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{16,}(?![0-9A-Fa-f])")
RE_LABELLED = re.compile(
    r"(?i)(?<![a-z0-9])(pin[ _-]?block|pinblock|pin_blk|pb|de[ _]?52|field[ _]?52|f52|52)"
    r"[\"']?\s*[=:]\s*[\"']?([0-9a-f]{32}|[0-9a-f]{16})(?![0-9a-f])")
FMT0_N = set("456789abcABC")


class Scanner:
    def __init__(self, known, strict=False):
        self.k = known
        self.strict = strict
        self.findings = []
        self.source, self.per_source = None, {}
        self.keys = sorted(known.keys.items(), key=lambda kv: -len(kv[0]))

    SHOW_PER_SOURCE = 20

    def begin(self, source):
        """Findings from now on come from source (a file, a database
        column); only the first SHOW_PER_SOURCE of each are printed."""
        self.source = source

    def report(self, where, kind, shown, detail=""):
        self.findings.append((where, kind, shown, detail))
        n = self.per_source[self.source] = self.per_source.get(self.source, 0) + 1
        if n <= self.SHOW_PER_SOURCE:
            print("%s: %s: %s%s" % (where, kind, shown, (" (" + detail + ")") if detail else ""))

    def not_shown(self):
        for src, n in self.per_source.items():
            if n > self.SHOW_PER_SOURCE:
                if isinstance(src, tuple):
                    src = "db %s %s.%s.%s" % src
                print("%s: %d more finding(s) not shown" % (src, n - self.SHOW_PER_SOURCE))

    # -- PANs and track data in a string of text
    def _pan_run(self, run, where, how):
        """run: a maximal digit run of 13 or more digits."""
        k = self.k
        if len(run) <= 19 and luhn_ok(run):
            if run in k.pans:
                return self.report(where, "pan", mask_pan(run), how + "known test card")
            if k.has_bin(run):
                return self.report(where, "pan", mask_pan(run), how + "project BIN, Luhn")
            if self.strict and len(run) >= 15 and scheme_prefix(run):
                return self.report(where, "pan", mask_pan(run), how + "strict: scheme prefix, Luhn")
        if len(run) > 13:
            for p in k.pans:
                if p in run and p != run:
                    return self.report(where, "pan", mask_pan(p), how + "known test card inside a longer digit run")
            if len(run) > 16:
                for i in range(len(run) - 15):
                    c = run[i:i + 16]
                    if k.has_bin(c) and luhn_ok(c):
                        return self.report(where, "pan", mask_pan(c), how + "project BIN, Luhn, inside a longer digit run")

    def _track(self, text, where, how):
        found = False
        for m in RE_TRACK2.finditer(text):
            pre, yy, mm, sc = m.groups()
            if not 1 <= int(mm) <= 12:
                continue
            # the PAN is a suffix of the digits before the separator (a
            # length prefix may be glued to it); prefer a test card or a
            # project BIN, else the longest Luhn-valid one
            cands = [pre[-n:] for n in range(min(19, len(pre)), 11, -1)]
            cands = [p for p in cands if p[0] in "23456" and luhn_ok(p) and scheme_prefix(p)]
            best = [p for p in cands if p in self.k.pans or self.k.has_bin(p)] + cands
            if best:
                self.report(where, "track2", mask_pan(best[0]) + "=" + "*" * 7,
                            how + "PAN, separator, expiry, service code")
                found = True
        for m in RE_TRACK1.finditer(text):
            p = m.group(1)
            if luhn_ok(p) and scheme_prefix(p):
                self.report(where, "track1", "B" + mask_pan(p) + "^***^" + "*" * 7, how)
                found = True
        return found

    def _digits(self, text, where, how=""):
        if self._track(text, where, how):
            return
        for m in RE_DIGITS.finditer(text):
            self._pan_run(m.group(0), where, how)

    def _pinblock16(self, tok, where, how):
        if tok[0] != "0" or tok[1] not in FMT0_N:
            return False
        v = int(tok, 16)
        for field, pan in self.k.pan_fields.items():
            s = "%016x" % (v ^ field)
            n = int(s[1], 16)
            if s[2:2 + n].isdigit() and s[2 + n:] == "f" * (14 - n):
                self.report(where, "pinblock", "*" * 16,
                            how + "ISO 9564 format 0 in clear, PAN " + mask_pan(pan))
                return True
        return False

    def _pinfield4(self, tok, where, how):
        if tok[0] != "4" or tok[1] not in FMT0_N:
            return False
        n = int(tok[1], 16)
        if tok[2:2 + n].isdigit() and tok[2 + n:16].lower() == "a" * (14 - n):
            self.report(where, "pinblock", "*" * 32, how + "ISO 9564 format 4 plain PIN field")
            return True
        return False

    def _hex(self, text, where, how=""):
        low = text.lower()
        for hexkey, name in self.keys:
            if hexkey in low:
                self.report(where, "key", "<%d hex>" % len(hexkey), how + name)
        for m in RE_LABELLED.finditer(text):
            self.report(where, "pinblock", "*" * len(m.group(2)), how + "labelled " + m.group(1))
        for m in RE_HEXTOK.finditer(text):
            tok = m.group(0).lower()
            if len(tok) == 16:
                self._pinblock16(tok, where, how)
            elif len(tok) == 32 and self._pinfield4(tok, where, how):
                pass
            else:
                # a clear block inside a longer hex string (a dump)
                for i in range(0, len(tok) - 15, 2):
                    if tok[i] == "0" and self._pinblock16(tok[i:i + 16], where, how + "inside hex, "):
                        break
        # PANs and track data written as ASCII hex (3x bytes)
        for m in RE_ASCIIHEX.finditer(text):
            dec = bytes.fromhex(m.group(0)[:len(m.group(0)) & ~1]).decode("ascii")
            self._digits(dec, where, "ASCII hex, ")

    def scan_text(self, text, where):
        self._digits(text, where)
        self._hex(text, where)

    # -- files
    def scan_file(self, path, shown):
        self.begin(shown)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            print("%s: cannot read: %s" % (shown, e.strerror), file=sys.stderr)
            return False
        if hashlib.sha256(data).hexdigest() in self.k.input_hashes:
            return True          # a copy of an input file
        if data.startswith(b"\x7fELF"):
            return True
        if b"\0" in data[:65536]:
            # binary: its printable stretches, and its hex (BCD PANs and
            # track 2, raw keys)
            text = data.decode("latin-1")
            for m in re.finditer(r"[^\0\n]{13,}", text):
                self.scan_text(m.group(0), "%s@%d" % (shown, m.start()))
            self._binary_hex(data.hex(), shown)
            return True
        text = data.decode("utf-8", "replace")
        for n, line in enumerate(text.split("\n"), 1):
            self.scan_text(line, "%s:%d" % (shown, n))
        return True

    def _binary_hex(self, hx, shown):
        how = "hex of binary, "
        for m in RE_TRACK2.finditer(hx):
            self._track(m.group(0), "%s@%d" % (shown, m.start() // 2), how)
        for m in RE_DIGITS.finditer(hx):
            self._pan_run(m.group(0), "%s@%d" % (shown, m.start() // 2), how)
        for hexkey, name in self.keys:
            i = hx.find(hexkey)
            if i >= 0:
                self.report("%s@%d" % (shown, i // 2), "key", "<%d hex>" % len(hexkey), how + name)


# -------------------------------------------------------------- databases


def pg_env(pgdir):
    env = dict(os.environ)
    path = os.path.join(pgdir, "env")
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*export\s+(\w+)=(.*)", line)
            if m:
                env[m.group(1)] = m.group(2).strip().strip("'\"")
    return env


def psql(env, db, sql):
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode:
        raise RuntimeError("psql %s: %s" % (db, r.stderr.decode("utf-8", "replace").strip()))
    return r.stdout.decode("utf-8", "replace")


COLUMNS_SQL = r"""
SELECT n.nspname, c.relname, a.attname
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
 WHERE c.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
   AND coalesce(e.typcategory, t.typcategory) IN ('S', 'U', 'N')
   AND (coalesce(e.typcategory, t.typcategory) <> 'N'
        OR format_type(coalesce(nullif(t.typbasetype, 0), e.oid, t.oid), NULL) IN ('bigint', 'numeric'))
 ORDER BY 1, 2, a.attnum
"""

PKEY_SQL = r"""
SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.ord)
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
 WHERE i.indisprimary AND n.nspname = %s AND c.relname = %s
"""


def unescape_copy(s):
    if s == r"\N":
        return None
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(m.group(1), m.group(1)), s)


def qlit(s):
    return "'" + s.replace("'", "''") + "'"


def qid(s):
    return '"' + s.replace('"', '""') + '"'


def scan_databases(scanner, env, names):
    if not names:
        names = [d for d in psql(env, "postgres",
                                 "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1").split("\n") if d]
    cells = 0
    for db in names:
        tables = {}
        for line in psql(env, db, COLUMNS_SQL).split("\n"):
            if line:
                s, t, c = line.split("|", 2)
                tables.setdefault((s, t), []).append(c)
        for (s, t), cols in tables.items():
            pk = psql(env, db, PKEY_SQL % (qlit(s), qlit(t))).strip()
            key = "(%s)::text" % pk.replace(",", "::text || ',' || ") if pk else "ctid::text"
            keyname = pk.replace('"', "") if pk else "ctid"
            sel = ", ".join(["%s" % key] + ["%s::text" % qid(c) for c in cols])
            out = psql(env, db, "COPY (SELECT %s FROM ONLY %s.%s) TO STDOUT" % (sel, qid(s), qid(t)))
            for row in out.split("\n"):
                if not row:
                    continue
                f = row.split("\t")
                rid = unescape_copy(f[0])
                for c, v in zip(cols, f[1:]):
                    scanner.begin((db, s, t, c))
                    v = unescape_copy(v)
                    if v is None:
                        continue
                    cells += 1
                    scanner.scan_text(v, "db %s %s.%s.%s %s=%s" % (db, s, t, c, keyname, rid))
    return names, cells


# ------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", required=True, help="the source tree (test data: cards, keys, BINs)")
    ap.add_argument("--dir", action="append", default=[], help="scan every file under DIR")
    ap.add_argument("--file", action="append", default=[], help="scan FILE")
    ap.add_argument("--exclude", action="append", default=[],
                    help="skip directories of this name (CMakeFiles always; cluster data directories, "
                         "those with a PG_VERSION, always)")
    ap.add_argument("--pgdir", help="SWITCH_PGDIR: its env gives the cluster for --db")
    ap.add_argument("--db", action="store_true", help="scan every database of the cluster")
    ap.add_argument("--db-name", action="append", default=[], help="only this database (repeatable)")
    ap.add_argument("--strict", action="store_true", help="also any Luhn-valid 15-19 digit run with a scheme prefix")
    ap.add_argument("--known", action="store_true", help="print how many known PANs, BINs and keys were read, then scan")
    a = ap.parse_args()

    known = Known(a.src)
    if not known.pans or not known.keys:
        print("scan: no test cards or keys found under %s" % a.src, file=sys.stderr)
        return 2
    if a.known:
        print("scan: %d known test PANs, %d BIN prefixes (%s), %d clear keys" % (
            len(known.pans), len(known.bins), ",".join(sorted(known.bins)), len(known.keys)))
    sc = Scanner(known, a.strict)
    nfiles = 0
    ok = True
    excl = set(a.exclude) | {"CMakeFiles"}
    skipped, images = [], []
    for d in a.dir:
        if not os.path.isdir(d):
            continue
        for root, dirs, files in os.walk(d):
            if "PG_VERSION" in files:
                # a cluster's data directory: its databases are read
                # through SQL (--db), its server log lies outside it
                skipped.append(root)
                dirs[:] = []
                continue
            dirs[:] = sorted(x for x in dirs if x not in excl)
            for fn in sorted(files):
                p = os.path.join(root, fn)
                if os.path.islink(p) or not os.path.isfile(p) or fn.endswith((".o", ".a", ".so")):
                    continue
                if fn.endswith(".png"):
                    # screenshots (test-artifacts/): deflate output, whose
                    # random bytes read as "hex of binary" Luhn numbers; a
                    # PAN on a screenshot would be pixels, not bytes. The
                    # page they show is scanned as text by its own test.
                    images.append(p)
                    continue
                ok = sc.scan_file(p, p) and ok
                nfiles += 1
    for p in a.file:
        if os.path.isfile(p):
            ok = sc.scan_file(p, p) and ok
            nfiles += 1
    dbs, cells = [], 0
    if a.db or a.db_name:
        if not a.pgdir:
            print("scan: --db needs --pgdir", file=sys.stderr)
            return 2
        try:
            dbs, cells = scan_databases(sc, pg_env(a.pgdir), a.db_name)
        except (OSError, RuntimeError) as e:
            print("scan: database: %s" % e, file=sys.stderr)
            return 2
    sc.not_shown()
    for root in skipped:
        print("scan: skipped the cluster data directory %s" % root)
    for p in images:
        print("scan: skipped the image %s" % p)
    print("scan: %d files, %d database(s) (%s), %d cells: %d finding(s)" % (
        nfiles, len(dbs), ",".join(dbs), cells, len(sc.findings)))
    if not ok:
        return 2
    return 1 if sc.findings else 0


if __name__ == "__main__":
    sys.exit(main())

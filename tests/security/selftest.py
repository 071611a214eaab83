#!/usr/bin/env python3
"""The scanner must find what it is for: secrets planted in a temporary
directory (text and binary files) and, with --pgdir, in a temporary
database, each reported at its place and masked; look-alikes that are not
secrets must not be reported. Otherwise security_scan could pass by
finding nothing.

    selftest.py --src REPO [--pgdir SWITCH_PGDIR]

Planted values are made here from the test data (never printed), the
planted files and database are removed at the end.
"""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import scan  # noqa: E402

failures = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def luhn_complete(body):
    for d in "0123456789":
        if scan.luhn_ok(body + d):
            return body + d
    raise AssertionError


def iso0(pan, pin):
    pinf = int("0%X" % len(pin) + pin + "F" * (14 - len(pin)), 16)
    panf = int("0000" + pan[-13:-1], 16)
    return "%016X" % (pinf ^ panf)


def run_scan(args):
    r = subprocess.run([sys.executable, os.path.join(here, "scan.py")] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = r.stdout.decode("utf-8", "replace")
    return r.returncode, out


def found(out, where, kind):
    return any(line.startswith(where + ": " + kind + ":") for line in out.split("\n"))


def no_secret(out, secrets, what):
    leaked = [s for s in secrets if s.lower() in out.lower()]
    check(not leaked, what + ": the report shows no planted value in full")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--pgdir")
    a = ap.parse_args()
    src = a.src
    rnd = random.Random()

    # three of the clear keys the scanner reads from the test data
    by_name = {name: hexkey for hexkey, name in scan.Known(src).keys.items()}
    tmk = by_name.get("demo TMK of ATM00002", "").upper()
    bdk = by_name.get("demo aes BDK of POS00001", "").upper()
    hmac_key = by_name.get("the tests' PAN HMAC key", "")
    check(bool(tmk and bdk and hmac_key), "test keys read from the key files")

    pan = "4539100000001107"            # demo cards (atm-sim/demo-cards.txt)
    pan_mc = "5274100000005500"
    pan_upi = "6212800000008809"
    pan_rand = luhn_complete("45391" + "".join(rnd.choice("0123456789") for _ in range(10)))
    outsider = luhn_complete("49291234567812")   # a Visa prefix the project does not use
    pb = iso0(pan_mc, "%04d" % rnd.randrange(10000))
    pb_long = iso0(pan, "%06d" % rnd.randrange(1000000))
    labelled = "".join(rnd.choice("0123456789ABCDEF") for _ in range(16))
    pinfield4 = "44%04dAAAAAAAAAA" % rnd.randrange(10000) + "".join(rnd.choice("0123456789ABCDEF") for _ in range(16))
    mac = "1F3A9C00D2B4E6F8"             # a MAC: not a clear PIN block of any test card
    lmk_form = "U" + "".join(rnd.choice("0123456789ABCDEF") for _ in range(48))

    tmp = tempfile.mkdtemp(prefix="security-selftest.")
    try:
        lines = [
            "2026-11-23T13:16:54.787Z info conn=4 txn=8 pan=%s rc=00" % pan,                 # 1 pan
            "de35 ;%s=30112010000000000?" % pan,                                           # 2 track2
            "block %s end" % pb,                                                           # 3 pinblock
            "loaded tmk %s" % tmk,                                                         # 4 key
            "req DE52: %s" % labelled,                                                     # 5 pinblock (label)
            "dump %s" % pan_upi.encode().hex(),                                            # 6 pan (ASCII hex)
            "raw 0200723C4481 16%s000000000010000" % pan_mc,                               # 7 pan (glued)
            "env SWITCH_PAN_HMAC_KEY=%s" % hmac_key,                                       # 8 key
            "aes block %s" % pinfield4,                                                    # 9 pinblock (ISO 4)
            "track1 %%B%s^DEMO/CARD^30112010000000?" % pan,                                # 10 track1
            "card %s" % pan_rand,                                                          # 11 pan (BIN + Luhn)
            "pin6 %s" % pb_long.lower(),                                                   # 12 pinblock, 6 digits
            "tdes key %s" % bdk.lower(),                                                   # 13 key
            # look-alikes: none of these may be reported
            "txn pan=453910******1107 stan=000011 rrn=632809000123 amount=000000001500",   # 14
            "not luhn %s" % (pan[:-1] + str((int(pan[-1]) + 1) % 10)),                     # 15
            "when 20261123131654000011 stan 000011 de7 1123131654",                        # 16
            "key=%s kcv=08D7B4 mac=%s" % (lmk_form, mac),                                  # 17
            "other bank %s" % outsider,                                                    # 18 (--strict only)
            "zeros 0000000000000000 ones 1111111111111111",                                # 19
        ]
        with open(os.path.join(tmp, "planted.log"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(tmp, "planted.bin"), "wb") as f:
            f.write(b"\0\1\2PCAP" + bytes.fromhex(pan_upi) + b"\0" * 7 + bytes.fromhex(tmk)
                    + b"\0\0" + bytes.fromhex(pan + "D3011201") + b"\0")
        os.mkdir(os.path.join(tmp, "copy"))
        shutil.copy(os.path.join(src, "schema/demo/terminal_bdks.txt"), os.path.join(tmp, "copy"))
        secrets = [pan, pan_mc, pan_upi, pan_rand, pb, pb_long, labelled, pinfield4, tmk, bdk, hmac_key,
                   pan_upi.encode().hex()]

        rc, out = run_scan(["--src", src, "--dir", tmp])
        print("---- scan output\n" + out.rstrip() + "\n----")
        check(rc == 1, "exit status 1 on findings (got %d)" % rc)
        log = os.path.join(tmp, "planted.log")
        want = {1: "pan", 2: "track2", 3: "pinblock", 4: "key", 5: "pinblock", 6: "pan", 7: "pan",
                8: "key", 9: "pinblock", 10: "track1", 11: "pan", 12: "pinblock", 13: "key"}
        for n, kind in want.items():
            check(found(out, "%s:%d" % (log, n), kind), "line %d: %s found" % (n, kind))
        for n in range(14, len(lines) + 1):
            check(not re.search(re.escape("%s:%d:" % (log, n)), out), "line %d: look-alike not reported" % n)
        binf = os.path.join(tmp, "planted.bin")
        check(re.search(re.escape(binf) + r"@\d+: pan:.*hex of binary", out) is not None, "BCD PAN in a binary file")
        check(re.search(re.escape(binf) + r"@\d+: key:", out) is not None, "raw key bytes in a binary file")
        check(re.search(re.escape(binf) + r"@\d+: track2:", out) is not None, "BCD track 2 in a binary file")
        check(os.path.join(tmp, "copy") not in out, "a copy of an input file (terminal_bdks.txt) is skipped")
        check(mask_ok(out, pan), "PANs shown as first 6 + last 4")
        no_secret(out, secrets, "files")

        rc, out = run_scan(["--src", src, "--file", log, "--strict"])
        check(found(out, "%s:18" % log, "pan"), "--strict: a Luhn-valid Visa number outside the project's BINs")

        os.remove(log)
        os.remove(binf)
        rc, out = run_scan(["--src", src, "--dir", tmp])
        check(rc == 0, "nothing planted: exit status 0 (got %d)" % rc)

        if a.pgdir:
            try:
                db_selftest(src, a.pgdir, pan, pb, tmk, hmac_key, secrets)
            except (OSError, RuntimeError) as e:
                check(False, "database: %s" % str(e).strip().split("\n")[0])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if failures:
        print("selftest: %d check(s) failed" % len(failures))
        return 1
    print("selftest: all checks passed")
    return 0


def mask_ok(out, pan):
    return (pan[:6] + "******" + pan[-4:]) in out


def db_selftest(src, pgdir, pan, pb, tmk, hmac_key, secrets):
    env = scan.pg_env(pgdir)
    db = "t_security_selftest_%d" % os.getpid()

    def psql(dbname, stdin):
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dbname],
                           input=stdin.encode(), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode:
            raise RuntimeError(r.stderr.decode("utf-8", "replace"))

    psql("postgres", "CREATE DATABASE %s;\n" % db)
    try:
        # on standard input: on the command line they would show in ps
        psql(db, "\n".join([
            "CREATE SCHEMA other;",
            "CREATE DOMAIN note_t AS varchar(200);",
            "CREATE TABLE public.planted (id int PRIMARY KEY, note text, doc jsonb, raw bytea, code note_t,"
            " num numeric, tags text[], fixed char(40));",
            "CREATE TABLE other.nokey (a text, b bigint);",
            "INSERT INTO public.planted VALUES"
            " (1, 'approved pan=%s', NULL, NULL, NULL, NULL, NULL, NULL)," % pan +
            " (2, NULL, '{\"pin_block\": \"%s\"}', NULL, NULL, NULL, NULL, NULL)," % pb +
            " (3, NULL, NULL, decode('%s', 'hex'), NULL, NULL, NULL, NULL)," % tmk +
            " (4, NULL, NULL, convert_to('%s', 'UTF8'), NULL, NULL, NULL, NULL)," % pan +
            " (5, NULL, NULL, NULL, 'k %s', NULL, NULL, NULL)," % hmac_key +
            " (6, NULL, NULL, NULL, NULL, %s, ARRAY['x', '%s=3011201000'], NULL)," % (pan, pan) +
            " (7, 'clean: 453910******1107 U0123 kcv 08D7B4', '{\"a\": 1}', '\\x00', 'ok', 42, ARRAY['y'], 'z');",
            "INSERT INTO other.nokey VALUES ('%s', NULL), (NULL, %s);" % (pan, pan),
        ]) + "\n")
        rc, out = run_scan(["--src", src, "--pgdir", pgdir, "--db-name", db])
        print("---- database scan output\n" + out.rstrip() + "\n----")
        check(rc == 1, "database: exit status 1 on findings (got %d)" % rc)
        t = "db %s public.planted." % db
        for col, rid, kind in [("note", 1, "pan"), ("doc", 2, "pinblock"), ("raw", 3, "key"),
                               ("raw", 4, "pan"), ("code", 5, "key"), ("num", 6, "pan"),
                               ("tags", 6, "track2")]:
            check(found(out, "%s%s id=%d" % (t, col, rid), kind),
                  "database: %s in column %s, row id=%d" % (kind, col, rid))
        check("id=7" not in out, "database: the clean row is not reported")
        check(re.search(r"db %s other\.nokey\.a ctid=\(\d+,\d+\): pan:" % db, out) is not None,
              "database: a table without a primary key, by ctid (text)")
        check(re.search(r"db %s other\.nokey\.b ctid=\(\d+,\d+\): pan:" % db, out) is not None,
              "database: a table without a primary key, by ctid (bigint)")
        no_secret(out, secrets, "database")
    finally:
        psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE);\n" % db)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A stand-in switch for pos-sim's wire test: it speaks ascii87 with bin2
framing on one connection at a time, writes one line per request to a log
(field list and the values the POS layout is about, secrets masked), checks
that follow-ups and repeats refer to what was really sent, and verifies
DUKPT PIN blocks with hsm-sim (GQ) the way switchd will:

  DE 48 KS (20 hex) + DE 52        TDES DUKPT, ISO 9564 format 0 (PBF 01)
  DE 48 KS (24 hex) + P4, no DE 52 AES DUKPT, ISO 9564 format 4 (PBF 48)

Answers: 0810 00; financial requests 00 with an approval code, or 55 when
hsm-sim says the PIN is wrong (GQ error 01), 30 for a layout this profile
does not allow; 0510 00.

  fakeswitch.py --port-file F --log F --hsm-port N --bdk-tdes K --bdk-aes K --pvk K --pvv NNNN
"""
import argparse
import os
import socket
import struct

# ascii87 formats of the data elements a POS sends or this switch answers:
# (kind, length type, maximum): n digits, a text, b binary (hex on the wire),
# z track 2; 0 fixed, 2 LL, 3 LLL.
FIELDS = {
    2: ("n", 2, 19), 3: ("n", 0, 6), 4: ("n", 0, 12), 7: ("n", 0, 10), 11: ("n", 0, 6),
    12: ("n", 0, 6), 13: ("n", 0, 4), 14: ("n", 0, 4), 18: ("n", 0, 4), 22: ("n", 0, 3),
    25: ("n", 0, 2), 32: ("n", 2, 11), 35: ("z", 2, 37), 37: ("a", 0, 12), 38: ("a", 0, 6),
    39: ("a", 0, 2), 41: ("a", 0, 8), 42: ("a", 0, 15), 43: ("a", 0, 40), 48: ("a", 3, 999),
    49: ("a", 0, 3), 50: ("a", 0, 3), 52: ("b", 0, 8), 54: ("a", 3, 120), 64: ("b", 0, 8),
    70: ("n", 0, 3), 74: ("n", 0, 10), 75: ("n", 0, 10), 76: ("n", 0, 10), 77: ("n", 0, 10),
    86: ("n", 0, 16), 87: ("n", 0, 16), 88: ("n", 0, 16), 89: ("n", 0, 16), 90: ("n", 0, 42),
    128: ("b", 0, 8),
}


def unpack(b):
    s = b.decode("ascii")
    mti, pos = s[:4], 4
    bits = bin(int(s[pos:pos + 16], 16))[2:].zfill(64)
    pos += 16
    if bits[0] == "1":
        bits += bin(int(s[pos:pos + 16], 16))[2:].zfill(64)
        pos += 16
    f = {}
    for de in range(2, len(bits) + 1):
        if bits[de - 1] != "1":
            continue
        kind, lt, mx = FIELDS[de]  # an unknown field is a test failure
        if lt:
            n = int(s[pos:pos + lt])
            pos += lt
        else:
            n = mx
        if kind == "b":
            n *= 2
        f[de] = s[pos:pos + n]
        pos += n
    if pos != len(s):
        raise ValueError("trailing bytes")
    return mti, f


def pack(mti, f):
    bits = [0] * 128
    body = ""
    for de in sorted(f):
        bits[de - 1] = 1
        kind, lt, _ = FIELDS[de]
        v = f[de]
        body += (("%0" + str(lt) + "d") % len(v) if lt else "") + v
    if any(bits[64:]):
        bits[0] = 1
    n = 128 if bits[0] else 64
    bm = "%0*X" % (n // 4, int("".join(map(str, bits[:n])), 2))
    return (mti + bm + body).encode("ascii")


def tags(de48):
    out, pos = [], 0
    while pos < len(de48):
        t, n = de48[pos:pos + 2], int(de48[pos + 2:pos + 5])
        out.append((t, de48[pos + 5:pos + 5 + n]))
        pos += 5 + n
    return out


class Hsm:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)

    def call(self, cmd):
        m = b"0001" + cmd.encode("ascii")
        self.s.sendall(struct.pack(">H", len(m)) + m)
        n = struct.unpack(">H", self._read(2))[0]
        a = self._read(n).decode("ascii")
        return a[4:6], a[6:8]

    def _read(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b


class Switch:
    def __init__(self, a):
        self.a = a
        self.hsm = Hsm(a.hsm_port)
        self.seen = {}   # STAN -> (MTI, fields) of every request
        self.approvals = {}  # STAN -> the approval code answered
        self.log = open(a.log, "a")
        self.auth = 0

    def describe(self, mti, f, notes):
        parts = [mti, "[" + " ".join(str(d) for d in sorted(f)) + "]"]
        for de in (3, 4, 22, 25, 50, 54, 74, 75, 76, 77, 86, 87, 88, 89):
            if de in f:
                parts.append("%d=%s" % (de, f[de]))
        if 48 in f:
            shown = []
            for t, v in tags(f[48]):
                shown.append(t + ("%03d" % len(v)) + (v if t in ("KS", "RC") else "*"))
            parts.append("48=" + "".join(shown))
        return " ".join(parts + notes)

    def follow_up(self, mti, f, notes):
        """DE 90 and DE 37 of a completion or void against its original."""
        d = f.get(90, "")
        orig = self.seen.get(d[4:10])
        ok = (orig is not None and orig[0] == d[:4] and orig[1][7] == d[10:20] and
              d[20:31] == f[32].rjust(11, "0") and d[31:] == "0" * 11)
        notes.append("90=%s:%s" % (d[:4], "original" if ok else "MISMATCH"))
        if orig is not None:
            notes.append("37=%s" % ("original" if orig[1].get(37) == f.get(37) else "new"))
            given = self.approvals.get(d[4:10])
            notes.append("38=%s" % ("approval" if given and given == f.get(38) else "WRONG"))

    def dukpt(self, f, notes):
        """'00' good PIN, '55' wrong, '30' a layout the profile forbids."""
        t = dict(tags(f.get(48, "")))
        ksn, p4, de52 = t.get("KS"), t.get("P4"), f.get(52)
        if ksn is None:
            return "00"
        if len(ksn) == 20 and de52 and p4 is None:
            bdk, pb, pbf = self.a.bdk_tdes, de52, "01"
        elif len(ksn) == 24 and p4 and len(p4) == 32 and de52 is None:
            bdk, pb, pbf = self.a.bdk_aes, p4, "48"
        else:
            notes.append("dukpt=bad-layout")
            return "30"
        _, err = self.hsm.call("GQ%s%s%s%s%s;%s1%s" % (bdk, ksn, pb, pbf, f[2], self.a.pvk, self.a.pvv))
        notes.append("GQ=%s" % err)
        return "00" if err == "00" else "55" if err == "01" else "96"

    def handle(self, mti, f):
        notes = []
        if mti[3] == "1":  # a repeat: the original's content, its STAN and DE 7
            orig = self.seen.get(f.get(11))
            same = orig is not None and orig[0][:3] == mti[:3] and orig[1] == f
            notes.append("repeat=%s" % ("same" if same else "DIFFERENT"))
        elif mti in ("0220", "0400"):
            self.follow_up(mti, f, notes)
        rc = "00"
        if mti[:2] in ("01", "02"):
            rc = self.dukpt(f, notes)
        if mti[3] != "1":
            self.seen[f[11]] = (mti, f)
        self.log.write(self.describe(mti, f, notes) + "\n")
        self.log.flush()
        ans = {de: f[de] for de in (7, 11, 41) if de in f}
        ans[39] = rc
        if mti == "0800":
            ans[70] = f[70]
        elif rc == "00" and mti[:2] in ("01", "02"):
            self.auth += 1
            ans[38] = "%06d" % self.auth
            self.approvals.setdefault(f[11], ans[38])
        return mti[:2] + str(int(mti[2]) + 1) + "0", ans

    def serve(self, conn):
        buf = b""
        while True:
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
                c = conn.recv(4096)
                if not c:
                    return
                buf += c
            n = struct.unpack(">H", buf[:2])[0]
            mti, f = unpack(buf[2:2 + n])
            buf = buf[2 + n:]
            amti, ans = self.handle(mti, f)
            out = pack(amti, ans)
            conn.sendall(struct.pack(">H", len(out)) + out)


def main():
    p = argparse.ArgumentParser()
    for o in ("port-file", "log", "bdk-tdes", "bdk-aes", "pvk", "pvv"):
        p.add_argument("--" + o, required=True)
    p.add_argument("--hsm-port", type=int, required=True)
    a = p.parse_args()
    sw = Switch(a)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    with open(a.port_file + ".tmp", "w") as pf:
        pf.write(str(ls.getsockname()[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    while True:
        conn, _ = ls.accept()
        try:
            sw.serve(conn)
        finally:
            conn.close()


if __name__ == "__main__":
    main()

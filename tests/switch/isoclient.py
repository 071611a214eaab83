#!/usr/bin/env python3
"""A test terminal speaking ISO 8583 to switchd, for the integration tests.

Messages are written in the `iso8583 encode` text form (N=value lines, MTI=,
a blank line between messages) and packed by the project's own `iso8583`
tool, so the codec under test is the one that builds them. Answers are
decoded by the same tool. Directives, one per line, start with '!':

  !expect 39=00 38=?      the last answer has these values (? = present, - = absent)
  !expect-close           the switch closes the connection (within --timeout)
  !no-answer              nothing comes back within --timeout
  !raw HEX                send these bytes as they are (no framing)
  !recv                   read one answer (after !raw)
  !sleep SECONDS
  !reconnect
  !send-only              the next message is sent without waiting for its answer
  !collect N              read N answers (sent with !send-only), any order;
                          the following !expect-all applies to all of them
  !expect-all 39=00

Each answer prints one line: "<MTI> 11=<stan> 39=<rc> 38=<code>". Exit status
1 when an expectation fails (after printing which), 2 on a usage error, 3
when the connection (or its TLS handshake) fails.
"""
import argparse
import os
import socket
import ssl
import struct
import subprocess
import sys
import time

TOOL = os.environ.get("ISO8583_TOOL", "iso8583")


def encode(profile, text):
    r = subprocess.run([TOOL, "encode", "--profile", profile, "--framing", "none", "--hex"],
                       input=text.encode(), capture_output=True)
    if r.returncode != 0:
        sys.exit("isoclient: cannot encode: " + r.stderr.decode().strip())
    return bytes.fromhex(r.stdout.decode().strip())


def decode(profile, body):
    """-> dict of 'MTI' and DE numbers (as str) to displayed values."""
    r = subprocess.run([TOOL, "decode", "--profile", profile, "--framing", "none"],
                       input=body, capture_output=True)
    if r.returncode != 0:
        return {"MTI": "????", "error": r.stderr.decode().strip()}
    out = {}
    for line in r.stdout.decode().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "MTI":
            out["MTI"] = parts[1]
        elif len(parts) >= 3 and parts[0] == "DE":
            # "DE 39   ans 2   Response Code   00": the value is the last column
            out[parts[1]] = parts[-1]
    return out


class Link:
    def __init__(self, host, port, framing, timeout, tls=None):
        self.host, self.port, self.framing, self.timeout = host, port, framing, timeout
        self.tls = tls
        self.connect()

    def connect(self):
        self.s = socket.create_connection((self.host, self.port), timeout=self.timeout)
        if self.tls:
            self.s = self.tls.wrap_socket(self.s, server_hostname=self.host)
        self.buf = b""

    def send(self, body):
        hdr = struct.pack(">H", len(body)) if self.framing == "bin2" else b"%04d" % len(body)
        self.s.sendall(hdr + body)

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self.s.settimeout(left)
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed")
            self.buf += chunk

    def recv(self):
        deadline = time.monotonic() + self.timeout
        hl = 2 if self.framing == "bin2" else 4
        self._fill(hl, deadline)
        n = struct.unpack(">H", self.buf[:2])[0] if hl == 2 else int(self.buf[:4])
        self._fill(hl + n, deadline)
        body, self.buf = self.buf[hl:hl + n], self.buf[hl + n:]
        return body


def check(ans, spec):
    bad = []
    for item in spec:
        k, v = item.split("=", 1)
        have = ans.get(k)
        if v == "?" and have is None or v == "-" and have is not None or \
           v not in "?-" and have != v:
            bad.append("%s=%s (got %s)" % (k, v, have))
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--profile", default="ascii87")
    ap.add_argument("--framing", default="bin2")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--tls-ca", help="TLS, the server checked against this CA")
    ap.add_argument("--tls-cert", help="client certificate (with --tls-key)")
    ap.add_argument("--tls-key")
    ap.add_argument("script")
    a = ap.parse_args()
    lines = open(a.script).read().splitlines() + [""]
    tls = None
    if a.tls_ca:
        tls = ssl.create_default_context(cafile=a.tls_ca)
        if a.tls_cert:
            tls.load_cert_chain(a.tls_cert, a.tls_key)
    try:
        link = Link(a.host, a.port, a.framing, a.timeout, tls)
    except (OSError, ssl.SSLError) as e:
        print("connect failed: %s" % e)
        return 3
    failures = 0
    last = {}
    collected = []
    send_only = False
    block = []

    def fail(msg):
        nonlocal failures
        failures += 1
        print("FAIL: " + msg)

    def read_answer():
        nonlocal last
        try:
            last = decode(a.profile, link.recv())
        except (socket.timeout, ConnectionResetError) as e:
            last = {"MTI": "none", "error": str(e) or "timeout"}
        print("%s 11=%s 39=%s 38=%s" % (last.get("MTI"), last.get("11"), last.get("39"),
                                        last.get("38")))

    def flush():
        nonlocal send_only
        if not block:
            return
        body = encode(a.profile, "\n".join(block) + "\n")
        block.clear()
        link.send(body)
        if send_only:
            send_only = False
            return
        read_answer()

    for n, line in enumerate(lines, 1):
        line = line.strip()
        if line.startswith("#"):
            continue
        if not line:
            flush()
            continue
        if not line.startswith("!"):
            block.append(line)
            continue
        flush()
        cmd, _, arg = line[1:].partition(" ")
        if cmd == "expect":
            for b in check(last, arg.split()):
                fail("line %d: expected %s" % (n, b))
        elif cmd == "expect-all":
            for ans in collected:
                for b in check(ans, arg.split()):
                    fail("line %d: expected %s in every answer" % (n, b))
        elif cmd == "collect":
            collected = []
            for _ in range(int(arg)):
                try:
                    collected.append(decode(a.profile, link.recv()))
                except (socket.timeout, ConnectionResetError):
                    fail("line %d: only %d of %s answers" % (n, len(collected), arg))
                    break
            print("collected %d: %s" % (len(collected),
                  " ".join(sorted(c.get("39", "?") for c in collected))))
        elif cmd == "send-only":
            send_only = True
        elif cmd == "raw":
            link.s.sendall(bytes.fromhex(arg))
        elif cmd == "recv":
            read_answer()
        elif cmd == "sleep":
            time.sleep(float(arg))
        elif cmd == "reconnect":
            link.s.close()
            link.connect()
        elif cmd in ("expect-close", "no-answer"):
            try:
                body = link.recv()
                fail("line %d: %s, but got %s" % (n, cmd, decode(a.profile, body).get("MTI")))
            except socket.timeout:
                if cmd == "expect-close":
                    fail("line %d: connection still open" % n)
                else:
                    print("no answer")
            except (ConnectionResetError, OSError):
                if cmd == "no-answer":
                    fail("line %d: connection closed" % n)
                else:
                    print("closed")
        else:
            print("isoclient: line %d: unknown directive !%s" % (n, cmd), file=sys.stderr)
            sys.exit(2)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Many concurrent test terminals for the switchd tests.

  loadclient.py --port P --conns N [--msgs K] TEMPLATE_HEX

TEMPLATE_HEX is one ascii87 message (no length header) in hex, as written by
`iso8583 encode --hex`, whose DE 11 value is 999999: each connection sends it
K times with DE 11 replaced by a number unique to the run. Prints one line,
"answers=<n> mti=<MTI>:<count>,... p50_ms=<x> p99_ms=<y> errors=<e>", writes
the answers to --out for decoding, and exits 1 when any connection failed or
any answer is missing.
"""
import argparse
import asyncio
import struct
import sys
import time


async def terminal(i, a, tmpl, at, results):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", a.port), a.timeout)
    except Exception as e:
        results["errors"].append("connect: %s" % e)
        return
    if a.hold:
        # connect everyone first, then talk
        await a.start.wait()
    try:
        for k in range(a.msgs):
            stan = b"%06d" % ((i * a.msgs + k) % 1000000)
            body = tmpl[:at] + stan + tmpl[at + 6:]
            t0 = time.monotonic()
            w.write(struct.pack(">H", len(body)) + body)
            await w.drain()
            n = struct.unpack(">H", await asyncio.wait_for(r.readexactly(2), a.timeout))[0]
            ans = await asyncio.wait_for(r.readexactly(n), a.timeout)
            results["lat"].append(time.monotonic() - t0)
            results["answers"].append(ans)
    except Exception as e:
        results["errors"].append("conn %d: %s" % (i, type(e).__name__))
    finally:
        w.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--msgs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--hold", action="store_true", help="open every connection before sending")
    ap.add_argument("--out", help="write every answer here, 2-byte framed, for `iso8583 decode`")
    ap.add_argument("template")
    a = ap.parse_args()
    tmpl = bytes.fromhex(a.template)
    # the DE 11 placeholder, after the MTI and the bitmap(s)
    at = tmpl.find(b"999999", 4 + (32 if tmpl[4:5] >= b"8" else 16))
    if at < 0:
        sys.exit("loadclient: template has no 999999 STAN placeholder")
    a.start = asyncio.Event()
    results = {"lat": [], "answers": [], "errors": []}
    tasks = [asyncio.create_task(terminal(i, a, tmpl, at, results)) for i in range(a.conns)]
    if a.hold:
        await asyncio.sleep(0.5 + a.conns / 2000)
        a.start.set()
    await asyncio.gather(*tasks)
    lat = sorted(results["lat"])
    pct = lambda p: 1000 * lat[min(len(lat) - 1, int(len(lat) * p))] if lat else 0
    codes = {}
    for ans in results["answers"]:
        mti = ans[:4].decode(errors="replace")
        codes[mti] = codes.get(mti, 0) + 1
    if a.out:
        with open(a.out, "wb") as f:
            for ans in results["answers"]:
                f.write(struct.pack(">H", len(ans)) + ans)
    print("answers=%d mti=%s p50_ms=%.2f p99_ms=%.2f errors=%d%s" % (
        len(lat), ",".join("%s:%d" % kv for kv in sorted(codes.items())), pct(0.5), pct(0.99),
        len(results["errors"]), (" first_error=" + results["errors"][0]) if results["errors"] else ""))
    return 0 if not results["errors"] and len(lat) == a.conns * a.msgs else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

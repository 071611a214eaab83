#!/usr/bin/env python3
"""Hostile and broken clients against switchd's terminal listener, for
hostile_test.sh (issue 9): they run side by side for --seconds while
well-behaved terminals are measured.

  --idle N      connections that connect and never send a byte
  --slow N      senders of a valid-looking message one byte every 200 ms
  --overlong N  loops: a length header over the listener's maximum
  --random N    loops: random bytes
  --garbage N   loops: a valid echo (0800/301), then garbage

Prints one summary line (counts of connections opened, closed by the
switch, and answers seen) and exits 0; the test reads switchd's log and
metrics for its side of the story.
"""
import argparse
import asyncio
import os
import random
import sys
import time

stats = {"idle_open": 0, "idle_closed_by_switch": 0, "slow_cut": 0, "overlong_cut": 0,
         "random_cut": 0, "garbage_echo_answered": 0, "garbage_cut": 0, "connect_errors": 0}


def frame(body: bytes) -> bytes:
    return len(body).to_bytes(2, "big") + body


def echo_msg(stan: int) -> bytes:
    # ascii87 0800 with DE 7, 11, 70 (bitmap: 7, 11 -> 0220000000000000;
    # secondary for 70: bit 1 set -> 8220000000000000 + 0400000000000000)
    de7 = time.strftime("%m%d%H%M%S", time.gmtime())
    return b"0800" + b"8220000000000000" + b"0400000000000000" + de7.encode() + b"%06d" % stan + b"301"


async def connect(host, port):
    try:
        return await asyncio.open_connection(host, port)
    except OSError:
        stats["connect_errors"] += 1
        return None, None


async def sessions(host, port, stop):
    """Connections one after another until stop (a failed connect waits)."""
    while time.monotonic() < stop:
        r, w = await connect(host, port)
        if not r:
            await asyncio.sleep(0.5)
            continue
        yield r, w


async def closed_by_peer(reader, timeout):
    try:
        data = await asyncio.wait_for(reader.read(4096), timeout)
        return data == b""
    except (asyncio.TimeoutError, ConnectionError):
        return False


async def idle(host, port, stop, sem):
    async with sem:
        r, w = await connect(host, port)
    if not r:
        return
    stats["idle_open"] += 1
    while time.monotonic() < stop:
        if await closed_by_peer(r, 1.0):
            stats["idle_closed_by_switch"] += 1
            break
    w.close()


async def slow(host, port, stop):
    msg = frame(echo_msg(1))
    async for r, w in sessions(host, port, stop):
        try:
            for b in msg:
                w.write(bytes([b]))
                await w.drain()
                await asyncio.sleep(0.2)
                if time.monotonic() >= stop:
                    break
            if await closed_by_peer(r, 3.0):
                stats["slow_cut"] += 1
        except ConnectionError:
            stats["slow_cut"] += 1
        w.close()


async def loop_bytes(host, port, stop, make, key):
    async for r, w in sessions(host, port, stop):
        try:
            w.write(make())
            await w.drain()
            if await closed_by_peer(r, 3.0):
                stats[key] += 1
        except ConnectionError:
            stats[key] += 1
        w.close()
        await asyncio.sleep(0.05)


async def garbage(host, port, stop):
    stan = 100
    async for r, w in sessions(host, port, stop):
        stan += 1
        try:
            # every other time the garbage follows at once, in the same
            # write (the switch may close before its answer is out: the
            # answer to an echo is lost, a financial one is reversed);
            # otherwise after the answer, which must then have come
            at_once = stan % 2 == 0
            w.write(frame(echo_msg(stan)) + (os.urandom(64) if at_once else b""))
            await w.drain()
            if not at_once:
                hdr = await asyncio.wait_for(r.readexactly(2), 3.0)
                body = await asyncio.wait_for(r.readexactly(int.from_bytes(hdr, "big")), 3.0)
                if body[:4] == b"0810":
                    stats["garbage_echo_answered"] += 1
                w.write(os.urandom(64))
                await w.drain()
            if await closed_by_peer(r, 3.0):
                stats["garbage_cut"] += 1
        except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            stats["garbage_cut"] += 1
        w.close()
        await asyncio.sleep(0.05)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--slow", type=int, default=20)
    ap.add_argument("--overlong", type=int, default=5)
    ap.add_argument("--random", type=int, default=5)
    ap.add_argument("--garbage", type=int, default=5)
    ap.add_argument("--ready-file", help="written once the idle connections are open")
    a = ap.parse_args()
    stop = time.monotonic() + a.seconds
    sem = asyncio.Semaphore(256)  # connects in flight
    idles = [asyncio.create_task(idle(a.host, a.port, stop, sem)) for _ in range(a.idle)]
    while stats["idle_open"] + stats["connect_errors"] < a.idle and time.monotonic() < stop:
        await asyncio.sleep(0.1)
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write("%d\n" % stats["idle_open"])
    tasks = [asyncio.create_task(slow(a.host, a.port, stop)) for _ in range(a.slow)]
    tasks += [asyncio.create_task(loop_bytes(a.host, a.port, stop, lambda: b"\xff\xff" + os.urandom(32),
                                             "overlong_cut")) for _ in range(a.overlong)]
    tasks += [asyncio.create_task(loop_bytes(a.host, a.port, stop,
                                             lambda: os.urandom(random.randint(1, 2048)), "random_cut"))
              for _ in range(a.random)]
    tasks += [asyncio.create_task(garbage(a.host, a.port, stop)) for _ in range(a.garbage)]
    await asyncio.gather(*tasks, *idles)
    print("hostile: " + " ".join("%s=%d" % kv for kv in stats.items()))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(1)

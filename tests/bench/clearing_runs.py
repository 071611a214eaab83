#!/usr/bin/env python3
"""Summarise scripts/bench's clearing import runs.

Each line of RUNS_FILE: run number, start and end (epoch seconds), the
clock ticks per second, then the fields of /proc/<backend>/stat after its
command name (the last sample taken before the backend went away), or
nothing when no sample was taken.
Prints one line per run when there are several, then the median.
"""
import statistics
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: clearing_runs.py RECORDS RUNS_FILE")
    records = int(sys.argv[1])
    lines = [line.split() for line in open(sys.argv[2]) if line.strip()]
    seconds = []
    for f in lines:
        run, t0, t1, tck, stat = int(f[0]), float(f[1]), float(f[2]), int(f[3]), f[4:]
        seconds.append(t1 - t0)
        if len(lines) == 1:
            continue
        if len(stat) > 12:
            # utime and stime are fields 14 and 15 of /proc/PID/stat, 12 and
            # 13 once pid and command name are cut off.
            user, kernel = int(stat[11]) / tck, int(stat[12]) / tck
            cpu = f"backend cpu {user + kernel:.1f} s (user {user:.1f}, kernel {kernel:.1f})"
        else:
            cpu = "backend cpu not sampled"
        print(f"bench: clearing.import_run {run} {t1 - t0:.1f} s, {cpu}")
    median = statistics.median(seconds)
    how = f"median of {len(seconds)} runs" if len(seconds) > 1 else "one run"
    print(f"bench: clearing.import {records / median:.0f} rec/s")
    print(f"bench: clearing.import_seconds {median:.1f} s ({records} records, {how})")


if __name__ == "__main__":
    main()

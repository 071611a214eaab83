#!/usr/bin/env python3
"""The end-to-end benchmark's report (tests/bench/e2e.sh): report.md, a
Markdown table of every figure and of every loadgen run, and latency.png,
loadgen's latency percentiles against the offered load (gnuplot).

    e2e_report.py DIR CORES [RESULTS]   DIR holds figures.txt and runs.csv;
                                        RESULTS: scripts/bench's other lines
                                        (codec, HSM), shown too
"""
import csv
import os
import subprocess
import sys

TARGETS = {  # figure -> (target text, met?)
    "e2e.approved_tps": ("at least 5,000 tx/s", lambda v: v >= 5000),
    "e2e.p99_ms_at_2000": ("at most 10 ms", lambda v: v <= 10),
    "switchd.rss_mb_10k_idle": ("at most 100 MB", lambda v: v <= 100),
}


def main():
    out, cores = sys.argv[1], sys.argv[2]
    figures = {}
    with open(os.path.join(out, "figures.txt")) as f:
        for line in f:
            name, value, unit = line.split(None, 2)
            figures[name] = (float(value), unit.strip())
    if len(sys.argv) > 3 and os.path.exists(sys.argv[3]):
        with open(sys.argv[3]) as f:
            for line in f:
                w = line.split()
                if len(w) >= 4 and w[0] == "bench:" and w[1] not in figures:
                    try:
                        figures[w[1]] = (float(w[2]), " ".join(w[3:]))
                    except ValueError:
                        pass  # the machine line, the report's own line
    with open(os.path.join(out, "runs.csv")) as f:
        runs = list(csv.DictReader(f))

    md = ["# End-to-end benchmark", "",
          "loadgen's ATMs, switchd, hsm-sim and PostgreSQL (synchronous_commit on) all on one machine "
          "of %s cores; ATM withdrawals with PIN verification, %s bench cards. Made by "
          "`scripts/bench e2e` (tests/bench/e2e.sh)." % (cores, os.environ.get("BENCH_CARDS", "100000")), "",
          "| figure | value | target | met |", "|---|---:|---|---|"]
    for name, (value, unit) in figures.items():
        target, ok = TARGETS.get(name, ("", None))
        met = "" if ok is None else ("yes" if ok(value) else "**no**")
        md.append("| %s | %g %s | %s | %s |" % (name, value, unit, target, met))
    db = max((v for n, (v, _) in figures.items() if n.startswith("db.withdraw_c")), default=0)
    if db and "e2e.approved_tps" in figures:
        ratio = figures["e2e.approved_tps"][0] / db
        md.append("| e2e / database alone (best pgbench) | %.0f %% | at least 80 %% | %s |"
                  % (100 * ratio, "yes" if ratio >= 0.8 else "**no**"))
    md += ["", "## Runs (loadgen)", "",
           "| run | terminals | offered tx/s | answered tx/s | approved % | time-outs | skipped "
           "| p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        ms = lambda k: "%.1f" % (float(r[k]) / 1000)
        md.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["label"], r["ready"], r["rate_tps"] if r["mode"] == "open" else "closed",
            r["throughput_tps"], r["approval_pct"], r["timeouts"], r["skipped"],
            ms("p50_us"), ms("p90_us"), ms("p99_us"), ms("p999_us"), ms("max_us")))

    opens = [r for r in runs if r["mode"] == "open" and r["label"].startswith("open")]
    if opens:
        data = os.path.join(out, "latency.dat")
        with open(data, "w") as f:
            for r in sorted(opens, key=lambda r: float(r["rate_tps"])):
                f.write("%s %s %s %s %s %s\n" % (
                    r["rate_tps"], r["throughput_tps"],
                    *("%.3f" % (float(r[k]) / 1000) for k in ("p50_us", "p90_us", "p99_us", "p999_us"))))
        plot = """set terminal pngcairo size 900,560 font "DejaVu Sans,10"
set output '%s'
set title 'ATM withdrawals end to end, %s cores: latency against offered load'
set xlabel 'offered load (tx/s, Poisson arrivals)'
set ylabel 'latency (ms, log scale)'
set logscale y
set grid
set key top left
set arrow from graph 0, first 10 to graph 1, first 10 nohead dt 2 lc rgb 'red'
set label 'p99 target 10 ms' at graph 0.02, first 12 tc rgb 'red'
plot '%s' using 1:3 with linespoints title 'p50', \\
     '' using 1:4 with linespoints title 'p90', \\
     '' using 1:5 with linespoints title 'p99', \\
     '' using 1:6 with linespoints title 'p99.9'
""" % (os.path.join(out, "latency.png"), cores, data)
        try:
            subprocess.run(["gnuplot"], input=plot, text=True, check=True)
            md += ["", "![latency against offered load](latency.png)"]
        except (OSError, subprocess.CalledProcessError) as e:
            md += ["", "(no plot: gnuplot failed: %s)" % e]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()

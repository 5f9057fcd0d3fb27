#!/usr/bin/python3
"""bench/test_report.py - checks that bench/report.py fails a run whose hot plans (explain.txt) scan a table that
grows with the stored deals, and passes one whose only sequential scans read small tables; and that it judges
mark-won by issue #22's targets: against pgbench of its own SQL, with its hand-offs in time (ctest
bench_report_plans). Standard library only."""

import os
import subprocess
import sys
import tempfile

REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.py")

PLANS = """== stored deals
 stored deals 100000
== otd AcceptOrder (services/otd/intake.c SQL_ORDER_INSERT)
   ->  Seq Scan on {rel} o (actual time=0.1..9.9 rows=1 loops=1)
   ->  Seq Scan on resources r (actual time=0.001..0.001 rows=3 loops=1)
== table sizes
 size otd.orders 100000
 size otd.resources 3
 size otd.customer_changes 0
"""


def run(rel):
    with tempfile.TemporaryDirectory() as d:
        results, explain = os.path.join(d, "results.tsv"), os.path.join(d, "explain.txt")
        open(results, "w").close()
        with open(explain, "w") as f:
            f.write(PLANS.format(rel=rel))
        p = subprocess.run([sys.executable, REPORT, "table", results, "--explain", explain], capture_output=True,
                           text=True)
        return p.returncode, p.stdout


# A run's rows (results.tsv: tab-separated key=value) with mark-won at `won` calls/s against its SQL's 1,000 tx/s
# (and the plain state change's 2,000), its hand-offs delivered at p99 `p99` ms.
MARKWON = ("scenario=pgbench\tlabel=pgbench state change\tqps=2000\n"
           "scenario=pgbench\tlabel=pgbench MarkBidWon SQL\tqps=1000\n"
           "scenario=mark-won\tlabel=mark-won@1000\tqps={won}\tp99_ms=90\n"
           "scenario=handoffs\tlabel=mark-won@1000\tbacklog_growing=no\tstages=ltb>AcceptWonBid:500:40:{p99}:0\n")


def verdicts(won, p99):
    with tempfile.TemporaryDirectory() as d:
        results = os.path.join(d, "results.tsv")
        with open(results, "w") as f:
            f.write(MARKWON.format(won=won, p99=p99))
        p = subprocess.run([sys.executable, REPORT, "table", results], capture_output=True, text=True)
        line = next((x for x in p.stdout.splitlines() if x.startswith("targets:")), "")
        return p.returncode, line


def main():
    failures = 0
    for won, p99, want in ((850, 120, "met"), (700, 120, "MISSED"), (850, 300, "MISSED")):
        code, line = verdicts(won, p99)
        if code != 0 or f"mark-won@1000: {want}" not in line or "pgbench MarkBidWon SQL: met" not in line:
            print(f"mark-won at {won}/s of 1000 (its SQL), hand-offs p99 {p99} ms: want {want} (exit {code}): {line}")
            failures += 1
    code, out = run("orders")   # 100,000 rows at 100,000 deals: grows with them
    if code != 3 or "GROWS WITH DEALS" not in out or "MISSED" not in out:
        print(f"a sequential scan of orders was not failed (exit {code}):\n{out}")
        failures += 1
    code, out = run("customer_changes")   # empty: a scan of it is no growth
    if code != 0 or "GROWS WITH DEALS" in out or "MISSED" in out:
        print(f"a sequential scan of small tables failed the run (exit {code}):\n{out}")
        failures += 1
    print("ok" if not failures else f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""bench/test_report.py - checks that bench/report.py fails a run whose hot plans (explain.txt) scan a table that
grows with the stored deals, and passes one whose only sequential scans read small tables (ctest bench_report_plans).
Standard library only."""

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


def main():
    failures = 0
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

#!/usr/bin/python3
"""bench/report.py - the figures of one bench/run: rows from pgbench logs and database counters, and the table.

    report.py pgbench-row --label L --logs PREFIX --warmup S --duration S --pg-cpu C0 C1 --client-cpu C --clients N
    report.py scan-row --label L --before FILE --after FILE --results results.tsv
    report.py handoff-row --label L --results results.tsv --handoffs FILE --backlog FILE --backlog-end N
                          --backlog-later N --commits C0 C1
    report.py table results.tsv [--markdown FILE] [--explain FILE]

A row is one line of tab-separated key=value fields (ltc-bench writes the scenario rows). Ratios are always taken
against baselines of the same results file: echo for reads, pgbench's state change for writes and lead to cash.
Standard library only.
"""

import argparse
import glob
import math
import os
import re
import sys

MIB = 1024

# Targets of issue #22 (docs/performance.md), ratios within one run.
READ_RATIO, READ_P99_MS = 0.25, 5.0   # a read through the gateway / the bare echo (TLS vs TLS), and its p99
WRITE_RATIO = 0.8        # a state change through the stack / pgbench running that transition's own SQL
WRITE_SQL_RATIO = 0.4    # that SQL / pgbench's plain state change (an UPDATE and an outbox INSERT)
L2C_RATIO = 0.4          # lead to cash / PostgreSQL's rate for the deal's write transactions
HANDOFF_P99_MS = 250.0   # a hand-off written -> delivered, p99, every kind
RSS_LIMIT_KB = 64 * MIB
BIG_TABLE_ROWS = 10000   # a sequential scan of a table this large on a hot path is a bug
EXIT_SEQ_SCAN = 3        # table's exit status when a hot plan scans a table that grows with stored deals


def grows_with_deals(live, deals):
    """A table this size at this many stored deals grows with them (not a small configuration table)."""
    limit = BIG_TABLE_ROWS if not deals else min(BIG_TABLE_ROWS, max(deals // 2, 500))
    return live >= limit


def fmt_row(fields):
    return "\t".join(f"{k}={v}" for k, v in fields.items())


def read_rows(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            row = {}
            for part in line.split("\t"):
                k, _, v = part.partition("=")
                row[k] = v
            rows.append(row)
    return rows


def num(row, key, default=0.0):
    try:
        return float(row.get(key, default))
    except ValueError:
        return default


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


# ---- pgbench ------------------------------------------------------------------------------------------------------

def pgbench_row(a):
    """pgbench -l logs: client_id transaction_no time_us script_no epoch_s epoch_us, one line per transaction."""
    files = [f for f in glob.glob(a.logs + ".*") if re.search(r"\.\d+(\.\d+)?$", f)]
    tx = []
    for path in files:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) >= 6 and p[2].isdigit():
                    tx.append((int(p[4]) + int(p[5]) / 1e6, int(p[2])))
    if not tx:
        sys.exit(f"report.py: no pgbench log lines under {a.logs}.*")
    # time_epoch is when the transaction ended
    start = min(t - lat / 1e6 for t, lat in tx)
    w0, w1 = start + a.warmup, start + a.warmup + a.duration
    lat = sorted(l for t, l in tx if w0 <= t < w1)
    window = a.duration
    n_all = len(tx)
    pg_cpu = a.pg_cpu[1] - a.pg_cpu[0]
    row = {
        "scenario": "pgbench", "label": a.label, "concurrency": a.clients, "window_s": f"{window:.2f}",
        "ok": len(lat), "failed": 0, "calls_all": n_all, "qps": f"{len(lat) / window:.1f}",
        "p50_ms": f"{percentile(lat, 50) / 1000:.3f}", "p99_ms": f"{percentile(lat, 99) / 1000:.3f}",
        "p999_ms": f"{percentile(lat, 99.9) / 1000:.3f}", "max_ms": f"{(lat[-1] if lat else 0) / 1000:.3f}",
        "cpu_loader_us": f"{a.client_cpu / n_all * 1e6:.1f}", "cpu_pg_us": f"{pg_cpu / n_all * 1e6:.1f}",
        "cpu_total_us": f"{(pg_cpu + a.client_cpu) / n_all * 1e6:.1f}", "load": a.load,
    }
    print(fmt_row(row))


# ---- sequential scans -----------------------------------------------------------------------------------------------

def read_stats(path):
    out = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 5:
                out[p[0]] = tuple(int(x) for x in p[1:])
    return out


def handoffs_fast(h):
    """Every kind of hand-off of a scenario delivered within HANDOFF_P99_MS of being written, at its p99 (the
    handoffs row's stages: method:rows:p50:p99:undelivered). No hand-off measured: nothing to fail."""
    for x in h.get("stages", "").split(";"):
        f = x.split(":")
        if len(f) >= 4 and f[3] not in ("", "-") and float(f[3]) >= HANDOFF_P99_MS:
            return False
    return True


def scan_row(a):
    before, after = read_stats(a.before), read_stats(a.after)
    calls = 0
    deals = size_of(a.label)
    for row in read_rows(a.results):
        if row.get("label") == a.label and row.get("scenario") not in ("scan", "handoffs"):
            calls = int(num(row, "calls_all"))
    seq = []
    total = big = 0
    for rel, (scans, rows, _idx, live) in after.items():
        b = before.get(rel, (0, 0, 0, 0))
        d_rows = rows - b[1]
        if scans - b[0] > 0 and d_rows > 0:
            seq.append((d_rows, rel, scans - b[0], live))
            total += d_rows
            if grows_with_deals(live, deals):
                big += scans - b[0]
    seq.sort(reverse=True)
    row = {
        "scenario": "scan", "label": a.label, "calls_all": calls,
        "seq_rows_per_call": f"{total / calls:.2f}" if calls else "-",
        "big_seq_scans": big,
        "seq_tables": ";".join(f"{rel}:{scans}x{rows // max(scans, 1)}rows/{live}live" for rows, rel, scans, live in
                               seq[:6]) or "none",
    }
    print(fmt_row(row))


# ---- hand-offs: latency per kind, backlog, transactions per deal --------------------------------------------------

def handoff_row(a):
    main = None
    for row in read_rows(a.results):
        if row.get("label") == a.label and row.get("scenario") not in ("scan", "handoffs"):
            main = row
    if main is None:
        sys.exit(f"report.py: no row labelled {a.label}")
    stages = []
    rows_total = delivered = relay_tx = 0
    first_kind_rows = 0
    with open(a.handoffs) as f:
        for line in f:
            p = line.split()
            if len(p) != 8:
                continue
            schema, method, n, dl, distinct, p50, p99, _deals = p
            n, dl, distinct = int(n), int(dl), int(distinct)
            if not first_kind_rows:
                first_kind_rows = n
            rows_total += n
            delivered += dl
            relay_tx += distinct
            stages.append(f"{schema}>{method.rsplit('/', 1)[-1]}:{n}:{p50}:{p99}:{n - dl}")
    handoffs_per_deal = rows_total / first_kind_rows if first_kind_rows else 0.0
    relay_tx_per_handoff = relay_tx / delivered if delivered else 0.0
    writes = num(main, "writes_per_deal")
    write_tx = writes + handoffs_per_deal * (1 + relay_tx_per_handoff)
    deals_all = num(main, "deals_all")
    commits = (a.commits[1] - a.commits[0]) / deals_all if deals_all else 0.0
    samples = []
    with open(a.backlog) as f:
        for line in f:
            p = line.split()
            if len(p) == 2 and p[1].isdigit():
                samples.append(int(p[1]))
    third = max(1, len(samples) // 3)
    first = sum(samples[:third]) / third if samples else 0
    last = sum(samples[-third:]) / third if samples else 0
    conc = num(main, "concurrency", 64)
    growing = len(samples) >= 3 and last > 2 * first + conc / 4
    row = {
        "scenario": "handoffs", "label": a.label, "handoffs_per_deal": f"{handoffs_per_deal:.2f}",
        "relay_tx_per_handoff": f"{relay_tx_per_handoff:.2f}", "write_tx_per_deal": f"{write_tx:.2f}",
        "commits_per_deal": f"{commits:.1f}", "backlog_max": max(samples) if samples else 0,
        # hand-offs delivered per second, from the start of the run until they were counted (5 s after its end)
        "delivered_per_s": f"{delivered / a.seconds:.1f}" if a.seconds else "-",
        "written_per_s": f"{rows_total / a.seconds:.1f}" if a.seconds else "-",
        "backlog_first": f"{first:.0f}", "backlog_last": f"{last:.0f}", "backlog_end": a.backlog_end,
        "backlog_after_5s": a.backlog_later, "backlog_growing": "yes" if growing else "no",
        "stages": ";".join(stages),
    }
    print(fmt_row(row))


# ---- the table ------------------------------------------------------------------------------------------------------

def size_of(label):
    m = re.search(r"@(\d+)$", label)
    return int(m.group(1)) if m else None


def human(n):
    if n is None:
        return ""
    if n >= 1000000 and n % 1000000 == 0:
        return f"{n // 1000000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def ms(v):
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


# Lead to cash's steps that are the stage issues' hot paths, shown under each lead-to-cash row.
HOT_STEPS = (("CreateQuote", "pricing a quote"), ("RequestOrderAdmission", "the admission gate, credit checked"),
             ("ScheduleOrder", "scheduling"), ("RecordPayment", "a payment applied, posted to the ledger"))


def hot_plan_scans(path):
    """The sequential scans in the hot plans of explain.txt (bench/sql/explain.sql) of tables that grow with the
    stored deals: [(section, relation, live rows, plan line)], and the stored deals the plans ran on."""
    sections, sizes, deals = [], {}, None
    section = ""
    with open(path) as f:
        for line in f:
            if line.startswith("=="):
                section = line.strip("= \n")
            m = re.match(r"\s*size (\S+) (\d+)\s*$", line)
            if m:
                sizes[m.group(1)] = int(m.group(2))
                continue
            m = re.match(r"\s*stored deals (\d+)\s*$", line)
            if m:
                deals = int(m.group(1))
                continue
            m = re.search(r"Seq Scan on (\w+)", line)
            if m:
                sections.append((section, m.group(1), line.strip()))
    found = []
    for section, rel, line in sections:
        schema = section.split()[0] if section else ""
        live = sizes.get(f"{schema}.{rel}", 0)
        found.append((section, rel, live, line, grows_with_deals(live, deals)))
    return found, deals


# The scale-out run's rows (bench/run --replicas): "get-lead, 2 replicas@1000"
REPLICA_LABEL = re.compile(r"^(get-lead|mark-won|lead to cash), (\d+) replicas?@\d+$")


def replica_lines(main, handoffs):
    """Throughput per replica count: get-lead (QPS), mark-won (QPS), lead to cash (deals/s), each with its share of
    the one-replica figure, the CPU summed over every process per call or deal, and the machine's load."""
    per = {}
    for r in main:
        m = REPLICA_LABEL.match(r.get("label", ""))
        if m:
            per.setdefault(int(m.group(2)), {})[m.group(1)] = r
    if not per:
        return []
    base = per.get(1, {})

    def fig(n, what):
        r = per[n].get(what)
        if not r:
            return "-"
        if r.get("scenario") == "failed":
            return f"FAILED ({r.get('error', '')}), load {r.get('load', '')}"
        v = num(r, "deals_per_s") if what == "lead to cash" else num(r, "qps")
        b = base.get(what)
        bv = (num(b, "deals_per_s") if what == "lead to cash" else num(b, "qps")) if b else 0
        share = f" ({v / bv:.2f})" if bv and n != 1 else ""
        unit = " deals/s" if what == "lead to cash" else "/s"
        extra = f", p99 {ms(num(r, 'p99_ms'))} ms" if what == "get-lead" else ""
        if what != "get-lead":
            h = handoffs.get(r["label"], {})
            extra = f", backlog growing {h.get('backlog_growing', '?')}"
        return f"{v:.1f}{unit}{share}{extra}, CPU {num(r, 'cpu_total_us'):.0f} us, load {r.get('load', '')}"

    out = ["throughput per replica count (every stage service and the gateway N times; the load generator balances "
           "over the N gateways; in parentheses: the share of 1 replica's figure; CPU: summed over every process, "
           "per call):"]
    for n in sorted(per):
        out.append(f"  {n} replica{'s' if n > 1 else ' '}  get-lead {fig(n, 'get-lead')}")
        out.append(f"              mark-won {fig(n, 'mark-won')}")
        out.append(f"              lead to cash {fig(n, 'lead to cash')}")
    return out


def table(a):
    rows = read_rows(a.results)
    failed = [r for r in rows if r.get("scenario") == "failed"]   # a scenario of the scale-out run that failed
    main = [r for r in rows if r.get("scenario") not in ("scan", "handoffs", "failed")]
    scans = {r["label"]: r for r in rows if r.get("scenario") == "scan"}
    handoffs = {r["label"]: r for r in rows if r.get("scenario") == "handoffs"}
    by_label = {r["label"]: r for r in main}
    echo = by_label.get("echo")
    pg_read = by_label.get("pgbench read")
    pg_write = by_label.get("pgbench state change")
    echo_qps = num(echo, "qps") if echo else 0
    pg_read_qps = num(pg_read, "qps") if pg_read else 0
    pg_write_qps = num(pg_write, "qps") if pg_write else 0
    pg_markwon = by_label.get("pgbench MarkBidWon SQL")
    pg_markwon_qps = num(pg_markwon, "qps") if pg_markwon else 0

    lines = []      # (scenario, size, qps, p50, p99, p999, cpu, ratio, baseline, target, verdict, seq)
    verdicts = []
    first_size = {}
    for r in main:
        label, scen = r["label"], r.get("scenario")
        size = size_of(label)
        name = re.sub(r"@\d+$", "", label)
        qps, p99 = num(r, "qps"), num(r, "p99_ms")
        # the baselines measured right before this size's scenarios, when there are; a "(plaintext)" comparison row
        # of a secure run against the plaintext echo, every other row against the echo of its own run (TLS when the
        # stack is secure)
        plain = "(plaintext)" in label
        ekey = "echo (plaintext)" if plain else "echo"
        echo_qps = num(by_label.get(f"{ekey}@{size}", by_label.get(ekey) or echo or {}), "qps")
        pg_write_qps = num(by_label.get(f"pgbench state change@{size}", pg_write or {}), "qps")
        if label.startswith("echo@") or label.startswith("pgbench state change@"):
            lines.append((name + " (again)", human(size), f"{qps:.0f}", ms(num(r, "p50_ms")), ms(p99),
                          ms(num(r, "p999_ms")), f"{num(r, 'cpu_total_us'):.0f}", "1.00", "baseline", "", "", "",
                          r.get("load", "")))
            continue
        ratio, base, target, verdict = "", "", "", ""
        if scen == "pgbench" and label != "pgbench read" and label != "pgbench state change" and pg_write_qps:
            ratio, base = f"{qps / pg_write_qps:.2f}", "pgbench state change"
            if label == "pgbench MarkBidWon SQL":   # the transition's SQL is lean
                target = f">= {WRITE_SQL_RATIO}"
                verdict = "met" if qps / pg_write_qps >= WRITE_SQL_RATIO else "MISSED"
                verdicts.append((label, verdict))
        elif scen == "echo" and plain:
            if size is None and echo and echo.get("security") == "tls" and num(echo, "qps"):
                ratio, base = f"{qps / num(echo, 'qps'):.2f}", "echo (TLS)"
            else:
                ratio, base = "1.00", "baseline of the (plaintext) rows"
        elif scen == "echo" and label != "echo" and echo_qps:
            ratio, base = f"{qps / echo_qps:.2f}", "echo"
        elif scen in ("echo", "pgbench"):
            ratio, base = "1.00", "baseline"
        elif scen in ("get-lead", "get-opportunity") and echo_qps:
            ratio = f"{qps / echo_qps:.2f}"
            base = "echo"
            if "direct" in label:
                target = "(the gateway's share)"
            else:
                target = f">= {READ_RATIO}, p99 < {READ_P99_MS:g} ms"
                ok = qps / echo_qps >= READ_RATIO and p99 < READ_P99_MS
                verdict = "met" if ok else "MISSED"
                verdicts.append((label, verdict))
            if pg_read_qps:
                base += f" ({qps / pg_read_qps:.2f} of pgbench read)"
        elif scen == "mark-won" and (pg_markwon_qps or pg_write_qps):
            # against its own SQL run by pgbench (the service adds little); without that row, the plain state change
            versus = pg_markwon_qps or pg_write_qps
            ratio = f"{qps / versus:.2f}"
            base = "pgbench MarkBidWon SQL" if pg_markwon_qps else "pgbench state change"
            if pg_markwon_qps and pg_write_qps:
                base += f" ({qps / pg_write_qps:.2f} of pgbench state change)"
            target = f">= {WRITE_RATIO}, hand-offs keep up, p99 < {HANDOFF_P99_MS:g} ms"
            h = handoffs.get(label, {})
            ok = qps / versus >= WRITE_RATIO and h.get("backlog_growing", "no") == "no" and handoffs_fast(h)
            verdict = "met" if ok else "MISSED"
            verdicts.append((label, verdict))
        elif scen == "l2c":
            h = handoffs.get(label, {})
            wtx = num(h, "write_tx_per_deal")
            dps = num(r, "deals_per_s")
            allowed = pg_write_qps / wtx if wtx else 0
            ratio = f"{dps / allowed:.2f}" if allowed else "-"
            base = f"pgbench state change / {wtx:.1f} tx per deal = {allowed:.0f} deals/s"
            target = f">= {L2C_RATIO}, no growing backlog, hand-off p99 < {HANDOFF_P99_MS:g} ms"
            ok = allowed and dps / allowed >= L2C_RATIO and h.get("backlog_growing") == "no" and handoffs_fast(h)
            verdict = "met" if ok else "MISSED"
            verdicts.append((label, verdict))
        if size is not None and scen in ("get-lead", "get-opportunity", "mark-won", "l2c") and "direct" not in label \
                and not plain and not REPLICA_LABEL.match(label):
            rate = num(r, "deals_per_s") if scen == "l2c" else qps   # flat growth: the rate at the first size
            if scen not in first_size:
                first_size[scen] = (size, rate)
            elif first_size[scen][1]:
                target = (target + "; " if target else "") + \
                    f"{rate / first_size[scen][1]:.2f} of @{human(first_size[scen][0])}"
        cpu = num(r, "cpu_total_us")
        sc = scans.get(label, {}).get("seq_rows_per_call", "")
        if sc and int(num(scans[label], "big_seq_scans")):
            sc += f" ({scans[label]['big_seq_scans']} scans of big tables!)"
        shown = f"{qps:.0f}"
        if scen == "l2c":
            shown = f"{num(r, 'deals_per_s'):.1f} deals/s ({qps:.0f} calls/s)"
        lines.append((name, human(size), shown, ms(num(r, "p50_ms")), ms(p99), ms(num(r, "p999_ms")), f"{cpu:.0f}",
                      ratio, base, target, verdict, sc, r.get("load", "")))
        if scen == "l2c":   # the stage issues' hot writes, as lead to cash made them (calls/s, p50, p99 of the step)
            steps = {f[0]: f for f in (x.split(":") for x in r.get("steps", "").split(";") if x) if len(f) >= 4}
            win = num(r, "window_s") or 1
            for step, what in HOT_STEPS:
                f = steps.get(step)
                if f:
                    lines.append((f"  {step} ({what})", human(size), f"{float(f[1]) / win:.0f}", ms(float(f[2])),
                                  ms(float(f[3])), "", "", "", "a step of " + name, "", "", "", ""))

    # the hot paths' plans (explain.txt, at the largest size): a sequential scan of a table that grows with the stored
    # deals is a growth bug, shown as a row of the table and failing the run (EXIT_SEQ_SCAN)
    explain_flags, bad_plans = [], 0
    if a.explain and os.path.exists(a.explain):
        found, deals = hot_plan_scans(a.explain)
        for section, rel, live, line, grows in found:
            bad_plans += grows
            explain_flags.append(f"  {'GROWS WITH DEALS ' if grows else ''}{section}: {line} ({rel}: {live} rows)")
        verdict = "MISSED" if bad_plans else "met"
        verdicts.append(("hot plans without sequential scans of growing tables", verdict))
        lines.append(("hot plans (explain.txt)", human(deals), "", "", "", "", "", "", "",
                      "no seq scan of a table growing with deals", verdict,
                      f"{bad_plans} seq scans of growing tables!" if bad_plans else "0", ""))

    head = ("scenario", "stored", "QPS", "p50 ms", "p99 ms", "p99.9 ms", "CPU us/call", "ratio", "baseline",
            "target", "", "seq rows/call", "load")
    out = []
    secure = any(r.get("security") == "tls" for r in main)
    out.append("stack: " + ("as shipped: TLS at the gateway and the echo, mTLS between the processes, bearer tokens, "
                            "audit; rows marked (plaintext): the same stack restarted in plaintext" if secure else
                            "plaintext, no tokens (LTC_BENCH_SECURITY=off)"))
    widths = [max(len(str(x[i])) for x in [head] + lines) for i in range(len(head))]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    out.append(fmt.format(*head))
    out.append(fmt.format(*("-" * w for w in widths)))
    for ln in lines:
        out.append(fmt.format(*ln))

    md = [out[0], "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ln in lines:
        md.append("| " + " | ".join(str(x) for x in ln) + " |")

    # hand-offs, and lead to cash details
    details = []
    for label, h in handoffs.items():
        r = by_label.get(label, {})
        if r.get("scenario") != "l2c":
            details.append(f"hand-offs of {label}: backlog (pending outbox rows) first third {h.get('backlog_first')}, "
                           f"last third {h.get('backlog_last')}, max {h.get('backlog_max')}, at the end "
                           f"{h.get('backlog_end')}, 5 s later {h.get('backlog_after_5s')}: growing "
                           f"{h.get('backlog_growing')}; {h.get('written_per_s')} hand-offs/s written, "
                           f"{h.get('delivered_per_s')}/s delivered; written -> delivered p50 / p99 ms: " +
                           ", ".join(f"{x.split(':')[0]} {x.split(':')[2]} / {x.split(':')[3]}"
                                     for x in h.get("stages", "").split(";") if x))
            continue
        details.append(f"lead to cash ({label}): {num(r, 'deals_per_s'):.1f} deals/s, {r.get('deals', 0)} deals "
                       f"({r.get('deals_failed', 0)} failed), deal p50 {r.get('deal_p50_ms')} ms p99 "
                       f"{r.get('deal_p99_ms')} ms; per deal {r.get('writes_per_deal')} client writes, "
                       f"{h.get('handoffs_per_deal')} hand-offs, {h.get('relay_tx_per_handoff')} relay transactions "
                       f"per hand-off -> {h.get('write_tx_per_deal')} write transactions per deal "
                       f"({h.get('commits_per_deal')} commits of any kind); {r.get('polls_per_deal')} polls.")
        details.append(f"  hand-off backlog (pending outbox rows): first third {h.get('backlog_first')}, last third "
                       f"{h.get('backlog_last')}, max {h.get('backlog_max')}, at the end {h.get('backlog_end')}, "
                       f"5 s later {h.get('backlog_after_5s')}: growing {h.get('backlog_growing')}")
        details.append("  hand-off (from schema>method): rows, written -> delivered p50 / p99 ms, undelivered")
        for s in h.get("stages", "").split(";"):
            if s:
                f = s.split(":")
                details.append(f"    {f[0]:<32} {f[1]:>6}  {f[2]:>6} / {f[3]:<6} {f[4]}")
        details.append("  calls by step: calls, p50 / p99 ms")
        for s in r.get("steps", "").split(";"):
            if s:
                f = s.split(":")
                details.append(f"    {f[0]:<24} {f[1]:>7}  {f[2]:>7} / {f[3]}")

    # memory: every process of ours, over every scenario of the run
    mem = {}
    for r in main:
        for k, v in r.items():
            m = re.match(r"rss_(\w+)_kb$", k)
            if not m or m.group(1) == "pg":
                continue
            try:
                s0, mx, s1 = (int(x) for x in v.split("/"))
            except ValueError:
                continue
            p = m.group(1)
            cur = mem.setdefault(p, [None, 0, None, []])
            if cur[0] is None:
                cur[0] = s0
            cur[1] = max(cur[1], mx)
            cur[2] = s1
            cur[3].append(r["label"])
    mem_lines = []
    for p, (s0, mx, s1, _labels) in sorted(mem.items()):
        verdict = "met" if mx < RSS_LIMIT_KB else "MISSED"
        verdicts.append((f"memory {p}", verdict))
        mem_lines.append(f"  {p:<8} first {s0 / MIB:6.1f} MiB  max {mx / MIB:6.1f} MiB  last {s1 / MIB:6.1f} MiB"
                         f"  (< 64 MiB: {verdict})")

    # the long run's samples: is any process still growing?
    if a.rss and os.path.exists(a.rss):
        series = {}
        with open(a.rss) as f:
            for line in f:
                p = line.split("\t")
                if len(p) == 3 and p[1] != "pg":
                    series.setdefault(p[1], []).append((float(p[0]), int(p[2])))
        mem_lines.append("memory over the long run (rss.tsv): after the first minute, at the end, least-squares slope "
                         "over the second half")
        for p, pts in sorted(series.items()):
            t0 = pts[0][0]
            after1 = [v for t, v in pts if t - t0 >= 60] or [pts[-1][1]]
            half = [(t, v) for t, v in pts if t >= (pts[0][0] + pts[-1][0]) / 2]
            slope = 0.0
            if len(half) >= 2:
                mt = sum(t for t, _ in half) / len(half)
                mv = sum(v for _, v in half) / len(half)
                den = sum((t - mt) ** 2 for t, _ in half)
                slope = sum((t - mt) * (v - mv) for t, v in half) / den * 60 if den else 0.0
            flat = slope * ((pts[-1][0] - t0) / 60) < 1024   # < 1 MiB over the run at the late rate
            verdicts.append((f"memory flat {p}", "met" if flat else "MISSED"))
            mem_lines.append(f"  {p:<8} at 1 min {after1[0] / MIB:6.1f} MiB  end {pts[-1][1] / MIB:6.1f} MiB  max "
                             f"{max(v for _, v in pts) / MIB:6.1f} MiB  slope {slope:+7.1f} KiB/min  "
                             f"({len(pts)} samples over {(pts[-1][0] - t0) / 60:.1f} min; flat: "
                             f"{'met' if flat else 'MISSED'})")

    text = ["\n".join(out), ""]
    text += replica_lines(main + failed, handoffs)
    text += details
    text.append("memory (VmRSS, sampled every second in each scenario's window):")
    text += mem_lines
    text.append("plans of the hot paths (explain.txt): " +
                ("sequential scans:" if explain_flags else "index scans only") +
                (f" ({bad_plans} of tables that grow with the stored deals: FAILED)" if bad_plans else ""))
    text += explain_flags
    text.append("targets: " + ", ".join(f"{l}: {v}" for l, v in verdicts))
    print("\n".join(text))
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("\n".join(md) + "\n\n```\n" + "\n".join(text[2:]) + "\n```\n")
    return EXIT_SEQ_SCAN if bad_plans else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pgbench-row")
    p.add_argument("--label", required=True)
    p.add_argument("--logs", required=True)
    p.add_argument("--warmup", type=float, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--pg-cpu", type=float, nargs=2, required=True)
    p.add_argument("--client-cpu", type=float, required=True)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--load", default="")
    p = sub.add_parser("scan-row")
    p.add_argument("--label", required=True)
    p.add_argument("--before", required=True)
    p.add_argument("--after", required=True)
    p.add_argument("--results", required=True)
    p = sub.add_parser("handoff-row")
    p.add_argument("--label", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--handoffs", required=True)
    p.add_argument("--backlog", required=True)
    p.add_argument("--backlog-end", type=int, required=True)
    p.add_argument("--backlog-later", type=int, required=True)
    p.add_argument("--commits", type=int, nargs=2, required=True)
    p.add_argument("--seconds", type=float, default=0.0)
    p = sub.add_parser("table")
    p.add_argument("results")
    p.add_argument("--markdown")
    p.add_argument("--explain")
    p.add_argument("--rss")
    a = ap.parse_args()
    sys.exit({"pgbench-row": pgbench_row, "scan-row": scan_row, "handoff-row": handoff_row, "table": table}[a.cmd](a)
             or 0)


if __name__ == "__main__":
    main()

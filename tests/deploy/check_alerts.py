#!/usr/bin/env python3
"""check_alerts - the monitoring objects of deploy/monitoring, rendered offline with kubectl's kustomize:

  - a PodMonitor scraping port "metrics" of the pods labelled app.kubernetes.io/part-of: ltc-process-center;
  - the PrometheusRule's groups pass `promtool check rules` (Debian package prometheus);
  - every metric an alert's expression or a dashboard panel names is one the processes export: the families of
    common/src/metrics.c's exposition (its `# TYPE` lines, grpc_%s_ as both grpc_server_ and grpc_client_, histograms
    with _bucket, _sum and _count), or, with --scrape URL..., the families of live /metrics pages;
  - every alert has a severity, a summary and a runbook_url naming a section of docs/operations.md that exists.

Exits 77 (skipped) without kubectl or promtool.
"""
import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import yaml
from deploylib import REPO, check, failures


# PromQL words that are not metric names
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
            "inf", "nan"}


def exported_from_source():
    """Metric families the processes export, read from the exposition code."""
    text = (REPO / "common" / "src" / "metrics.c").read_text()
    fams = {}
    for name, kind in re.findall(r"# TYPE ([a-z_%]+) (counter|gauge|histogram)", text):
        for n in ([name.replace("%s", side) for side in ("server", "client")] if "%s" in name else [name]):
            fams[n] = kind
    return fams


def exported_from_scrape(urls):
    fams = {}
    for u in urls:
        body = urllib.request.urlopen(u, timeout=10).read().decode()
        for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M):
            fams[name] = kind
    return fams


def series_names(fams):
    names = set()
    for n, kind in fams.items():
        names.add(n)
        if kind == "histogram":
            names |= {n + "_bucket", n + "_sum", n + "_count"}
    return names


def metrics_in(expr):
    """The metric names a PromQL expression selects (label matchers, ranges, strings, groupings and functions
    removed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    out = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word in KEYWORDS:
            continue
        out.add(word)
    return out


def anchors(markdown):
    """GitHub's anchors of the headings of a Markdown text."""
    out = set()
    for h in re.findall(r"^#{1,6} (.+)$", markdown, re.M):
        a = re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        out.add(a)
    return out


def main():
    if not shutil.which("kubectl") or not shutil.which("promtool"):
        print("SKIPPED: needs kubectl and promtool (Debian: kubernetes-client, prometheus)", flush=True)
        return 77
    scrape = sys.argv[sys.argv.index("--scrape") + 1:] if "--scrape" in sys.argv else []
    p = subprocess.run(["kubectl", "kustomize", str(REPO / "deploy" / "monitoring")], capture_output=True, text=True)
    if not check(p.returncode == 0, f"kubectl kustomize deploy/monitoring failed:\n{p.stderr}"):
        return 1
    objs = [o for o in yaml.safe_load_all(p.stdout) if o]
    kinds = {o["kind"]: o for o in objs}
    pm = kinds.get("PodMonitor")
    if check(pm, "no PodMonitor"):
        check(pm["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/part-of": "ltc-process-center"},
              f"PodMonitor selector {pm['spec']['selector']}")
        eps = pm["spec"].get("podMetricsEndpoints", [])
        check(any(e.get("port") == "metrics" and e.get("path", "/metrics") == "/metrics" for e in eps),
              f"PodMonitor does not scrape port metrics at /metrics: {eps}")
    rule = kinds.get("PrometheusRule")
    if not check(rule, "no PrometheusRule"):
        return 1

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "rules.yaml"
        f.write_text(yaml.safe_dump(rule["spec"]))
        r = subprocess.run(["promtool", "check", "rules", str(f)], capture_output=True, text=True)
        check(r.returncode == 0, f"promtool check rules:\n{r.stdout}{r.stderr}")
        print(r.stdout.strip(), flush=True)

    fams = exported_from_source()
    check(len(fams) >= 10, f"too few metric families found in common/src/metrics.c: {sorted(fams)}")
    if scrape:
        live = exported_from_scrape(scrape)
        check(set(live) >= set(fams) - {"ltc_handoff_pending", "ltc_handoff_oldest_pending_age_seconds",
                                        "ltc_handoff_parked"},
              f"families in the source but not on the pages: {sorted(set(fams) - set(live))}")
        fams.update(live)
    known = series_names(fams)

    ops_anchors = anchors((REPO / "docs" / "operations.md").read_text())
    n = 0
    for g in rule["spec"]["groups"]:
        for rl in g["rules"]:
            name = rl.get("alert") or rl.get("record")
            used = metrics_in(rl["expr"])
            check(used, f"{name}: no metric found in {rl['expr']!r}")
            unknown = used - known
            check(not unknown, f"{name}: names metrics no process exports: {sorted(unknown)}")
            if "alert" in rl:
                n += 1
                check(rl.get("labels", {}).get("severity") in ("warning", "critical"), f"{name}: no severity")
                ann = rl.get("annotations", {})
                check(ann.get("summary"), f"{name}: no summary")
                url = ann.get("runbook_url", "")
                m = re.fullmatch(r"docs/operations\.md#([\w-]+)", url)
                check(m and m.group(1) == name.lower(), f"{name}: runbook_url {url!r} is not "
                                                        f"docs/operations.md#{name.lower()}")
                check(name.lower() in ops_anchors, f"{name}: docs/operations.md has no section '### {name}'")
    check(n >= 8, f"only {n} alerts")

    dash = next((o for o in objs if o["kind"] == "ConfigMap" and "grafana_dashboard" in o["metadata"].get("labels", {})),
                None)
    if check(dash, "no ConfigMap labelled grafana_dashboard"):
        board = json.loads(next(iter(dash["data"].values())))
        check(board.get("panels"), "the dashboard has no panels")
        for panel in board.get("panels", []):
            for t in panel.get("targets", []):
                unknown = metrics_in(t["expr"]) - known
                check(not unknown, f"dashboard panel {panel.get('title')!r} names unknown metrics {sorted(unknown)}")

    # the self-check of the extraction: a made-up name is caught
    check(metrics_in('sum by (app) (rate(no_such_metric_total{a="b"}[5m])) / on (x) up') ==
          {"no_such_metric_total", "up"}, "metrics_in does not find the names of an expression")
    print(f"{n} alerts, {len(known)} exported series names", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

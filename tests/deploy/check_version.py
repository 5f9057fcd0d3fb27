#!/usr/bin/env python3
"""check_version - one version in every binary, and --help that tells what each binary reads.

    check_version.py binaries BIN_DIR   each ltc-* binary: `--version` prints "ltc-<name> <version>" with the version
                                        of project(VERSION ...) in the top CMakeLists.txt; `--help` exits 0 with an
                                        empty environment (no TLS error), names its commands and lists exactly the
                                        variables docs/configuration.md says that binary reads (every one it lists
                                        is documented, every documented one is listed); a bad argument exits 2
    check_version.py running            against the deploy stack (ctest fixture; LTC_STATE_DIR, LTC_PORT_OFFSET):
                                        each process's first log line is "starting" with that version, and its
                                        /metrics holds ltc_build_info{version="<version>",service="<name>",...} 1
"""
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from deploylib import REPO, PORTS, check, failures

PROCS = ("ltb", "bto", "otd", "dtc", "gateway")
STAGES = PROCS[:4]


def project_version():
    m = re.search(r"project\(\s*\w+\s+VERSION\s+([0-9][0-9A-Za-z.+-]*)", (REPO / "CMakeLists.txt").read_text())
    if not m:
        sys.exit("no project(... VERSION x.y.z ...) in CMakeLists.txt")
    return m.group(1)


def documented():
    """{binary: set of variables} from the binaries' table of docs/configuration.md, plus every name documented
    (with <SVC> patterns as regexes), and the rows whose 'read by' could not be parsed."""
    text = (REPO / "docs" / "configuration.md").read_text()
    section = text.split("## The binaries", 1)[1].split("\n## ", 1)[0]
    reads = {p: set() for p in PROCS}
    names, unparsed = [], []
    for line in section.splitlines():
        if not line.startswith("| `LTC_"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        vars_ = re.findall(r"`(LTC_[A-Z0-9_<>]+)`", cells[0])
        read_by = cells[3]
        for v in vars_:
            names.append(re.compile("^" + re.escape(v).replace(re.escape("<SVC>"), "(LTB|BTO|OTD|DTC|GATEWAY)") + "$"))
        tokens = [t.strip() for t in read_by.split(",")]
        if read_by in ("that service", "that process"):
            for p in (STAGES if read_by == "that service" else PROCS):
                for v in vars_:
                    name = v.replace("<SVC>", p.upper())
                    if v == name and f"_{p.upper()}_" not in v:
                        continue  # "LTC_LTB_DSN, LTC_BTO_DSN, ...": each service reads its own
                    reads[p].add(name)
        elif read_by == "all":
            for p in PROCS:
                reads[p].update(vars_)
        elif all(t in PROCS for t in tokens):
            for t in tokens:
                reads[t].update(vars_)
        else:
            unparsed.append((vars_, read_by))
    return reads, names, unparsed


def check_binaries(bin_dir):
    version = project_version()
    reads, names, unparsed = documented()
    for vars_, read_by in unparsed:
        print(f"not checked (free-form 'read by'): {', '.join(vars_)}: {read_by[:60]}")
    for p in PROCS:
        exe = str(Path(bin_dir) / f"ltc-{p}")
        r = subprocess.run([exe, "--version"], env={}, capture_output=True, text=True, timeout=20)
        check(r.returncode == 0, f"ltc-{p} --version exits {r.returncode}: {r.stderr.strip()}")
        check(r.stdout.startswith(f"ltc-{p} {version} ("), f"ltc-{p} --version prints {r.stdout!r}, not 'ltc-{p} {version} (...'")
        r = subprocess.run([exe, "--help"], env={}, capture_output=True, text=True, timeout=20)
        check(r.returncode == 0 and not r.stderr, f"ltc-{p} --help exits {r.returncode} with {r.stderr.strip()!r}")
        out = r.stdout
        check(f"usage: ltc-{p} " in out and version in out, f"ltc-{p} --help has no usage line or version")
        flags = ["--health-probe", "--version", "--help"] + (["--migrate-only"] if p in STAGES else [])
        for f in flags:
            check(re.search(rf"^\s+{re.escape(f)}\s", out, re.M), f"ltc-{p} --help does not describe {f}")
        listed = set(re.findall(r"\bLTC_[A-Z0-9_]+", out))
        for v in sorted(listed):
            check(any(n.match(v) for n in names), f"ltc-{p} --help lists {v}, which docs/configuration.md does not document")
        for v in sorted(reads[p] - listed):
            check(False, f"docs/configuration.md says ltc-{p} reads {v}, its --help does not list it")
        # the peers' targets: each stage lists the ones it calls, the gateway all four
        targets = {v for v in listed if v.endswith("_TARGET")}
        check(targets and f"LTC_{p.upper()}_TARGET" not in targets, f"ltc-{p} --help lists targets {sorted(targets)}")
        r = subprocess.run([exe, "--no-such-flag"], env={}, capture_output=True, text=True, timeout=20)
        check(r.returncode == 2 and "usage:" in r.stderr, f"ltc-{p} --no-such-flag exits {r.returncode}, not 2 with usage")
        print(f"ltc-{p}: --version {version}, --help lists {len(listed)} variables", flush=True)


def check_running():
    version = project_version()
    state = Path(os.environ["LTC_STATE_DIR"])
    offset = int(os.environ.get("LTC_PORT_OFFSET", "0"))
    for p in PROCS:
        log = state / "logs" / f"{p}.log"
        # the log gathers every start of the process: the last start's first line is a "starting" line too
        starts = []
        for line in log.read_text(errors="replace").splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get("event") == "starting":
                starts.append(obj)
        first = None
        for line in log.read_text(errors="replace").splitlines():
            try:
                first = json.loads(line)
                break
            except ValueError:
                continue
        check(first is not None and first.get("event") == "starting",
              f"{p}: the first JSON line of {log} is {first}, not the 'starting' line")
        check(starts and f"ltc-{p} version={version} " in starts[-1].get("msg", ""),
              f"{p}: the 'starting' line has no 'ltc-{p} version={version}': {starts[-1] if starts else None}")
        url = f"http://127.0.0.1:{PORTS[p] + offset + 1000}/metrics"
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        m = re.search(r'^ltc_build_info\{([^}]*)\} (\S+)$', text, re.M)
        if check(m, f"{p}: no ltc_build_info sample at {url}"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            check(labels.get("version") == version and labels.get("service") == p and m.group(2) == "1",
                  f"{p}: ltc_build_info{{{m.group(1)}}} {m.group(2)}: want version={version}, service={p}, value 1")
            check(all(re.fullmatch(r"[0-9A-Za-z.+-]+", v) for v in labels.values()), f"{p}: label values {labels}")
            check("# TYPE ltc_build_info gauge" in text, f"{p}: ltc_build_info has no TYPE gauge line")
        print(f"{p}: first log line 'starting' with version {version}; {m.group(0) if m else '-'}", flush=True)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "binaries":
        check_binaries(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "running":
        check_running()
    else:
        sys.exit(__doc__)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

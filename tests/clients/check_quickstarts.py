#!/usr/bin/env python3
"""check_quickstarts - runs the quickstarts of docs/clients.md exactly as written, against a running secure stack.

Every fenced code block of docs/clients.md must be marked by the line before it:
    <!-- run -->               a shell block: run with bash (set -euo pipefail)
    <!-- file: NAME -->        written to NAME in the work folder (a program the next run block starts)
    <!-- not run: WHY -->      shown only (installation, a command another test runs), with the reason
An unmarked block fails the test, so no snippet goes untested by accident.

Each `## ` section with run blocks is one bash script: the blocks of "Before you start" (address, CA and token from
`scripts/stack client-env` and `scripts/stack token`), then the section's own, in a fresh work folder that looks
like the repository's root (proto/, scripts/, tools/ linked from the repository; node_modules from
tests/clients/node, the pinned client libraries). The environment: the test stack's (LTC_STATE_DIR,
LTC_PORT_OFFSET, set by ctest) and /usr/bin first on PATH (Debian's python3 with python3-grpcio). A section passes
when its script exits 0 and prints what the doc says it prints (EXPECT below).

    check_quickstarts.py [SECTION...]     default: every section with run blocks
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "clients.md"
PRELUDE = "Before you start"
# what each section's output must hold (regexes), beyond its exit status
EXPECT = {
    "buf curl": [r'"name":\s*"leads/[0-9a-f-]{36}"', r'"leads":\s*\['],
    "Python": [r"^created leads/[0-9a-f-]{36} LEAD_STATE_NEW$", r"^read Quickstart [0-9a-f]{8}$",
               r"^NOT_FOUND LEAD_NOT_FOUND request_id \S+$"],
    "Node": [r"^created leads/[0-9a-f-]{36} LEAD_STATE_NEW$", r"^NOT_FOUND "],
    "Go": [r"^created leads/[0-9a-f-]{36} LEAD_STATE_NEW$", r"^NotFound LEAD_NOT_FOUND request_id \S+$"],
}


def parse(text):
    """[(section, kind, arg, code)] for every fenced block; kind run/file/not-run."""
    blocks, section, lines, i = [], None, text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
            section = PRELUDE if section.startswith(PRELUDE) else section
        if line.startswith("```") and len(line) > 3:
            j = i + 1
            while j < len(lines) and lines[j] != "```":
                j += 1
            code = "\n".join(lines[i + 1:j]) + "\n"
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            marker = lines[k].strip() if k >= 0 else ""
            m = re.fullmatch(r"<!-- (run|file: (\S+)|not run: (.+)) -->", marker)
            if not m:
                sys.exit(f"{DOC}:{i + 1}: a code block without a <!-- run -->, <!-- file: NAME --> or "
                         f"<!-- not run: WHY --> marker")
            kind = "run" if m.group(1) == "run" else "file" if m.group(2) else "not-run"
            blocks.append((section, kind, m.group(2), code))
            i = j
        i += 1
    return blocks


def run_section(name, blocks, env):
    work = Path(tempfile.mkdtemp(prefix="ltc-quickstart-"))
    try:
        for sub in ("proto", "scripts", "tools"):
            (work / sub).symlink_to(REPO / sub)
        (work / "node_modules").symlink_to(REPO / "tests" / "clients" / "node" / "node_modules")
        script = ["set -euo pipefail"]
        for section, kind, arg, code in blocks:
            if section not in (PRELUDE, name) or kind == "not-run":
                continue
            if kind == "file":
                (work / arg).parent.mkdir(parents=True, exist_ok=True)
                (work / arg).write_text(code)
            else:
                script.append(code)
        r = subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env, capture_output=True, text=True,
                           timeout=600)
        out = r.stdout + r.stderr
        ok = r.returncode == 0
        missing = [p for p in EXPECT.get(name, []) if not re.search(p, r.stdout, re.M)]
        status = "ok" if ok and not missing else "FAIL"
        print(f"--- {name}: exit {r.returncode}, {status}", flush=True)
        print(out[-3000:], flush=True)
        if missing:
            print(f"FAIL: {name}: the output lacks {missing}", flush=True)
        return ok and not missing
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    blocks = parse(DOC.read_text())
    sections = [s for s in dict.fromkeys(b[0] for b in blocks if b[1] == "run") if s != PRELUDE]
    wanted = sys.argv[1:] or sections
    for w in wanted:
        if w not in sections:
            sys.exit(f"no section '{w}' with run blocks in {DOC} (sections: {sections})")
    env = dict(os.environ)
    env["PATH"] = "/usr/bin:/bin:" + env.get("PATH", "")
    for v in ("LTC_GATEWAY_TARGET", "LTC_CA_FILE", "LTC_TOKEN"):  # the prelude must set them itself
        env.pop(v, None)
    failed = [w for w in wanted if not run_section(w, blocks, env)]
    print(f"{len(wanted) - len(failed)}/{len(wanted)} quickstarts pass" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""check_access_table - the permission table (common/src/access.c) and the contract agree: every RPC the gateway
routes (the public services of proto/ltc/*/v1 and ltc.audit.v1.AuditService) has exactly one row, no row names an RPC
that does not exist, and no internal RPC (IntakeService hand-offs, HandoffAdminService) is in it: the gateway denies
what is not in the table, so a new public RPC without a row would be unreachable, and an internal one with a row would
be reachable by users.

    /usr/bin/python3 tests/contract/check_access_table.py      exit 0 when they agree
"""

import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INTERNAL = {"IntakeService", "HandoffAdminService", "CreditService"}   # CreditService: DTC's internal credit questions


def rpcs():
    """{"/pkg.Service/Method": internal?} of every proto under proto/ltc."""
    out = {}
    for f in sorted((ROOT / "proto" / "ltc").rglob("*.proto")):
        src = f.read_text()
        pkg = re.search(r"^package\s+([\w.]+)\s*;", src, re.M).group(1)
        for svc, body in re.findall(r"^service\s+(\w+)\s*\{(.*?)^\}", src, re.M | re.S):
            for method in re.findall(r"^\s*rpc\s+(\w+)\s*\(", body, re.M):
                out[f"/{pkg}.{svc}/{method}"] = svc in INTERNAL
    return out


def table():
    src = (ROOT / "common" / "src" / "access.c").read_text()
    macros = dict(re.findall(r'^#define\s+(\w+)\s+"([^"]*)"', src, re.M))
    body = src[src.index("ltc_access_table[] = {"):]
    body = body[:body.index("{NULL, 0}")]
    rows = []
    for prefix, rest in re.findall(r'\{\s*(?:(\w+)\s+)?"([^"]+)"\s*,', body):
        rows.append((macros[prefix] if prefix else "") + rest)
    return rows


def main():
    known, rows = rpcs(), table()
    findings = []
    for m, n in Counter(rows).items():
        if n > 1:
            findings.append(f"{m} has {n} rows in common/src/access.c")
    for m in rows:
        if m not in known:
            findings.append(f"access.c names {m}, which no proto defines")
        elif known[m]:
            findings.append(f"access.c lets users call the internal {m}")
    for m, internal in known.items():
        if not internal and m not in rows:
            findings.append(f"{m} has no row in common/src/access.c (the gateway would refuse every caller)")
    for f in findings:
        print(f)
    print(f"check_access_table: {len(rows)} rows, {sum(not i for i in known.values())} public RPCs, "
          f"{len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

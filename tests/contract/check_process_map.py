#!/usr/bin/python3
"""check_process_map - every RPC of proto/ is placed on the process map (docs/process-map.md), and the map names no
RPC the protos do not have.

An RPC is placed when the map has a table row whose L5 cell is its full name in backticks,
`ltc.<stage>.v1.<Service>/<Rpc>` (the package spells out which IntakeService). RPCs are read from every .proto under
proto/ltc (the vendored google/ protos are not LTC's); the roles of a public RPC come from its
(ltc.type.v1.access) option. When RPCs are missing (others added them since the map was written), the message lists
each as a row to paste into the L2 table of its stage and complete (L3, L4, L6), with the roles filled in.

    /usr/bin/python3 tests/contract/check_process_map.py      exit 0 when the map covers every RPC
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "docs" / "process-map.md"
DOT = ROOT / "docs" / "process-map.dot"
SVG = ROOT / "docs" / "process-map.svg"

SERVICE = re.compile(r"^service (\w+) \{(.*?)^\}", re.M | re.S)
RPC = re.compile(r"rpc (\w+)\s*\(\s*\w+\s*\)\s*returns\s*\(\s*\w+\s*\)\s*(\{(.*?)\n\s*\}|;)", re.S)


def proto_rpcs():
    """{full name: roles} of every RPC under proto/ltc."""
    out = {}
    for f in sorted((ROOT / "proto" / "ltc").rglob("*.proto")):
        text = f.read_text(encoding="utf-8")
        pkg = re.search(r"^package ([\w.]+);", text, re.M).group(1)
        for sm in SERVICE.finditer(text):
            for rm in RPC.finditer(sm.group(2)):
                roles = [r.lower() for r in re.findall(r"ROLE_(\w+)", rm.group(3) or "")]
                out[f"{pkg}.{sm.group(1)}/{rm.group(1)}"] = roles
    return out


def mapped_rpcs(text):
    """The RPC names in the L5 cells (third cell) of the map's table rows."""
    names = set()
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 5:
            m = re.fullmatch(r"`(ltc\.[\w.]+\.\w+/\w+)`", cells[2])
            if m:
                names.add(m.group(1))
    return names


def main():
    findings = []
    if not MAP.exists():
        print(f"{MAP.relative_to(ROOT)} is missing")
        return 1
    for f in (DOT, SVG):
        if not f.exists():
            findings.append(f"{f.relative_to(ROOT)} is missing (the picture's source and its rendering)")
    rpcs = proto_rpcs()
    placed = mapped_rpcs(MAP.read_text(encoding="utf-8"))
    missing = sorted(set(rpcs) - placed)
    unknown = sorted(placed - set(rpcs))
    for name in unknown:
        findings.append(f"docs/process-map.md places `{name}`, which no proto defines")
    if missing:
        findings.append(f"{len(missing)} RPC(s) of proto/ are not on docs/process-map.md; paste these rows into the "
                        "L2 table of their stage and fill in L3, L4 and the L6 tasks:")
        for name in missing:
            roles = ", ".join(rpcs[name]) if rpcs[name] else "service: <sender> (hand-off) or the internal caller"
            findings.append(f"| <L3> | <L4> | `{name}` | <state change · hand-off · milestone> | {roles} |")
    for f in findings:
        print(f)
    print(f"check_process_map: {len(rpcs)} RPCs in proto/, {len(placed & set(rpcs))} placed, "
          f"{len(missing)} missing, {len(unknown)} unknown")
    return 1 if (missing or unknown or findings) else 0


if __name__ == "__main__":
    sys.exit(main())

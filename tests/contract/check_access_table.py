#!/usr/bin/python3
"""check_access_table - the permission table lives in the contract, and it is complete: every RPC the gateway routes
(the public services of proto/ltc/*/v1 and ltc.audit.v1.AuditService) carries the (ltc.type.v1.access) method option
(proto/ltc/type/v1/access.proto) naming at least one role, and no internal RPC (IntakeService hand-offs,
HandoffAdminService) carries it. The build generates the C table the gateway and the stage services consult from
those options (proto/gen_access_table.py), and both deny what is not in it: a public RPC without the option would be
unreachable, an internal one with it would be reachable by users. Also: ltc.type.v1.Role and the roles of
common/include/ltc/access.h are the same (ROLE_<X> is LTC_ROLE_<X>, bit 1 << (number - 1)), and the table of
docs/security.md ("The permission table") shows exactly the roles of each RPC.

Read from the descriptors `buf build` makes of proto/ (no build products needed).
    /usr/bin/python3 tests/contract/check_access_table.py      exit 0 when they agree
"""

import re
import subprocess
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "tests" / "contract" / "buf.sh"
INTERNAL = {"IntakeService", "HandoffAdminService", "CreditService", "AvailabilityService"}  # CreditService: DTC's internal credit questions; AvailabilityService: OTD's available-to-promise for BTO
DOC_ROLES = ["sales", "solution", "fulfilment", "finance", "manager", "admin", "auditor"]  # docs/security.md columns

sys.path.insert(0, str(ROOT / "proto"))
import gen_access_table  # noqa: E402  (the generator's own reading of the option)


def build():
    p = subprocess.run([str(BUF), "build", "proto", "--exclude-imports", "-o", "-#format=binpb"], cwd=ROOT,
                       capture_output=True)
    if p.returncode != 0:
        sys.exit(f"buf build failed (exit {p.returncode}):\n{p.stderr.decode(errors='replace')}")
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(p.stdout)
    if not fds.file:
        sys.exit("buf build returned no files")
    return fds


def c_roles():
    """{"SALES": bit} of the LTC_ROLE_* enum of common/include/ltc/access.h."""
    src = (ROOT / "common" / "include" / "ltc" / "access.h").read_text()
    return {n: 1 << int(b) for n, b in re.findall(r"^\s*LTC_ROLE_(\w+)\s*=\s*1u\s*<<\s*(\d+)\s*,", src, re.M)}


def doc_table():
    """{"/LeadToBidService/CreateLead" short path: {role names}} of docs/security.md's permission table."""
    rows = {}
    for svc_method, cells in re.findall(r"^\|\s*`(\w+/\w+)`\s*\|(.*)\|\s*$", (ROOT / "docs" / "security.md").read_text(),
                                        re.M):
        marks = [c.strip() for c in cells.split("|")]
        if len(marks) != len(DOC_ROLES):
            continue
        rows[svc_method] = {r for r, m in zip(DOC_ROLES, marks) if m == "✓"}
    return rows


def main():
    fds = build()
    rules, findings = gen_access_table.access_rules(fds)
    public = 0
    for path, roles, fname in rules:
        svc = path.split("/")[1].rsplit(".", 1)[1]
        if svc in INTERNAL:
            if roles is not None:
                findings.append(f"proto/{fname}: the internal {path} has (ltc.type.v1.access): users could call it")
            continue
        public += 1
        if roles is None:
            findings.append(f"proto/{fname}: {path} has no (ltc.type.v1.access) option (the gateway would refuse "
                            "every caller)")

    names = gen_access_table.role_names(fds)
    proto_roles = {name: 1 << (number - 1) for number, name in names.items() if number}
    if proto_roles != c_roles():
        findings.append(f"ltc.type.v1.Role {proto_roles} and common/include/ltc/access.h {c_roles()} differ")

    doc = doc_table()
    want = {path.split(".")[-1]: {r.lower() for r in roles} for path, roles, _ in rules if roles is not None}
    for m in sorted(set(doc) | set(want)):
        if m not in doc:
            findings.append(f"docs/security.md: the permission table has no row for {m}")
        elif m not in want:
            findings.append(f"docs/security.md: the permission table shows {m}, which no (ltc.type.v1.access) names")
        elif doc[m] != want[m]:
            findings.append(f"docs/security.md: {m} shows {sorted(doc[m])}, the contract says {sorted(want[m])}")

    for f in findings:
        print(f)
    print(f"check_access_table: {public} public RPCs, {sum(r is not None for _, r, _ in rules)} with access options, "
          f"{len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

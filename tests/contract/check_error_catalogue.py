#!/usr/bin/python3
"""check_error_catalogue - every ErrorInfo reason the code can produce is in docs/errors.md, with its status code,
and the catalogue lists no reason the code no longer produces.

Reasons come from the C sources of services/, common/ and bench/src/ (.c and .h):
- `ltc_status_set(st, LTC_<CODE>, "<REASON>", ...)`: the reason with that code (calls may span lines);
- `ltc_status_set(st, LTC_<CODE>, NULL, ...)`: the reason is the code's own name (status.c does so);
- `ltc_status_bad_field(...)`: reason INVALID_ARGUMENT, code INVALID_ARGUMENT.
A call whose reason is neither a literal nor NULL cannot be checked and is a finding; a NULL reason with a computed
code (a peer's status passed on without details) is covered by the catalogue's rule for generic reasons.

docs/errors.md lists reasons in Markdown table rows whose first cell is the reason in backticks and whose second
cell holds its code(s) in backticks: | `LEAD_NOT_FOUND` | `NOT_FOUND` | meaning |

    /usr/bin/python3 tests/contract/check_error_catalogue.py      exit 0 when the catalogue matches the code
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "errors.md"
SOURCES = ("services", "common", "bench/src")

STRING = r'"(?:[^"\\]|\\.)*"'
# ltc_status_set(<status>, <code>, <reason literal or NULL or anything else>, ...
CALL = re.compile(r"\bltc_status_set\s*\(\s*([^,()]+(?:\([^()]*\))?[^,()]*),\s*([^,]+?),\s*"
                  r"(" + STRING + r"|[^,]+?)\s*,", re.S)
BAD_FIELD = re.compile(r"\bltc_status_bad_field\s*\(")
ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|([^|]*)\|")
CODE = re.compile(r"`([A-Z_]+)`")


def strip_comments(text):
    """C source without comments (keeping line numbers), so that examples in comments are not counted."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r"/\*.*?\*/|//[^\n]*", blank, text, flags=re.S)


def reasons_in_code():
    """{reason: {code: [file:line, ...]}} and a list of findings."""
    found = defaultdict(lambda: defaultdict(list))
    findings = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix not in (".c", ".h") or not path.is_file():
                continue
            text = strip_comments(path.read_text(errors="replace"))
            rel = path.relative_to(ROOT)
            for m in CALL.finditer(text):
                first, code, reason = m.group(1).strip(), m.group(2).strip(), m.group(3).strip()
                where = f"{rel}:{text.count(chr(10), 0, m.start()) + 1}"
                if "ltc_status *" in first or "ltc_status*" in first:
                    continue                     # the declaration or definition itself
                if reason == "NULL":
                    if re.fullmatch(r"LTC_[A-Z_]+", code):
                        found[code[4:]][code[4:]].append(where)
                    # a computed code with no reason: a peer's status passed on, covered by the generic rule
                    continue
                if not reason.startswith('"'):
                    findings.append(f"{where}: reason `{reason}` is not a string literal: the catalogue cannot be "
                                    "checked (use a literal)")
                    continue
                name = reason.strip('"')
                if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
                    findings.append(f"{where}: reason {reason} is not UPPER_SNAKE")
                if not re.fullmatch(r"LTC_[A-Z_]+", code):
                    findings.append(f"{where}: reason {name} with a computed code `{code}`: use an LTC_ constant")
                    continue
                found[name][code[4:]].append(where)
            for m in BAD_FIELD.finditer(text):
                if "ltc_status *" in text[m.end():m.end() + 40]:
                    continue
                found["INVALID_ARGUMENT"]["INVALID_ARGUMENT"].append(
                    f"{rel}:{text.count(chr(10), 0, m.start()) + 1}")
    return found, findings


def reasons_in_catalogue():
    """{reason: {codes}} from docs/errors.md, and findings (duplicates)."""
    if not CATALOGUE.exists():
        sys.exit(f"{CATALOGUE.relative_to(ROOT)} does not exist")
    listed, findings = {}, []
    for n, line in enumerate(CATALOGUE.read_text().splitlines(), 1):
        m = ROW.match(line.strip())
        if not m:
            continue
        reason, codes = m.group(1), set(CODE.findall(m.group(2)))
        if reason in listed:
            findings.append(f"docs/errors.md:{n}: {reason} is listed twice")
        if not codes:
            findings.append(f"docs/errors.md:{n}: {reason} has no code in backticks in its second cell")
        listed[reason] = codes
    return listed, findings


def main():
    code_reasons, findings = reasons_in_code()
    listed, more = reasons_in_catalogue()
    findings += more
    for reason in sorted(code_reasons):
        codes = code_reasons[reason]
        where = ", ".join(sorted({w for ws in codes.values() for w in ws})[:3])
        if reason not in listed:
            findings.append(f"{reason} ({'/'.join(sorted(codes))}, used at {where}) is missing from docs/errors.md")
            continue
        for code in sorted(codes):
            if code not in listed[reason]:
                findings.append(f"{reason} is used with {code} ({', '.join(codes[code][:3])}) but docs/errors.md "
                                f"gives {', '.join(sorted(listed[reason])) or 'no code'}")
    for reason in sorted(set(listed) - set(code_reasons)):
        findings.append(f"docs/errors.md lists {reason}, which no code produces any more: remove it")
    if findings:
        for f in findings:
            print(f)
        print(f"check_error_catalogue: {len(findings)} finding(s)")
        return 1
    n_sites = sum(len(ws) for codes in code_reasons.values() for ws in codes.values())
    print(f"check_error_catalogue: {len(code_reasons)} reasons ({n_sites} call sites) all in docs/errors.md with "
          "their codes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

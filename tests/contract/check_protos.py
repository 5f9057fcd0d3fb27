#!/usr/bin/python3
"""check_protos - the API design rules of docs/api.md and api-style.md that buf's STANDARD lint does not cover,
checked on the descriptors `buf build` makes of proto/ (the vendored proto/google/ excluded), with source info:

1. every service, RPC, message, field, enum, enum value and oneof has a leading comment (the API reference);
2. every public RPC that is not a Get or List (creating, updating or changing state) takes a string `request_id`
   (AIP-155); every IntakeService RPC takes a string `handoff_id`;
3. every List RPC takes int32 `page_size` and string `page_token` and answers a string `next_page_token` (AIP-158);
4. every Update RPC takes the resource, a google.protobuf.FieldMask `update_mask` and `request_id`, and the resource
   has a string `etag` (AIP-134, AIP-154);
5. no float or double field anywhere (money is ltc.type.v1.Money, never floating point);
6. every enum's zero value is <ENUM>_UNSPECIFIED (buf checks it too; kept here so the rule list is complete);
7. docs/api.md, the API reference, has a section per service (a heading with its full name in backticks) that names
   each of its RPCs in backticks.

Exit 0 when all hold; otherwise one line per finding (file:line: what) and exit 1.
    /usr/bin/python3 tests/contract/check_protos.py
"""

import re
import subprocess
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "tests" / "contract" / "buf.sh"
FD = descriptor_pb2.FieldDescriptorProto

# Field numbers of the descriptor messages, for SourceCodeInfo paths.
FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 4, 5, 6
MSG_FIELD, MSG_NESTED, MSG_ENUM, MSG_ONEOF = 2, 3, 4, 8
ENUM_VALUE = 2
SERVICE_METHOD = 2


def build():
    """The FileDescriptorSet of our own files (no imports), with source info, from `buf build`."""
    p = subprocess.run([str(BUF), "build", "proto", "--exclude-imports", "-o", "-#format=binpb"], cwd=ROOT,
                       capture_output=True)
    if p.returncode != 0:
        sys.exit(f"buf build failed (exit {p.returncode}):\n{p.stderr.decode(errors='replace')}")
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(p.stdout)
    if not fds.file:
        sys.exit("buf build returned no files")
    return fds


class Checker:
    def __init__(self, fds):
        self.findings = []
        self.messages = {}          # ".pkg.Name" -> DescriptorProto
        for f in fds.file:
            for m in f.message_type:
                self._index(f"." + f.package, m)
        self.fds = fds

    def _index(self, prefix, m):
        full = f"{prefix}.{m.name}"
        self.messages[full] = m
        for n in m.nested_type:
            self._index(full, n)

    def find(self, f, path, what):
        loc = self.locations.get(tuple(path))
        line = loc.span[0] + 1 if loc is not None else 0
        self.findings.append(f"proto/{f.name}:{line}: {what}")

    # --- 1. comments ---------------------------------------------------------------------------------------

    def comment(self, f, path, what):
        loc = self.locations.get(tuple(path))
        if loc is None or not loc.leading_comments.strip():
            self.find(f, path, f"{what} has no comment")

    def comments_message(self, f, m, path, prefix):
        name = f"{prefix}.{m.name}"
        self.comment(f, path, f"message {name}")
        for i, fld in enumerate(m.field):
            self.comment(f, path + [MSG_FIELD, i], f"field {name}.{fld.name}")
        for i, o in enumerate(m.oneof_decl):
            self.comment(f, path + [MSG_ONEOF, i], f"oneof {name}.{o.name}")
        for i, n in enumerate(m.nested_type):
            if not n.options.map_entry:
                self.comments_message(f, n, path + [MSG_NESTED, i], name)
        for i, e in enumerate(m.enum_type):
            self.comments_enum(f, e, path + [MSG_ENUM, i], name)

    def comments_enum(self, f, e, path, prefix):
        name = f"{prefix}.{e.name}"
        self.comment(f, path, f"enum {name}")
        for i, v in enumerate(e.value):
            self.comment(f, path + [ENUM_VALUE, i], f"enum value {v.name}")

    # --- 2.-6. design rules --------------------------------------------------------------------------------

    @staticmethod
    def field(m, name):
        for fld in m.field:
            if fld.name == name:
                return fld
        return None

    def need_field(self, f, path, m, name, ftype, type_name=None, why=""):
        fld = self.field(m, name)
        if fld is None or fld.type != ftype or (type_name and fld.type_name != type_name) or \
                fld.label == FD.LABEL_REPEATED:
            want = type_name or FD.Type.Name(ftype)[5:].lower()
            self.find(f, path, f"{m.name} needs a field `{want} {name}`{why}")
            return None
        return fld

    def check_method(self, f, svc, k, meth):
        path = [FILE_SERVICE, list(f.service).index(svc), SERVICE_METHOD, k]
        req = self.messages.get(meth.input_type)
        resp = self.messages.get(meth.output_type)
        if req is None or resp is None:
            self.find(f, path, f"{svc.name}.{meth.name}: request or response is not one of our messages")
            return
        rpc = meth.name
        if svc.name == "IntakeService":
            self.need_field(f, path, req, "handoff_id", FD.TYPE_STRING, why=" (hand-off idempotency)")
        elif rpc.startswith("List"):
            self.need_field(f, path, req, "page_size", FD.TYPE_INT32, why=" (AIP-158)")
            self.need_field(f, path, req, "page_token", FD.TYPE_STRING, why=" (AIP-158)")
            self.need_field(f, path, resp, "next_page_token", FD.TYPE_STRING, why=" (AIP-158)")
        elif rpc.startswith("Get"):
            pass
        else:
            self.need_field(f, path, req, "request_id", FD.TYPE_STRING, why=" (AIP-155 idempotency)")
        if rpc.startswith("Update"):
            resource = rpc[len("Update"):]
            snake = "".join("_" + ch.lower() if ch.isupper() else ch for ch in resource).lstrip("_")
            res_field = self.need_field(f, path, req, snake, FD.TYPE_MESSAGE, why=" (AIP-134)")
            self.need_field(f, path, req, "update_mask", FD.TYPE_MESSAGE, ".google.protobuf.FieldMask",
                            " (AIP-134)")
            if res_field is not None:
                res = self.messages.get(res_field.type_name)
                if res is not None and self.field(res, "etag") is None:
                    self.find(f, path, f"{res.name} is updated by {rpc} but has no `string etag` (AIP-154)")

    def no_floats(self, f, m, path, prefix):
        name = f"{prefix}.{m.name}"
        for i, fld in enumerate(m.field):
            if fld.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
                self.find(f, path + [MSG_FIELD, i], f"field {name}.{fld.name} is floating point (use Money or an "
                                                    "integer in named units)")
        for i, n in enumerate(m.nested_type):
            self.no_floats(f, n, path + [MSG_NESTED, i], name)

    def enum_zero(self, f, e, path, name):
        snake = "".join("_" + ch if ch.isupper() else ch for ch in e.name).lstrip("_").upper()
        if not e.value or e.value[0].number != 0 or e.value[0].name != f"{snake}_UNSPECIFIED":
            self.find(f, path, f"enum {name}: the zero value must be {snake}_UNSPECIFIED")

    def run(self):
        for f in self.fds.file:
            self.locations = {tuple(loc.path): loc for loc in f.source_code_info.location}
            if not self.locations:
                self.findings.append(f"proto/{f.name}: no source info (buf build dropped the comments?)")
                continue
            pkg = "." + f.package
            for i, m in enumerate(f.message_type):
                self.comments_message(f, m, [FILE_MESSAGE, i], pkg)
                self.no_floats(f, m, [FILE_MESSAGE, i], pkg)
                for j, e in enumerate(m.enum_type):
                    self.enum_zero(f, e, [FILE_MESSAGE, i, MSG_ENUM, j], f"{pkg}.{m.name}.{e.name}")
            for i, e in enumerate(f.enum_type):
                self.comments_enum(f, e, [FILE_ENUM, i], pkg)
                self.enum_zero(f, e, [FILE_ENUM, i], f"{pkg}.{e.name}")
            for i, svc in enumerate(f.service):
                self.comment(f, [FILE_SERVICE, i], f"service {pkg}.{svc.name}")
                for k, meth in enumerate(svc.method):
                    self.comment(f, [FILE_SERVICE, i, SERVICE_METHOD, k], f"rpc {pkg}.{svc.name}.{meth.name}")
                    self.check_method(f, svc, k, meth)
        return self.findings


def check_api_doc(fds):
    """Rule 7: every service has a section in docs/api.md (a heading with its full name in backticks) that names
    each of its RPCs in backticks before the next service's heading."""
    doc = ROOT / "docs" / "api.md"
    if not doc.exists():
        return ["docs/api.md does not exist"]
    text = doc.read_text()
    findings = []
    services = [(f"{f.package}.{s.name}", s) for f in fds.file for s in f.service]
    starts = {}
    for full, _ in services:
        m = re.search(r"^#+ .*`" + re.escape(full) + "`", text, re.M)
        if not m:
            findings.append(f"docs/api.md has no heading naming the service `{full}`")
        else:
            starts[full] = m.start()
    for full, svc in services:
        if full not in starts:
            continue
        # the service's section: from its name to the next service named after it
        later = [i for i in starts.values() if i > starts[full]]
        section = text[starts[full]:min(later) if later else len(text)]
        for m in svc.method:
            if f"`{m.name}`" not in section:
                findings.append(f"docs/api.md: the section of `{full}` does not document `{m.name}`")
    return findings


def main():
    fds = build()
    findings = Checker(fds).run() + check_api_doc(fds)
    n_files = len(fds.file)
    n_rpcs = sum(len(s.method) for f in fds.file for s in f.service)
    if findings:
        for line in findings:
            print(line)
        print(f"check_protos: {len(findings)} finding(s) in {n_files} files")
        return 1
    print(f"check_protos: {n_files} files, {n_rpcs} RPCs: every element commented, request_id / handoff_id, "
          "pagination, update_mask + etag, no floating point, *_UNSPECIFIED zero values, all in docs/api.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""gen_access_table - the permission table (ltc_access_table of ltc/access.h) generated from the contract.

Who may call a public RPC lives with the RPC, in proto/: its (ltc.type.v1.access) method option
(proto/ltc/type/v1/access.proto) lists the roles allowed. At build time (proto/CMakeLists.txt) this script reads the
descriptor set protoc makes of the contract (build/gen/ltc_descriptor_set.pb, --include_imports) and writes the C
rows the gateway and the stage services look methods up in (ltc_access_roles, common/src/access.c):

    {"/ltc.ltb.v1.LeadToBidService/CreateLead", LTC_ROLE_SALES | LTC_ROLE_MANAGER | LTC_ROLE_ADMIN},

Role ROLE_<X> of the proto is LTC_ROLE_<X> of ltc/access.h (a role missing there fails the C build). A method
without the option has no row: nobody may call it through the gateway (deny by default); tests/contract/
check_access_table.py checks that every public RPC has it and no internal one does.

    /usr/bin/python3 proto/gen_access_table.py DESCRIPTOR_SET OUT.c      exit 1 (no output) on a bad option
"""

import os
import sys

from google.protobuf import descriptor_pb2

ACCESS_FIELD = 50001          # extend google.protobuf.MethodOptions { MethodAccess access = 50001; }
ROLE_ENUM = "ltc.type.v1.Role"


def _varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf):
    """(number, wire type, value) of each field of a serialized message: an int for varints, bytes for
    length-delimited fields (the option is read from the wire, so it needs no generated code nor descriptor pool)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire} in an option")
        yield number, wire, value


def method_roles(method):
    """The role numbers of a MethodDescriptorProto's (ltc.type.v1.access) option, or None when it has none."""
    if not method.HasField("options"):
        return None
    roles, found = [], False
    for number, wire, value in _fields(method.options.SerializeToString()):
        if number != ACCESS_FIELD or wire != 2:
            continue
        found = True
        for n, w, v in _fields(value):              # MethodAccess
            if n != 1:
                continue
            if w == 0:                               # repeated Role, unpacked
                roles.append(v)
            elif w == 2:                             # packed
                j = 0
                while j < len(v):
                    r, j = _varint(v, j)
                    roles.append(r)
    return roles if found else None


def role_names(fds):
    """{number: "SALES"} of ltc.type.v1.Role."""
    for f in fds.file:
        for e in f.enum_type:
            if f"{f.package}.{e.name}" == ROLE_ENUM:
                return {v.number: v.name[len("ROLE_"):] for v in e.value}
    sys.exit(f"gen_access_table: no enum {ROLE_ENUM} in the descriptor set")


def access_rules(fds):
    """([(path, [role names] or None without the option, file name)] of every RPC of the set, [problems]): an option
    naming no role, ROLE_UNSPECIFIED or a number that is not a Role is a problem."""
    names = role_names(fds)
    rules, bad = [], []
    for f in fds.file:
        for s in f.service:
            for m in s.method:
                path = f"/{f.package}.{s.name}/{m.name}"
                roles = method_roles(m)
                if roles is not None:
                    if not roles:
                        bad.append(f"proto/{f.name}: {path}: (ltc.type.v1.access) names no role")
                    for r in roles:
                        if r not in names or r == 0:
                            bad.append(f"proto/{f.name}: {path}: (ltc.type.v1.access) names role {names.get(r, r)}")
                    roles = [names[r] for r in sorted(set(roles)) if r in names and r != 0]
                rules.append((path, roles, f.name))
    return rules, bad


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: gen_access_table.py DESCRIPTOR_SET OUT.c")
    fds = descriptor_pb2.FileDescriptorSet()
    with open(argv[1], "rb") as f:
        fds.ParseFromString(f.read())
    rules, bad = access_rules(fds)
    if bad:
        sys.exit("gen_access_table: " + "\n".join(bad))
    rows = [(p, r) for p, r, _ in rules if r is not None]
    out = ["/* ltc_access_table.c - GENERATED at build time by proto/gen_access_table.py from the (ltc.type.v1.access)",
           " * options of the contract (proto/): do not edit. The roles allowed to call each public RPC; ltc/access.h. */",
           '#include "ltc/access.h"', "", "#include <stddef.h>", "",
           "const ltc_access_rule ltc_access_table[] = {"]
    for path, roles in rows:
        out.append(f'    {{"{path}", {" | ".join("LTC_ROLE_" + r for r in roles)}}},')
    out += ["    {NULL, 0},", "};", ""]
    text = "\n".join(out)
    with open(argv[2] + ".tmp", "w") as f:
        f.write(text)
    os.replace(argv[2] + ".tmp", argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/python3
"""gen_seeds - writes the seed corpus of every fuzz target into tests/fuzz/corpus/<target>/ (committed files).

    /usr/bin/python3 tests/fuzz/gen_seeds.py [--out DIR] [--check BUILD_FUZZ_DIR]

Service targets (ltb, bto, otd, dtc): one file per method and variant, "<Method>-<variant>": the first byte is the
method's index in the service's method table sorted by path (as tests/fuzz/fuzz_service.c sorts it), the rest a
request serialized with the Python protobuf classes generated from proto/ (ltc_client.py): "full" fills every field
with plausible values (names of the right collection with UUIDs, CNY amounts, real dates, payment terms adding up to
100%), "empty" is the empty message, "page" a List request with a real page token. Values are deterministic
(UUIDs derived from the method and field), so regenerating gives the same files.
--check runs each built service target with LTC_FUZZ_LIST_METHODS=1 and fails when its method table differs from
the one computed here from the protos (a method added to a service without regenerating the seeds).
The other targets get hand-made seeds for their input layouts (see each fuzz_*.c).
"""

import argparse
import base64
import hashlib
import os
import struct
import subprocess
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.dont_write_bytecode = True
os.environ.setdefault("LTC_PYGEN_DIR", f"/tmp/ltc-fuzz-pygen-{os.getuid()}")
sys.path.insert(0, str(REPO / "tests" / "clients" / "python"))
import ltc_client as lc  # noqa: E402
from google.protobuf import descriptor as pbd  # noqa: E402

SERVICES = {"ltb": lc.ltb, "bto": lc.bto, "otd": lc.otd, "dtc": lc.dtc}
COLLECTIONS = {"lead": "leads", "opportunity": "opportunities", "bid": "bids", "won_bid": "bids", "deal": "deals",
               "quote": "quotes", "contract": "contracts", "order": "orders", "product": "products",
               "resource": "resources", "shipment": "shipments", "invoice": "invoices", "payment": "payments",
               "order_account": "orderAccounts"}
# The resource a method's `name` field names, by keyword in the method name (first match).
NAME_OF = [("OrderAccount", "orderAccounts"), ("Acceptance", "shipments"), ("Shipment", "shipments"),
           ("Lead", "leads"), ("Opportunit", "opportunities"), ("Bid", "bids"), ("Deal", "deals"),
           ("Quote", "quotes"), ("Contract", "contracts"), ("Order", "orders"), ("Product", "products"),
           ("Resource", "resources"), ("Invoice", "invoices"), ("Payment", "payments")]
FD = pbd.FieldDescriptor


def det_uuid(*parts):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "ltc-fuzz:" + "/".join(parts)))


def page_token(seq):
    return base64.urlsafe_b64encode(f"v1:{seq}".encode()).decode().rstrip("=")


class Filler:
    def __init__(self, method):
        self.method = method

    def collection_for_name(self):
        for kw, coll in NAME_OF:
            if kw in self.method:
                return coll
        return "leads"

    def string(self, field, path):
        n = field.name
        if n in ("request_id", "handoff_id"):
            return det_uuid(self.method, path)
        if n == "name":
            return f"{self.collection_for_name()}/{det_uuid(self.method, path)}"
        if n in COLLECTIONS:
            return f"{COLLECTIONS[n]}/{det_uuid(self.method, path)}"
        if n == "currency_code":
            return "CNY"
        if n == "page_token":
            return page_token(42)
        if "email" in n:
            return "wang.fang@huaxin.example"
        if "phone" in n:
            return "+86 21 5555 0100"
        if n == "sku":
            return "SKU-FUZZ-1"
        if n in ("code",):
            return "THROUGHPUT"
        return "Huaxin Logistics 华信物流"

    def scalar(self, field):
        n = field.name
        if field.type == FD.TYPE_BOOL:
            return True
        if field.type == FD.TYPE_ENUM:
            vals = [v.number for v in field.enum_type.values if v.number != 0]
            return vals[0] if vals else 0
        if field.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
            return 1.5
        if field.type == FD.TYPE_BYTES:
            return b"seed"
        return {"page_size": 10, "share_bps": 5000, "win_probability_bps": 6000, "discount_bps": 1000,
                "due_days": 30, "daily_capacity": 10, "lead_time_days": 5, "quantity": 3, "version": 1,
                "units": 1234, "nanos": 500000000, "year": 2030, "month": 6, "day": 15,
                "seconds": 1900000000}.get(n, 2)

    def fill(self, msg, path="", depth=0):
        full = msg.DESCRIPTOR.full_name
        if full == "ltc.type.v1.Money":
            msg.CopyFrom(lc.money(123450, "CNY"))
            return msg
        if full == "ltc.type.v1.Date":
            msg.year, msg.month, msg.day = 2030, 6, 15
            return msg
        if full == "google.protobuf.Timestamp":
            msg.seconds = 1900000000
            return msg
        if depth > 4:
            return msg
        for f in msg.DESCRIPTOR.fields:
            p = f"{path}.{f.name}" if path else f.name
            if f.containing_oneof is not None and f.containing_oneof.fields[0] is not f:
                continue   # one member of a oneof
            repeated = f.label == FD.LABEL_REPEATED
            if f.type == FD.TYPE_MESSAGE:
                if f.message_type.GetOptions().map_entry:
                    continue
                if repeated:
                    for k in range(2):
                        self.fill(getattr(msg, f.name).add(), f"{p}[{k}]", depth + 1)
                else:
                    self.fill(getattr(msg, f.name), p, depth + 1)
            elif f.type == FD.TYPE_STRING:
                v = self.string(f, p)
                if repeated:
                    getattr(msg, f.name).extend([v, v + "-2"])
                else:
                    setattr(msg, f.name, v)
            else:
                v = self.scalar(f)
                if repeated:
                    getattr(msg, f.name).extend([v, v])
                else:
                    setattr(msg, f.name, v)
        return msg


def service_methods(svc):
    """[(path, method descriptor)] of the public and the intake service of `svc`, sorted by path (bytewise, as
    strcmp sorts them in fuzz_service.c)."""
    ns = SERVICES[svc]
    out = []
    for mod in ns.modules:
        for s in mod.DESCRIPTOR.services_by_name.values():
            for m in s.methods:
                out.append((f"/{s.full_name}/{m.name}", m))
    return sorted(out, key=lambda x: x[0].encode())


def message_class(desc):
    from google.protobuf import message_factory
    try:
        return message_factory.GetMessageClass(desc)
    except AttributeError:   # protobuf < 4
        return message_factory.MessageFactory().GetPrototype(desc)


def write(out, name, data):
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(data)


def gen_services(root):
    listing = {}
    for svc in SERVICES:
        methods = service_methods(svc)
        listing[svc] = [p for p, _ in methods]
        d = root / svc
        for idx, (path, m) in enumerate(methods):
            cls = message_class(m.input_type)
            name = m.name
            write(d, f"{name}-empty", bytes([idx]))
            write(d, f"{name}-full", bytes([idx]) + Filler(name).fill(cls()).SerializeToString())
            fields = {f.name for f in m.input_type.fields}
            if "page_token" in fields:
                msg = cls(page_size=2, page_token=page_token(7))
                write(d, f"{name}-page", bytes([idx]) + msg.SerializeToString())
            if "request_id" in fields or "handoff_id" in fields:
                # the key alone: the idempotency checks before the handler
                msg = cls()
                setattr(msg, "request_id" if "request_id" in fields else "handoff_id", det_uuid(name, "key"))
                write(d, f"{name}-keyonly", bytes([idx]) + msg.SerializeToString())
    return listing


def gen_parsers(d):
    for seq in (1, 42, 1000000, 9223372036854775807):
        write(d, f"page-{seq}", b"\x00" + bytes([10, 0, 0, 0]) + page_token(seq).encode())
    for name, tok in (("empty", b""), ("padded", page_token(42).encode() + b"=="), ("leading-zero",
                      base64.urlsafe_b64encode(b"v1:007").rstrip(b"=")), ("size-0", page_token(5).encode())):
        write(d, f"page-{name}", b"\x00" + (b"\x00\x00\x00\x00" if name == "size-0" else b"\x05\x00\x00\x00") + tok)
    write(d, "page-size-big", b"\x00" + b"\xff\x00\x10\x00" + page_token(3).encode())
    colls = ["leads", "opportunities", "bids", "deals", "quotes", "contracts", "orders", "products", "resources",
             "shipments", "invoices", "orderAccounts", "payments"]
    for i, c in enumerate(colls):
        write(d, f"name-{c}", b"\x01" + bytes([i]) + f"{c}/{det_uuid('name', c)}".encode())
    write(d, "name-upper", b"\x01\x00" + f"leads/{det_uuid('upper').upper()}".encode())
    write(d, "name-wrong", b"\x01\x01" + f"leads/{det_uuid('wrong')}".encode())
    write(d, "name-trailing", b"\x01\x00" + f"leads/{det_uuid('t')}/x".encode())
    texts = ["Huaxin Logistics".encode(), "华信物流有限公司".encode(), b"", b"a" * 130, "Ünïcödé ✓ 𝄞".encode(),
             b"bad \xff utf8", b"overlong \xc0\xaf", b"surrogate \xed\xa0\x80"]
    for k, text in enumerate(texts):
        write(d, f"text-{k}", b"\x02" + bytes([(k * 37) & 0xff | 1]) + text)
    for y, m, dd, fl in ((2030, 6, 15, 0), (2024, 2, 29, 0), (2023, 2, 29, 0), (0, 0, 0, 2), (9999, 12, 31, 0),
                         (10000, 1, 1, 0)):
        write(d, f"date-{y}-{m}-{dd}", b"\x03" + struct.pack(">iii", y, m, dd) + bytes([fl, 0]))


def gen_config(d):
    for k, (lo, hi, v) in enumerate([(0, 6, "8"), (1, 6, "4194304"), (0, 4, "-5"), (0, 6, " 8"), (0, 6, "0x10"),
                                     (0, 6, "99999999999999999999"), (0, 6, ""), (7, 6, "+42")]):
        write(d, f"envint-{k}", b"\x00" + bytes([lo, hi]) + v.encode())
    for k, a in enumerate(["127.0.0.1:50051", "[::1]:50061", "0.0.0.0:1", "ltb.internal:50061", "bto:0",
                           "999.1.1.1:80", "::1:80", "[fe80::1%eth0]:80", "host_name.svc.cluster.local.:65535",
                           "-bad-.x:1", ":50051"]):
        write(d, f"addr-{k}", b"\x01" + a.encode())
    for k, dsn in enumerate(["host=127.0.0.1 port=5432 dbname=ltc user=ltc_bto password=s3cr3t",
                             "host=db password='with spaces and \\' quote' user=x",
                             "password=abc",
                             "postgresql://ltc_bto:s3cr3t@db.internal:5432/ltc?sslmode=verify-full",
                             "postgres://u@h/db?password=s3cr3t&application_name=x",
                             "postgresql://u:p%40ss@[::1]:5432/ltc",
                             "host=x dbname=ltc",
                             "password = spaced user=u",
                             "host='unterminated password=x"]):
        write(d, f"dsn-{k}", bytes([2 + 3 * (k % 5)]) + dsn.encode())


def gen_money(d):
    def money(sel, units, nanos, flags, code3=b"CNY"):
        return bytes([sel]) + code3 + struct.pack(">qq", units, nanos) + bytes([flags])
    write(d, "cny", b"\x00" + money(0, 1234, 500000000, 1))
    write(d, "usd-neg", b"\x00" + money(1, -5, -10000000, 3))
    write(d, "jpy-fraction", b"\x00" + money(2, 100, 500000000, 1))
    write(d, "kwd", b"\x00" + money(3, 7, 125000000, 1))
    write(d, "unknown", b"\x00" + money(6, 1, 0, 1))
    write(d, "any-code", b"\x00" + money(0xF0, 1, 0, 1, b"ABC"))
    write(d, "huge", b"\x00" + money(0, 9223372036854775807, 999999999, 0))
    write(d, "mixed-sign", b"\x00" + money(0, 1, -1, 0))
    write(d, "arith", b"\x80" + struct.pack(">qqq", 9223372036854775807, 2, 10000) + b"\x01")
    write(d, "arith-neg", b"\x80" + struct.pack(">qqq", -9223372036854775807 - 1, -1, 3) + b"\x00")
    write(d, "arith-bps", b"\x80" + struct.pack(">qqq", 296912, 3, 3000) + b"\x01")


def gen_pricing(d):
    """fuzz_pricing.c: byte 0 the order discount selector (top bit set: the rules engine instead), then 40-byte lines (quantity, unit price, unit cost:
    int64; line discount, tax: int32; tier mode, tier count, tier steps; byte 39 bit 0: plausible amounts)."""
    def line(qty, unit, cost, disc, tax, mode=0, ntiers=0, flags=1):
        return (struct.pack(">qqqii", qty, unit, cost, disc, tax) + bytes([mode, ntiers, 9, 90, 3, 7, 0])
                + bytes([flags]))
    # the example: 33.33 x 3 at 15%, 0.99 x 1,000,000 at 0.5%, 1,234.56 x 7 at 3.33%
    write(d, "issue-example", b"\x00" + line(3, 3333, 0, 1500, 0) + line(1000000, 99, 0, 50, 0)
          + line(7, 123456, 0, 333, 0))
    write(d, "tiers-tax", b"\x05" + line(150, 1000, 500, 333, 1000, 2, 3) + line(150, 1000, 700, 0, 800, 1, 3))
    write(d, "full-discount", b"\x01" + line(2, 5000, 100, 10000, 1300))
    write(d, "overflow", b"\x00" + line(1000000, 9223372036854775807, 0, 0, 0, 0, 0, 0))
    # the rules engine (byte 0 >= 0x80): 3 lines, then 6-byte rules (kind, subject, n others, others, quantity)
    write(d, "rules", b"\x80" + bytes([3, 0, 1, 2, 1, 1, 1, 1, 1]) + bytes([1, 0, 1, 3, 0, 0, 2, 3, 2, 4, 5, 0,
                                                                             3, 1, 0, 0, 0, 9, 5, 6, 2, 1, 2, 0]))


def gen_status(d):
    st = lc.rpc.Status(code=3, message="invalid lead.company_name: required")
    info = lc.rpc.ErrorInfo(reason="INVALID_ARGUMENT", domain="ltb.ltc")
    bad = lc.rpc.BadRequest(field_violations=[
        lc.rpc.BadRequest.FieldViolation(field="lead.company_name", description="required"),
        lc.rpc.BadRequest.FieldViolation(field="lead.lines[0].quantity", description="must be positive")])
    st.details.add().Pack(info)
    st.details.add().Pack(bad)
    write(d, "status-badrequest", b"\x00" + st.SerializeToString())
    st2 = lc.rpc.Status(code=9, message="order is PLACED")
    st2.details.add().Pack(lc.rpc.ErrorInfo(reason="ORDER_NOT_RELEASED", domain="otd.ltc",
                                            metadata={"order": "orders/x"}))
    write(d, "status-errorinfo", b"\x00" + st2.SerializeToString())
    write(d, "status-empty", b"\x00")
    write(d, "setters-ascii", b"\x01\x05" + b"lead.company_name must be at most 200 characters")
    write(d, "setters-cjk", b"\x01\x03" + ("华信物流" * 40).encode())


def pb_str(field, s):
    b = s.encode()
    return bytes([field << 3 | 2]) + _varint(len(b)) + b


def _varint(n):
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def gen_reflection(d):
    host = pb_str(1, "localhost")
    write(d, "list", host + pb_str(7, ""))
    write(d, "file-by-name", host + pb_str(3, "ltc/ltb/v1/ltb_service.proto"))
    write(d, "file-missing", pb_str(3, "nope.proto"))
    write(d, "symbol-service", pb_str(4, "ltc.ltb.v1.LeadToBidService"))
    write(d, "symbol-method", pb_str(4, "ltc.ltb.v1.LeadToBidService.CreateLead"))
    write(d, "symbol-message", pb_str(4, ".ltc.type.v1.Money"))
    write(d, "symbol-enum-value", pb_str(4, "ltc.ltb.v1.LeadState.LEAD_STATE_NEW"))
    ext = pb_str(1, "google.protobuf.MessageOptions") + bytes([2 << 3]) + _varint(50000)
    write(d, "extension", bytes([5 << 3 | 2]) + _varint(len(ext)) + ext)
    write(d, "extension-numbers", pb_str(6, "ltc.type.v1.Money"))
    write(d, "nothing", host)


def check(build, listing):
    bad = 0
    for svc, paths in listing.items():
        exe = Path(build) / "tests" / "fuzz" / f"fuzz_{svc}"
        p = subprocess.run([str(exe)], env=dict(os.environ, LTC_FUZZ_LIST_METHODS="1"), capture_output=True,
                           text=True, timeout=60)
        got = [line.split(" ", 1)[1] for line in p.stdout.splitlines() if " " in line]
        if got != paths:
            bad += 1
            print(f"{svc}: the C method table differs from the protos\n  C:      {got}\n  protos: {paths}",
                  file=sys.stderr)
    return bad == 0


def main():
    ap = argparse.ArgumentParser(description="Writes the fuzz seed corpora.")
    ap.add_argument("--out", default=str(HERE / "corpus"))
    ap.add_argument("--check", metavar="BUILD_FUZZ_DIR", help="compare with the built targets' method tables")
    args = ap.parse_args()
    root = Path(args.out)
    listing = gen_services(root)
    gen_parsers(root / "parsers")
    gen_config(root / "config")
    gen_money(root / "money")
    gen_pricing(root / "pricing")
    gen_status(root / "status")
    gen_reflection(root / "reflection")
    n = sum(1 for _ in root.rglob("*") if _.is_file())
    print(f"gen_seeds: {n} seed files under {root}")
    if args.check and not check(args.check, listing):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

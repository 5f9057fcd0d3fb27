#!/usr/bin/python3
"""Server reflection from a client that has no .proto files and no generated LTC code: what grpcurl does with
`list`, `describe` and a call. On the gateway and on every stage service, over grpc.reflection.v1 and v1alpha:
list the services, fetch the file descriptors of each (with their dependencies), build message classes from them in
a fresh descriptor pool, then call CreateLead and GetLead through the gateway, ListProducts on BTO's own port, and
decode an error's google.rpc.Status details, all with reflected descriptors only.

Debian ships no gRPC reflection client, so the reflection messages are generated here from Debian's grpc-proto
(/usr/share/grpc-proto/grpc/reflection/...) into a temporary folder and loaded by file path (importlib): a package
named `grpc` on sys.path would shadow grpcio. This file does not import tests/clients/python (ltc_client generates
and loads the LTC stubs), so the default descriptor pool never sees an LTC .proto.

Targets: 127.0.0.1 at the default ports shifted by $LTC_PORT_OFFSET (as scripts/stack places them); the ctest
fixture brings the stack up."""

import importlib.util
import os
import shutil
import sys
import tempfile
import unittest
import uuid
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
import grpc  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402

GRPC_PROTO = Path(os.environ.get("LTC_GRPC_PROTO_DIR", "/usr/share/grpc-proto"))
PORTS = {"gateway": 50051, "ltb": 50061, "bto": 50062, "otd": 50063, "dtc": 50064}
TIMEOUT = 10.0

PUBLIC = ["ltc.ltb.v1.LeadToBidService", "ltc.bto.v1.BidToOrderService", "ltc.otd.v1.OrderToDeliveryService",
          "ltc.dtc.v1.DeliveryToCashService", "ltc.dtc.v1.FinanceService"]
STANDARD = ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"]
EXPECTED = {
    "gateway": PUBLIC + ["ltc.audit.v1.AuditService"] + STANDARD,
    "ltb": ["ltc.ltb.v1.LeadToBidService", "ltc.ltb.v1.IntakeService", "ltc.admin.v1.HandoffAdminService", "ltc.audit.v1.AuditService"] + STANDARD,
    "bto": ["ltc.bto.v1.BidToOrderService", "ltc.bto.v1.IntakeService", "ltc.admin.v1.HandoffAdminService", "ltc.audit.v1.AuditService"] + STANDARD,
    "otd": ["ltc.otd.v1.OrderToDeliveryService", "ltc.otd.v1.IntakeService", "ltc.otd.v1.AvailabilityService",
            "ltc.admin.v1.HandoffAdminService", "ltc.audit.v1.AuditService"] + STANDARD,
    "dtc": ["ltc.dtc.v1.DeliveryToCashService", "ltc.dtc.v1.IntakeService", "ltc.dtc.v1.CreditService",
            "ltc.dtc.v1.FinanceService", "ltc.admin.v1.HandoffAdminService", "ltc.audit.v1.AuditService"] + STANDARD,
}


def target(name):
    offset = int(os.environ.get("LTC_PORT_OFFSET", "0") or 0)
    return f"127.0.0.1:{PORTS[name] + offset}"


# ------------------------------------------------------------------------------------------------------------------
# The reflection protocol's own messages, generated from Debian's grpc-proto
# ------------------------------------------------------------------------------------------------------------------

def load_reflection_modules():
    """{"v1": module, "v1alpha": module} of reflection_pb2, generated into a temporary folder, loaded by path."""
    from grpc_tools import protoc
    out = Path(tempfile.mkdtemp(prefix="ltc-reflection-pb2-"))
    mods = {}
    try:
        for version in ("v1", "v1alpha"):
            rel = f"grpc/reflection/{version}/reflection.proto"
            if not (GRPC_PROTO / rel).exists():
                raise unittest.SkipTest(f"{GRPC_PROTO / rel} missing (Debian package grpc-proto)")
            rc = protoc.main(["grpc_tools.protoc", f"-I{GRPC_PROTO}", f"--python_out={out}", rel])
            if rc != 0:
                raise RuntimeError(f"grpc_tools.protoc failed on {rel} (exit {rc})")
            path = out / f"grpc/reflection/{version}/reflection_pb2.py"
            spec = importlib.util.spec_from_file_location(f"ltc_test_reflection_{version}_pb2", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            mods[version] = mod
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return mods


REFL = load_reflection_modules()


class Reflector:
    """A reflection client over one channel: ServerReflectionInfo is a bidirectional stream; one request, one
    answer each time here."""

    def __init__(self, channel, version="v1"):
        self.pb = REFL[version]
        self.call = channel.stream_stream(f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                                          request_serializer=self.pb.ServerReflectionRequest.SerializeToString,
                                          response_deserializer=self.pb.ServerReflectionResponse.FromString)

    def ask(self, **kw):
        req = self.pb.ServerReflectionRequest(host="", **kw)
        answers = list(self.call(iter([req]), timeout=TIMEOUT))
        if len(answers) != 1:
            raise AssertionError(f"expected one reflection answer, got {len(answers)}")
        return answers[0]

    def services(self):
        return [s.name for s in self.ask(list_services="").list_services_response.service]

    def files_for(self, **kw):
        """The FileDescriptorProtos answered (the file and its transitive dependencies)."""
        a = self.ask(**kw)
        if a.HasField("error_response"):
            raise LookupError(f"{kw}: {a.error_response.error_code} {a.error_response.error_message}")
        out = []
        for raw in a.file_descriptor_response.file_descriptor_proto:
            fd = descriptor_pb2.FileDescriptorProto()
            fd.ParseFromString(raw)
            out.append(fd)
        return out


def build_pool(files):
    """A fresh DescriptorPool (never the default one) with the files, dependencies first."""
    pool = descriptor_pool.DescriptorPool()
    pending = {f.name: f for f in files}
    added = set()
    while pending:
        ready = [f for f in pending.values() if all(d in added for d in f.dependency)]
        if not ready:
            missing = {d for f in pending.values() for d in f.dependency if d not in added and d not in pending}
            raise AssertionError(f"reflection did not answer these dependencies: {sorted(missing)}")
        for f in ready:
            pool.Add(f)
            added.add(f.name)
            del pending[f.name]
    return pool


def message_class(pool, full_name):
    desc = pool.FindMessageTypeByName(full_name)
    get = getattr(message_factory, "GetMessageClass", None)
    return get(desc) if get else message_factory.MessageFactory(pool).GetPrototype(desc)


def unary(channel, pool, service, method):
    """A callable for /service/method built from reflected descriptors only: (request) -> response message."""
    m = pool.FindServiceByName(service).FindMethodByName(method)
    req_cls = message_class(pool, m.input_type.full_name)
    resp_cls = message_class(pool, m.output_type.full_name)
    mc = channel.unary_unary(f"/{service}/{method}", request_serializer=req_cls.SerializeToString,
                             response_deserializer=resp_cls.FromString)
    return req_cls, lambda req, **kw: mc(req, timeout=TIMEOUT, **kw)


class ReflectionTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.channels = {name: grpc.insecure_channel(target(name)) for name in PORTS}
        for name, ch in cls.channels.items():
            try:
                grpc.channel_ready_future(ch).result(timeout=30)
            except grpc.FutureTimeoutError:
                raise AssertionError(f"{name} at {target(name)} is not reachable: is the stack up?") from None

    @classmethod
    def tearDownClass(cls):
        for ch in cls.channels.values():
            ch.close()

    def test_list_services_everywhere_both_versions(self):
        for name, ch in self.channels.items():
            for version in ("v1", "v1alpha"):
                with self.subTest(process=name, version=version):
                    self.assertEqual(sorted(Reflector(ch, version).services()), sorted(EXPECTED[name]))

    def test_every_listed_service_is_fully_described(self):
        for name, ch in self.channels.items():
            r = Reflector(ch)
            for svc in r.services():
                with self.subTest(process=name, service=svc):
                    pool = build_pool(r.files_for(file_containing_symbol=svc))
                    sd = pool.FindServiceByName(svc)
                    self.assertGreater(len(sd.methods), 0)
                    for m in sd.methods:   # every request and response type resolves to a message class
                        message_class(pool, m.input_type.full_name)
                        message_class(pool, m.output_type.full_name)

    def test_descriptors_carry_the_comments(self):
        files = Reflector(self.channels["gateway"], "v1alpha").files_for(
            file_containing_symbol="ltc.ltb.v1.LeadToBidService")
        svc_file = next(f for f in files if any(s.name == "LeadToBidService" for s in f.service))
        comments = {tuple(loc.path): loc.leading_comments for loc in svc_file.source_code_info.location}
        svc_index = [s.name for s in svc_file.service].index("LeadToBidService")
        self.assertIn("Lead to bid", comments.get((6, svc_index), ""))
        methods = [m.name for m in svc_file.service[svc_index].method]
        self.assertIn("Captures a lead", comments.get((6, svc_index, 2, methods.index("CreateLead")), ""))

    def test_file_by_filename_and_unknown_symbol(self):
        r = Reflector(self.channels["bto"])
        names = [f.name for f in r.files_for(file_by_filename="ltc/bto/v1/resources.proto")]
        self.assertIn("ltc/bto/v1/resources.proto", names)
        self.assertIn("ltc/type/v1/money.proto", names)           # dependencies come along
        a = r.ask(file_containing_symbol="ltc.nothing.v1.NoSuchService")
        self.assertTrue(a.HasField("error_response"))
        self.assertEqual(a.error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0])

    def test_public_port_describes_only_the_public_contract(self):
        """The gateway lists the public services and describes nothing else: the internal services (hand-off
        receivers, the hand-off admin, DTC's credit questions, OTD's availability questions) share the embedded
        descriptor set, but neither a symbol nor a file name of theirs is answered there (issue #19, finding 3).
        A stage's own port still describes its intake service."""
        for version in ("v1", "v1alpha"):
            r = Reflector(self.channels["gateway"], version)
            for sym in ("ltc.admin.v1.HandoffAdminService", "ltc.bto.v1.IntakeService",
                        "ltc.bto.v1.IntakeService.AcceptWonBid", "ltc.dtc.v1.CreditService",
                        "ltc.dtc.v1.CheckCreditRequest", "ltc.otd.v1.AvailabilityService",
                        "ltc.ltb.v1.AcceptMilestoneRequest"):
                a = r.ask(file_containing_symbol=sym)
                self.assertTrue(a.HasField("error_response"), f"{version} gateway described {sym}")
                self.assertEqual(a.error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0])
            for name in ("ltc/admin/v1/handoff_admin_service.proto", "ltc/dtc/v1/intake_service.proto",
                         "ltc/dtc/v1/credit_service.proto", "ltc/otd/v1/availability_service.proto"):
                a = r.ask(file_by_filename=name)
                self.assertTrue(a.HasField("error_response"), f"{version} gateway described {name}")
            # what a client needs is still there: the public services and the error details
            self.assertTrue(r.files_for(file_containing_symbol="ltc.dtc.v1.DeliveryToCashService"))
            self.assertTrue(r.files_for(file_containing_symbol="google.rpc.BadRequest"))
        r = Reflector(self.channels["bto"])
        self.assertTrue(r.files_for(file_containing_symbol="ltc.bto.v1.IntakeService"))

    def test_call_create_and_get_lead_with_reflected_descriptors(self):
        ch = self.channels["gateway"]
        pool = build_pool(Reflector(ch).files_for(file_containing_symbol="ltc.ltb.v1.LeadToBidService"))
        Create, create = unary(ch, pool, "ltc.ltb.v1.LeadToBidService", "CreateLead")
        Get, get = unary(ch, pool, "ltc.ltb.v1.LeadToBidService", "GetLead")
        source = pool.FindEnumTypeByName("ltc.ltb.v1.LeadSource").values_by_name["LEAD_SOURCE_WEBSITE"].number
        u = uuid.uuid4().hex[:8]
        company = f"Reflected Co {u}"
        req = Create(request_id=str(uuid.uuid4()))
        req.lead.source = source
        req.lead.company_name = company
        req.lead.contact_email = f"reflect.{u}@example.com"   # a party of its own: no DUPLICATE_LEAD next run
        lead = create(req).lead
        self.assertTrue(lead.name.startswith("leads/"))
        new = pool.FindEnumTypeByName("ltc.ltb.v1.LeadState").values_by_name["LEAD_STATE_NEW"].number
        self.assertEqual(lead.state, new)
        got = get(Get(name=lead.name)).lead
        self.assertEqual((got.name, got.company_name, got.source), (lead.name, company, source))

    def test_call_on_a_service_port(self):
        ch = self.channels["bto"]
        pool = build_pool(Reflector(ch, "v1alpha").files_for(file_containing_symbol="ltc.bto.v1.BidToOrderService"))
        List, list_products = unary(ch, pool, "ltc.bto.v1.BidToOrderService", "ListProducts")
        resp = list_products(List(page_size=2))
        self.assertLessEqual(len(resp.products), 2)

    def test_error_details_decoded_with_reflected_descriptors(self):
        ch = self.channels["gateway"]
        r = Reflector(ch)
        pool = build_pool(r.files_for(file_containing_symbol="ltc.ltb.v1.LeadToBidService")
                          + r.files_for(file_containing_symbol="google.rpc.Status")
                          + r.files_for(file_containing_symbol="google.rpc.BadRequest"))
        Create, create = unary(ch, pool, "ltc.ltb.v1.LeadToBidService", "CreateLead")
        req = Create(request_id=str(uuid.uuid4()))
        req.lead.company_name = ""                     # required; source left UNSPECIFIED
        with self.assertRaises(grpc.RpcError) as cm:
            create(req)
        err = cm.exception
        self.assertEqual(err.code(), grpc.StatusCode.INVALID_ARGUMENT)
        raw = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
        self.assertIsNotNone(raw, "no grpc-status-details-bin trailer")
        status = message_class(pool, "google.rpc.Status").FromString(raw)
        by_type = {}
        for any_ in status.details:
            type_name = any_.type_url.rsplit("/", 1)[-1]
            by_type[type_name] = message_class(pool, type_name).FromString(any_.value)
        self.assertEqual(by_type["google.rpc.ErrorInfo"].reason, "INVALID_ARGUMENT")
        self.assertEqual(by_type["google.rpc.ErrorInfo"].domain, "ltb.ltc")
        fields = [v.field for v in by_type["google.rpc.BadRequest"].field_violations]
        self.assertEqual(sorted(fields), ["lead.company_name", "lead.source"])

    def test_default_pool_has_no_ltc_protos(self):
        # the point of the exercise: nothing of the contract was known before reflection
        from google.protobuf import descriptor_pool as dp
        with self.assertRaises(KeyError):
            dp.Default().FindFileByName("ltc/ltb/v1/ltb_service.proto")
        self.assertNotIn("ltc_client", sys.modules)


if __name__ == "__main__":
    unittest.main(verbosity=2)

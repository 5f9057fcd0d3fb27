"""ltc_client - a Python client of the LTC Process Center, generated from the contract (proto/).

The project's services are written in C; this client is written from the .proto files alone, the way another
team would write one, so that the contract (names, states, errors with details) is tested from the outside.

Run with Debian's Python (/usr/bin/python3: python3-grpcio, python3-grpc-tools, python3-protobuf).

    import ltc_client as lc
    with lc.Stubs("127.0.0.1:50051") as s:
        lead = s.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lc.ltb.Lead(...), request_id=lc.new_id())).lead

What it offers:
- the generated message modules, merged per package: `ltb`, `bto`, `otd`, `dtc` (resources, service and intake
  messages), `types` (ltc.type.v1), `rpc` (google.rpc Status, ErrorInfo, BadRequest);
- `Stubs(target)`: one channel and the four public services, every call with a deadline (10 s by default) and an
  `x-request-id` metadata; `IntakeStubs(target)` for a service's own port (hand-off receivers);
- `error_details(rpc_error)`: the google.rpc.Status of the `grpc-status-details-bin` trailer, decoded;
- money helpers: `money(minor, "CNY")`, `to_minor(money)`, `fmt_money(money)`;
- `wait_for(fn, timeout)`: polls an asynchronous hand-off until it has landed.

Stubs are generated with grpc_tools.protoc into a cache folder (not named "grpc", which would shadow the grpc
package): $LTC_PYGEN_DIR, else <repo>/build/pygen; regenerated when a .proto is newer than the last generation.
"""

import dataclasses
import datetime
import fcntl
import importlib
import os
import shutil
import sys
import time
import types as _pytypes
import uuid
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[3]
PROTO_DIR = REPO / "proto"
DEFAULT_TIMEOUT = 10.0          # seconds: the deadline of every call
REQUEST_ID_KEY = "x-request-id"
DETAILS_KEY = "grpc-status-details-bin"
_STAMP = ".ltc-pygen-stamp"


# ------------------------------------------------------------------------------------------------------------------
# Stub generation
# ------------------------------------------------------------------------------------------------------------------

def pygen_dir():
    """The folder the Python stubs are generated into."""
    d = os.environ.get("LTC_PYGEN_DIR")
    return Path(d) if d else REPO / "build" / "pygen"


def _proto_files():
    files = []
    for top in ("ltc", "google"):
        root = PROTO_DIR / top
        if root.is_dir():
            files.extend(sorted(p.relative_to(PROTO_DIR).as_posix() for p in root.rglob("*.proto")))
    if not files:
        raise RuntimeError(f"no .proto files under {PROTO_DIR}")
    return files


def _include_dirs():
    dirs = [str(PROTO_DIR)]
    try:
        import grpc_tools
        bundled = Path(grpc_tools.__file__).parent / "_proto"
        if bundled.is_dir():
            dirs.append(str(bundled))
    except ImportError:
        pass
    if Path("/usr/include/google/protobuf/timestamp.proto").exists():
        dirs.append("/usr/include")
    return dirs


def _up_to_date(out, files):
    stamp = out / _STAMP
    if not stamp.exists():
        return False
    if stamp.read_text().splitlines() != files:
        return False
    t = stamp.stat().st_mtime
    return all((PROTO_DIR / f).stat().st_mtime <= t for f in files)


def generate(out=None, force=False):
    """Generates the stubs into `out` (default pygen_dir()) unless they are up to date. Returns the folder."""
    out = Path(out) if out else pygen_dir()
    if out.name == "grpc":
        raise ValueError("the stub folder must not be named 'grpc' (it would shadow the grpc package)")
    files = _proto_files()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / (out.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and _up_to_date(out, files):
            return out
        from grpc_tools import protoc
        tmp = out.parent / f"{out.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        args = ["grpc_tools.protoc"] + [f"-I{d}" for d in _include_dirs()]
        args += [f"--python_out={tmp}", f"--grpc_python_out={tmp}"] + files
        rc = protoc.main(args)
        if rc != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RuntimeError(f"grpc_tools.protoc failed (exit {rc}): {' '.join(args)}")
        (tmp / _STAMP).write_text("\n".join(files) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        os.rename(tmp, out)
    return out


def _merge(name, *modules):
    ns = _pytypes.SimpleNamespace(__name__=name, modules=modules)
    for m in modules:
        for k, v in vars(m).items():
            if not k.startswith("_"):
                setattr(ns, k, v)
    return ns


def _load():
    out = str(generate())
    if out not in sys.path:
        sys.path.insert(0, out)
    imp = importlib.import_module
    g = {}
    for pkg in ("ltb", "bto", "otd", "dtc"):
        g[pkg] = _merge(f"ltc.{pkg}.v1", imp(f"ltc.{pkg}.v1.resources_pb2"), imp(f"ltc.{pkg}.v1.{pkg}_service_pb2"),
                        imp(f"ltc.{pkg}.v1.intake_service_pb2"))
        g[pkg + "_grpc"] = imp(f"ltc.{pkg}.v1.{pkg}_service_pb2_grpc")
        g[pkg + "_intake_grpc"] = imp(f"ltc.{pkg}.v1.intake_service_pb2_grpc")
    g["types"] = _merge("ltc.type.v1", imp("ltc.type.v1.money_pb2"), imp("ltc.type.v1.date_pb2"),
                        imp("ltc.type.v1.iron_triangle_pb2"), imp("ltc.type.v1.payment_term_pb2"),
                        imp("ltc.type.v1.customer_pb2"))
    g["rpc"] = _merge("google.rpc", imp("google.rpc.status_pb2"), imp("google.rpc.error_details_pb2"))
    g["finance"] = imp("ltc.dtc.v1.finance_service_pb2")
    g["finance_grpc"] = imp("ltc.dtc.v1.finance_service_pb2_grpc")
    g["audit"] = imp("ltc.audit.v1.audit_service_pb2")
    g["audit_grpc"] = imp("ltc.audit.v1.audit_service_pb2_grpc")
    return g


_g = _load()
ltb = _g["ltb"]
bto = _g["bto"]
otd = _g["otd"]
dtc = _g["dtc"]
types = _g["types"]
rpc = _g["rpc"]
ltb_grpc, bto_grpc, otd_grpc, dtc_grpc = _g["ltb_grpc"], _g["bto_grpc"], _g["otd_grpc"], _g["dtc_grpc"]
ltb_intake_grpc, bto_intake_grpc = _g["ltb_intake_grpc"], _g["bto_intake_grpc"]
otd_intake_grpc, dtc_intake_grpc = _g["otd_intake_grpc"], _g["dtc_intake_grpc"]
audit, audit_grpc = _g["audit"], _g["audit_grpc"]
finance, finance_grpc = _g["finance"], _g["finance_grpc"]  # DTC's FinanceService (docs/finance.md)
del _g


# ------------------------------------------------------------------------------------------------------------------
# Ids, request ids, names
# ------------------------------------------------------------------------------------------------------------------

def new_id():
    """A fresh UUID (v4) string: request ids, hand-off ids."""
    return str(uuid.uuid4())


def request_metadata(request_id=None):
    """Call metadata carrying an `x-request-id` (a fresh one unless given)."""
    return ((REQUEST_ID_KEY, request_id or new_id()),)


def name_id(name):
    """The id part of a resource name: "orders/abc" -> "abc"."""
    return name.rsplit("/", 1)[-1]


# ------------------------------------------------------------------------------------------------------------------
# Stubs
# ------------------------------------------------------------------------------------------------------------------

class _Method:
    def __init__(self, multicallable, timeout, path):
        self._mc = multicallable
        self._timeout = timeout
        self.path = path

    def __call__(self, request, timeout=None, metadata=None, request_id=None, with_call=False):
        md = tuple(metadata or ())
        if not any(k == REQUEST_ID_KEY for k, _ in md):
            md += request_metadata(request_id)
        t = self._timeout if timeout is None else timeout
        if with_call:
            return self._mc.with_call(request, timeout=t, metadata=md)
        return self._mc(request, timeout=t, metadata=md)


class _Service:
    """A generated stub whose methods all get a deadline and an x-request-id."""

    def __init__(self, stub_class, channel, timeout):
        self.raw = stub_class(channel)
        self._timeout = timeout
        self._name = stub_class.__name__[:-len("Stub")]

    def __getattr__(self, name):
        mc = getattr(self.raw, name)   # AttributeError for unknown methods
        return _Method(mc, self._timeout, name)


def open_channel(target, ca_file=None, token=None, cert_file=None, key_file=None, server_name=None):
    """A channel to target: plaintext without ca_file; else TLS verified against ca_file, with a client certificate
    when cert_file/key_file are given (mTLS to a service's own port), and `authorization: Bearer <token>` on every
    call when token is given (the gateway). A static list of replicas ("ipv4:127.0.0.1:P1,127.0.0.1:P2", as
    `scripts/stack client-env` gives with LTC_STACK_REPLICAS > 1) is balanced with round_robin, and over TLS its
    certificate is checked for the name localhost (the list itself is no host name)."""
    options = []
    if target.startswith("ipv4:"):
        options.append(("grpc.lb_policy_name", "round_robin"))
        server_name = server_name or "localhost"
    if not ca_file:
        return grpc.insecure_channel(target, options)
    read = lambda f: open(f, "rb").read() if f else None
    creds = grpc.ssl_channel_credentials(read(ca_file), read(key_file), read(cert_file))
    if token:
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(target, creds, options)


class Stubs:
    """One channel to the gateway and the four public services on it (TLS and a bearer token when ca_file and
    token are given)."""

    def __init__(self, target, timeout=DEFAULT_TIMEOUT, channel=None, ca_file=None, token=None):
        self.target = target
        self.timeout = timeout
        self.channel = channel or open_channel(target, ca_file, token)
        self.ltb = _Service(ltb_grpc.LeadToBidServiceStub, self.channel, timeout)
        self.bto = _Service(bto_grpc.BidToOrderServiceStub, self.channel, timeout)
        self.otd = _Service(otd_grpc.OrderToDeliveryServiceStub, self.channel, timeout)
        self.dtc = _Service(dtc_grpc.DeliveryToCashServiceStub, self.channel, timeout)
        self.finance = _Service(finance_grpc.FinanceServiceStub, self.channel, timeout)
        self.audit = _Service(audit_grpc.AuditServiceStub, self.channel, timeout)

    def call_raw(self, method, request_bytes=b"", timeout=None, metadata=None):
        """Calls any method path ("/pkg.Service/Method") with raw request bytes; returns the response bytes."""
        return call_raw(self.channel, method, request_bytes, timeout or self.timeout, metadata)

    def wait_ready(self, timeout=10.0):
        grpc.channel_ready_future(self.channel).result(timeout=timeout)

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class IntakeStubs:
    """The hand-off receivers, called directly on a service's own port (never through the gateway)."""

    def __init__(self, target, timeout=DEFAULT_TIMEOUT, ca_file=None, cert_file=None, key_file=None, server_name=None):
        self.target = target
        self.channel = open_channel(target, ca_file, cert_file=cert_file, key_file=key_file, server_name=server_name)
        self.ltb = _Service(ltb_intake_grpc.IntakeServiceStub, self.channel, timeout)
        self.bto = _Service(bto_intake_grpc.IntakeServiceStub, self.channel, timeout)
        self.otd = _Service(otd_intake_grpc.IntakeServiceStub, self.channel, timeout)
        self.dtc = _Service(dtc_intake_grpc.IntakeServiceStub, self.channel, timeout)

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def call_raw(channel, method, request_bytes=b"", timeout=DEFAULT_TIMEOUT, metadata=None):
    """Unary call of any method path with raw bytes in and out (unknown methods, services not in a stub)."""
    mc = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    md = tuple(metadata or ()) or request_metadata()
    return mc(request_bytes, timeout=timeout, metadata=md)


# ------------------------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class ErrorDetails:
    """An RpcError with its google.rpc.Status details decoded."""
    code: grpc.StatusCode
    message: str
    status: object = None                 # google.rpc.Status, or None when the trailer was absent
    error_info: object = None             # google.rpc.ErrorInfo, or None
    bad_request: object = None            # google.rpc.BadRequest, or None
    other_details: list = dataclasses.field(default_factory=list)  # Any of other types

    @property
    def reason(self):
        return self.error_info.reason if self.error_info else ""

    @property
    def domain(self):
        return self.error_info.domain if self.error_info else ""

    @property
    def violations(self):
        """[(field, description), ...] of the BadRequest."""
        if not self.bad_request:
            return []
        return [(v.field, v.description) for v in self.bad_request.field_violations]

    @property
    def fields(self):
        return [f for f, _ in self.violations]

    def __str__(self):
        s = f"{self.code.name}: {self.message}"
        if self.reason:
            s += f" [reason={self.reason} domain={self.domain}]"
        if self.violations:
            s += " [" + "; ".join(f"{f}: {d}" for f, d in self.violations) + "]"
        return s


def status_details_bytes(err):
    """The raw `grpc-status-details-bin` trailer of an RpcError, or None."""
    md = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    for k, v in md or ():
        if k == DETAILS_KEY:
            return v if isinstance(v, bytes) else v.encode("latin-1")
    return None


def decode_status(data):
    """Parses serialized google.rpc.Status bytes into (status, error_info, bad_request, others)."""
    st = rpc.Status()
    st.ParseFromString(data)
    info = bad = None
    others = []
    for any_ in st.details:
        if any_.Is(rpc.ErrorInfo.DESCRIPTOR):
            info = rpc.ErrorInfo()
            any_.Unpack(info)
        elif any_.Is(rpc.BadRequest.DESCRIPTOR):
            bad = rpc.BadRequest()
            any_.Unpack(bad)
        else:
            others.append(any_)
    return st, info, bad, others


def error_details(err):
    """Decodes an RpcError (code, message and the details of its `grpc-status-details-bin` trailer)."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    message = err.details() if hasattr(err, "details") else str(err)
    d = ErrorDetails(code=code, message=message or "")
    raw = status_details_bytes(err)
    if raw is not None:
        d.status, d.error_info, d.bad_request, d.other_details = decode_status(raw)
    return d


def describe_error(err):
    """One readable line for any exception, with the gRPC details when it is an RpcError."""
    if isinstance(err, grpc.RpcError):
        return str(error_details(err))
    return f"{type(err).__name__}: {err}"


# ------------------------------------------------------------------------------------------------------------------
# Money and dates
# ------------------------------------------------------------------------------------------------------------------

_DIGITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3,
           "IQD": 3, "LYD": 3}


def currency_digits(code):
    """Minor-unit digits of a currency (2 unless listed otherwise)."""
    return _DIGITS.get(code, 2)


def money(minor, currency="CNY"):
    """A Money message from an integer amount in minor units (fen, cents)."""
    if not isinstance(minor, int):
        raise TypeError("money amounts are integers in minor units")
    digits = currency_digits(currency)
    scale = 10 ** digits
    sign = -1 if minor < 0 else 1
    units, frac = divmod(abs(minor), scale)
    return types.Money(currency_code=currency, units=sign * units, nanos=sign * frac * 10 ** (9 - digits))


def to_minor(m, currency=None):
    """Integer minor units of a Money; ValueError when finer than the minor unit, or another currency than asked."""
    if currency is not None and m.currency_code != currency:
        raise ValueError(f"currency {m.currency_code!r}, expected {currency!r}")
    digits = currency_digits(m.currency_code)
    step = 10 ** (9 - digits)
    if abs(m.nanos) % step:
        raise ValueError(f"amount {m.units}.{abs(m.nanos):09d} is finer than the minor unit of {m.currency_code}")
    if (m.units > 0 and m.nanos < 0) or (m.units < 0 and m.nanos > 0):
        raise ValueError("units and nanos disagree in sign")
    nano_minor = abs(m.nanos) // step
    return m.units * 10 ** digits + (-nano_minor if m.nanos < 0 else nano_minor)


def fmt_minor(minor, currency="CNY"):
    digits = currency_digits(currency)
    sign = "-" if minor < 0 else ""
    units, frac = divmod(abs(minor), 10 ** digits)
    return f"{currency} {sign}{units:,}" + (f".{frac:0{digits}d}" if digits else "")


def fmt_money(m):
    """"CNY 4,603.68"."""
    return fmt_minor(to_minor(m), m.currency_code)


def date(d):
    """A ltc.type.v1.Date from a datetime.date."""
    return types.Date(year=d.year, month=d.month, day=d.day)


def days_ahead(n):
    return date(datetime.date.today() + datetime.timedelta(days=n))


def to_pydate(d):
    return datetime.date(d.year, d.month, d.day)


def fmt_date(d):
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


# ------------------------------------------------------------------------------------------------------------------
# Waiting for asynchronous hand-offs
# ------------------------------------------------------------------------------------------------------------------

RETRY_CODES = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class WaitTimeout(Exception):
    """wait_for gave up."""


def wait_for(fn, timeout=30.0, interval=0.2, what=None, retry_codes=RETRY_CODES):
    """Calls fn() until it returns a truthy value, which is returned. RpcErrors with a code in retry_codes (the
    hand-off has not landed yet, the service is restarting) count as "not yet"; other errors propagate. Raises
    WaitTimeout after `timeout` seconds, naming `what` and the last result or error."""
    deadline = time.monotonic() + timeout
    last = None
    delay = interval
    while True:
        try:
            v = fn()
            if v:
                return v
            last = f"last result: {v!r}"
        except grpc.RpcError as e:
            if e.code() not in retry_codes:
                raise
            last = f"last error: {describe_error(e)}"
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what or getattr(fn, '__name__', 'it')}"
                              f" ({last})")
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 1.0)

"""What the deployment checks in tests/deploy share: the repository, the default ports of a stack at offset 0, and
the failure list with its check() (a check records and prints a failure and goes on, so one run reports them all)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# gRPC ports at LTC_PORT_OFFSET 0 (each process's metrics port is its gRPC port + 1000)
PORTS = {"gateway": 50051, "ltb": 50061, "bto": 50062, "otd": 50063, "dtc": 50064}
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print(f"FAIL: {msg}", flush=True)
    return cond

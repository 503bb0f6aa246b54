#!/usr/bin/env python3
"""Hostile input from a client that is not tonic (Python grpcio).

Sends every filter-like field of the three services its worst input (deep
nesting, 100 KB of text, 300 KB of CJK) as raw protobuf, and checks that each
call ends INVALID_ARGUMENT with its details readable (not RESOURCE_EXHAUSTED
for oversized metadata), and that every service is SERVING afterwards.

    pip install grpcio
    JILIN_CA=data/tls/ca.pem JILIN_TOKEN_FILE=data/auth/tokens/admin.jwt \
      python3 tests/outside/grpcio_hostile.py 127.0.0.1:50051 127.0.0.1:50052 127.0.0.1:50053
"""

import os
import sys

import grpc


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, text):
    data = text.encode()
    return varint(number << 3 | 2) + varint(len(data)) + data


INPUTS = {
    "deep": "(" * 3000 + "x",
    "nested": "(" * 100 + "sector = automobile" + ")" * 100,
    "long": "a = b AND " * 10_000,
    "cjk": "吉" * 100_000,
}

REFUSED = {"INVALID_ARGUMENT"}
# A risk page token is a position among alert fingerprints: short text is one.
POSITION = {"INVALID_ARGUMENT", "OK"}

# (service address index, method, fields built from the input, answers accepted)
CALLS = [
    (0, "/jilin.registry.v1.RegistryService/ListProjects", lambda t: field(3, t), REFUSED),
    (0, "/jilin.registry.v1.RegistryService/ListProjects", lambda t: field(4, t), REFUSED),
    (0, "/jilin.registry.v1.RegistryService/ListProjects", lambda t: field(2, t), REFUSED),
    (1, "/jilin.indicators.v1.IndicatorService/QueryIndicator",
     lambda t: field(1, "indicators/rd_intensity") + field(2, "2026-01") + field(3, "2026-03") + field(6, t),
     REFUSED),
    (1, "/jilin.indicators.v1.IndicatorService/ExplainIndicatorValue",
     lambda t: field(1, "indicators/rd_intensity") + field(2, t) + field(3, t), REFUSED),
    (2, "/jilin.risk.v1.RiskService/ListAlerts", lambda t: field(3, t), REFUSED),
    (2, "/jilin.risk.v1.RiskService/ListAlerts", lambda t: field(2, t), POSITION),
]


def main():
    targets = sys.argv[1:4] if len(sys.argv) > 3 else ["127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:50053"]
    ca, token_file = os.environ.get("JILIN_CA"), os.environ.get("JILIN_TOKEN_FILE")
    metadata = []
    if token_file:
        metadata.append(("authorization", "Bearer " + open(token_file).read().strip()))
    channels = []
    for target in targets:
        if ca:
            credentials = grpc.ssl_channel_credentials(open(ca, "rb").read())
            channels.append(grpc.secure_channel(target, credentials))
        else:
            channels.append(grpc.insecure_channel(target))
    failures = 0
    for index, method, build, accepted in CALLS:
        call = channels[index].unary_unary(method)
        for name, text in INPUTS.items():
            detail = ""
            try:
                call(build(text), metadata=metadata, timeout=10)
                outcome = "OK"
            except grpc.RpcError as err:
                outcome = err.code().name
                detail = (err.details() or "")[:90]
            ok = outcome in accepted
            failures += not ok
            print(f"{'ok ' if ok else 'BAD'} {method} {name}: {outcome} {detail}")
    for target, channel in zip(targets, channels):
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        reply = check(b"", timeout=5)
        serving = reply == b"\x08\x01"
        failures += not serving
        print(f"{'ok ' if serving else 'BAD'} {target} health: {'SERVING' if serving else reply!r}")
    print(f"{failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

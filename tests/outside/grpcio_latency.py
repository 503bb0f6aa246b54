#!/usr/bin/env python3
"""Sequential call latency seen by a client that is not tonic (Python grpcio).

Calls each method without stubs (empty request messages, raw bytes) and prints
p50/p99 per method. Made to catch stalls that only other clients see, such as
the 44 ms delayed-ACK stall of a server without TCP_NODELAY.

    pip install grpcio
    python3 tests/outside/grpcio_latency.py 127.0.0.1:50051 [calls]

Against `jilin up` (TLS and tokens), name its CA and a token:

    JILIN_CA=data/tls/ca.pem JILIN_TOKEN_FILE=data/auth/tokens/admin.jwt \
      python3 tests/outside/grpcio_latency.py 127.0.0.1:50051
"""

import os
import statistics
import sys
import time

import grpc

METHODS = [
    "/grpc.health.v1.Health/Check",
    "/jilin.registry.v1.RegistryService/ListRegions",
    "/jilin.registry.v1.RegistryService/ListSectors",
    "/jilin.registry.v1.RegistryService/ListProjects",
]


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    target = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    ca, token_file = os.environ.get("JILIN_CA"), os.environ.get("JILIN_TOKEN_FILE")
    metadata = []
    if token_file:
        with open(token_file) as file:
            metadata = [("authorization", "Bearer " + file.read().strip())]
    if ca:
        with open(ca, "rb") as file:
            channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(file.read()))
    else:
        channel = grpc.insecure_channel(target)
    with channel:
        print(f"{'method':50} {'p50 ms':>8} {'p99 ms':>8} {'bytes':>7}")
        for method in METHODS:
            call = channel.unary_unary(method)
            size = len(call(b"", timeout=10, metadata=metadata))  # warm up, and the reply size
            samples = []
            for _ in range(calls):
                started = time.perf_counter()
                call(b"", timeout=10, metadata=metadata)
                samples.append((time.perf_counter() - started) * 1000)
            print(
                f"{method:50} {statistics.median(samples):8.2f} "
                f"{percentile(samples, 0.99):8.2f} {size:7}"
            )


if __name__ == "__main__":
    main()

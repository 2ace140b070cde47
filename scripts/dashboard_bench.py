"""Latency of the dashboard's instance list (GET /api/v1/instances) with many instances.

    scripts/bench-dashboard                     # 10,000 and 100,000 instances, memory store
    scripts/bench-dashboard --counts 10000 --db # the SQLite store

Instances are started over gRPC (StartInstance, no worker: they stay PENDING, a fifth are then
terminated so that a status filter has something to select). Each request kind is timed
``--requests`` times over HTTP on one keep-alive connection; p50 and p90 in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs

from emulator import InMemoryOrchestrationBackend


def _fill(address: str, count: int) -> None:
    channel = grpc.insecure_channel(address)
    stub = stubs.TaskHubSidecarServiceStub(channel)

    def start(block: range) -> None:
        for i in block:
            stub.StartInstance(pb.CreateInstanceRequest(instanceId=f"inst-{i:07d}", name=f"orch{i % 7}"))
            if i % 5 == 0:
                stub.TerminateInstance(pb.TerminateRequest(instanceId=f"inst-{i:07d}"))

    step = 1000
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(start, [range(a, min(a + step, count)) for a in range(0, count, step)]))
    channel.close()


def _middle_token(http: httpx.Client, count: int) -> str:
    """The continuation token half-way through, by paging 1,000 at a time."""
    token = None
    for _ in range(count // 2000):
        token = http.get("/api/v1/instances", params={"pageSize": 1000, **({"token": token} if token else {})}).json()[
            "nextToken"
        ]
    return token


def _time(http: httpx.Client, params: dict, requests: int) -> tuple[float, float]:
    samples = []
    for _ in range(requests):
        began = time.perf_counter()
        reply = http.get("/api/v1/instances", params=params)
        samples.append((time.perf_counter() - began) * 1000)
        reply.raise_for_status()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


def run(count: int, requests: int, db: bool) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        backend = InMemoryOrchestrationBackend(port=0, dashboard_port=0, db_path=f"{tmp}/b.db" if db else None)
        backend.start()
        try:
            began = time.perf_counter()
            _fill(backend.address, count)
            print(f"  {count} instances started in {time.perf_counter() - began:.1f} s", file=sys.stderr)
            with httpx.Client(base_url=backend.dashboard_url, timeout=60) as http:
                middle = _middle_token(http, count)
                kinds = {
                    "first page (50)": {},
                    "status=TERMINATED": {"status": "TERMINATED"},
                    "prefix (one match)": {"prefix": f"inst-{count // 2:07d}"},
                    "name=orch3": {"name": "orch3"},
                    "page from the middle": {"token": middle},
                }
                return [(kind, *_time(http, params, requests)) for kind, params in kinds.items()]
        finally:
            backend.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="10000,100000", help="comma-separated instance counts")
    parser.add_argument("--requests", type=int, default=30, help="requests per kind")
    parser.add_argument("--db", action="store_true", help="the SQLite store instead of memory")
    args = parser.parse_args()
    print("| instances | request | p50 ms | p90 ms |\n| --- | --- | --- | --- |")
    for count in (int(c) for c in args.counts.split(",")):
        for kind, p50, p90 in run(count, args.requests, args.db):
            print(f"| {count:,} | {kind} | {p50:.1f} | {p90:.1f} |", flush=True)


if __name__ == "__main__":
    main()

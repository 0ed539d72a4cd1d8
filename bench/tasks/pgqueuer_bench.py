"""pgqueuer on the same PostgreSQL, for comparison with queue_bench (see bench/README.md).

The same shape as queue_bench: idle single-job enqueue latency first, then N no-op jobs enqueued
in batches while one QueueManager (batch_size = the Rust worker's concurrency) completes them,
timed from the first enqueue to the manager's exit after the last job. Prints one JSON line.

    python3 -m venv /tmp/pgq && /tmp/pgq/bin/pip install -r bench/tasks/requirements.txt
    /tmp/pgq/bin/python bench/tasks/pgqueuer_bench.py [--tasks 50000] [--batch 1000]
"""

import argparse
import asyncio
import json
import os
import time
import uuid

import asyncpg
from pgqueuer import QueueManager
from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries


async def run(admin_url: str, tasks: int, batch: int, concurrency: int, samples: int) -> dict:
    name = f"pgqueuer_bench_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
        enqueuer = await asyncpg.connect(url)
        queries = Queries(AsyncpgDriver(enqueuer))
        await queries.install()

        latencies = []
        for _ in range(samples):
            started = time.perf_counter()
            await queries.enqueue("noop", None)
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()

        manager = QueueManager(Queries(AsyncpgDriver(await asyncpg.connect(url))))
        done = 0
        total = tasks + samples

        @manager.entrypoint("noop")
        async def noop(job) -> None:
            nonlocal done
            done += 1
            if done >= total:
                manager.shutdown.set()

        started = time.perf_counter()
        runner = asyncio.create_task(manager.run(batch_size=concurrency))
        left = tasks
        while left > 0:
            n = min(batch, left)
            await queries.enqueue(["noop"] * n, [None] * n, [0] * n)
            left -= n
        await runner
        elapsed = time.perf_counter() - started
        await enqueuer.close()
        return {
            "database": "pgqueuer (postgres)",
            "tasks": tasks,
            "batch": batch,
            "throughput_tasks_per_s": round(tasks / elapsed),
            "enqueue_samples": samples,
            "enqueue_idle_p50_ms": round(latencies[len(latencies) // 2], 3),
            "enqueue_idle_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 3),
        }
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--latency-samples", type=int, default=2_000)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "JOBPILOT_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    result = asyncio.run(
        run(args.postgres_url, args.tasks, args.batch, args.concurrency, args.latency_samples)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The same searches asked again: the first answer counts every match, the repeats (the next
page, another user's identical query) reuse the total and facet counts of the index generation.

    python3 bench/search/repeat.py --base http://127.0.0.1:8080 [--repeats 15]

Needs a running server (e.g. one started on a bench/search/run --data-dir DIR); registers a
user of its own. Prints, per path, the first latency and the median of the repeats.
"""
import argparse
import json
import statistics
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402

PATHS = [
    "/api/v1/jobs?facets=source%2Cskill&limit=20",
    "/api/v1/jobs?facets=source%2Cskill&sort=newest&limit=20",
    "/api/v1/jobs?q=python&facets=skill&limit=20",
    "/api/v1/jobs?q=python&facets=skill&limit=20&cursor=",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    client = load.Client(args.base)
    email = f"repeat-{uuid.uuid4().hex[:8]}@example.org"
    password = "repeat password " + uuid.uuid4().hex
    status, data, _ = client.call("POST", "/api/v1/auth/register", {"email": email, "password": password})
    assert status == 201, data
    status, data, _ = client.call("POST", "/api/v1/auth/login", {"email": email, "password": password})
    assert status == 200, data
    client.token = json.loads(data)["access_token"]
    results = {}
    for path in PATHS:
        if path.endswith("cursor="):
            # The second page of the query before it.
            status, data, _ = client.call("GET", path[: -len("&cursor=")])
            cursor = json.loads(data).get("next_cursor")
            if not cursor:
                continue
            path = path + cursor
        times = []
        for _ in range(args.repeats + 1):
            status, data, elapsed = client.call("GET", path)
            assert status == 200, data
            times.append(elapsed)
        results[path] = {"first_ms": round(times[0], 2), "repeat_median_ms": round(statistics.median(times[1:]), 2)}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Search and matching latency against a running jobpilot server (standard library only).

Signs up a user, uploads resumes (plain text, varied skills) and waits until they are parsed,
then measures, one request at a time over one keep-alive connection (so each figure is the
server's time plus the loopback, not a queue of our own requests):
  - GET /api/v1/jobs with full-text queries (English and Russian, phrases, field queries) and
    filters (remote, seniority, skills, location, salary, source, dates, sort, facets);
  - GET /api/v1/resumes/{id}/matches?limit=20, the first call for each resume (its match cache
    is empty: cold).
Prints one JSON object.
"""

import argparse
import http.client
import json
import random
import statistics
import time
import urllib.parse
import uuid

WORDS_EN = ["rust", "python", "golang", "java", "kotlin", "react", "typescript", "kubernetes",
            "postgresql", "kafka", "terraform", "aws", "backend", "frontend", "data engineer",
            "machine learning", "devops", "platform", "payments", "android", "ios", "security",
            "sre", "analytics", "spark", "django", "spring", "node.js", "c++", "scala"]
WORDS_RU = ["разработчик", "программист", "аналитик", "инженер", "ведущий", "тестировщик",
            "данных", "платформы", "python разработчик", "java разработчик"]
QUERY_SHAPES = ["{a}", "{a} {b}", "\"{a} {b}\"", "{a} AND {b}", "{a} OR {b}", "title:{a}",
                "skills:{a}", "{a} NOT {b}", "({a} OR {b}) AND {c}"]
SKILLS = ["Python", "Rust", "Go", "Java", "Kubernetes", "PostgreSQL", "React", "TypeScript",
          "Docker", "AWS", "Kafka", "SQL", "Linux", "Terraform", "Kotlin"]
LOCATIONS = ["Berlin", "London", "Москва", "Amsterdam", "New York", "Remote", "Munich", "Paris"]
SOURCES = ["hh", "adzuna", "remoteok", "greenhouse", "lever", "arbeitnow", "jobspy"]


def percentile(values, p):
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Client:
    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        self.token = None

    def call(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        return response.status, data, elapsed


def query_for(rng):
    words = WORDS_RU if rng.random() < 0.2 else WORDS_EN
    a, b, c = rng.sample(words, 3)
    params = {}
    if rng.random() < 0.9:
        params["q"] = rng.choice(QUERY_SHAPES).format(a=a, b=b, c=c)
    # Filters: most queries carry one or two.
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
        kind = rng.choice(["remote", "seniority", "skills", "location", "salary", "source",
                           "published", "sort", "facets"])
        if kind == "remote":
            params["remote"] = rng.choice(["yes", "no", "hybrid", "yes,hybrid"])
        elif kind == "seniority":
            params["seniority"] = rng.choice(["junior", "middle", "senior", "senior,lead"])
        elif kind == "skills":
            params["skills"] = ",".join(rng.sample(SKILLS, rng.choice([1, 1, 2])))
        elif kind == "location":
            params["location"] = rng.choice(LOCATIONS)
        elif kind == "salary":
            params["salary_min"] = str(rng.choice([30000, 60000, 90000, 120000]))
            params["currency"] = rng.choice(["USD", "EUR"])
        elif kind == "source":
            params["source"] = rng.choice(SOURCES)
        elif kind == "published":
            params["published_after"] = rng.choice(["2026-10-15T00:00:00Z", "2026-11-01T00:00:00Z"])
        elif kind == "sort":
            params["sort"] = "newest"
        else:
            params["facets"] = rng.choice(["skill", "remote,seniority", "source,skill"])
    if not params:
        params["remote"] = "yes"
    params["limit"] = "20"
    return "/api/v1/jobs?" + urllib.parse.urlencode(params), shape_of(params)


def shape_of(params):
    """What kind of request this is, for the breakdown."""
    if "facets" in params:
        return "facets"
    if params.get("sort") == "newest":
        return "sorted by date"
    if "q" not in params:
        return "filters only"
    return "text" + (" + filters" if len(params) > 2 else "")


def resume_text(rng, n):
    skills = rng.sample(SKILLS, rng.randint(4, 9))
    level = rng.choice(["Junior", "Middle", "Senior", "Lead"])
    role = rng.choice(["Backend Engineer", "Data Engineer", "Frontend Developer", "DevOps Engineer",
                       "Python Developer", "Platform Engineer"])
    return (f"Candidate {n}\n{level} {role}\n\nSummary\n{rng.randint(1, 12)} years of experience "
            f"building services with {', '.join(skills)}.\n\nExperience\n"
            f"{level} {role} at Example Corp (2019-2026): designed APIs in {skills[0]} and "
            f"{skills[1]}, ran {skills[2]} in production, mentored engineers.\n\n"
            f"Skills\n{', '.join(skills)}\n")


def multipart(filename, content):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n").encode()
    body += content.encode() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--resumes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    client = Client(args.base)

    email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
    password = "bench password " + uuid.uuid4().hex
    status, data, _ = client.call("POST", "/api/v1/auth/register", {"email": email, "password": password})
    assert status == 201, data
    status, data, _ = client.call("POST", "/api/v1/auth/login", {"email": email, "password": password})
    assert status == 200, data
    client.token = json.loads(data)["access_token"]

    # Resumes first: their parse tasks run while nothing is measured.
    resume_ids = []
    for n in range(args.resumes):
        body, content_type = multipart(f"resume-{n}.txt", resume_text(rng, n))
        status, data, _ = client.call("POST", "/api/v1/resumes", body, {"Content-Type": content_type})
        assert status == 202, data
        uploaded = json.loads(data)
        resume_ids.append(uploaded["resume"]["id"])
    deadline = time.time() + 600
    for resume_id in resume_ids:
        while True:
            status, data, _ = client.call("GET", f"/api/v1/resumes/{resume_id}")
            assert status == 200, data
            resume = json.loads(data)
            if resume["status"] == "parsed":
                break
            assert resume["status"] == "pending", resume
            assert time.time() < deadline, f"resume {resume_id} was not parsed: {resume}"
            time.sleep(0.05)

    # Warm the connection and the process (first queries open index readers).
    for _ in range(20):
        client.call("GET", query_for(rng)[0])

    search, hits, errors = [], [], 0
    by_shape = {}
    slowest = []
    for _ in range(args.queries):
        path, shape = query_for(rng)
        status, data, elapsed = client.call("GET", path)
        if status != 200:
            errors += 1
            continue
        search.append(elapsed)
        by_shape.setdefault(shape, []).append(elapsed)
        slowest.append((elapsed, path))
        hits.append(len(json.loads(data)["items"]))
    slowest.sort(reverse=True)

    matches, match_counts = [], []
    for resume_id in resume_ids:
        status, data, elapsed = client.call("GET", f"/api/v1/resumes/{resume_id}/matches?limit=20")
        assert status == 200, data
        matches.append(elapsed)
        match_counts.append(len(json.loads(data)["items"]))
    warm = [client.call("GET", f"/api/v1/resumes/{rid}/matches?limit=20")[2] for rid in resume_ids[:20]]

    print(json.dumps({
        "search_queries": len(search),
        "search_errors": errors,
        "search_p50_ms": round(statistics.median(search), 2),
        "search_p99_ms": round(percentile(search, 99), 2),
        "search_max_ms": round(max(search), 2),
        "search_mean_hits": round(statistics.mean(hits), 1),
        "search_by_shape": {shape: {"n": len(v), "p50_ms": round(statistics.median(v), 2),
                                    "p99_ms": round(percentile(v, 99), 2)}
                            for shape, v in sorted(by_shape.items())},
        "search_slowest": [{"ms": round(ms, 1), "path": path} for ms, path in slowest[:5]],
        "match_cold_samples": len(matches),
        "match_cold_p50_ms": round(statistics.median(matches), 2),
        "match_cold_p99_ms": round(percentile(matches, 99), 2),
        "match_cold_max_ms": round(max(matches), 2),
        "match_mean_results": round(statistics.mean(match_counts), 1),
        "match_cached_p50_ms": round(statistics.median(warm), 2),
    }))


if __name__ == "__main__":
    main()

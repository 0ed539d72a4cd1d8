#!/usr/bin/env python3
"""A tiny, deliberately broken HTTP API for `scripts/api-fuzz --self-test`.

It serves its own OpenAPI 3.1 document at /api/openapi.json (the same path as jobpilot) with three
operations:

  GET /greet?name=…  BROKEN: answers 500 when `name` is the empty string (a server error).
  GET /stats         BROKEN: its 200 body has `count` as a string, the schema says integer.
  GET /ping          HEALTHY: conforms to its schema and rejects bad input; it must NOT be reported.

It also serves a structurally invalid OpenAPI document at /api/openapi-invalid.json, so the self-test
can prove that the spec validation step rejects a broken document.

Standard library only. Usage: server.py PORT  (listens on 127.0.0.1).
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ERROR = {"$ref": "#/components/schemas/Error"}


def json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "api-fuzz self-test (deliberately broken)", "version": "1.0.0"},
    "paths": {
        "/greet": {
            "get": {
                "operationId": "greet",
                "summary": "BROKEN: 500 on an empty name",
                "parameters": [
                    {
                        "name": "name",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 20},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "A greeting",
                        "content": json_content(
                            {
                                "type": "object",
                                "required": ["greeting"],
                                "properties": {"greeting": {"type": "string"}},
                            }
                        ),
                    },
                    "400": {"description": "Bad input", "content": json_content(ERROR)},
                },
            }
        },
        "/stats": {
            "get": {
                "operationId": "stats",
                "summary": "BROKEN: the body violates its schema",
                "responses": {
                    "200": {
                        "description": "Counters",
                        "content": json_content(
                            {
                                "type": "object",
                                "required": ["count"],
                                "properties": {"count": {"type": "integer"}},
                            }
                        ),
                    }
                },
            }
        },
        "/ping": {
            "get": {
                "operationId": "ping",
                "summary": "HEALTHY: must pass every check",
                "parameters": [
                    {
                        "name": "echo",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 0, "maximum": 1000},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "Pong",
                        "content": json_content(
                            {
                                "type": "object",
                                "required": ["ok"],
                                "properties": {
                                    "ok": {"type": "boolean"},
                                    "echo": {"type": "integer"},
                                },
                            }
                        ),
                    },
                    "400": {"description": "Bad input", "content": json_content(ERROR)},
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            }
        }
    },
}

# Not a valid OpenAPI document: `info` lacks its required `version`, and a response lacks `description`.
INVALID_SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "invalid on purpose"},
    "paths": {"/x": {"get": {"responses": {"200": {"content": {}}}}}},
}


class Handler(BaseHTTPRequestHandler):
    server_version = "api-fuzz-selftest/1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), format % args))

    def send_json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def bad_request(self, why: str) -> None:
        self.send_json(400, {"error": why})

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        url = urlsplit(self.path)
        try:
            query = parse_qs(url.query, keep_blank_values=True, strict_parsing=False)
        except ValueError:
            return self.bad_request("malformed query string")

        if url.path == "/api/openapi.json":
            return self.send_json(200, SPEC)
        if url.path == "/api/openapi-invalid.json":
            return self.send_json(200, INVALID_SPEC)
        if url.path == "/greet":
            names = query.get("name")
            if names is None or len(names) != 1:
                return self.bad_request("exactly one `name` is required")
            name = names[0]
            if len(name) > 20:
                return self.bad_request("`name` is longer than 20 characters")
            if name == "":
                # The deliberate bug: an unhandled case that crashes the handler.
                return self.send_json(500, {"error": "internal error"})
            return self.send_json(200, {"greeting": f"hello, {name}"})
        if url.path == "/stats":
            # The deliberate bug: `count` is documented as an integer.
            return self.send_json(200, {"count": "three"})
        if url.path == "/ping":
            echoes = query.get("echo")
            if echoes is None:
                return self.send_json(200, {"ok": True})
            if len(echoes) != 1:
                return self.bad_request("at most one `echo`")
            raw = echoes[0]
            if not raw.isascii() or not raw.isdigit():
                return self.bad_request("`echo` must be an integer from 0 to 1000")
            value = int(raw)
            if value > 1000:
                return self.bad_request("`echo` must be an integer from 0 to 1000")
            return self.send_json(200, {"ok": True, "echo": value})
        return self.send_json(404, {"error": "not found"})

    def method_not_allowed(self) -> None:
        # Every path here is GET-only; schemathesis' coverage phase checks that other methods get 405.
        data = json.dumps({"error": "method not allowed"}).encode()
        self.send_response(405)
        self.send_header("Allow", "GET")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def __getattr__(self, name: str):
        # http.server looks up `do_<METHOD>` and answers 501 when it is missing; any method but GET
        # (POST, TRACE, QUERY, …) gets 405 here instead.
        if name.startswith("do_"):
            return self.method_not_allowed
        raise AttributeError(name)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: server.py PORT")
    httpd = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    sys.stderr.write(f"api-fuzz self-test server listening on 127.0.0.1:{sys.argv[1]}\n")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

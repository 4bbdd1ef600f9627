#!/usr/bin/env python3
"""A scripted HTTP server for mir's tests, bound to 127.0.0.1 on a free port.

Usage: scripted_http_server.py SCENARIO.json [PORT_FILE]
Scenario: {"routes": {"METHOD /path?query": [{"status": 200, "body": "...", "delay": 0.0, "headers": {..}}, ...]},
           "max_lifetime": 300}
Each route answers with its responses in order; the last one repeats. Unknown routes answer 404.
Control endpoints (not recorded): GET /__requests returns the recorded requests as JSON
[{"method", "path", "headers": [[name, value], ...], "body"}]; POST /__routes replaces the routes with the JSON body.
Prints "PORT <n>" on stdout (and writes it to PORT_FILE) once listening; exits by itself after max_lifetime seconds.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"routes": {}, "requests": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/__requests" and self.command == "GET":
            with lock:
                payload = json.dumps(state["requests"]).encode()
            return self._reply(200, payload, {"Content-Type": "application/json"})
        if self.path == "/__routes" and self.command == "POST":
            with lock:
                state["routes"] = json.loads(body)
            return self._reply(200, b"{}", {"Content-Type": "application/json"})
        key = f"{self.command} {self.path}"
        with lock:
            state["requests"].append({
                "method": self.command, "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("utf-8", "replace"),
            })
            responses = state["routes"].get(key)
            response = None
            if responses:
                response = responses[0] if len(responses) == 1 else responses.pop(0)
        if response is None:
            return self._reply(404, b"not found", {"Content-Type": "text/plain"})
        if response.get("delay"):
            time.sleep(response["delay"])
        self._reply(response.get("status", 200), response.get("body", "").encode(), response.get("headers", {}))

    def _reply(self, status, payload, headers):
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_PUT = do_POST = do_DELETE = _handle


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from parent_watch import watch_parent
    watch_parent()
    with open(sys.argv[1]) as handle:
        scenario = json.load(handle)
    state["routes"] = scenario.get("routes", {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    lifetime = float(scenario.get("max_lifetime", 120))
    threading.Timer(lifetime, lambda: os._exit(0)).start()
    if len(sys.argv) > 2:
        with open(sys.argv[2] + ".tmp", "w") as handle:
            handle.write(f"PORT {server.server_address[1]}\n")
        os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

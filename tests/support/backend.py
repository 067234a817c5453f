#!/usr/bin/env python3
"""A real HTTP/1.1 backend for the edge's tests and the lab: a threaded server on loopback.

  backend.py --name NAME [--address 127.0.0.1] [--port 0]

Prints "listening HOST PORT" on stdout once it accepts connections. Answers:
  GET  /healthz            200 "ok" (503 after /fail-health, 200 again after /heal)
  *    /fail-all            from now on every other path answers 500 (until /heal)
  GET  /slow?ms=N          waits N ms, then 200
  GET  /status/NNN         that status
  GET  /chunked            a chunked response of three chunks
  GET  /count              how many requests this backend has received, before this one
  GET  /capacity?workers=N&ms=S   from now on "anything else" below takes S ms of one of N
                           workers; requests beyond N wait their turn (a backend of known
                           capacity, N x 1000 / S requests a second). workers=0: no limit again
  GET  /peak               the most "anything else" requests in service or waiting at once,
                           since the last /capacity
  *    /echo               the request's method, target, headers and body, as JSON
  *    anything else       200 "NAME PATH"
Every response carries "X-Backend: NAME". Keep-alive works (HTTP/1.1).
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

state = {"count": 0, "healthy": True, "fail_all": False}
lock = threading.Lock()
# The capacity model of /capacity: a semaphore of `workers`, `ms` per request.
capacity = {"workers": None, "ms": 0, "in": 0, "peak": 0}


def serve_within_capacity():
    workers = capacity["workers"]
    if workers is None:
        return
    with lock:
        capacity["in"] += 1
        capacity["peak"] = max(capacity["peak"], capacity["in"])
    try:
        with workers:
            time.sleep(capacity["ms"] / 1000.0)
    finally:
        with lock:
            capacity["in"] -= 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "holdfast-test-backend"
    # A response leaves in one write when the handler is done (the server flushes after each
    # request), not as a head and then a body: two small writes on a keep-alive connection wait
    # for the client's delayed ACK (Nagle), about 40 ms a request, which would look like the
    # edge's latency. No Nagle either, for the responses that flush early (/chunked).
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body, content_type="text/plain"):
        self.send_response(status)
        self.send_header("X-Backend", self.server.name)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        with lock:
            before = state["count"]
            state["count"] += 1
        body = self._body()
        url = urlsplit(self.path)
        path = url.path
        if path == "/healthz":
            ok = state["healthy"]
            return self._send(200 if ok else 503, b"ok\n" if ok else b"failing\n")
        if path == "/fail-health":
            state["healthy"] = False
            return self._send(200, b"health now fails\n")
        if path == "/heal":
            state["healthy"] = True
            state["fail_all"] = False
            return self._send(200, b"health now passes\n")
        if path == "/fail-all":
            state["fail_all"] = True
            return self._send(200, b"every request now fails\n")
        if state["fail_all"]:
            return self._send(500, f"{self.server.name} failing\n".encode())
        if path == "/count":
            return self._send(200, f"{before}\n".encode())
        if path == "/capacity":
            query = parse_qs(url.query)
            workers = int(query.get("workers", ["0"])[0])
            with lock:
                capacity["workers"] = threading.Semaphore(workers) if workers > 0 else None
                capacity["ms"] = int(query.get("ms", ["0"])[0])
                capacity["peak"] = 0
            return self._send(200, f"capacity {workers} x {capacity['ms']} ms\n".encode())
        if path == "/peak":
            return self._send(200, f"{capacity['peak']}\n".encode())
        if path == "/slow":
            ms = int(parse_qs(url.query).get("ms", ["100"])[0])
            time.sleep(ms / 1000.0)
            return self._send(200, f"{self.server.name} slow {ms}\n".encode())
        if path.startswith("/status/"):
            return self._send(int(path.split("/")[2]), f"{self.server.name} {path}\n".encode())
        if path == "/chunked":
            self.send_response(200)
            self.send_header("X-Backend", self.server.name)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"one ", b"two ", b"three\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return None
        if path == "/echo":
            echo = {
                "method": self.command,
                "target": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("utf-8", "replace"),
            }
            return self._send(200, json.dumps(echo).encode(), "application/json")
        serve_within_capacity()
        return self._send(200, f"{self.server.name} {path}\n".encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _handle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    # A deep accept queue: a flood waits in the backend (as it would in a real one), where
    # socketserver's default of 5 would refuse it.
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer((args.address, args.port), Handler)
    server.daemon_threads = True
    server.name = args.name
    print(f"listening {server.server_address[0]} {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())

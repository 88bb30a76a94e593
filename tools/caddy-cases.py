#!/usr/bin/env python3
"""Checks testdata/caddy_cases/*.toml against a real Caddy: each case's
config is loaded into Caddy through its admin API and the case's raw
requests are sent to it; every answer that differs from the one the case
records is printed. This is how a case's expected answer is known to be
Caddy's; the repo's tests never need Caddy (runtime/tests/e2e/caddy_cases.rs
runs the same files against bellhop).

Usage: CADDY=/tmp/caddy/bin/caddy tools/caddy-cases.py [NAME_SUBSTRING]
"""
import glob
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Echo(http.server.BaseHTTPRequestHandler):
    """Answers with the request line and headers it received."""

    def handle_one_request(self):
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            self.close_connection = True
            return
        head = self.raw_requestline
        while True:
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            head += line
        head = head.rstrip(b"\r\n")
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % len(head) + head
        )
        self.close_connection = True


class RawUpstream(threading.Thread):
    """Answers every request with the case's `upstream_raw` bytes, then closes."""

    def __init__(self, raw):
        super().__init__(daemon=True)
        self.raw = raw.encode()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                buf = b""
                while b"\r\n\r\n" not in buf:
                    b = c.recv(65536)
                    if not b:
                        break
                    buf += b
                c.sendall(self.raw)
                c.shutdown(socket.SHUT_WR)
                time.sleep(0.05)


def build_request(r):
    method = r.get("method", "GET")
    target = r.get("target", "/")
    s = f"{method} {target} HTTP/1.1\r\n"
    host = r.get("host", "example.com")
    if host != "":
        s += f"Host: {host}\r\n"
    for k, v in r.get("headers", []):
        s += f"{k}: {v}\r\n"
    body = r.get("send_body")
    if body is not None:
        s += f"Content-Length: {len(body.encode())}\r\n"
    s += "Connection: close\r\n\r\n" + (body or "")
    return s


def connect(to):
    if isinstance(to, str):
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(10)
        c.connect(to)
        return c
    return socket.create_connection(("127.0.0.1", to), timeout=10)


def exchange(to, raw):
    with connect(to) as c:
        c.sendall(raw.encode())
        out = b""
        while True:
            try:
                b = c.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            out += b
    text = out.decode("utf-8", "replace")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split(" ")[1]) if len(lines[0].split(" ")) > 1 else 0
    headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:] if ":" in l]
    if any(k.lower() == "transfer-encoding" and v.lower() == "chunked" for k, v in headers):
        out, rest = "", body
        while "\r\n" in rest:
            size, rest = rest.split("\r\n", 1)
            n = int(size.split(";")[0].strip() or "0", 16)
            if n == 0:
                break
            out += rest[:n]
            rest = rest[n:].lstrip("\r\n")
        body = out
    return status, headers, body


def differences(r, status, headers, body):
    errs = []
    if status != r["status"]:
        errs.append(f"status {status} (recorded {r['status']})")
    if "body" in r and body != r["body"]:
        errs.append(f"body {body!r} (recorded {r['body']!r})")
    for s in r.get("body_has", []):
        if s not in body:
            errs.append(f"body {body!r} lacks {s!r}")
    for s in r.get("body_has_nocase", []):
        if s.lower() not in body.lower():
            errs.append(f"body {body!r} lacks {s!r} (any case)")
    for s in r.get("body_lacks_nocase", []):
        if s.lower() in body.lower():
            errs.append(f"body {body!r} holds {s!r}")
    if "body_match" in r and not re.search(r["body_match"], body):
        errs.append(f"body {body!r} (recorded /{r['body_match']}/)")

    def header(n):
        vals = [v for k, v in headers if k.lower() == n.lower()]
        return ", ".join(vals) if vals else None

    for n, want in r.get("header", {}).items():
        if header(n) != want:
            errs.append(f"header {n}: {header(n)!r} (recorded {want!r})")
    for n, pat in r.get("header_match", {}).items():
        if header(n) is None or not re.search(pat, header(n)):
            errs.append(f"header {n}: {header(n)!r} (recorded /{pat}/)")
    for n in r.get("present", []):
        if header(n) is None:
            errs.append(f"header {n} missing (recorded present)")
    for n in r.get("absent", []):
        if header(n) is not None:
            errs.append(f"header {n}: {header(n)!r} (recorded none)")
    return errs


def merge(into, add):
    for k, v in add.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = v


def load(admin, config):
    req = urllib.request.Request(
        f"http://127.0.0.1:{admin}/load",
        data=json.dumps(config).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        urllib.request.urlopen(req, timeout=10).read()
        return None
    except urllib.error.HTTPError as e:
        return e.read().decode()


def main():
    caddy = os.environ.get("CADDY", "caddy")
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    echo = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    backend = f"127.0.0.1:{echo.server_address[1]}"
    admin, port = free_port(), free_port()
    base = {"admin": {"listen": f"127.0.0.1:{admin}"}}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(base, f)
    proc = subprocess.Popen([caddy, "run", "--config", f.name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    total = differing = 0
    try:
        for path in sorted(glob.glob(os.path.join(ROOT, "testdata/caddy_cases/*.toml"))):
            with open(path, "rb") as fh:
                cases = tomllib.load(fh).get("case", [])
            for case in cases:
                label = f"{os.path.basename(path)}: {case['name']}"
                if only not in label:
                    continue
                total += 1
                errs = run_case(case, admin, port, backend, base)
                if errs:
                    differing += 1
                    print(label)
                    for e in errs:
                        print("    " + e)
    finally:
        proc.terminate()
        proc.wait()
    print(f"{total} cases, {differing} differ from Caddy")


def run_case(case, admin, port, backend, base):
    with tempfile.TemporaryDirectory() as root:
        for name, content in case.get("files", {}).items():
            p = os.path.join(root, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as fh:
                fh.write(content)
        for name, target in case.get("symlinks", {}).items():
            os.symlink(target, os.path.join(root, name))
        for name, secs in case.get("mtimes", {}).items():
            os.utime(os.path.join(root, name), (secs, secs))
        upstream = None
        if "upstream_raw" in case:
            upstream = RawUpstream(case["upstream_raw"])
            upstream.start()

        def fill(s):
            s = s.replace("{root}", root).replace("{backend}", backend)
            return s.replace("{upstream}", upstream.addr) if upstream else s
        if "routes" in case:
            server = {"routes": json.loads(fill(case["routes"]))}
        elif "server" in case:
            server = json.loads(fill(case["server"]))
        else:
            server = None
        if server is not None:
            server.setdefault("listen", [f"127.0.0.1:{port}"])
            server.setdefault("automatic_https", {"disable": True})
            config = {"apps": {"http": {"servers": {"srv0": server}}}}
        else:
            config = json.loads(fill(case["config"]))
        if "merge" in case:
            merge(config, json.loads(fill(case["merge"])))
        config.update(base)
        err = load(admin, config)
        if "load_error" in case:
            return [] if err else ["config loaded; the case says Caddy refuses it"]
        if err:
            return [f"Caddy refused the config: {err.strip()}"]
        errs = []
        to = os.path.join(root, case["unix"]) if "unix" in case else port
        for i, r in enumerate(case.get("req", [])):
            raw = r.get("raw") or build_request(r)
            try:
                got = exchange(to, raw)
                if got[0] == 0:  # the listener was being swapped by /load
                    time.sleep(0.3)
                    got = exchange(to, raw)
            except OSError as e:
                errs.append(f"request {i}: {e}")
                continue
            errs += [f"request {i} ({raw.splitlines()[0]}): {e}"
                     for e in differences(r, *got)]
        if upstream:
            upstream.sock.close()
        return errs


if __name__ == "__main__":
    main()

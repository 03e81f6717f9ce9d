#!/usr/bin/env python3
"""RSS of an HTTP server across connection bursts (issue 11), and its memory per open connection.

    scripts/rss-bursts.py SERVER_BINARY [--rounds 10] [--connections 1000]

Starts SERVER_BINARY PORT (the HTTPBench `our-server`), then: RSS at rest; `rounds` bursts of `connections` h2c
connections (h2load, one request each) and the same over HTTP/1.1, RSS after each (2 s later, so the server's
post-close trim has run); finally `connections` idle connections held open (h2c preface + SETTINGS, so each has
its HTTP/2 session) for the per-connection figure. Needs h2load (nghttp2-client).
"""
import argparse, os, socket, subprocess, sys, time

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--port", type=int, default=18431)
    a = ap.parse_args()
    server = subprocess.Popen([a.server, str(a.port)])
    url = f"http://127.0.0.1:{a.port}/json"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", a.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        subprocess.run(["h2load", "-n", "100", "-c", "1", url], capture_output=True, check=True)
        time.sleep(2)
        rest = rss_kib(server.pid)
        print(f"RSS at rest: {rest / 1024:.1f} MiB")
        for proto, extra in (("h2c", []), ("HTTP/1.1", ["--h1"])):
            for r in range(1, a.rounds + 1):
                out = subprocess.run(["h2load", "-n", str(a.connections), "-c", str(a.connections), *extra, url],
                                     capture_output=True, text=True)
                ok = [l for l in out.stdout.splitlines() if l.startswith("requests:")]
                time.sleep(2)
                print(f"{proto} round {r:2d}: RSS {rss_kib(server.pid) / 1024:6.1f} MiB  ({ok[0].strip() if ok else out.stderr.strip()[:80]})")
                sys.stdout.flush()
        before = rss_kib(server.pid)
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
        held = []
        for _ in range(a.connections):
            s = socket.create_connection(("127.0.0.1", a.port))
            s.sendall(preface)
            held.append(s)
        time.sleep(2)
        during = rss_kib(server.pid)
        print(f"{a.connections} idle h2c connections open: RSS {during / 1024:.1f} MiB, "
              f"{(during - before) / a.connections:.1f} KiB per connection")
        for s in held:
            s.close()
        time.sleep(3)
        print(f"after closing them: RSS {rss_kib(server.pid) / 1024:.1f} MiB")
    finally:
        server.terminate()
        server.wait()

main()

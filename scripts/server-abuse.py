#!/usr/bin/env python3
"""Issue 8's abuse classes against the running recommendation server; it must keep serving through each.

    scripts/server-abuse.py http://127.0.0.1:PORT

Slow headers (slowloris), slow readers (requests whose responses are never read), connection churn and request
floods (h2load, h2c and HTTP/1.1). After each class, POST /recommend must answer 200 within 5 s. Exits 1 naming the
class that broke it.
"""
import json, socket, subprocess, sys, threading, time, urllib.request

url = sys.argv[1].rstrip("/")
host, port = url.split("//")[1].split(":")
port = int(port)
body = json.dumps({"history": ["1", "2", "3"], "k": 5}).encode()

def still_serving(label):
    started = time.time()
    try:
        with urllib.request.urlopen(urllib.request.Request(url + "/recommend", data=body, headers={"content-type": "application/json"}), timeout=5) as r:
            assert r.status == 200
    except Exception as e:
        sys.exit(f"abuse: after {label} the server does not serve: {e}")
    print(f"abuse: {label}: still serving ({(time.time() - started) * 1000:.0f} ms)")

def slow_headers(count=200, seconds=3):
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection((host, port), timeout=2)
            s.sendall(b"POST /recommend HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError:
            break
    end = time.time() + seconds
    while time.time() < end:
        for s in socks:
            try: s.sendall(b"X-a: b\r\n")
            except OSError: pass
        still_serving_quiet()
        time.sleep(0.5)
    for s in socks: s.close()

def still_serving_quiet():
    try:
        urllib.request.urlopen(urllib.request.Request(url + "/recommend", data=body, headers={"content-type": "application/json"}), timeout=5).read()
    except Exception as e:
        sys.exit(f"abuse: during slow headers the server does not serve: {e}")

def slow_readers(count=20, requests=200):
    socks = []
    for _ in range(count):
        s = socket.create_connection((host, port), timeout=2)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try: s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * requests)
        except OSError: pass
        socks.append(s)
    time.sleep(1)
    still_serving_quiet()
    for s in socks: s.close()

def h2load(args):
    out = subprocess.run(["h2load"] + args, capture_output=True, text=True, timeout=120).stdout
    line = next((l for l in out.splitlines() if l.strip().startswith("requests:")), "")
    return line.strip()

slow_headers(); still_serving("slow headers (200 connections sending a header line every 0.5 s)")
slow_readers(); still_serving("slow readers (20 connections × 200 pipelined /metrics, never read)")
print("abuse:   churn h2c: " + h2load(["-c", "200", "-n", "2000", url + "/healthz"]))
print("abuse:   churn HTTP/1.1: " + h2load(["--h1", "-c", "200", "-n", "2000", url + "/healthz"]))
still_serving("connection churn (200 connections × 10 requests, h2c and HTTP/1.1)")
print("abuse:   flood: " + h2load(["-c", "4", "-m", "100", "-n", "20000", url + "/healthz"]))
still_serving("request flood (4 connections × 100 streams, 20,000 requests)")
print("abuse: passed")

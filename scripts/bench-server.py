#!/usr/bin/env python3
"""Serving benchmark (issue 14): h2load against POST /recommend with batching on and off, in one run.

    scripts/bench-server.py --server .build/release/mscgrec-server --bundles ROOT --inter DATASET.inter.json
                            [--seconds 30] [--clients 32] [--streams 8] [--raw "mscgrec-bench beam ..."]

For each mode it starts the server on the bundle, runs `h2load -c CLIENTS -m STREAMS -D SECONDS` (h2c) with one
test-split history (the user's items but the last; the history of median length, since h2load sends one body), and
prints requests/s, p50/p99 latency (from h2load's per-request log), the mean batch size (from /metrics) and the
server's peak RSS. `--raw` runs a command printing `ours batch N: X users/s` lines (mscgrec-bench beam) for the
batched beam search without HTTP, so the ratio is measured in the same run.
"""
import argparse, json, os, re, signal, statistics, subprocess, sys, tempfile, time, urllib.request

def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0

def metric(text, name):
    m = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0

def run_mode(a, label, extra, body_file, port):
    env = dict(os.environ, MSCGREC_LOG_LEVEL="warning")
    server = subprocess.Popen([a.server, "--bundles", a.bundles, "--port", str(port)] + extra, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        started = time.time()
        line = server.stdout.readline()
        if "serving" not in line:
            sys.exit(f"{label}: the server did not start: {line!r}")
        startup = time.time() - started
        url = f"http://127.0.0.1:{port}/recommend"
        with tempfile.NamedTemporaryFile(suffix=".log") as log:
            out = subprocess.run(["h2load", "-c", str(a.clients), "-m", str(a.streams), "-D", str(a.seconds), "-t", "1",
                                  "-d", body_file, "-H", "content-type: application/json", f"--log-file={log.name}", url],
                                 capture_output=True, text=True).stdout
            rows = [l.split("\t") for l in open(log.name).read().splitlines() if l]
        ok = [int(r[2]) / 1000 for r in rows if r[1] == "200"]
        failed = len(rows) - len(ok)
        m = re.search(r"finished in ([0-9.]+)s, ([0-9.]+) req/s", out)
        rps = float(m.group(2)) if m else 0.0
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        count = metric(metrics, "mscgrec_batch_size_count")
        mean_batch = metric(metrics, "mscgrec_batch_size_sum") / count if count else 0.0
        rss = peak_rss_mib(server.pid)
        ok.sort()
        pct = lambda q: ok[min(len(ok) - 1, int(q * len(ok)))] if ok else float("nan")
        return dict(label=label, rps=rps, p50=pct(0.50), p99=pct(0.99), batch=mean_batch, rss=rss, failed=failed,
                    startup=startup)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

def startup_only(a):
    """Start-up time (process start to serving), RSS after loading, and one request's latency."""
    started = time.time()
    server = subprocess.Popen([a.server, "--bundles", a.bundles, "--port", str(a.port)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        if "serving" not in line:
            sys.exit(f"the server did not start: {line!r}")
        startup = time.time() - started
        with open(f"/proc/{server.pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
        body = json.dumps({"history": ["item-1", "item-2", "item-3"], "k": 10}).encode()
        t = time.time()
        answer = json.load(urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{a.port}/recommend", data=body)))
        latency = (time.time() - t) * 1000
        print(f"bundle {answer['model_version']}: start-up {startup:.2f} s (load, checksums, warm-up), RSS {rss:.0f} MiB, "
              f"first /recommend {latency:.1f} ms ({len(answer['items'])} items)")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default=".build/release/mscgrec-server")
    ap.add_argument("--bundles", required=True)
    ap.add_argument("--inter", help="the dataset's <name>.inter.json (LC-Rec layout)")
    ap.add_argument("--startup-only", action="store_true", help="only start-up time, RSS and one request (large bundles)")
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--port", type=int, default=18480)
    ap.add_argument("--on-args", default="", help="extra server flags for the batching-on mode, e.g. '--max-batch 16'")
    ap.add_argument("--raw", help="command printing the raw beam-search users/s (mscgrec-bench beam ... --history {history})")
    a = ap.parse_args()
    if a.startup_only:
        return startup_only(a)
    if not a.inter:
        sys.exit("--inter is required (the histories)")
    inter = json.load(open(a.inter))
    histories = sorted((v[:-1] for v in inter.values() if len(v) >= 3), key=len)
    history = [str(i) for i in histories[len(histories) // 2]][-20:]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"history": history, "k": 10}, f)
        body = f.name
    print(f"h2load -c {a.clients} -m {a.streams} -D {a.seconds} (h2c), one test history of {len(history)} items (the median length), k 10, beam 20")
    results = [run_mode(a, "batching on" + (f" ({a.on_args})" if a.on_args else ""), a.on_args.split(), body, a.port),
               run_mode(a, "batching off (max batch 1)", ["--max-batch", "1"], body, a.port + 1)]
    print(f"{'mode':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'mean batch':>10} {'peak RSS MiB':>12} {'failed':>6} {'start s':>7}")
    for r in results:
        print(f"{r['label']:28} {r['rps']:8.1f} {r['p50']:8.1f} {r['p99']:8.1f} {r['batch']:10.2f} {r['rss']:12.1f} {r['failed']:6d} {r['startup']:7.2f}")
    print(f"batching on / off: {results[0]['rps'] / max(results[1]['rps'], 1e-9):.2f}x")
    if a.raw:
        raw = subprocess.run(a.raw.replace("{history}", ",".join(history)), shell=True, capture_output=True, text=True).stdout + ""
        rates = {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"ours\s+batch\s+(\d+):\s+([0-9.]+) users/s", raw)}
        if rates:
            best = max(rates.values())
            print("raw beam search (no HTTP): " + ", ".join(f"batch {b}: {r:.1f} users/s" for b, r in sorted(rates.items())))
            print(f"served (batching on) / best raw batched: {results[0]['rps'] / best:.2f}")
    os.unlink(body)

if __name__ == "__main__":
    main()

"""PyTorch side of the engine benchmark: forward+backward of one T5 pre-norm encoder block, float32 on CPU.

Run:  python3 scripts/bench_torch_block.py --threads 2            (driven by `make bench-engine`)
The block is make_fixtures.t5_encoder_block, the same one the Swift fixtures are checked against (no padding).
Prints one JSON line: {"forward_ms", "backward_ms", "total_ms" (medians), "threads", "torch"}.
forward_ms covers the block plus loss = (out*dout).sum(); backward_ms covers loss.backward(), which
computes the gradients of every weight and of the input x.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import t5_encoder_block  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("batch", 64), ("length", 64), ("dmodel", 128), ("heads", 4), ("dkv", 32), ("dff", 1024),
                          ("threads", 1), ("iters", 20), ("warmup", 3)):
        p.add_argument("--" + name, type=int, default=default)
    return p.parse_args()


def build_block(a):
    inner = a.heads * a.dkv

    def weight(n_in, n_out):
        return (torch.randn(n_in, n_out) / math.sqrt(n_in)).requires_grad_(True)
    weights = {"ln1": torch.ones(a.dmodel, requires_grad=True), "wq": weight(a.dmodel, inner),
               "wk": weight(a.dmodel, inner), "wv": weight(a.dmodel, inner), "wo": weight(inner, a.dmodel),
               "rel_bias": (torch.randn(32, a.heads) * 0.5).requires_grad_(True),
               "ln2": torch.ones(a.dmodel, requires_grad=True), "wi0": weight(a.dmodel, a.dff),
               "wi1": weight(a.dmodel, a.dff), "wff_o": weight(a.dff, a.dmodel)}
    x = torch.randn(a.batch, a.length, a.dmodel, requires_grad=True)
    key_pad = torch.zeros(a.batch, a.length)  # no padding, but the mask is still applied like in training
    return x, key_pad, weights


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x, key_pad, weights = build_block(a)
    dout = torch.randn(a.batch, a.length, a.dmodel)
    leaves = [x, *weights.values()]
    fwd, bwd, tot = [], [], []
    for i in range(a.warmup + a.iters):
        for t in leaves:
            t.grad = None
        t0 = time.perf_counter()
        out = t5_encoder_block(x, key_pad, **weights, heads=a.heads)
        loss = (out * dout).sum()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        if i >= a.warmup:
            fwd.append((t1 - t0) * 1e3)
            bwd.append((t2 - t1) * 1e3)
            tot.append((t2 - t0) * 1e3)
    print(json.dumps({"forward_ms": round(statistics.median(fwd), 3), "backward_ms": round(statistics.median(bwd), 3),
                      "total_ms": round(statistics.median(tot), 3), "threads": a.threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()

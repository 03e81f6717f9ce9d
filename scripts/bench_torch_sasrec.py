"""PyTorch side of the SASRec training-speed benchmark: epochs of the reference SASRec on an LC-Rec dataset.

Run:  python3 scripts/bench_torch_sasrec.py --data ../shared/datasets/amazon14-beauty --name Beauty --loss ce \
          --threads 2 --epochs 2
Model and batches are sasrec_reference's (one training sequence per user: the last maxlen+1 items of the history
without its last 2, left-padded). Each epoch shuffles the sequences, runs forward, loss, backward and an AdamW step
(weight_decay 0, default betas) per batch of --batch; the last batch may be smaller. BCE negatives: one per
position, uniform over the items other than that position's target (the user's other items may be drawn; the Swift
side also avoids them, slightly more work on our side of the ratio).
Prints one JSON line per epoch {"epoch", "seconds", "loss" (mean over batches), "sequences"} and a final
{"median_epoch_seconds", ...} line. Epoch time covers batching, negative sampling and the optimizer step.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sasrec_reference import (DataError, SASRec, bce_loss, ce_loss, load_inter, sample_negatives,  # noqa: E402
                              training_tensors)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="folder holding <name>.inter.json")
    p.add_argument("--name", required=True, help="dataset name, e.g. Beauty")
    for name, default in (("dim", 64), ("layers", 2), ("heads", 2), ("maxlen", 20), ("batch", 256), ("threads", 1),
                          ("epochs", 3), ("seed", 0)):
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--loss", choices=("ce", "bce"), default="ce")
    p.add_argument("--ce-rows", choices=("all", "valid"), default="all",
                   help="CE logits for all B*L positions (the literal formula) or only non-padding ones")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=1e-3)
    return p.parse_args()


def run_epoch(model, opt, ids, targets, a, gen):
    model.train()
    order = torch.randperm(ids.shape[0], generator=gen)
    losses = []
    for start in range(0, len(order), a.batch):
        rows = order[start:start + a.batch]
        x, pos = ids[rows], targets[rows]
        opt.zero_grad(set_to_none=True)
        h = model(x)
        if a.loss == "ce":
            loss = ce_loss(h, pos, model.item_embedding, rows=a.ce_rows)
        else:
            loss = bce_loss(h, pos, sample_negatives(pos, model.n_items, gen), model.item_embedding)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    path = os.path.join(a.data, a.name + ".inter.json")
    try:
        ids, targets, n_items = training_tensors(load_inter(path), a.maxlen)
    except DataError as e:
        sys.exit(f"bench_torch_sasrec: {e}")
    model = SASRec(n_items, a.dim, a.maxlen, a.heads, a.layers, dropout=a.dropout)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.0)
    times = []
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        loss = run_epoch(model, opt, ids, targets, a, gen)
        times.append(time.perf_counter() - t0)
        print(json.dumps({"epoch": epoch, "seconds": round(times[-1], 3), "loss": round(loss, 6),
                          "sequences": ids.shape[0]}), flush=True)
    print(json.dumps({"median_epoch_seconds": round(statistics.median(times), 3), "epochs": a.epochs,
                      "loss_kind": a.loss, "ce_rows": a.ce_rows if a.loss == "ce" else None, "items": n_items,
                      "sequences": ids.shape[0], "dim": a.dim, "layers": a.layers, "heads": a.heads,
                      "maxlen": a.maxlen, "batch": a.batch, "dropout": a.dropout, "threads": a.threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()

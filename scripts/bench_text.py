#!/usr/bin/env python3
"""sentence-transformers side of `mscgrec-bench text`: embeds the given texts with the same model directory, batch
size and thread count, and prints one JSON line {"seconds", "items_per_second"}; --out writes the embeddings as raw
float32 rows so the Swift side can compare them with its own."""
import argparse, json, time
import torch
from sentence_transformers import SentenceTransformer

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--texts", required=True, help="JSON array of strings")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--out")
a = p.parse_args()
torch.set_num_threads(a.threads)
texts = json.load(open(a.texts))
model = SentenceTransformer(a.model, device="cpu")
model.encode(texts[:64], batch_size=a.batch_size)          # warm-up: first-call allocations and kernel selection
start = time.perf_counter()
with torch.inference_mode():
    emb = model.encode(texts, batch_size=a.batch_size, convert_to_numpy=True)
seconds = time.perf_counter() - start
if a.out:
    emb.astype("<f4").tofile(a.out)
print(json.dumps({"seconds": seconds, "items_per_second": len(texts) / seconds, "threads": torch.get_num_threads()}))

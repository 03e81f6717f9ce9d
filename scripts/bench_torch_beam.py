"""PyTorch side of `mscgrec-bench beam`: users/s of constrained beam search at batch 1, 8 and 64.

- reference: a batched beam search on the MSCGRec reference model (scripts/mscgrec_reference.py) with the same
  weights and prefix tree; no key/value cache (the decoder reruns on the whole prefix), log-softmax restricted to each
  beam's children, top beams per user.
- hf: Hugging Face T5ForConditionalGeneration of the same shapes (its standard position bias is the only model
  difference) with generate(num_beams, num_return_sequences, prefix_allowed_tokens_fn) over the same tree.
Reads DIR/weights.safetensors (config in its metadata) and DIR/inputs.json; prints one JSON line.
"""
import argparse
import json
import time

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from mscgrec_reference import MASKED, PAD, MSCGRecTorch, prefix_children


def pad_batch(rows):
    """Left-pads token rows by whole blocks (PAD) -> tokens [B, S], padding [B, S] or None."""
    s = max(len(r) for r in rows)
    if all(len(r) == s for r in rows):
        return torch.tensor(rows), None
    tokens = torch.tensor([[PAD] * (s - len(r)) + r for r in rows])
    padding = torch.tensor([[1.0] * (s - len(r)) + [0.0] * len(r) for r in rows])
    return tokens, padding


def reference_search(model, rows, children, beams, results):
    lay = model.layout
    t_index, levels = lay.target, lay.target_levels
    tokens, padding = pad_batch(rows)
    b = tokens.shape[0]
    encoded = model.encode(tokens, padding)
    prefixes = [[()] for _ in range(b)]
    scores = torch.zeros(b, 1)
    for t in range(levels):
        w = len(prefixes[0])
        dec = torch.tensor([[PAD] + [lay.code_start[t_index][l] + p[l] for l in range(t)] for user in prefixes for p in user])
        enc = encoded.repeat_interleave(w, 0)
        pad = None if padding is None else padding.repeat_interleave(w, 0)
        logits = model.decode(enc, pad, dec).reshape(b * w, t + 1, -1)[:, t]
        allowed = torch.zeros_like(logits, dtype=torch.bool)
        for i, p in enumerate(p for user in prefixes for p in user):
            for c in children.get(p, []):
                allowed[i, lay.class_offsets[t] + c] = True
        logp = torch.log_softmax(logits.masked_fill(~allowed, MASKED), -1).masked_fill(~allowed, float("-inf"))
        total = (scores.reshape(b * w, 1) + logp).reshape(b, -1)
        keep = results if t == levels - 1 else beams
        top = total.topk(min(keep, total.shape[1]), dim=1)
        new_prefixes, new_scores = [], []
        for u in range(b):
            row, srow = [], []
            for value, index in zip(top.values[u].tolist(), top.indices[u].tolist()):
                parent, cls = divmod(index, logits.shape[1])
                if value == float("-inf"):
                    continue
                row.append(prefixes[u][parent] + (cls - lay.class_offsets[t],))
                srow.append(value)
            while len(row) < keep:   # rectangular beams: dead ones never win
                row.append(row[0]); srow.append(float("-inf"))
            new_prefixes.append(row)
            new_scores.append(srow)
        prefixes, scores = new_prefixes, torch.tensor(new_scores)
    return prefixes


def hf_model(cfg, layout):
    from transformers import T5Config, T5ForConditionalGeneration
    t = cfg["transformer"]
    config = T5Config(vocab_size=layout.vocab, d_model=t["dModel"], d_kv=t["headDim"], d_ff=t["dFF"], num_layers=t["encoderLayers"],
                      num_decoder_layers=t["decoderLayers"], num_heads=t["heads"], relative_attention_num_buckets=t["positionBuckets"],
                      relative_attention_max_distance=t["maxDistance"], dropout_rate=0.0,
                      feed_forward_proj="gated-gelu" if t.get("feedForward", "gated-gelu") == "gated-gelu" else "relu",
                      tie_word_embeddings=False, decoder_start_token_id=PAD, pad_token_id=PAD, eos_token_id=1)
    return T5ForConditionalGeneration(config).eval()


def hf_search(model, layout, rows, children, beams, results):
    t_index, levels = layout.target, layout.target_levels
    start = layout.code_start[t_index]
    tokens, padding = pad_batch(rows)
    mask = torch.ones_like(tokens) if padding is None else (padding == 0).long()

    def allowed(_batch_id, sent):
        prefix = tuple(int(x) - start[l] for l, x in enumerate(sent.tolist()[1:]))
        if len(prefix) >= levels:
            return [1]
        return [start[len(prefix)] + c for c in children.get(prefix, [])] or [1]

    return model.generate(input_ids=tokens, attention_mask=mask, num_beams=beams, num_return_sequences=results,
                          max_new_tokens=levels, prefix_allowed_tokens_fn=allowed, do_sample=False)


def rate(fn, rows, batch):
    fn(rows[:batch])   # warm-up
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        fn(rows[i:i + batch])
    return len(rows) / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    with safe_open(f"{args.dir}/weights.safetensors", "pt") as f:
        cfg = json.loads(f.metadata()["config"])
    inputs = json.load(open(f"{args.dir}/inputs.json"))
    torch.set_num_threads(inputs["threads"])
    model = MSCGRecTorch(cfg)
    model.load(load_file(f"{args.dir}/weights.safetensors"))
    children = prefix_children([list(c) for c in inputs["target_codes"]])
    rows, beams, results = inputs["histories"], inputs["beams"], inputs["results"]
    hf = hf_model(cfg, model.layout)
    out = {}
    with torch.no_grad():
        for batch in [1, 8, 64]:
            out[f"reference_{batch}"] = rate(lambda r: reference_search(model, r, children, beams, results), rows, batch)
            out[f"hf_{batch}"] = rate(lambda r: hf_search(hf, model.layout, r, children, beams, results), rows, batch)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

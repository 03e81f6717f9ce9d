"""PyTorch side of `mscgrec-bench mscgrec`: training steps of the MSCGRec reference model (scripts/mscgrec_reference.py)
and of Hugging Face T5ForConditionalGeneration at the same shapes, on the history lengths the Swift side timed.

Each step: forward, constrained (reference) or full-vocabulary (HF, as TIGER-style code trains) cross-entropy, backward,
global-norm clipping, AdamW; the reference also under CPU autocast to bfloat16. Prints one JSON line with samples/s.
"""
import argparse
import json
import time

import torch

from mscgrec_reference import Layout, MSCGRecTorch


def random_batch(layout, cfg, items, batch, g):
    s = items * layout.block + 1
    tokens = torch.randint(2 + len(layout.modalities), layout.vocab, (batch, s), generator=g)
    tokens[:, -1] = 1
    sizes = layout.modalities[layout.target]["codebookSizes"]
    codes = torch.stack([torch.randint(0, k, (batch,), generator=g) for k in sizes], 1)
    dec = torch.zeros(batch, len(sizes), dtype=torch.long)
    for l in range(len(sizes) - 1):
        dec[:, l + 1] = layout.code_start[layout.target][l] + codes[:, l]
    labels = (codes + torch.tensor(layout.class_offsets)).reshape(-1)
    # Allowed sets of a sparse prefix tree: all of level 1, a few children below (as on Beauty).
    allowed = torch.zeros(batch * len(sizes), layout.classes, dtype=torch.bool)
    for r in range(batch * len(sizes)):
        level = r % len(sizes)
        lo = layout.class_offsets[level]
        width = sizes[level] if level == 0 else min(sizes[level], 8)
        allowed[r, lo:lo + width] = True
        allowed[r, labels[r]] = True
    return tokens, dec, labels, allowed


def time_reference(cfg, shapes, lr, g, autocast=False):
    """Samples/s of the reference step; autocast=True runs the forward and loss under CPU autocast to bfloat16, as
    ours runs its products (backward outside the context, as PyTorch's recipe has it)."""
    model = MSCGRecTorch(cfg)
    layout = model.layout
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    drop = cfg["transformer"]["dropout"]
    batches = [random_batch(layout, cfg, n, b, g) for n, b in shapes[:2] + shapes]
    seconds = 0.0
    for i, (tokens, dec, labels, allowed) in enumerate(batches):
        start = time.perf_counter()
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            logits = model(tokens, None, dec, dropout=drop)
            loss = torch.nn.functional.cross_entropy(logits.float().masked_fill(~allowed, float("-inf")), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= 2:
            seconds += time.perf_counter() - start
    return sum(b for _, b in shapes) / seconds


def time_hf(cfg, shapes, lr, g):
    from transformers import T5Config, T5ForConditionalGeneration
    t = cfg["transformer"]
    layout = Layout(cfg)
    hf_cfg = T5Config(vocab_size=layout.vocab, d_model=t["dModel"], d_kv=t["headDim"], d_ff=t["dFF"], num_layers=t["encoderLayers"],
                      num_decoder_layers=t["decoderLayers"], num_heads=t["heads"], relative_attention_num_buckets=t["positionBuckets"],
                      relative_attention_max_distance=t["maxDistance"], dropout_rate=t["dropout"],
                      feed_forward_proj="gated-gelu" if t.get("feedForward", "gated-gelu") == "gated-gelu" else "relu",
                      tie_word_embeddings=False, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    model = T5ForConditionalGeneration(hf_cfg)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    seconds = 0.0
    for i, (n, b) in enumerate(shapes[:2] + shapes):
        tokens, dec, labels, _ = random_batch(layout, cfg, n, b, g)
        target_tokens = dec.clone()
        target_tokens[:, :-1] = dec[:, 1:]
        target_tokens[:, -1] = layout.code_start[layout.target][-1]
        start = time.perf_counter()
        opt.zero_grad()
        out = model(input_ids=tokens, attention_mask=torch.ones_like(tokens), labels=target_tokens)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= 2:
            seconds += time.perf_counter() - start
    return sum(b for _, b in shapes) / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="MSCGRecConfig JSON")
    ap.add_argument("--shapes", required=True, help="items:rows of each timed batch, comma-separated")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.002)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = json.loads(args.config)
    shapes = [tuple(int(v) for v in x.split(":")) for x in args.shapes.split(",")]
    g = torch.Generator().manual_seed(1)
    reference = time_reference(cfg, shapes, args.lr, g)
    reference_bf16 = time_reference(cfg, shapes, args.lr, g, autocast=True)
    hf = time_hf(cfg, shapes, args.lr, g)
    print(json.dumps({"reference_samples_per_second": reference, "reference_bf16_samples_per_second": reference_bf16,
                      "hf_t5_samples_per_second": hf,
                      "torch": torch.__version__, "threads": args.threads}))


if __name__ == "__main__":
    main()

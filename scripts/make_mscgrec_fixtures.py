"""Fixtures for the MSCGRec model (Tests/ModelsTests/Fixtures/mscgrec_*.safetensors) from scripts/mscgrec_reference.py.

A tiny configuration with two modalities (text, collaborative), items that lack a modality, explicitly masked
history items, left-padded rows of different lengths, and a collision level. Each file holds the configuration
(metadata "config", the Swift MSCGRecConfig JSON), the weights under the model's names, the item codes and batch
inputs, and the reference outputs: encoder output, logits, constrained and full-softmax losses with every gradient,
and (split variant) five AdamW steps. Computed in float64 from float32-representable inputs, stored as float32.

Run: python3 scripts/make_mscgrec_fixtures.py   (torch==2.13.0, safetensors)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import sort_metadata  # noqa: E402
from mscgrec_reference import EOS, PAD, Layout, MSCGRecTorch, allowed_mask, loss, prefix_children  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures")

# Item codes: text has 2 RQ levels + collision, collaborative 2 + collision. Items 2 and 5 lack text; item 8 lacks
# collaborative codes (so it is never a target).
TEXT = [[0, 1, 0], [1, 2, 0], [0, 0, 0], [3, 0, 0], [1, 2, 1], [0, 0, 0], [2, 3, 0], [0, 1, 1], [3, 3, 0], [2, 0, 0]]
TEXT_PRESENT = [1, 1, 0, 1, 1, 0, 1, 1, 1, 1]
COLLAB = [[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 0, 1], [2, 2, 0], [0, 0, 1], [2, 1, 0], [1, 2, 0], [0, 0, 0], [2, 2, 1]]
COLLAB_PRESENT = [1, 1, 1, 1, 1, 1, 1, 1, 0, 1]
HISTORIES = [[3, 2, 8], [4], [5, 1], [0, 6, 7]]
TARGETS = [1, 9, 3, 4]
MASKS = [(0, 1, 1), (3, 2, 0), (3, 0, 1)]  # (row, history position, modality) shown as MASK


def config(bias, ffn):
    return {"formatVersion": 1,
            "modalities": [{"name": "text", "codebookSizes": [4, 4, 2]}, {"name": "collaborative", "codebookSizes": [3, 3, 2]}],
            "targetModality": "collaborative", "maxHistory": 20,
            "transformer": {"dModel": 16, "heads": 2, "headDim": 8, "dFF": 24, "encoderLayers": 2, "decoderLayers": 2,
                            "positionBuckets": 16, "maxDistance": 16, "dropout": 0.0, "normEpsilon": 1e-6, "feedForward": ffn},
            "positionBias": bias, "itemBuckets": 8, "softmax": "constrained", "maskProbability": 0.0}


def batch(layout):
    """Encoder tokens [B, S] (left-padded by whole blocks, EOS last), padding, decoder tokens, labels."""
    items = max(len(h) for h in HISTORIES)
    P = layout.block
    s = items * P + 1
    tokens, padding = [], []
    for r, history in enumerate(HISTORIES):
        lead = items - len(history)
        row, pad = [PAD] * (lead * P), [1.0] * (lead * P)
        for i, item in enumerate(history):
            block = layout.item_block([TEXT[item], COLLAB[item]], [TEXT_PRESENT[item], COLLAB_PRESENT[item]])
            for (mr, mi, m) in MASKS:
                if (mr, mi) == (r, i):
                    start = layout.block_offset(m)
                    for l in range(len(layout.modalities[m]["codebookSizes"])):
                        block[start + l] = 2 + m
            row += block
            pad += [0.0] * P
        tokens.append(row + [EOS])
        padding.append(pad + [0.0])
    t = layout.target
    dec, labels = [], []
    for target in TARGETS:
        codes = COLLAB[target]
        dec.append([PAD] + [layout.code_start[t][l] + codes[l] for l in range(layout.target_levels - 1)])
        labels += [layout.class_offsets[l] + codes[l] for l in range(layout.target_levels)]
    assert len(tokens[0]) == s
    return torch.tensor(tokens), torch.tensor(padding, dtype=torch.float64), torch.tensor(dec), torch.tensor(labels)


def run(name, bias, ffn, adam_steps):
    cfg = config(bias, ffn)
    model = MSCGRecTorch(cfg, dtype=torch.float32, seed=7)
    weights = {n: model.p(n).detach().clone() for n in model.names}   # float32 values
    model64 = MSCGRecTorch(cfg, dtype=torch.float64)
    model64.load({n: w.double() for n, w in weights.items()})
    layout = Layout(cfg)
    tokens, padding, dec, labels = batch(layout)
    present_collab = [COLLAB[i] for i in range(len(COLLAB)) if COLLAB_PRESENT[i]]
    allowed = allowed_mask(layout, prefix_children(present_collab), [COLLAB[t] for t in TARGETS])

    out = {f"weight.{n}": w for n, w in weights.items()}
    encoded = model64.encode(tokens, padding)
    logits = model64.decode(encoded, padding, dec)
    first, second = model64.encoder_buckets(max(len(h) for h in HISTORIES))
    out["encoder_buckets_first"] = first.int()
    if second is not None:
        out["encoder_buckets_second"] = second.int()
    out["encoded"], out["logits"] = encoded, logits
    for kind, mask in [("constrained", allowed), ("full", None)]:
        model64.zero_grad()
        value = loss(model64(tokens, padding, dec), labels, mask)
        value.backward()
        out[f"loss_{kind}"] = value.reshape(1)
        for n in model64.names:
            out[f"grad_{kind}.{n}"] = model64.p(n).grad.clone()
    offsets, classes = [0], []
    for row in allowed:
        classes += row.nonzero().flatten().tolist()
        offsets.append(len(classes))
    out.update({"tokens": tokens.int(), "padding": padding, "decoder_tokens": dec.int(), "labels": labels.int(),
                "allowed_offsets": torch.tensor(offsets, dtype=torch.int32), "allowed_classes": torch.tensor(classes, dtype=torch.int32),
                "text_codes": torch.tensor(TEXT, dtype=torch.int32), "text_present": torch.tensor(TEXT_PRESENT, dtype=torch.int32),
                "collab_codes": torch.tensor(COLLAB, dtype=torch.int32), "collab_present": torch.tensor(COLLAB_PRESENT, dtype=torch.int32),
                "histories": torch.tensor([[-1] * (3 - len(h)) + h for h in HISTORIES], dtype=torch.int32),
                "targets": torch.tensor(TARGETS, dtype=torch.int32), "masks": torch.tensor(MASKS, dtype=torch.int32)})
    if adam_steps:
        # AdamW as torch (decoupled decay), global-norm clipping at 1.0, constant lr: the trainer's step.
        opt = torch.optim.AdamW(model64.parameters(), lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, foreach=False)
        losses, norms = [], []
        for _ in range(adam_steps):
            opt.zero_grad()
            value = loss(model64(tokens, padding, dec), labels, allowed)
            value.backward()
            norms.append(torch.nn.utils.clip_grad_norm_(list(model64.parameters()), 1.0).item())
            opt.step()
            losses.append(value.item())
        assert losses[-1] < losses[0], "AdamW steps did not reduce the loss"
        out["adam_losses"], out["adam_norms"] = torch.tensor(losses), torch.tensor(norms)
        for n in model64.names:
            out[f"final.{n}"] = model64.p(n).detach().clone()
    tensors = {k: (v.float() if v.is_floating_point() else v).detach().contiguous() for k, v in out.items()}
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name + ".safetensors")
    save_file(tensors, path + ".tmp", metadata={"config": json.dumps(cfg, sort_keys=True), "case": name})
    sort_metadata(path + ".tmp")
    os.replace(path + ".tmp", path)
    print(f"{path}: {os.path.getsize(path)} bytes, constrained loss {out['loss_constrained'].item():.6f}, full {out['loss_full'].item():.6f}")


if __name__ == "__main__":
    run("mscgrec_split", "split", "gated-gelu", adam_steps=5)
    run("mscgrec_standard", "standard", "relu", adam_steps=0)

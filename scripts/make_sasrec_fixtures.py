"""PyTorch reference fixtures for the Swift SASRec (issue 4): one forward+backward of a tiny model per loss.

Run:  python3 scripts/make_sasrec_fixtures.py      (needs torch==2.13.0 safetensors, see requirements-fixtures.txt)

Writes Tests/ModelsTests/Fixtures/sasrec_ce.safetensors and sasrec_bce.safetensors, float32, byte-for-byte
deterministic (same helpers and header sorting as make_fixtures.py). Each file holds:
  ids, targets (and negs for BCE)   I64 [3, 5]  shifted item ids, 0 = padding; targets are the BCE pos ids
  <parameter name>                  every SASRec parameter, named as in sasrec_reference.SASRec
  h [3, 5, 8]                       forward output (after the final LayerNorm)
  logits [15, 12] (CE) | pos_logits, neg_logits [3, 5] (BCE)    the scores the loss sees
  loss []                           the scalar that was backpropagated
  grad.<parameter name>             d loss / d parameter
Metadata "params": n, d, L, heads, blocks, eps, mask_value, loss.
Before writing, every float32 gradient is compared with a float64 replay and a few parameters are gradchecked.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import MODELS_DIR, ROOT, write  # noqa: E402
from sasrec_reference import (EPS, MASKED, SASRec, bce_logits, bce_loss, ce_logits, ce_loss,  # noqa: E402
                              sample_negatives, training_pair)

N, D, L, HEADS, BLOCKS = 12, 8, 5, 2, 2
# 0-based item histories incl. the validation and test items, as in <Name>.inter.json. After dropping the last
# two and keeping the last L+1 they give 5, 3 and 1 real input items: no padding, some, a single real item.
HISTORIES = [[3, 7, 0, 11, 5, 2, 9, 4, 8, 1], [6, 2, 10, 4, 7, 3], [11, 0, 5, 9]]
GRADCHECKED = ("item_embedding", "position_embedding", "blocks.0.attn.q", "blocks.1.ffn.w1", "final_norm.weight")


def init_params(seed):
    """Normal*0.3 for everything, LayerNorm weights 1 + 0.1*randn, item_embedding row 0 (padding) zero."""
    gen = torch.Generator().manual_seed(seed)
    model = SASRec(N, D, L, HEADS, BLOCKS)
    params = {}
    for name, p in model.named_parameters():
        noise = torch.randn(p.shape, generator=gen)
        params[name] = 1 + 0.1 * noise if name.endswith("norm.weight") else 0.3 * noise
    params["item_embedding"][0] = 0.0
    return model, params


def batch():
    pairs = [training_pair(h, L) for h in HISTORIES]
    ids, targets = torch.tensor([p[0] for p in pairs]), torch.tensor([p[1] for p in pairs])
    assert (ids != 0).sum(1).tolist() == [5, 3, 1], "batch no longer covers the padding cases"
    return ids, targets


def loss_fn(model, kind, ids, targets, negs):
    """-> (loss, h, extra outputs to store) with the parameters currently loaded in model."""
    h = model(ids)
    table = model.item_embedding
    if kind == "ce":
        return ce_loss(h, targets, table), h, {"logits": ce_logits(h, table)}
    return bce_loss(h, targets, negs, table), h, {"pos_logits": bce_logits(h, targets, table),
                                                  "neg_logits": bce_logits(h, negs, table)}


def forward_backward(model, params, dtype, kind, ids, targets, negs):
    live = {k: v.to(dtype).clone().requires_grad_(True) for k, v in params.items()}
    model.to(dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(live[name])
    model.zero_grad(set_to_none=True)
    loss, h, extra = loss_fn(model, kind, ids, targets, negs)
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    return loss.detach(), h.detach(), {k: v.detach() for k, v in extra.items()}, grads


def check(model, params, kind, ids, targets, negs, grads32):
    """float32 grads vs a float64 replay, then float64 gradcheck of a few parameters through the whole model."""
    _, _, _, grads64 = forward_backward(model, params, torch.float64, kind, ids, targets, negs)
    worst = 0.0
    for name, ref in grads64.items():
        worst = max(worst, ((grads32[name].double() - ref).abs().max() / ref.abs().max().clamp(min=1e-12)).item())
    assert worst < 1e-4, f"float32 grads drift from float64 by {worst:.2e}"
    assert torch.equal(grads32["item_embedding"][0], torch.zeros(D)), "padding row received gradient"

    fixed = {k: v.double() for k, v in params.items()}

    def f(*xs):
        return functional_loss(model, {**fixed, **dict(zip(GRADCHECKED, xs))}, kind, ids, targets, negs)

    inputs = [fixed[k].clone().requires_grad_(True) for k in GRADCHECKED]
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5), "gradcheck failed"
    return f"replay(rel {worst:.1e})+gradcheck({len(GRADCHECKED)} params)"


def functional_loss(model, values, kind, ids, targets, negs):
    h = torch.func.functional_call(model, values, (ids,))
    table = values["item_embedding"]
    return ce_loss(h, targets, table) if kind == "ce" else bce_loss(h, targets, negs, table)


def make_case(kind, seed):
    torch.manual_seed(seed)
    model, params = init_params(seed)
    model.eval()  # dropout 0 anyway; eval semantics
    ids, targets = batch()
    negs = sample_negatives(targets, N, torch.Generator().manual_seed(seed + 1)) if kind == "bce" else None
    loss, h, extra, grads = forward_backward(model, params, torch.float32, kind, ids, targets, negs)
    how = check(model, params, kind, ids, targets, negs, grads)

    tensors = {"ids": ids, "targets": targets, **({"negs": negs} if negs is not None else {}), **params,
               "h": h, **extra, "loss": loss, **{"grad." + k: g for k, g in grads.items()}}
    meta = {"n": N, "d": D, "L": L, "heads": HEADS, "blocks": BLOCKS, "eps": EPS, "mask_value": MASKED, "loss": kind}
    name = "sasrec_" + kind
    size = write(MODELS_DIR, name, tensors, meta)
    rel = os.path.relpath(os.path.join(MODELS_DIR, name), ROOT)
    print(f"{rel:52s} loss {loss.item():.6f} grads={len(grads)} check={how} {size}B")
    return size


def main():
    torch.set_num_threads(1)  # fixed reduction order -> identical bytes on every run
    torch.use_deterministic_algorithms(True)
    total = make_case("ce", 4000) + make_case("bce", 4001)
    print(f"total fixture size: {total} bytes")


if __name__ == "__main__":
    main()

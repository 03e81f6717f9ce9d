"""PyTorch reference fixtures for the Swift engine and model tests.

Run:  make fixtures          (or: python3 scripts/make_fixtures.py, needs torch==2.13.0 safetensors numpy;
                              see scripts/requirements-fixtures.txt)

Writes Tests/TensorEngineTests/Fixtures/ops/<case>.safetensors and Tests/ModelsTests/Fixtures/<case>.safetensors
as described in the fixtures spec (the contract with the Swift tests). Output is byte-for-byte deterministic.
Op cases compute in float64 from float32-representable inputs and store float32; model cases compute in float32.
Every stored gradient is checked before writing (torch.autograd.gradcheck in float64, or a float64 replay).
"""
import json
import math
import os
import struct

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPS_DIR = os.path.join(ROOT, "Tests", "TensorEngineTests", "Fixtures", "ops")
MODELS_DIR = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures")
MASKED = -1e9  # additive mask value used by every masked softmax (exact in float32)


# ---------------------------------------------------------------- T5 reference implementation

def t5_relative_position_bucket(rel, bidirectional, num_buckets=32, max_distance=128):
    """Bucket of each relative position rel = key_pos - query_pos (LongTensor -> LongTensor).

    Bidirectional: half the buckets for keys at or before the query, half (offset num_buckets/2) for keys after it.
    Unidirectional: only looking back counts; keys after the query share bucket 0.
    Within a half, distances below max_exact get their own bucket; larger ones are log-spaced up to max_distance
    and everything beyond lands in the last bucket. The log is taken in float32 like HF T5 (float64 gives the
    same buckets for |rel| <= 5000, checked in t5_bucket_probe).
    """
    bucket = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        bucket += (rel > 0).long() * num_buckets
        dist = rel.abs()
    else:
        dist = (-rel).clamp(min=0)
    max_exact = num_buckets // 2
    # clamp(min=1) only avoids log(0); those entries take the exact branch anyway.
    log_ratio = torch.log(dist.float().clamp(min=1) / max_exact) / math.log(max_distance / max_exact)
    far = (max_exact + (log_ratio * (num_buckets - max_exact)).long()).clamp(max=num_buckets - 1)
    return bucket + torch.where(dist < max_exact, dist, far)


def t5_buckets(q_len, k_len, bidirectional):
    rel = torch.arange(k_len)[None, :] - torch.arange(q_len)[:, None]
    return t5_relative_position_bucket(rel, bidirectional)


def rms_norm(x, w, eps=1e-6):
    """T5LayerNorm: no mean subtraction, no bias."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def additive_mask(key_pad, q_len, causal):
    """[B,Tk] (1 = padding) -> [B,1,Tq,Tk] with MASKED where a query must not see a key."""
    blocked = (key_pad[:, None, None, :] > 0).expand(-1, 1, q_len, -1)
    if causal:
        k_len = key_pad.shape[1]
        future = torch.arange(k_len)[None, :] > torch.arange(q_len)[:, None]
        blocked = blocked | future
    return torch.zeros(blocked.shape, dtype=key_pad.dtype).masked_fill(blocked, MASKED)


def attention(xq, xkv, wq, wk, wv, wo, heads, scale, bias, mask):
    """Multi-head attention, y = x @ W weights; head h owns columns [h*dh, (h+1)*dh) of q, k, v."""
    def split(t):  # [B,T,D] -> [B,H,T,dh]
        return t.reshape(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)
    q, k, v = split(xq @ wq), split(xkv @ wk), split(xkv @ wv)
    scores = (q @ k.transpose(-1, -2)) * scale + bias + mask
    ctx = torch.softmax(scores, -1) @ v
    return ctx.transpose(1, 2).reshape(xq.shape[0], xq.shape[1], -1) @ wo


def position_bias(rel_bias, buckets):
    """Table [buckets, H] gathered at [Tq, Tk] bucket ids -> [H, Tq, Tk] (broadcast over batch)."""
    return rel_bias[buckets].permute(2, 0, 1)


def gated_gelu_ffn(h, wi0, wi1, wff_o):
    return (F.gelu(h @ wi0, approximate="tanh") * (h @ wi1)) @ wff_o


def t5_encoder_block(x, key_pad, ln1, wq, wk, wv, wo, rel_bias, ln2, wi0, wi1, wff_o, heads):
    """Pre-norm T5 encoder layer: self-attention (no scaling, bidirectional relative bias), then gated-GELU FFN."""
    t = x.shape[1]
    bias = position_bias(rel_bias, t5_buckets(t, t, bidirectional=True))
    n = rms_norm(x, ln1)
    h = x + attention(n, n, wq, wk, wv, wo, heads, 1.0, bias, additive_mask(key_pad, t, causal=False))
    return h + gated_gelu_ffn(rms_norm(h, ln2), wi0, wi1, wff_o)


def t5_decoder_block(y, enc, enc_pad, ln1, wq, wk, wv, wo, rel_bias, ln_c, cq, ck, cv, co,
                     ln2, wi0, wi1, wff_o, heads):
    """Pre-norm T5 decoder layer: causal self-attention (unidirectional bias), cross-attention (no bias), FFN."""
    t = y.shape[1]
    bias = position_bias(rel_bias, t5_buckets(t, t, bidirectional=False))
    no_pad = torch.zeros(y.shape[0], t, dtype=y.dtype)
    n = rms_norm(y, ln1)
    h = y + attention(n, n, wq, wk, wv, wo, heads, 1.0, bias, additive_mask(no_pad, t, causal=True))
    h = h + attention(rms_norm(h, ln_c), enc, cq, ck, cv, co, heads, 1.0, 0.0, additive_mask(enc_pad, t, causal=False))
    return h + gated_gelu_ffn(rms_norm(h, ln2), wi0, wi1, wff_o)


# ---------------------------------------------------------------- case runner

def randn(*shape, scale=1.0):
    return torch.randn(*shape) * scale


def positive(*shape):  # domain of log/sqrt/rsqrt/denominators
    return torch.rand(*shape) * 1.5 + 0.5


def is_float(t):
    return t.is_floating_point()


def write(directory, name, tensors, params):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name + ".safetensors")
    tmp = path + ".tmp"  # never leave a half-written fixture behind
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    save_file(tensors, tmp, metadata={"case": name, "params": json.dumps(params, sort_keys=True)})
    sort_metadata(tmp)
    os.replace(tmp, path)
    return os.path.getsize(path)


def sort_metadata(path):
    """safetensors writes __metadata__ from a hash map (random key order per run); sort it for stable bytes."""
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":")).encode()
        assert len(text) <= n, "re-serialised header grew"
        f.seek(8)
        f.write(text.ljust(n, b" "))  # same length: the data offsets stay valid


def run_case(directory, name, inputs, fn, params=None, dtype=torch.float64, no_grad=(), dout=None, check="gradcheck"):
    """Forward fn(**inputs) in dtype, backward with dout, verify the gradients, write the fixture.

    inputs: name -> float32 / int64 tensor, exactly as stored. Float inputs not in no_grad get requires_grad.
    check: "gradcheck" (float64 gradcheck of fn), "replay" (float64 re-run must give the same grads), or a callable.
    """
    params = params or {}
    grad_names = [k for k, v in inputs.items() if is_float(v) and k not in no_grad]

    def live(cast_to):
        return {k: (v.to(cast_to).clone().requires_grad_(k in grad_names) if is_float(v) else v)
                for k, v in inputs.items()}

    args = live(dtype)
    out = fn(**args)
    if dout is None:
        dout = torch.randn(out.shape)
    out.backward(dout.to(dtype))
    grads = {k: args[k].grad for k in grad_names}
    err = verify(fn, inputs, grad_names, dout, grads, live, check)

    tensors = {k: (v.float() if is_float(v) else v) for k, v in inputs.items()}
    tensors["out"] = out.float()
    tensors["dout"] = dout.float()
    tensors.update({"grad." + k: g.float() for k, g in grads.items()})
    size = write(directory, name, tensors, params)
    rel = os.path.relpath(os.path.join(directory, name), ROOT)
    print(f"{rel:52s} out{str(list(out.shape)):12s} grads={len(grads)} check={err} {size}B")
    return size


def verify(fn, inputs, grad_names, dout, grads, live, check):
    if callable(check):
        return check(inputs, dout, grads)
    if check == "gradcheck":
        return float64_gradcheck(fn, inputs, grad_names)
    # replay: the float32 gradients must agree with a float64 recomputation.
    args = live(torch.float64)
    fn(**args).backward(dout.double())
    worst = 0.0
    for k in grad_names:
        ref = args[k].grad
        worst = max(worst, ((grads[k].double() - ref).abs().max() / ref.abs().max().clamp(min=1e-12)).item())
    assert worst < 1e-4, f"float32 grads drift from float64 by {worst:.2e}"
    return f"replay(rel {worst:.1e})+" + float64_gradcheck(fn, inputs, grad_names, fast=True)


def float64_gradcheck(fn, inputs, grad_names, fast=False):
    args = {k: (v.double() if is_float(v) else v) for k, v in inputs.items()}
    diff = [args[k].clone().requires_grad_(True) for k in grad_names]
    fixed = {k: v for k, v in args.items() if k not in grad_names}

    def f(*xs):
        return fn(**fixed, **dict(zip(grad_names, xs)))
    assert torch.autograd.gradcheck(f, diff, eps=1e-6, atol=1e-6, rtol=1e-5, fast_mode=fast), "gradcheck failed"
    return "gradcheck" + ("(fast)" if fast else "")


# ---------------------------------------------------------------- op cases

def distinct(*shape):
    """Values spaced >= 0.2 apart, so max has no ties and no near-ties in float32."""
    n = math.prod(shape)
    return ((torch.randperm(n).float() - n / 2) / 4 + torch.rand(n) * 0.05).reshape(shape)


def allowed_mask(rows, classes, targets):
    counts = [1, 3, 10, 5, 2, 7][:rows]  # 1..10 allowed per row, one row with a single class
    mask = torch.zeros(rows, classes)
    for r, c in enumerate(counts):
        others = [i for i in torch.randperm(classes).tolist() if i != targets[r]]
        mask[r, [int(targets[r])] + others[: c - 1]] = 1.0
    return mask


def make_softened_check(fn):
    """A 1e-6 finite-difference step vanishes on top of -1e9 even in float64, so gradcheck the same function with
    the mask's -1e9 entries replaced by -30 (still ~1e-13 of the mass)."""
    def check(inputs, dout, grads):
        soft = {**inputs, "mask": inputs["mask"].clamp(min=-30.0)}
        return float64_gradcheck(fn, soft, ["x"]) + "(mask -30)"
    return check


def detach_check(inputs, dout, grads):
    expected = dout.double() * inputs["x"].double()  # only the non-detached factor carries gradient
    assert torch.allclose(grads["x"], expected, rtol=0, atol=1e-15), "detach_mix grad wrong"
    return "grad==dout*x"


def op_cases():
    """(name, inputs builder, fn, params, extra run_case kwargs), in spec order."""
    x34 = lambda: {"x": randn(3, 4)}
    x234 = lambda: {"x": randn(2, 3, 4)}
    soft_mask = torch.tensor([[[0, 0, MASKED, 0, MASKED]], [[MASKED, 0, 0, 0, 0]]])
    return [
        ("matmul", lambda: {"x": randn(3, 4), "y": randn(4, 5)}, lambda x, y: x @ y, {}, {}),
        ("matmul_ta", lambda: {"x": randn(4, 3), "y": randn(4, 5)}, lambda x, y: x.T @ y, {"transA": True}, {}),
        ("matmul_tb", lambda: {"x": randn(3, 4), "y": randn(5, 4)}, lambda x, y: x @ y.T, {"transB": True}, {}),
        ("matmul_tatb", lambda: {"x": randn(4, 3), "y": randn(5, 4)}, lambda x, y: x.T @ y.T,
         {"transA": True, "transB": True}, {}),
        ("bmm", lambda: {"x": randn(2, 3, 4, 5), "y": randn(2, 3, 5, 6)}, lambda x, y: x @ y, {}, {}),
        ("bmm_tb", lambda: {"x": randn(2, 3, 4, 5), "y": randn(2, 3, 6, 5)}, lambda x, y: x @ y.transpose(-1, -2),
         {"transB": True}, {}),
        ("bmm_rhs2d", lambda: {"x": randn(2, 3, 4), "y": randn(4, 5)}, lambda x, y: x @ y, {}, {}),
        ("add_bcast", lambda: {"x": randn(2, 3, 4), "y": randn(3, 1)}, lambda x, y: x + y, {}, {}),
        ("sub_bcast", lambda: {"x": randn(2, 3, 4), "y": randn(4)}, lambda x, y: x - y, {}, {}),
        ("mul_bcast", lambda: {"x": randn(2, 1, 4), "y": randn(3, 1)}, lambda x, y: x * y, {}, {}),
        ("div_bcast", lambda: {"x": randn(2, 3, 4), "y": positive(1, 3, 1)}, lambda x, y: x / y, {}, {}),
        ("scalar_ops", x34, lambda x: (x * 2.5 + 1.0) / 4.0 - 0.5, {"mul": 2.5, "add": 1.0, "div": 4.0, "sub": 0.5}, {}),
        ("sum_axis1", x234, lambda x: x.sum(1), {"axis": 1, "keepdim": False}, {}),
        ("sum_axis2_keep", x234, lambda x: x.sum(2, keepdim=True), {"axis": 2, "keepdim": True}, {}),
        ("mean_axis0", x234, lambda x: x.mean(0), {"axis": 0, "keepdim": False}, {}),
        ("max_axis2", lambda: {"x": distinct(2, 3, 4)}, lambda x: x.max(2).values, {"axis": 2, "keepdim": False}, {}),
        ("sum_all", x234, lambda x: x.sum(), {}, {}),
        ("exp", x34, torch.exp, {}, {}),
        ("log", lambda: {"x": positive(3, 4)}, torch.log, {}, {}),
        ("sqrt", lambda: {"x": positive(3, 4)}, torch.sqrt, {}, {}),
        ("rsqrt", lambda: {"x": positive(3, 4)}, torch.rsqrt, {}, {}),
        ("tanh", x34, torch.tanh, {}, {}),
        ("relu", x34, torch.relu, {}, {}),
        ("neg", x34, lambda x: -x, {}, {}),
        ("square", x34, lambda x: x * x, {}, {}),
        ("gelu_tanh", lambda: {"x": randn(3, 4, scale=2.0)}, lambda x: F.gelu(x, approximate="tanh"),
         {"approximate": "tanh"}, {}),
        ("gelu_exact", lambda: {"x": randn(3, 4, scale=2.0)}, lambda x: F.gelu(x), {"approximate": "none"}, {}),
        ("gated_gelu", lambda: {"a": randn(3, 4), "b": randn(3, 4)}, lambda a, b: F.gelu(a, approximate="tanh") * b,
         {"approximate": "tanh"}, {}),
        ("softmax_mask", lambda: {"x": randn(2, 3, 5), "mask": soft_mask.clone()},
         masked_softmax, {"axis": -1, "mask_value": MASKED},
         {"no_grad": ("mask",), "check": make_softened_check(masked_softmax)}),
        ("log_softmax_mask", lambda: {"x": randn(2, 3, 5), "mask": soft_mask.clone()},
         masked_log_softmax, {"axis": -1, "mask_value": MASKED},
         {"no_grad": ("mask",), "check": make_softened_check(masked_log_softmax)}),
        ("softmax_plain", lambda: {"x": randn(4, 7)}, lambda x: torch.softmax(x, -1), {"axis": -1}, {}),
        ("layer_norm", lambda: {"x": randn(2, 3, 8), "w": 1 + randn(8, scale=0.2), "b": randn(8, scale=0.2)},
         lambda x, w, b: F.layer_norm(x, [8], w, b, eps=1e-5), {"eps": 1e-5}, {}),
        ("rms_norm", lambda: {"x": randn(2, 3, 8), "w": 1 + randn(8, scale=0.2)}, rms_norm, {"eps": 1e-6}, {}),
        ("embedding", lambda: {"table": randn(10, 4), "idx": torch.tensor([[1, 2, 1], [9, 0, 1]])},
         lambda table, idx: F.embedding(idx, table), {}, {}),
        ("concat", lambda: {"x": randn(2, 3, 4), "y": randn(2, 2, 4)}, lambda x, y: torch.cat([x, y], 1), {"axis": 1}, {}),
        ("slice", lambda: {"x": randn(2, 5, 4)}, lambda x: x[:, 1:4, :], {"axis": 1, "start": 1, "end": 4}, {}),
        ("index_select", lambda: {"x": randn(2, 5, 4), "idx": torch.tensor([4, 0, 4])},
         lambda x, idx: x.index_select(1, idx), {"axis": 1}, {}),
        ("permute", x234, lambda x: x.permute(2, 0, 1).contiguous(), {"perm": [2, 0, 1]}, {}),
        ("reshape", x234, lambda x: x.reshape(6, 4), {"shape": [6, 4]}, {}),
        ("l2_normalize", lambda: {"x": randn(3, 5)}, lambda x: F.normalize(x, dim=-1, eps=1e-12),
         {"axis": -1, "eps": 1e-12}, {}),
        ("sq_dist", lambda: {"x": randn(5, 4), "c": randn(3, 4)},
         lambda x, c: ((x[:, None, :] - c[None]) ** 2).sum(-1), {}, {}),
        ("cross_entropy", lambda: {"logits": randn(6, 10), "target": torch.tensor([3, 7, -100, 0, 9, 3])},
         lambda logits, target: F.cross_entropy(logits, target, ignore_index=-100),
         {"ignore_index": -100, "reduction": "mean"}, {}),
        ("cross_entropy_allowed", ce_allowed_inputs,
         lambda logits, target, allowed: F.cross_entropy(logits.masked_fill(allowed == 0, float("-inf")), target),
         {"reduction": "mean"}, {"no_grad": ("allowed",)}),
        ("bce_logits", lambda: {"x": randn(4, 5), "t": (torch.rand(4, 5) < 0.5).float()},
         lambda x, t: F.binary_cross_entropy_with_logits(x, t), {"reduction": "mean"}, {"no_grad": ("t",)}),
        # Ones as dout so grad.x == x literally; the numeric Jacobian of x*x.detach() is 2x, hence no gradcheck.
        ("detach_mix", x34, lambda x: x * x.detach(), {}, {"dout": torch.ones(3, 4), "check": detach_check}),
    ]


def masked_softmax(x, mask):
    return torch.softmax(x + mask, -1)


def masked_log_softmax(x, mask):
    return torch.log_softmax(x + mask, -1)


def ce_allowed_inputs():
    target = torch.randint(0, 10, (6,))
    return {"logits": randn(6, 10), "target": target, "allowed": allowed_mask(6, 10, target)}


# ---------------------------------------------------------------- model cases (float32)

def weight(n_in, n_out):
    return torch.randn(n_in, n_out) / math.sqrt(n_in)


def norm_weight(d):
    return 1 + 0.1 * torch.randn(d)


def pad_mask(batch, length, padded_in_batch1):
    pad = torch.zeros(batch, length)
    pad[1, length - padded_in_batch1:] = 1.0
    return pad


def attention_case():
    inputs = {"x": randn(2, 5, 16), "wq": weight(16, 16), "wk": weight(16, 16), "wv": weight(16, 16),
              "wo": weight(16, 16), "pos_bias": randn(4, 5, 5, scale=0.5), "key_pad": pad_mask(2, 5, 2)}

    def fn(x, wq, wk, wv, wo, pos_bias, key_pad):
        return attention(x, x, wq, wk, wv, wo, 4, 1 / math.sqrt(4), pos_bias, additive_mask(key_pad, 5, causal=True))
    return inputs, fn, {"heads": 4, "d_kv": 4, "scale": 0.5, "causal": True, "mask_value": MASKED}, ("key_pad",)


def ffn_weights():
    return {"ln2": norm_weight(16), "wi0": weight(16, 32), "wi1": weight(16, 32), "wff_o": weight(32, 16)}


T5_PARAMS = {"d_model": 16, "heads": 4, "d_kv": 4, "d_ff": 32, "eps": 1e-6, "num_buckets": 32, "max_distance": 128,
             "scale": 1.0, "mask_value": MASKED, "ffn": "gated_gelu_tanh"}


def t5_encoder_case():
    inputs = {"x": randn(2, 5, 16), "key_pad": pad_mask(2, 5, 1), "ln1": norm_weight(16), "wq": weight(16, 16),
              "wk": weight(16, 16), "wv": weight(16, 16), "wo": weight(16, 16), "rel_bias": randn(32, 4, scale=0.5),
              **ffn_weights(), "buckets": t5_buckets(5, 5, bidirectional=True)}

    def fn(buckets, **kw):
        return t5_encoder_block(**kw, heads=4)
    return inputs, fn, {**T5_PARAMS, "bidirectional": True, "causal": False}, ("key_pad",)


def t5_decoder_case():
    inputs = {"y": randn(2, 4, 16), "enc": randn(2, 5, 16), "enc_pad": pad_mask(2, 5, 2), "ln1": norm_weight(16),
              "wq": weight(16, 16), "wk": weight(16, 16), "wv": weight(16, 16), "wo": weight(16, 16),
              "rel_bias": randn(32, 4, scale=0.5), "ln_c": norm_weight(16), "cq": weight(16, 16),
              "ck": weight(16, 16), "cv": weight(16, 16), "co": weight(16, 16), **ffn_weights(),
              "buckets": t5_buckets(4, 4, bidirectional=False)}

    def fn(buckets, **kw):
        return t5_decoder_block(**kw, heads=4)
    return inputs, fn, {**T5_PARAMS, "bidirectional": False, "causal": True}, ("enc_pad",)


def warmup_cosine_lr(step, base=0.01, warmup=3, total=10):
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


def adamw_mlp_case(seed):
    torch.manual_seed(seed)
    init = {"w1": weight(8, 16), "b1": randn(16, scale=0.1), "w2": weight(16, 4), "b2": randn(4, scale=0.1)}
    x, target = randn(16, 8), torch.randint(0, 4, (16,))
    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    # foreach=False: the plain per-tensor update, the closest to what the Swift optimizer does.
    opt = torch.optim.AdamW(params.values(), lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, foreach=False)
    losses, lrs, norms = [], [], []
    for step in range(10):
        opt.zero_grad(set_to_none=True)
        w1, b1, w2, b2 = params.values()
        loss = F.cross_entropy(F.gelu(x @ w1 + b1, approximate="tanh") @ w2 + b2, target)
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(list(params.values()), 0.5).item())
        lr = warmup_cosine_lr(step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        losses.append(loss.item())
        lrs.append(lr)
    assert losses[-1] < losses[0], "AdamW run did not reduce the loss"
    tensors = {**{"init." + k: v for k, v in init.items()}, "x": x, "target": target,
               "losses": torch.tensor(losses), "lrs": torch.tensor(lrs), "grad_norms": torch.tensor(norms),
               **{"final." + k: v for k, v in params.items()}}
    cfg = {"steps": 10, "base_lr": 0.01, "warmup": 3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01,
           "clip_norm": 0.5, "activation": "gelu_tanh"}
    size = write(MODELS_DIR, "adamw_mlp", tensors, cfg)
    print(f"{'Tests/ModelsTests/Fixtures/adamw_mlp':52s} loss {losses[0]:.4f} -> {losses[-1]:.4f} {size}B")
    return size


def t5_bucket_probe():
    """Extra data for the log-spaced branch, which the 5x5 buckets in t5_encoder_block never reach."""
    rel = torch.arange(-300, 301)
    tensors = {"relative_position": rel, "bidirectional": t5_relative_position_bucket(rel, True),
               "unidirectional": t5_relative_position_bucket(rel, False)}
    wide = torch.arange(-5000, 5001)
    for bidir in (True, False):  # float32 vs float64 logs agree, so the Swift side may use either
        by_double = [bucket_scalar(int(r), bidir) for r in wide]
        assert t5_relative_position_bucket(wide, bidir).tolist() == by_double, "bucket precision mismatch"
    size = write(MODELS_DIR, "t5_buckets", tensors, {"num_buckets": 32, "max_distance": 128})
    print(f"{'Tests/ModelsTests/Fixtures/t5_buckets':52s} rel[-300..300] buckets {size}B")
    return size


def bucket_scalar(rel, bidirectional, num_buckets=32, max_distance=128):
    """Plain-Python float64 version of t5_relative_position_bucket, used only as a cross-check."""
    half = num_buckets // 2 if bidirectional else num_buckets
    offset = half if bidirectional and rel > 0 else 0
    dist = abs(rel) if bidirectional else max(-rel, 0)
    num_buckets = half
    exact = num_buckets // 2
    if dist < exact:
        return offset + dist
    far = exact + int(math.log(dist / exact) / math.log(max_distance / exact) * (num_buckets - exact))
    return offset + min(far, num_buckets - 1)


def main():
    torch.set_num_threads(1)  # fixed reduction order -> identical bytes on every run
    torch.use_deterministic_algorithms(True)
    total, index = 0, 0
    for name, build, fn, params, extra in op_cases():
        torch.manual_seed(1234 + index)
        total += run_case(OPS_DIR, name, build(), fn, params, **extra)
        index += 1
    for name, case in (("attention", attention_case), ("t5_encoder_block", t5_encoder_case),
                       ("t5_decoder_block", t5_decoder_case)):
        torch.manual_seed(1234 + index)
        inputs, fn, params, masks = case()
        total += run_case(MODELS_DIR, name, inputs, fn, params, dtype=torch.float32, no_grad=masks, check="replay")
        index += 1
    total += adamw_mlp_case(1234 + index)
    total += t5_bucket_probe()
    print(f"total fixture size: {total} bytes")


if __name__ == "__main__":
    main()

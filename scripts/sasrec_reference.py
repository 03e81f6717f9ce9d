"""PyTorch reference SASRec: the exact architecture the Swift SASRec implements (issue 4), its two losses,
and the LC-Rec training-batch builder. Used by make_sasrec_fixtures.py (fixtures) and bench_torch_sasrec.py.

Architecture (pre-norm; parameter names are the safetensors keys; weights are [in, out], y = x @ W):
  x = item_embedding[ids] * sqrt(d) + position_embedding[0..L-1];  x *= nonpad;  dropout(x)
  per block: x = x + dropout(MHA(LN_attn(x)));  x = x + dropout(FFN(LN_ffn(x)));  x *= nonpad
  (MHA also drops attention probabilities while training, at the same rate)
  h = LN_final(x)
MHA has no biases; the additive mask is -1e9 where the key is padding or in the future (one -1e9 even when both
hold: rows where that differs are padded queries, whose outputs are zeroed by `x *= nonpad`). All LayerNorms use
eps 1e-8. Row 0 of item_embedding is padding and never receives gradient (padding_idx=0).
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import MASKED, additive_mask, attention  # noqa: E402

EPS = 1e-8


def attention_with_dropout(x, w, heads, scale, mask, p):
    """make_fixtures.attention plus dropout on the attention probabilities (training only)."""
    def split(t):  # [B,T,D] -> [B,H,T,dh]
        return t.reshape(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)
    q, k, v = split(x @ w.q), split(x @ w.k), split(x @ w.v)
    probs = F.dropout(torch.softmax((q @ k.transpose(-1, -2)) * scale + mask, -1), p, True)
    return (probs @ v).transpose(1, 2).reshape(x.shape[0], x.shape[1], -1) @ w.o


class Attention(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Parameter(torch.empty(d, d)) for _ in range(4))


class FeedForward(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.w1, self.w2 = nn.Parameter(torch.empty(d, f)), nn.Parameter(torch.empty(f, d))
        self.b1, self.b2 = nn.Parameter(torch.empty(f)), nn.Parameter(torch.empty(d))

    def forward(self, f):
        return torch.relu(f @ self.w1 + self.b1) @ self.w2 + self.b2


class Block(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.attn_norm, self.attn = nn.LayerNorm(d, eps=EPS), Attention(d)
        self.ffn_norm, self.ffn = nn.LayerNorm(d, eps=EPS), FeedForward(d, f)


class SASRec(nn.Module):
    """named_parameters() yields exactly the fixture keys (item_embedding, blocks.0.attn.q, final_norm.bias, ...)."""

    def __init__(self, n_items, dim, maxlen, heads, blocks, dropout=0.0, ffn_dim=None):
        super().__init__()
        assert dim % heads == 0, "dim must be a multiple of heads"
        self.n_items, self.dim, self.heads, self.dropout = n_items, dim, heads, dropout
        self.item_embedding = nn.Parameter(torch.empty(n_items + 1, dim))
        self.position_embedding = nn.Parameter(torch.empty(maxlen, dim))
        self.blocks = nn.ModuleList(Block(dim, ffn_dim or dim) for _ in range(blocks))
        self.final_norm = nn.LayerNorm(dim, eps=EPS)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self):
        """Training init: embeddings N(0, 1/d) (x = e*sqrt(d) then has unit scale), weights N(0, 1/fan_in),
        biases 0, LayerNorms identity. The fixtures overwrite all of this."""
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
            elif p.dim() == 1:
                p.zero_()
            else:
                p.normal_(0.0, 1.0 / math.sqrt(p.shape[1] if "embedding" in name else p.shape[0]))
        self.item_embedding[0].zero_()

    def forward(self, ids):
        """ids [B, L] int64, left-padded with 0 -> h [B, L, d]."""
        length = ids.shape[1]
        nonpad = (ids != 0).to(self.item_embedding.dtype)[..., None]
        x = F.embedding(ids, self.item_embedding, padding_idx=0) * math.sqrt(self.dim)
        x = (x + self.position_embedding[:length]) * nonpad
        x = F.dropout(x, self.dropout, self.training)
        mask = additive_mask(1.0 - nonpad[..., 0], length, causal=True)  # [B, 1, L, L]
        scale = 1.0 / math.sqrt(self.dim // self.heads)
        for b in self.blocks:
            a = b.attn_norm(x)
            if self.training and self.dropout > 0:
                mixed = attention_with_dropout(a, b.attn, self.heads, scale, mask, self.dropout)
            else:
                mixed = attention(a, a, b.attn.q, b.attn.k, b.attn.v, b.attn.o, self.heads, scale, 0.0, mask)
            x = x + F.dropout(mixed, self.dropout, self.training)
            x = x + F.dropout(b.ffn(b.ffn_norm(x)), self.dropout, self.training)
            x = x * nonpad
        return self.final_norm(x)


# ---------------------------------------------------------------- losses

def ce_logits(h, item_embedding):
    """[B, L, d] -> [B*L, n]: scores of every real item (row 0 of the table, padding, is not a class)."""
    return h.reshape(-1, h.shape[-1]) @ item_embedding[1:].T


def ce_loss(h, targets, item_embedding, rows="all"):
    """Full-softmax cross-entropy, mean over positions whose target is not padding.
    targets: shifted ids [B, L] (0 = padding). rows="valid" scores only those positions (same loss and
    gradients up to rounding, fewer FLOPs); "all" is the literal formula the fixtures use."""
    classes = targets.reshape(-1) - 1
    if rows == "valid":
        keep = classes >= 0
        return F.cross_entropy(h.reshape(-1, h.shape[-1])[keep] @ item_embedding[1:].T, classes[keep])
    return F.cross_entropy(ce_logits(h, item_embedding), classes.masked_fill(classes < 0, -100), ignore_index=-100)


def bce_logits(h, ids, item_embedding):
    return (h * F.embedding(ids, item_embedding, padding_idx=0)).sum(-1)


def bce_loss(h, pos, neg, item_embedding):
    """Original SASRec loss: one sampled negative per position; positions with pos == 0 are ignored."""
    valid = pos != 0
    pos_logit, neg_logit = bce_logits(h, pos, item_embedding)[valid], bce_logits(h, neg, item_embedding)[valid]
    return (F.binary_cross_entropy_with_logits(pos_logit, torch.ones_like(pos_logit))
            + F.binary_cross_entropy_with_logits(neg_logit, torch.zeros_like(neg_logit)))


def sample_negatives(pos, n_items, generator=None):
    """Uniform over the real items 1..n other than the target; 0 where the target is padding.
    (Simplest variant: the user's other history items may be drawn.)"""
    r = torch.randint(1, n_items, pos.shape, generator=generator)  # 1..n-1, then skip over pos
    return torch.where(pos == 0, torch.zeros_like(pos), r + (r >= pos).long())


# ---------------------------------------------------------------- data

class DataError(Exception):
    pass


def load_inter(path):
    """LC-Rec <Name>.inter.json: {"user": [item index (0-based), ...] in time order} -> list of histories."""
    try:
        with open(path) as f:
            raw = json.load(f)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: {e}") from e
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected an object mapping user -> item list")
    histories = []
    for user, items in raw.items():
        if not isinstance(items, list) or not all(isinstance(i, int) and i >= 0 for i in items):
            raise DataError(f"{path}: user {user!r}: expected a list of non-negative item indices")
        histories.append(items)
    return histories


def training_pair(history, maxlen):
    """Leave-one-out training pair of one user: drop the last 2 items (validation, test), keep the last
    maxlen+1, shift ids by +1 and left-pad to maxlen. None when fewer than 2 training items remain."""
    train = [i + 1 for i in history[:-2]][-(maxlen + 1):]
    if len(train) < 2:
        return None
    pad = [0] * (maxlen + 1 - len(train))
    return pad + train[:-1], pad + train[1:]


def training_tensors(histories, maxlen):
    """-> (ids [N, maxlen], targets [N, maxlen], n_items); n_items = largest item index + 1."""
    pairs = [p for p in (training_pair(h, maxlen) for h in histories) if p is not None]
    if not pairs:
        raise DataError("no user has 2 or more training items")
    n_items = 1 + max(i for h in histories for i in h)
    return torch.tensor([p[0] for p in pairs]), torch.tensor([p[1] for p in pairs]), n_items


__all__ = ["SASRec", "ce_logits", "ce_loss", "bce_logits", "bce_loss", "sample_negatives", "load_inter",
           "training_pair", "training_tensors", "DataError", "EPS", "MASKED"]

"""PyTorch reference of the MSCGRec sequence model (Sources/Models/MSCGRec*.swift), written independently from the
paper and T5: the fixtures and the training benchmark use it. Weights are stored [in, out] (y = x @ W) under the Swift
model's tensor names, and the configuration is the Swift `MSCGRecConfig` JSON, so one file drives both sides.

Shape legend: B batch, n history items, P codes per item, S = n*P + 1 encoder tokens (EOS last), T decoder length
(target levels), D model width, H heads, C output classes (target codes across levels), V input vocabulary.
"""
import torch
import torch.nn.functional as F

from make_fixtures import t5_relative_position_bucket

PAD, EOS = 0, 1
MASKED = -1e9


class Layout:
    """Token numbering: PAD 0, EOS 1, MASK of modality m = 2 + m, then every (modality, level, code)."""

    def __init__(self, cfg):
        self.modalities = cfg["modalities"]
        self.target = [m["name"] for m in self.modalities].index(cfg["targetModality"])
        nxt = 2 + len(self.modalities)
        self.code_start = []
        for m in self.modalities:
            starts = []
            for size in m["codebookSizes"]:
                starts.append(nxt)
                nxt += size
            self.code_start.append(starts)
        self.vocab = nxt
        sizes = self.modalities[self.target]["codebookSizes"]
        self.class_offsets = [sum(sizes[:l]) for l in range(len(sizes))]
        self.classes = sum(sizes)
        self.block = sum(len(m["codebookSizes"]) for m in self.modalities)
        self.target_levels = len(sizes)

    def block_offset(self, m):
        return sum(len(x["codebookSizes"]) for x in self.modalities[:m])

    def item_block(self, codes, present):
        """codes[m]: this item's codes in modality m (list), present[m]: bool -> P tokens (MASK where absent)."""
        out = []
        for m, spec in enumerate(self.modalities):
            for level in range(len(spec["codebookSizes"])):
                out.append(self.code_start[m][level] + codes[m][level] if present[m] else 2 + m)
        return out


def relative_bucket(rel, bidirectional, num_buckets, max_distance):
    """T5's bucket of rel = key - query (LongTensor): the one implementation in make_fixtures.py."""
    return t5_relative_position_bucket(rel, bidirectional, num_buckets, max_distance)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class MSCGRecTorch(torch.nn.Module):
    def __init__(self, cfg, dtype=torch.float32, seed=0):
        super().__init__()
        self.cfg, self.t = cfg, cfg["transformer"]
        self.layout = Layout(cfg)
        t, lay = self.t, self.layout
        g = torch.Generator().manual_seed(seed)
        d, inner, f = t["dModel"], t["heads"] * t["headDim"], t["dFF"]
        gated = t.get("feedForward", "gated-gelu") == "gated-gelu"
        shapes = {"embedding": ([lay.vocab, d], 1.0), "encoder.position_bias": ([t["positionBuckets"], t["heads"]], d ** -0.5)}

        def attn(prefix):
            shapes.update({f"{prefix}.q": ([d, inner], (d * t["headDim"]) ** -0.5), f"{prefix}.k": ([d, inner], d ** -0.5),
                           f"{prefix}.v": ([d, inner], d ** -0.5), f"{prefix}.o": ([inner, d], inner ** -0.5)})

        def ffn(prefix):
            names = ["wi0", "wi1"] if gated else ["wi"]
            for n in names:
                shapes[f"{prefix}.{n}"] = ([d, f], d ** -0.5)
            shapes[f"{prefix}.wo"] = ([f, d], f ** -0.5)

        for i in range(t["encoderLayers"]):
            p = f"encoder.{i}"
            shapes[f"{p}.attention_norm"] = ([d], None)
            attn(f"{p}.attention")
            shapes[f"{p}.ffn_norm"] = ([d], None)
            ffn(f"{p}.ffn")
        shapes["encoder.final_norm"] = ([d], None)
        shapes["decoder.position_bias"] = ([t["positionBuckets"], t["heads"]], d ** -0.5)
        for i in range(t["decoderLayers"]):
            p = f"decoder.{i}"
            shapes[f"{p}.self_attention_norm"] = ([d], None)
            attn(f"{p}.self_attention")
            shapes[f"{p}.cross_attention_norm"] = ([d], None)
            attn(f"{p}.cross_attention")
            shapes[f"{p}.ffn_norm"] = ([d], None)
            ffn(f"{p}.ffn")
        shapes["decoder.final_norm"] = ([d], None)
        shapes["output_projection"] = ([d, lay.classes], d ** -0.5)
        self.names = list(shapes)
        self.w = torch.nn.ParameterDict()
        for name, (shape, std) in shapes.items():
            value = torch.ones(shape, dtype=dtype) if std is None else torch.randn(shape, generator=g, dtype=dtype) * std
            self.w[name.replace(".", "__")] = torch.nn.Parameter(value)
        self.gated = gated

    def p(self, name):
        return self.w[name.replace(".", "__")]

    def load(self, tensors):
        with torch.no_grad():
            for name in self.names:
                self.p(name).copy_(tensors[name])

    def state(self):
        return {name: self.p(name) for name in self.names}

    # ------------------------------------------------------------------ position biases

    def encoder_buckets(self, items):
        """(first, second) bucket matrices [S, S]; second is None for the standard T5 bias."""
        cfg, t, P = self.cfg, self.t, self.layout.block
        s = items * P + 1
        if cfg["positionBias"] == "standard":
            rel = torch.arange(s)[None, :] - torch.arange(s)[:, None]
            return relative_bucket(rel, True, t["positionBuckets"], t["maxDistance"]), None
        j = torch.arange(s)
        item = torch.where(j == s - 1, torch.tensor(items), j // P)
        offset = torch.where(j == s - 1, torch.tensor(P), j % P)
        across = relative_bucket(item[None, :] - item[:, None], True, cfg["itemBuckets"], cfg["maxHistory"] + 1)
        code_buckets = t["positionBuckets"] - cfg["itemBuckets"]
        within = cfg["itemBuckets"] + relative_bucket(offset[None, :] - offset[:, None], True, code_buckets, P + 1)
        return across, within

    def encoder_bias(self, items):
        first, second = self.encoder_buckets(items)
        table = self.p("encoder.position_bias")
        bias = table[first] + (table[second] if second is not None else 0)
        return bias.permute(2, 0, 1)

    def decoder_bias(self, length):
        t = self.t
        rel = torch.arange(length)[None, :] - torch.arange(length)[:, None]
        return self.p("decoder.position_bias")[relative_bucket(rel, False, t["positionBuckets"], t["maxDistance"])].permute(2, 0, 1)

    # ------------------------------------------------------------------ layers

    def attention(self, xq, xkv, prefix, bias, mask, drop):
        heads = self.t["heads"]

        def split(z):
            return z.reshape(z.shape[0], z.shape[1], heads, -1).transpose(1, 2)

        q, k, v = split(xq @ self.p(prefix + ".q")), split(xkv @ self.p(prefix + ".k")), split(xkv @ self.p(prefix + ".v"))
        scores = q @ k.transpose(-1, -2) + bias + mask    # T5: no 1/sqrt(K) (folded into the initialisation)
        probs = drop(torch.softmax(scores, -1))
        return (probs @ v).transpose(1, 2).reshape(xq.shape[0], xq.shape[1], -1) @ self.p(prefix + ".o")

    def ffn(self, h, prefix, drop):
        if self.gated:
            return (F.gelu(h @ self.p(prefix + ".wi0"), approximate="tanh") * (h @ self.p(prefix + ".wi1"))) @ self.p(prefix + ".wo")
        return torch.relu(h @ self.p(prefix + ".wi")) @ self.p(prefix + ".wo")

    def encode(self, tokens, padding=None, dropout=0.0):
        """tokens [B, S] long; padding [B, S] (1 = padding) or None -> [B, S, D]."""
        eps, b, s = self.t["normEpsilon"], tokens.shape[0], tokens.shape[1]
        items = (s - 1) // self.layout.block
        drop = (lambda z: F.dropout(z, dropout, True)) if dropout > 0 else (lambda z: z)
        mask = 0.0 if padding is None else (padding[:, None, None, :] > 0).to(self.p("embedding").dtype) * MASKED
        bias = self.encoder_bias(items)
        x = drop(self.p("embedding")[tokens])
        for i in range(self.t["encoderLayers"]):
            p = f"encoder.{i}"
            n = rms_norm(x, self.p(p + ".attention_norm"), eps)
            x = x + drop(self.attention(n, n, p + ".attention", bias, mask, drop))
            x = x + drop(self.ffn(rms_norm(x, self.p(p + ".ffn_norm"), eps), p + ".ffn", drop))
        return drop(rms_norm(x, self.p("encoder.final_norm"), eps))

    def decode(self, encoded, padding, dec_tokens, dropout=0.0):
        """dec_tokens [B, T] -> logits [B*T, C]."""
        eps, b, length = self.t["normEpsilon"], dec_tokens.shape[0], dec_tokens.shape[1]
        drop = (lambda z: F.dropout(z, dropout, True)) if dropout > 0 else (lambda z: z)
        dtype = self.p("embedding").dtype
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool), 1).to(dtype)[None, None] * MASKED
        cross = 0.0 if padding is None else (padding[:, None, None, :] > 0).to(dtype) * MASKED
        bias = self.decoder_bias(length)
        y = drop(self.p("embedding")[dec_tokens])
        for i in range(self.t["decoderLayers"]):
            p = f"decoder.{i}"
            n = rms_norm(y, self.p(p + ".self_attention_norm"), eps)
            y = y + drop(self.attention(n, n, p + ".self_attention", bias, causal, drop))
            y = y + drop(self.attention(rms_norm(y, self.p(p + ".cross_attention_norm"), eps), encoded,
                                        p + ".cross_attention", 0.0, cross, drop))
            y = y + drop(self.ffn(rms_norm(y, self.p(p + ".ffn_norm"), eps), p + ".ffn", drop))
        y = drop(rms_norm(y, self.p("decoder.final_norm"), eps))
        return (y @ self.p("output_projection")).reshape(b * length, -1)

    def forward(self, tokens, padding, dec_tokens, dropout=0.0):
        return self.decode(self.encode(tokens, padding, dropout), padding, dec_tokens, dropout)


def prefix_children(target_codes):
    """{prefix tuple: sorted next codes} over every full code sequence (the prefix tree, eq. 6)."""
    children = {}
    for codes in target_codes:
        for l in range(len(codes)):
            children.setdefault(tuple(codes[:l]), set()).add(codes[l])
    return {k: sorted(v) for k, v in children.items()}


def allowed_mask(layout, tree, targets):
    """[N*T, C] bool: row (i, l) allows the children of target i's first l codes (classes offset by level)."""
    rows = []
    for codes in targets:
        for l in range(len(codes)):
            row = torch.zeros(layout.classes, dtype=torch.bool)
            for c in tree[tuple(codes[:l])]:
                row[layout.class_offsets[l] + c] = True
            rows.append(row)
    return torch.stack(rows)


def loss(logits, labels, allowed=None):
    """Mean cross-entropy; with `allowed`, each row normalises over its allowed classes only."""
    if allowed is not None:
        logits = logits.masked_fill(~allowed, float("-inf"))
    return F.cross_entropy(logits, labels)


def beam_search(model, tokens, padding, children, beams, results, exclude=None, leaf_items=None, prune_excluded=True):
    """Straightforward constrained beam search for one user (no cache: the decoder reruns on the whole prefix).

    tokens [1, S]; children: {prefix tuple: sorted next codes}; leaf_items: {full code tuple: item}; exclude: items
    never returned: no beam is kept on a prefix all of whose items are excluded (the excluded items still count in
    each log-softmax). Beams are scored by the sum of log-softmaxes restricted to each prefix's children (eq. 6); ties
    go to the earlier beam, then the smaller code. Returns [(item, score, codes)], best first. prune_excluded=False
    drops excluded items at the last level only (the earlier behaviour; the fixture checks the two differ).
    """
    lay = model.layout
    t_index, levels = lay.target, lay.target_levels
    # The prefixes (every length) of the items that may be returned.
    allowed_prefixes = {codes[:k] for codes, item in (leaf_items or {}).items() if not (exclude and item in exclude)
                        for k in range(1, levels + 1)}
    encoded = model.encode(tokens, padding)
    current = [((), 0.0)]
    for t in range(levels):
        candidates = []
        for b, (prefix, score) in enumerate(current):
            dec = [PAD] + [lay.code_start[t_index][l] + prefix[l] for l in range(t)]
            logits = model.decode(encoded, padding, torch.tensor([dec]))[t]
            allowed = children[prefix]
            z = torch.stack([logits[lay.class_offsets[t] + c] for c in allowed])
            logp = z - torch.logsumexp(z, 0)
            for c, lp in zip(allowed, logp.tolist()):
                codes = prefix + (c,)
                if exclude and codes not in allowed_prefixes and (prune_excluded or t == levels - 1):
                    continue
                candidates.append((score + lp, b, c, codes))
        candidates.sort(key=lambda x: (-x[0], x[1], x[2]))
        current = [(codes, score) for score, _, _, codes in candidates[: (results if t == levels - 1 else beams)]]
    return [(leaf_items[codes], score, list(codes)) for codes, score in current]

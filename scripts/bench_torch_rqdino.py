#!/usr/bin/env python3
"""RQ-DINO training speed: ours vs PyTorch on the same step, shapes and thread count, back to back in one run.

PyTorch side: scripts/rqdino_reference.py with Hugging Face's Dinov2Model at the CPU default (width 128, 4 layers,
4 heads, patch 8; 2 global crops of 56 px, 4 local of 24 px; head 512/64/1024 prototypes; quantizer 3×256), batch
64: teacher forward, student forward/backward of eq. 5, gradient clipping, AdamW, teacher EMA, centres and the EMA
codebook update, on random crops (no augmentation: torchvision is not needed). Ours: `mscgrec-trainer rqdino` on
the first --limit fashion photos for one epoch, whose images/s includes decoding-free augmentation of real crops
(a cost the PyTorch side does not pay). Prints one line per side and the ratio (ours / PyTorch).

Run: python3 scripts/bench_torch_rqdino.py --threads 1 [--trainer .build/release/mscgrec-trainer]
"""
import argparse, os, re, subprocess, sys, tempfile, time

import torch
from transformers import Dinov2Config, Dinov2Model

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rqdino_reference import DINOHead, RQDINO, ema_update  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--steps", type=int, default=12)
parser.add_argument("--batch", type=int, default=64)
parser.add_argument("--trainer", default=".build/release/mscgrec-trainer")
parser.add_argument("--images", default="../shared/datasets/fashion-products/items.csv")
parser.add_argument("--limit", type=int, default=2560)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

config = Dinov2Config(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, mlp_ratio=4, patch_size=8, image_size=56,
                      layerscale_value=0.1, hidden_act="gelu", layer_norm_eps=1e-6)
backbone = Dinov2Model(config)
backbone.config._attn_implementation = "sdpa"
head = DINOHead(128, 512, 64, 1024)
codebooks = [torch.randn(256, 128) for _ in range(3)]
usage = [torch.ones(256) for _ in range(3)]
sums = [b.clone() for b in codebooks]
model = RQDINO(backbone, head, codebooks, n_local=4, patch=8)
params = list(model.student_backbone.parameters()) + list(model.student_head.parameters())
optimizer = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.04)
b, patches = args.batch, 49


def step():
    global codebooks
    g = torch.randn(2 * b, 3, 56, 56)
    l = torch.randn(4 * b, 3, 24, 24)
    masks = torch.zeros(2 * b, patches, dtype=torch.bool)
    for i in range(2 * b):
        if torch.rand(()) < 0.5:
            masks[i, torch.randperm(patches)[: int(patches * (0.1 + 0.4 * torch.rand(())))]] = True
    masks[0, 0] = True
    total, terms, (cls_mean, patch_mean), (codes, residuals) = model.loss(g, l, masks, 0.04)
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    torch.nn.utils.clip_grad_norm_(params, 3.0)
    optimizer.step()
    model.update_teacher(0.992)
    with torch.no_grad():
        model.dino_center = model.dino_center * 0.9 + cls_mean * 0.1
        model.ibot_center = model.ibot_center * 0.9 + patch_mean * 0.1
        codebooks = ema_update(codebooks, usage, sums, codes, residuals, 0.95)
        model.codebooks = codebooks


for _ in range(2):
    step()
start = time.time()
for _ in range(args.steps):
    step()
torch_rate = args.steps * b / (time.time() - start)
print(f"pytorch {torch.__version__} ({args.threads} threads): {torch_rate:.1f} images/s over {args.steps} steps of {b}", flush=True)

with tempfile.TemporaryDirectory() as out:
    run = subprocess.run([args.trainer, "rqdino", "--images", args.images, "--out", out, "--limit", str(args.limit), "--epochs", "1",
                          "--batch-size", str(b), "--threads", str(args.threads)], capture_output=True, text=True)
    lines = re.findall(r"step ([0-9]+)/[0-9]+ .* ([0-9.]+) images/s", run.stderr)
    if run.returncode != 0 or len(lines) < 2:
        sys.exit("ours failed:\n" + run.stderr)
# Each progress line gives the step and the cumulative rate since the start, hence the elapsed time: the rate from
# the first line (after step 1, which also seeds the codebooks) to the last excludes warm-up, as on the PyTorch side.
(s1, r1), (s2, r2) = [(int(s), float(r)) for s, r in (lines[0], lines[-1])]
t1, t2 = s1 * b / r1, s2 * b / r2
ours = (s2 - s1) * b / (t2 - t1)
print(f"ours ({args.threads} threads): {ours:.1f} images/s over steps {s1 + 1}-{s2} of {b} (augmentation included)")
print(f"ratio ours/pytorch: {ours / torch_rate:.2f}")

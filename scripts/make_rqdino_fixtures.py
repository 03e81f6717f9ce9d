#!/usr/bin/env python3
"""RQ-DINO fixtures (Tests/TrainingTests/Fixtures/rqdino_*.safetensors) from scripts/rqdino_reference.py, float64.

rqdino_losses: the DINO loss with centring and sharpening (temperatures), iBOT's masked-patch loss, KoLeo, and the
straight-through residual quantizer (codes, commitment, the gradient through ẑ, one EMA codebook update), each with
its input gradients. rqdino_step: one full student step of a tiny RQ-DINO (HF Dinov2Model backbone, 3 images, 2 global
crops of 12 px on the native 3×3 grid, 2 local crops of 8 px needing the position interpolation, masked patches, a
2-level quantizer) — every loss term, every student gradient, the centres' batch means and the updated codebooks.

Run: python3 scripts/make_rqdino_fixtures.py   (torch==2.13.0, transformers, safetensors)
"""
import json, os, sys
import torch
from safetensors.torch import save_file
from transformers import Dinov2Config, Dinov2Model

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rqdino_reference import (DINOHead, RQDINO, centered_softmax, dino_loss, ema_update, ibot_loss, koleo_loss,  # noqa: E402
                              residual_quantize)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "TrainingTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)
torch.set_default_dtype(torch.float64)
torch.manual_seed(6)


def f32(t):
    """float32-representable float64 values (the Swift side reads float32)."""
    return t.float().double()


def hub(name):
    for new, old in [("attention.q_proj.", "attention.attention.query."), ("attention.k_proj.", "attention.attention.key."),
                     ("attention.v_proj.", "attention.attention.value."), ("attention.o_proj.", "attention.output.dense.")]:
        name = name.replace(new, old)
    return name


def check_margin(codebooks, z):
    """Nearest codes must not be near-ties, or float32 could pick another code."""
    residual = z.detach()
    for book in codebooks:
        dist = ((residual[:, None, :] - book[None]) ** 2).sum(-1)
        two = dist.topk(2, largest=False).values
        margin = (two[:, 1] - two[:, 0]).min()
        assert margin > 1e-3, f"near-tie ({float(margin)}) in the quantizer fixture; change the seed"
        residual = residual - book[dist.argmin(1)]


# ---- loss-level fixture ----
out = {}
B, NL, K, D = 4, 2, 12, 6
sg = f32(torch.randn(2 * B, K)).requires_grad_()
sl = f32(torch.randn(NL * B, K)).requires_grad_()
tl = f32(torch.randn(2 * B, K) * 2)
center = f32(torch.randn(K) * 0.3)
targets = centered_softmax(tl, center, 0.05)
loss = dino_loss(sg, sl, targets, B, NL, 0.1)
loss.backward()
out.update({"dino.student_global": sg.detach(), "dino.student_local": sl.detach(), "dino.teacher_logits": tl, "dino.center": center,
            "dino.targets": targets, "dino.loss": loss.detach().reshape(1), "dino.grad_global": sg.grad, "dino.grad_local": sl.grad})
M = 7
si = f32(torch.randn(M, K)).requires_grad_()
ti = centered_softmax(f32(torch.randn(M, K)), center, 0.06)
weights = torch.tensor([1 / 3, 1 / 3, 1 / 3, 1 / 2, 1 / 2, 1.0, 1.0])
loss = ibot_loss(si, ti, weights, 6, 0.1)
loss.backward()
out.update({"ibot.student": si.detach(), "ibot.teacher": ti, "ibot.weights": weights, "ibot.loss": loss.detach().reshape(1), "ibot.grad": si.grad})
x = f32(torch.randn(9, D)).requires_grad_()
loss = koleo_loss(x)
loss.backward()
out.update({"koleo.x": x.detach(), "koleo.loss": loss.detach().reshape(1), "koleo.grad": x.grad})
z = f32(torch.randn(10, D)).requires_grad_()
books = [f32(torch.randn(5, D)), f32(torch.randn(5, D) * 0.5)]
check_margin(books, z)
zq, commitment, codes, residuals = residual_quantize(z, books)
seed = f32(torch.randn_like(zq))
((zq * seed).sum() + commitment).backward()
usage = [f32(torch.rand(5) + 0.5) for _ in books]
sums = [f32(torch.randn(5, D)) for _ in books]
out.update({"rq.z": z.detach(), "rq.codebook.0": books[0], "rq.codebook.1": books[1], "rq.quantized": zq.detach(),
            "rq.codes": codes.double(), "rq.commitment": commitment.detach().reshape(1), "rq.seed": seed, "rq.grad": z.grad,
            "rq.usage.0": usage[0].clone(), "rq.usage.1": usage[1].clone(), "rq.sums.0": sums[0].clone(), "rq.sums.1": sums[1].clone()})
updated = ema_update(books, usage, sums, codes, residuals, 0.9)
out.update({"rq.updated.0": updated[0], "rq.updated.1": updated[1]})
save_file({k: v.float().contiguous() for k, v in out.items()}, os.path.join(OUT, "rqdino_losses.safetensors"))

# ---- one full student step ----
config = Dinov2Config(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2, patch_size=4, image_size=12,
                      layerscale_value=0.5, hidden_act="gelu", layer_norm_eps=1e-6)
backbone = Dinov2Model(config).double()
head = DINOHead(16, 12, 8, 20, layers=3)
with torch.no_grad():
    for name, p in list(backbone.named_parameters()) + list(head.named_parameters()):
        p.copy_(f32(torch.randn_like(p) * (0.3 if p.dim() > 1 else 0.1) + (1.0 if "norm" in name and name.endswith("weight") else 0.0)))
B, NL = 3, 2
global_crops = f32(torch.randn(2 * B, 3, 12, 12))
local_crops = f32(torch.randn(NL * B, 3, 8, 8))
masks = torch.zeros(2 * B, 9, dtype=torch.bool)
masks[0, [0, 4]] = True
masks[2, [1, 2, 3, 8]] = True
masks[5, [7]] = True
codebooks = [f32(torch.randn(8, 16)), f32(torch.randn(8, 16) * 0.5)]
model = RQDINO(backbone, head, codebooks, n_local=NL, patch=4)
with torch.no_grad():   # a teacher that is not the student, so the teacher path is tested for itself
    for p in list(model.teacher_backbone.parameters()) + list(model.teacher_head.parameters()):
        p.add_(f32(torch.randn_like(p) * 0.05))
        p.copy_(f32(p))
model.dino_center = f32(torch.randn(1, 20) * 0.2)
model.ibot_center = f32(torch.randn(1, 20) * 0.2)
with torch.no_grad():
    cls = torch.cat([model.student_backbone(pixel_values=global_crops, bool_masked_pos=masks).last_hidden_state[:, 0],
                     model.student_backbone(pixel_values=local_crops).last_hidden_state[:, 0]])
check_margin(codebooks, cls)
total, terms, (cls_mean, patch_mean), (codes, residuals) = model.loss(global_crops, local_crops, masks, teacher_temperature=0.05)
total.backward()
step = {"global": global_crops, "local": local_crops, "masks": masks.double(), "dino_center": model.dino_center.reshape(-1),
        "ibot_center": model.ibot_center.reshape(-1), "codebook.0": codebooks[0], "codebook.1": codebooks[1],
        "teacher_cls_mean": cls_mean, "teacher_patch_mean": patch_mean, "codes": codes.double()}
for key, value in terms.items():
    step["loss." + key] = value.detach().reshape(1)
for name, p in model.student_backbone.named_parameters():
    step["student.backbone." + hub(name)] = p.detach()
    step["grad.student.backbone." + hub(name)] = p.grad
for name, p in model.teacher_backbone.named_parameters():
    step["teacher.backbone." + hub(name)] = p.detach()
for name, p in model.student_head.named_parameters():
    step["student.dino_head." + name] = p.detach()
    step["grad.student.dino_head." + name] = p.grad
for name, p in model.teacher_head.named_parameters():
    step["teacher.dino_head." + name] = p.detach()
save_file({k: v.float().contiguous() for k, v in step.items()}, os.path.join(OUT, "rqdino_step.safetensors"),
          metadata={"terms": json.dumps({k: float(v) for k, v in terms.items()})})
print("wrote rqdino_losses.safetensors and rqdino_step.safetensors;", {k: round(float(v), 5) for k, v in terms.items()})

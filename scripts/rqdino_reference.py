"""RQ-DINO in PyTorch, written after DINOv2's own code (dinov2/loss/*.py, ssl_meta_arch.py, layers/dino_head.py): the
reference the Swift trainer's fixtures come from (scripts/make_rqdino_fixtures.py) and the other side of the speed
benchmark (scripts/bench_torch_rqdino.py). The backbone is Hugging Face's Dinov2Model.
"""
import copy
import math

import torch
import torch.nn.functional as F


class DINOHead(torch.nn.Module):
    """mlp (GELU between) → L2 normalise → weight-normalised last layer with g ≡ 1 (DINOv2's norm_last_layer)."""

    def __init__(self, in_dim, hidden, bottleneck, prototypes, layers=3):
        super().__init__()
        widths = [in_dim] + [hidden] * (layers - 1) + [bottleneck]
        mods = []
        for i in range(layers):
            mods.append(torch.nn.Linear(widths[i], widths[i + 1]))
            if i < layers - 1:
                mods.append(torch.nn.GELU())
        self.mlp = torch.nn.Sequential(*mods)
        self.last_layer = torch.nn.Module()
        self.last_layer.weight_v = torch.nn.Parameter(torch.randn(prototypes, bottleneck) * 0.1)

    def forward(self, x):
        x = F.normalize(self.mlp(x), dim=-1, p=2, eps=1e-12)
        return x @ F.normalize(self.last_layer.weight_v, dim=-1, p=2, eps=1e-12).T


def centered_softmax(logits, center, temperature):
    return F.softmax((logits - center) / temperature, dim=-1)


def cross_entropy(student, teacher, temperature):
    return -torch.sum(teacher * F.log_softmax(student / temperature, dim=-1), dim=-1).mean()


def dino_loss(student_global, student_local, teacher_global, b, n_local, temperature):
    pairs = 2 + max(2 * n_local, 2)
    swapped = torch.cat([teacher_global[b:], teacher_global[:b]])
    loss = cross_entropy(student_global, swapped, temperature) * 2 / pairs
    for crop in range(n_local):
        s = student_local[crop * b:(crop + 1) * b]
        for g in range(2):
            loss = loss + cross_entropy(s, teacher_global[g * b:(g + 1) * b], temperature) / pairs
    return loss


def ibot_loss(student, teacher, weights, images, temperature):
    per_patch = torch.sum(teacher * F.log_softmax(student / temperature, dim=-1), dim=-1)
    return -(per_patch * weights).sum() / images


def koleo_loss(x, eps=1e-8):
    x = F.normalize(x, eps=eps, p=2, dim=-1)
    dots = x.detach() @ x.detach().T
    n = x.shape[0]
    dots.view(-1)[:: (n + 1)].fill_(-1)
    neighbours = dots.max(dim=1).indices
    distances = torch.nn.PairwiseDistance(2, eps=eps)(x, x[neighbours])
    return -torch.log(distances + eps).mean()


def residual_quantize(z, codebooks):
    """Nearest code per level on the residual; straight-through z + sg(ẑ − z); Σ_l mse(r_l, sg(e_l))."""
    residual, total, commitment, codes, residuals = z, torch.zeros_like(z), 0.0, [], []
    for book in codebooks:
        r = residual.detach()
        residuals.append(r)
        distances = (r ** 2).sum(1, keepdim=True) + (book ** 2).sum(1)[None] - 2 * r @ book.T
        c = distances.argmin(1)
        e = book[c]
        commitment = commitment + F.mse_loss(residual, e)
        residual = residual - e
        total = total + e
        codes.append(c)
    return z + (total - z).detach(), commitment, torch.stack(codes, 1), residuals


def ema_update(codebooks, usage, sums, codes, residuals, decay):
    """The codebooks' EMA step (no dead-code re-seeding: that draws random rows)."""
    out = []
    for level, book in enumerate(codebooks):
        k = book.shape[0]
        onehot = F.one_hot(codes[:, level], k).to(book.dtype)
        usage[level] = decay * usage[level] + (1 - decay) * onehot.sum(0)
        sums[level] = decay * sums[level] + (1 - decay) * onehot.T @ residuals[level]
        out.append(sums[level] / usage[level].clamp(min=1e-12)[:, None])
    return out


class RQDINO(torch.nn.Module):
    """Student (backbone + head, RQ on its CLS) and EMA teacher; `loss` is eq. 5 for one crop-major batch."""

    def __init__(self, backbone, head, codebooks, commitment_weight=0.01, ibot_weight=1.0, koleo_weight=0.1,
                 student_temperature=0.1, n_local=4, patch=8):
        super().__init__()
        self.student_backbone, self.student_head = backbone, head
        self.teacher_backbone, self.teacher_head = copy.deepcopy(backbone), copy.deepcopy(head)
        for p in list(self.teacher_backbone.parameters()) + list(self.teacher_head.parameters()):
            p.requires_grad_(False)
        self.codebooks = codebooks  # list of [K, D] or None
        self.commitment_weight, self.ibot_weight, self.koleo_weight = commitment_weight, ibot_weight, koleo_weight
        self.student_temperature, self.n_local, self.patch = student_temperature, n_local, patch
        k = head.last_layer.weight_v.shape[0]
        self.dino_center = torch.zeros(1, k)
        self.ibot_center = torch.zeros(1, k)

    def loss(self, global_crops, local_crops, masks, teacher_temperature):
        b = global_crops.shape[0] // 2
        masks_flat = masks.flatten()                                   # [2B·N]
        with torch.no_grad():
            t_tokens = self.teacher_backbone(pixel_values=global_crops).last_hidden_state
            t_logits = self.teacher_head(t_tokens[:, 0])
            teacher_cls = centered_softmax(t_logits, self.dino_center, teacher_temperature)
            d = t_tokens.shape[-1]
            t_patch_logits = self.teacher_head(t_tokens[:, 1:].reshape(-1, d)[masks_flat])
            teacher_patches = centered_softmax(t_patch_logits, self.ibot_center, teacher_temperature)
        s_tokens = self.student_backbone(pixel_values=global_crops, bool_masked_pos=masks).last_hidden_state
        global_cls = s_tokens[:, 0]
        local_cls = self.student_backbone(pixel_values=local_crops).last_hidden_state[:, 0]
        cls = torch.cat([global_cls, local_cls])
        terms = {}
        total = 0.0
        quantized = None
        if self.codebooks is not None:
            cls_q, commitment, codes, residuals = residual_quantize(cls, self.codebooks)
            quantized = (codes, residuals)
            total = total + self.commitment_weight * commitment
            terms["commitment"] = commitment
        else:
            cls_q = cls
        logits = self.student_head(cls_q)
        dino = dino_loss(logits[:2 * b], logits[2 * b:], teacher_cls, b, self.n_local, self.student_temperature)
        per_image = masks.sum(-1).clamp(min=1.0)
        weights = (1 / per_image)[:, None].expand_as(masks)[masks]
        ibot = ibot_loss(self.student_head(s_tokens[:, 1:].reshape(-1, d)[masks_flat]), teacher_patches, weights, 2 * b,
                         self.student_temperature)
        koleo = koleo_loss(global_cls[:b]) + koleo_loss(global_cls[b:])
        total = total + dino + self.ibot_weight * ibot + self.koleo_weight * koleo
        terms.update(dino=dino, ibot=ibot, koleo=koleo, total=total)
        return total, terms, (t_logits.mean(0), t_patch_logits.mean(0)), quantized

    @torch.no_grad()
    def update_teacher(self, momentum):
        for s, t in zip(list(self.student_backbone.parameters()) + list(self.student_head.parameters()),
                        list(self.teacher_backbone.parameters()) + list(self.teacher_head.parameters())):
            t.mul_(momentum).add_(s.detach(), alpha=1 - momentum)

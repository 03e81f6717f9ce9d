#!/usr/bin/env python3
"""ViT fixtures (Tests/ModelsTests/Fixtures/vit-tiny/ and vit_tiny.safetensors) from Hugging Face's Dinov2Model.

A randomly initialised Dinov2Model (transformers runs offline: no download) with every parameter randomised (norms,
biases, LayerScale, CLS and mask tokens too) is saved with save_pretrained in the hub's naming; its forward output on
a native-size batch (4×4 patch grid) and on a non-square batch that needs the bicubic position interpolation
(3×5 grid) with some patches masked, and the gradient of Σ(out ⊙ R) for every parameter, computed in float64.

Run: python3 scripts/make_vit_fixtures.py   (torch==2.13.0, transformers, safetensors)
"""
import json, os
import torch
from safetensors.torch import save_file
from transformers import Dinov2Config, Dinov2Model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures")
torch.manual_seed(15)

config = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=2, patch_size=4, image_size=16,
                      layerscale_value=0.5, hidden_act="gelu", layer_norm_eps=1e-6, qkv_bias=True)
model = Dinov2Model(config).eval()
with torch.no_grad():
    for name, p in model.named_parameters():
        p.copy_(torch.randn_like(p) * (0.3 if p.dim() > 1 else 0.2) + (1.0 if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "layernorm.weight" else 0.0))
# float32-representable values, then float64 maths
state = {k: v.float().double() for k, v in model.state_dict().items()}
model = model.double()
model.load_state_dict(state)

# Hub names (attention.attention.query, attention.output.dense) as facebook/dinov2-* use; transformers 5 maps them.
renames = [("attention.q_proj.", "attention.attention.query."), ("attention.k_proj.", "attention.attention.key."),
           ("attention.v_proj.", "attention.attention.value."), ("attention.o_proj.", "attention.output.dense.")]
def hub(name):
    for new, old in renames:
        name = name.replace(new, old)
    return name

folder = os.path.join(OUT, "vit-tiny")
os.makedirs(folder, exist_ok=True)
save_file({hub(k): v.float().contiguous() for k, v in model.state_dict().items()}, os.path.join(folder, "model.safetensors"),
          metadata={"format": "pt"})
cfg = config.to_dict()
json.dump({k: cfg[k] for k in ["model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "mlp_ratio", "patch_size",
                               "image_size", "layerscale_value", "hidden_act", "layer_norm_eps", "qkv_bias", "use_swiglu_ffn",
                               "num_channels"]}, open(os.path.join(folder, "config.json"), "w"), indent=1, sort_keys=True)

out = {}
native = torch.randn(2, 3, 16, 16).double()
odd = torch.randn(2, 3, 14, 21).double()          # 3×5 patches, remainders dropped as the stride-4 conv does
mask = torch.zeros(2, 15, dtype=torch.bool)
mask[0, [1, 4, 7]] = True
mask[1, [0, 14]] = True
out["native.pixels"] = native
out["native.output"] = model(pixel_values=native).last_hidden_state.detach()
hidden = model(pixel_values=odd, bool_masked_pos=mask).last_hidden_state
weights = torch.randn_like(hidden)
(hidden * weights).sum().backward()
out["odd.pixels"] = odd
out["odd.mask"] = mask.to(torch.float64)
out["odd.output"] = hidden.detach()
out["odd.seed"] = weights
for name, p in model.named_parameters():
    out["grad." + hub(name)] = p.grad
# torch's 1-D bicubic matrix (4 → 3 and 4 → 5) for the interpolation kernel test
for size in (3, 5, 7):
    eye = torch.eye(4, dtype=torch.float64).reshape(4, 1, 1, 4)
    out[f"bicubic.4to{size}"] = torch.nn.functional.interpolate(eye, size=(1, size), mode="bicubic", align_corners=False).reshape(4, size).T.contiguous()
save_file({k: v.float().contiguous() for k, v in out.items()}, os.path.join(OUT, "vit_tiny.safetensors"))
print("wrote", folder, "and vit_tiny.safetensors:", len(out), "tensors")

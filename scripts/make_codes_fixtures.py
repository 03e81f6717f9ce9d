"""PyTorch reference fixture for the Swift RQ-VAE (Sources/Quantization/RQVAE.swift).

Run:  python3 scripts/make_codes_fixtures.py   (needs torch==2.13.0 safetensors; see scripts/requirements-fixtures.txt)

Writes Tests/QuantizationTests/Fixtures/rqvae.safetensors: a tiny RQ-VAE (6 -> 5 -> 3 latent, decoder mirrored, 2 levels of
4 codes, beta 0.25) on a batch of 5, with fixed codebooks chosen so every nearest-code choice wins by a clear margin
(the choice is then stable under float32 rounding and under gradcheck's perturbations). Stored: inputs and weights in
our [in, out] orientation, the forward results (latent, codes, quantized latent, reconstruction, the three losses)
and the gradient of the loss with respect to every weight. Computed in float64 from float32-representable inputs,
stored as float32; gradients checked with torch.autograd.gradcheck. Output is byte-for-byte deterministic.
"""
import os

import torch

from make_fixtures import write

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODES_DIR = os.path.join(ROOT, "Tests", "QuantizationTests", "Fixtures")
BETA = 0.25
MARGIN = 0.05  # second-nearest code must be at least this much farther (squared distance)


def mlp(x, layers):
    """ReLU between layers, none after the last; weights are [in, out]."""
    for i, (w, b) in enumerate(layers):
        x = x @ w + b
        if i < len(layers) - 1:
            x = torch.relu(x)
    return x


def sq(t):
    """Squared L2 norm of each row, averaged over rows."""
    return (t ** 2).sum(1).mean()


def nearest(r, codebook):
    d = ((r.detach()[:, None, :] - codebook.detach()[None, :, :]) ** 2).sum(-1)
    return d.argmin(1), d


def rqvae(x, enc_w0, enc_b0, enc_w1, enc_b1, dec_w0, dec_b0, dec_w1, dec_b1, codebook_0, codebook_1):
    """The Swift model's definition: r1 = z, r_{l+1} = sg(r_l - e_l), decoder reads z + sg(sum e - z); every loss term
    is a per-item squared norm averaged over the batch."""
    z = mlp(x, [(enc_w0, enc_b0), (enc_w1, enc_b1)])
    residual, quant, code_sum, codes = z, 0.0, 0.0, []
    for codebook in (codebook_0, codebook_1):
        idx, _ = nearest(residual, codebook)
        codes.append(idx)
        e = codebook[idx]
        quant = quant + sq(e - residual.detach()) + BETA * sq(residual - e.detach())
        code_sum = code_sum + e.detach()
        residual = (residual - e).detach()
    zq = z + (code_sum - z).detach()
    x_hat = mlp(zq, [(dec_w0, dec_b0), (dec_w1, dec_b1)])
    recon = sq(x_hat - x)
    return dict(latent=z, codes=codes, quantized=zq, reconstruction=x_hat, recon=recon, quant=quant, loss=recon + quant)


def surrogate(x, base, codes):
    """rqvae with every stop-gradient replaced by its value at `base`: a smooth function whose true gradient at
    `base` is the straight-through gradient. gradcheck can verify it, and it must agree with rqvae's autograd."""
    with torch.no_grad():
        ref = rqvae(x, **base)
        z0 = ref["latent"]
        residuals, vectors, r = [z0], [], z0
        for name, idx in zip(("codebook_0", "codebook_1"), codes):
            vectors.append(base[name][idx])
            r = r - vectors[-1]
            residuals.append(r)
        shift = sum(vectors) - z0

    def f(enc_w0, enc_b0, enc_w1, enc_b1, dec_w0, dec_b0, dec_w1, dec_b1, codebook_0, codebook_1):
        z = mlp(x, [(enc_w0, enc_b0), (enc_w1, enc_b1)])
        quant = 0.0
        for level, (codebook, idx) in enumerate(zip((codebook_0, codebook_1), codes)):
            e = codebook[idx]
            live_residual = z if level == 0 else residuals[level]  # later residuals are constants
            quant = quant + sq(e - residuals[level]) + BETA * sq(live_residual - vectors[level])
        x_hat = mlp(z + shift, [(dec_w0, dec_b0), (dec_w1, dec_b1)])
        return sq(x_hat - x) + quant
    return f


def margins_ok(x, params):
    """Every level's nearest code beats the runner-up by MARGIN."""
    with torch.no_grad():
        z = mlp(x, [(params["enc_w0"], params["enc_b0"]), (params["enc_w1"], params["enc_b1"])])
        residual = z
        for name in ("codebook_0", "codebook_1"):
            idx, d = nearest(residual, params[name])
            top2 = d.sort(1).values[:, :2]
            if (top2[:, 1] - top2[:, 0]).min() < MARGIN:
                return False
            residual = residual - params[name][idx]
    return True


def linear(n_in, n_out):
    bound = 1 / n_in ** 0.5
    return (torch.rand(n_in, n_out) * 2 - 1) * bound, (torch.rand(n_out) * 2 - 1) * bound


def main():
    for seed in range(1000):
        torch.manual_seed(seed)
        x = torch.randn(5, 6)
        enc_w0, enc_b0 = linear(6, 5)
        enc_w1, enc_b1 = linear(5, 3)
        dec_w0, dec_b0 = linear(3, 5)
        dec_w1, dec_b1 = linear(5, 6)
        params = dict(enc_w0=enc_w0, enc_b0=enc_b0, enc_w1=enc_w1, enc_b1=enc_b1, dec_w0=dec_w0, dec_b0=dec_b0,
                      dec_w1=dec_w1, dec_b1=dec_b1, codebook_0=torch.randn(4, 3) * 0.5, codebook_1=torch.randn(4, 3) * 0.2)
        if margins_ok(x.double(), {k: v.double() for k, v in params.items()}):
            break
    else:
        raise SystemExit("no seed gives clear nearest-code margins")

    args = {k: v.double().clone().requires_grad_(True) for k, v in params.items()}
    out = rqvae(x.double(), **args)
    out["loss"].backward()
    names = list(params)
    # The straight-through gradient is not the derivative of the loss, so check it through the surrogate.
    base = {k: v.double() for k, v in params.items()}
    f = surrogate(x.double(), base, out["codes"])
    s_args = {k: v.clone().requires_grad_(True) for k, v in base.items()}
    f(**s_args).backward()
    worst = max((s_args[k].grad - args[k].grad).abs().max().item() for k in names)
    assert worst < 1e-12, f"straight-through gradients differ from the surrogate's by {worst}"
    assert torch.autograd.gradcheck(lambda *xs: f(**dict(zip(names, xs))), [base[k].clone().requires_grad_(True) for k in names],
                                    eps=1e-6, atol=1e-6, rtol=1e-5), "gradcheck of the surrogate failed"
    check = "surrogate gradcheck"
    codes_used = [c.tolist() for c in out["codes"]]
    assert len(set(codes_used[0])) > 1, "level 1 should use several codes"

    tensors = {"x": x, **params}
    tensors["latent"] = out["latent"].float()
    tensors["codes"] = torch.stack(out["codes"], 1).long()  # [batch, levels]
    tensors["quantized"] = out["quantized"].float()
    tensors["reconstruction"] = out["reconstruction"].float()
    tensors["reconstruction_loss"] = out["recon"].float().reshape([])
    tensors["quantization_loss"] = out["quant"].float().reshape([])
    tensors["loss"] = out["loss"].float().reshape([])
    tensors.update({"grad." + k: args[k].grad.float() for k in names})
    size = write(CODES_DIR, "rqvae", tensors, {"beta": BETA, "seed": seed, "levels": 2, "codebook": 4})
    print(f"Tests/QuantizationTests/Fixtures/rqvae  seed={seed} codes={codes_used} check={check} {size}B")


if __name__ == "__main__":
    main()

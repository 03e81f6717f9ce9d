// Exact-form GELU x·Φ(x) per vector width (see CVectorMath.h), for the ViT's MLPs and the DINO head. Φ through the
// rational erf of TensorEngine's `fastErf`; the Swift reference is `geluErfWithDerivative` (FusedLinear.swift).
#pragma once
#include <stddef.h>

/// x[i] = x[i]·Φ(x[i]) in place, for i in 0..<n.
void vm_gelu_erf(float *x, ptrdiff_t n);

/// The same, and derivative[i] = Φ(x[i]) + x[i]·φ(x[i]) at the input, for the backward pass.
void vm_gelu_erf_with_derivative(float *x, float *derivative, ptrdiff_t n);

// Elementwise kernels compiled once per x86 vector width (AVX-512, AVX2 + FMA, baseline SSE2) and chosen at load
// time by the dynamic loader (GCC/Clang `target_clones`): Swift code is built for baseline x86-64 and so only ever
// runs 4 floats at a time without FMA. Each kernel has a scalar Swift reference in TensorEngine that it is tested
// against.
#pragma once
#include <stddef.h>

/// out[i] = gelu_tanh(a[i]) * b[i]  (T5's gated GELU), for i in 0..<n.
void vm_gated_gelu_tanh(const float *a, const float *b, float *out, ptrdiff_t n);

/// Its backward: da[i] += g[i] * b[i] * gelu_tanh'(a[i]); db[i] += g[i] * gelu_tanh(a[i]).
void vm_gated_gelu_tanh_backward(const float *a, const float *b, const float *g, float *da, float *db, ptrdiff_t n);

/// y = softmax(x) over n values (y may be x); all −∞ gives zeros.
void vm_softmax_row(const float *x, float *y, ptrdiff_t n);

/// The name of the clone the loader picked for this CPU ("avx512f", "avx2+fma" or "baseline"), for benchmark output.
const char *vm_selected_width(void);

#include "CVectorMath.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__ELF__)
#define VM_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define VM_CLONES
#endif

// The same branch-free exp and tanh as TensorEngine/FastMath.swift (see there for the accuracy), so the loops vectorise.
static inline float bits_to_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline int32_t float_to_bits(float f) { int32_t i; memcpy(&i, &f, 4); return i; }

static inline float vm_exp(float x) {
    const float magic = 12582912.0f, log2e = 1.44269504f, ln2_high = 0.693145751953125f, ln2_low = 1.428606765330187045e-06f;
    float clamped = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    float shifted = clamped * log2e + magic;
    float n = shifted - magic;
    float r = clamped - n * ln2_high - n * ln2_low;
    float p = 1.3888889e-3f;
    p = p * r + 8.3333333e-3f;
    p = p * r + 4.1666666e-2f;
    p = p * r + 1.6666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t k = float_to_bits(shifted) - float_to_bits(magic);
    int32_t half = k >> 1;
    return p * bits_to_float((uint32_t)(half + 127) << 23) * bits_to_float((uint32_t)(k - half + 127) << 23);
}

static inline float vm_tanh(float x) {
    float e = vm_exp(2.0f * (x < 0 ? -x : x));
    float magnitude = 1.0f - 2.0f / (e + 1.0f);
    return x < 0 ? -magnitude : magnitude;
}

static const float sqrt2_over_pi = 0.7978845608028654f, gelu_cubic = 0.044715f;

VM_CLONES
void vm_gated_gelu_tanh(const float *restrict a, const float *restrict b, float *restrict out, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = a[i];
        out[i] = 0.5f * v * (1.0f + vm_tanh(sqrt2_over_pi * (v + gelu_cubic * v * v * v))) * b[i];
    }
}

VM_CLONES
void vm_gated_gelu_tanh_backward(const float *restrict a, const float *restrict b, const float *restrict g,
                                 float *restrict da, float *restrict db, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        float x = a[i];
        float t = vm_tanh(sqrt2_over_pi * (x + gelu_cubic * x * x * x));
        float value = 0.5f * x * (1.0f + t);
        float derivative = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * sqrt2_over_pi * (1.0f + 3.0f * gelu_cubic * x * x);
        da[i] += g[i] * b[i] * derivative;
        db[i] += g[i] * value;
    }
}

VM_CLONES
void vm_softmax_row(const float *x, float *y, ptrdiff_t n) {
    // The max and the sum may be taken in any order (lanes, then across them), as the Swift reference does.
#pragma clang fp reassociate(on)
    float maximum = -__builtin_inff();
    for (ptrdiff_t j = 0; j < n; j++) maximum = __builtin_fmaxf(maximum, x[j]);
    if (maximum == -__builtin_inff()) {
        for (ptrdiff_t j = 0; j < n; j++) y[j] = 0;
        return;
    }
    float total = 0;
    for (ptrdiff_t j = 0; j < n; j++) {
        float e = vm_exp(x[j] - maximum);
        y[j] = e;
        total += e;
    }
    float inverse = 1.0f / total;
    for (ptrdiff_t j = 0; j < n; j++) y[j] *= inverse;
}

#if defined(__x86_64__) && defined(__ELF__)
// The resolver's own order: the first clone the CPU supports.
const char *vm_selected_width(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512f";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2+fma";
    return "baseline";
}
#else
const char *vm_selected_width(void) { return "baseline"; }
#endif

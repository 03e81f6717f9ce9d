#include "CVectorMathGELU.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__ELF__)
#define VM_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define VM_CLONES
#endif

// TensorEngine's fastErf (TextOps.swift) and fastExp (FastMath.swift), term for term, so the loops vectorise.
static inline float gelu_bits_to_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline int32_t gelu_float_to_bits(float f) { int32_t i; memcpy(&i, &f, 4); return i; }

static inline float gelu_exp(float x) {
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
    int32_t k = gelu_float_to_bits(shifted) - gelu_float_to_bits(magic);
    int32_t half = k >> 1;
    return p * gelu_bits_to_float((uint32_t)(half + 127) << 23) * gelu_bits_to_float((uint32_t)(k - half + 127) << 23);
}

static inline float gelu_erf(float x) {
    float v = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
    float v2 = v * v;
    float p = -2.72614225801306e-10f;
    p = p * v2 + 2.77068142495902e-08f;
    p = p * v2 - 2.10102402082508e-06f;
    p = p * v2 - 5.69250639462346e-05f;
    p = p * v2 - 7.34990630326855e-04f;
    p = p * v2 - 2.95459980854025e-03f;
    p = p * v2 - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * v2 - 2.13374055278905e-04f;
    q = q * v2 - 1.68282697438203e-03f;
    q = q * v2 - 7.37332916720468e-03f;
    q = q * v2 - 1.42647390514189e-02f;
    return v * p / q;
}

VM_CLONES
void vm_gelu_erf(float *restrict x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = v * 0.5f * (1.0f + gelu_erf(v * 0.70710678118654752f));
    }
}

VM_CLONES
void vm_gelu_erf_with_derivative(float *restrict x, float *restrict derivative, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + gelu_erf(v * 0.70710678118654752f));
        float pdf = gelu_exp(-0.5f * v * v) * 0.39894228040143268f;
        x[i] = v * cdf;
        derivative[i] = cdf + v * pdf;
    }
}

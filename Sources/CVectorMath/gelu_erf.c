#include "CVectorMathGELU.h"
#include "fast_math.h"
#include <stdint.h>
#include <string.h>

// TensorEngine's fastErf (TextOps.swift), term for term, so the loops vectorise (exp: fast_math.h).
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
        float pdf = vm_exp(-0.5f * v * v) * 0.39894228040143268f;
        x[i] = v * cdf;
        derivative[i] = cdf + v * pdf;
    }
}

// Shared by the kernels of this module (not part of its interface): the clone attribute and the branch-free exp,
// scalar and on 16 lanes.
#pragma once
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__ELF__)
#define VM_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define VM_CLONES
#endif

// The same branch-free exp as TensorEngine/FastMath.swift (see there for the accuracy), so the loops vectorise.
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

typedef float v16f __attribute__((ext_vector_type(16)));

// vm_exp on a block of 16: a loop of fixed length over the scalar form, which every clone vectorises at its width
// (used where the loop around it would not be vectorised, as in the softmax row's padded tail).
static inline __attribute__((always_inline)) void vm_exp16(const float *in, float shift, float *out) {
    float block[16];
    for (int k = 0; k < 16; k++) block[k] = vm_exp(in[k] - shift);
    __builtin_memcpy(out, block, sizeof block);
}

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

// vm_exp on 16 lanes with Clang's vector types, so it is vector code whatever the loop around it (each clone
// lowers it to its own width). The same steps and constants as vm_exp: keep the two in step.
typedef float v16f __attribute__((ext_vector_type(16)));
typedef int32_t v16i __attribute__((ext_vector_type(16)));

static inline __attribute__((always_inline)) void vm_exp16(const float *in, float shift, float *out) {
    v16f x;
    __builtin_memcpy(&x, in, sizeof x);
    x -= shift;
    const float magic = 12582912.0f, log2e = 1.44269504f, ln2_high = 0.693145751953125f, ln2_low = 1.428606765330187045e-06f;
    v16f clamped = __builtin_elementwise_min(__builtin_elementwise_max(x, (v16f)-87.3f), (v16f)88.3f);
    v16f shifted = clamped * log2e + magic;
    v16f n = shifted - magic;
    v16f r = clamped - n * ln2_high - n * ln2_low;
    v16f p = 1.3888889e-3f;
    p = p * r + 8.3333333e-3f;
    p = p * r + 4.1666666e-2f;
    p = p * r + 1.6666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    v16i k = (v16i)shifted - (v16i)(v16f)magic;
    v16i half = k >> 1;
    v16f result = p * (v16f)((half + 127) << 23) * (v16f)((k - half + 127) << 23);
    __builtin_memcpy(out, &result, sizeof result);
}

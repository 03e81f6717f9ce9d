// Elementwise kernels compiled once per x86 vector width (AVX-512, AVX2 + FMA, baseline SSE2) and chosen at load
// time by the dynamic loader (GCC/Clang `target_clones`): Swift code is built for baseline x86-64 and so only ever
// runs 4 floats at a time without FMA. Each kernel has a scalar Swift reference in TensorEngine that it is tested
// against.
#pragma once
#include <stddef.h>

/// out[i] = gelu_tanh(a[i]) * b[i]  (T5's gated GELU), for i in 0..<n.
void vm_gated_gelu_tanh(const float *a, const float *b, float *out, ptrdiff_t n);

/// Its backward: da[i] += g[i] * b[i] * gelu_tanh'(a[i]); db[i] += g[i] * gelu_tanh(a[i]); with add_a (add_b) 0
/// the gradient is stored instead, da (db) not read.
void vm_gated_gelu_tanh_backward(const float *a, const float *b, const float *g, float *da, float *db, ptrdiff_t n,
                                 int add_a, int add_b);

/// y = softmax(x) over n values (y may be x); all −∞ gives zeros.
void vm_softmax_row(const float *x, float *y, ptrdiff_t n);

/// C[m×n] = op(A)·op(B) (accumulate = 0) or C += op(A)·op(B) (accumulate = 1), row-major with leading dimensions,
/// op(X) = Xᵀ when trans_x; n must be a multiple of 16. C is computed in 16-column panels whose accumulators stay in
/// registers for the whole of k; B's panel is copied once (at most k·16 floats) instead of BLAS's packing of all of B,
/// which is most of BLAS's cost for the few-row products of decoding.
void vm_sgemm_rows(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                   const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate);

/// `vm_sgemm_rows` by one width (2 AVX-512, 1 AVX2 + FMA, 0 baseline), for tests and benchmarks of every path this
/// CPU has; returns 0 (and does nothing) when the CPU lacks it.
int vm_sgemm_rows_at(int level, int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a,
                     ptrdiff_t lda, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate);

/// The name of the clone the loader picked for this CPU ("avx512f", "avx2+fma" or "baseline"), for benchmark output.
const char *vm_selected_width(void);

/// C (+)= op(A)·op(B) with A and B rounded to bfloat16 and float32 accumulation (AMX tiles where enabled, else
/// AVX512_BF16's vdpbf16ps), same conventions as `vm_sgemm_rows`; n must be a multiple of 16. Returns 0 (and leaves C
/// alone) when the CPU lacks AVX512_BF16.
int vm_sgemm_rows_bf16(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                       const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate);
/// Whether the CPU has AVX-512 with AVX512_BF16.
int vm_has_bf16(void);
/// The bfloat16 product by vdpbf16ps alone (what `vm_sgemm_rows_bf16` runs where AMX is absent or disabled), for tests
/// and benchmarks; 0 without AVX512_BF16.
int vm_sgemm_rows_dpbf16(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                         const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate);
/// The bfloat16 product on AMX tiles (TDPBF16PS), same contract; 0 (C untouched) where `vm_has_amx` is 0.
/// `vm_sgemm_rows_bf16` uses it whenever `vm_amx_enabled`.
int vm_sgemm_rows_amx(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                      const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate);
/// Whether this CPU has AMX-TILE and AMX-BF16 and Linux granted the process the tile state (asked on the first call).
int vm_has_amx(void);
/// `vm_has_amx`, unless `MSCGREC_AMX=0` or `vm_set_amx_enabled(0)` turned AMX off for the process.
int vm_amx_enabled(void);
void vm_set_amx_enabled(int enabled);
/// Peak GFLOP/s of one core issuing TDPBF16PS into four accumulator tiles for about `seconds`; 0 without AMX.
double vm_amx_peak_gflops(double seconds);
/// Peak GFLOP/s of one core issuing only vdpbf16ps (bf16 = 1) or only 512-bit FMAs (bf16 = 0) for about `seconds` of
/// thread CPU time; 0 without AVX512_BF16 (the benchmark's comparison of the two instructions needs both).
double vm_peak_gflops(int bf16, double seconds);
/// x rounded to bfloat16 (nearest even, subnormals to zero) as the kernel rounds its inputs: for tests.
float vm_round_bf16(float x);

// The exact-form GELU kernels (ViT, DINO head) have a header of their own.
#include "CVectorMathGELU.h"

/// Sets the calling thread's SSE/AVX control register to flush denormal results to zero and read denormal inputs as
/// zero (MXCSR FTZ + DAZ; a no-op off x86) and returns its previous value. Intel cores take a microcode assist for
/// every denormal operand: on an Emerald Rapids the float32 training step ran 2.3× slower without (its backward
/// products at 1–2 GFLOP/s). FTZ alone measured level with both there; DAZ also covers denormals that arrive as
/// inputs (files, bfloat16 widening). New threads inherit the setting from the thread that creates them.
/// Code that must see denormal inputs avoids float arithmetic on them (SafeTensors' half-precision reader).
unsigned vm_flush_denormals(void);
/// Turns the flushing on or off for the whole process (and this thread) from now on: `MSCGREC_FLUSH_DENORMALS=0` does it
/// at start-up, and the training benchmark measures float32 both ways in one run.
void vm_set_denormal_flushing(int enabled);
/// Puts back the control register `vm_flush_denormals` returned.
void vm_restore_float_mode(unsigned previous);
/// Whether the calling thread flushes denormals (both bits set), for tests and start-up lines.
int vm_flushes_denormals(void);

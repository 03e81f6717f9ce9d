#include "CVectorMath.h"
#include "fast_math.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define VM_MXCSR_FLUSH 0x8040u   // FTZ (bit 15) | DAZ (bit 6)
#endif

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

static inline __attribute__((always_inline))
void gated_gelu_tanh_backward(const float *restrict a, const float *restrict b, const float *restrict g,
                              float *restrict da, float *restrict db, ptrdiff_t n, const int add_a, const int add_b) {
    for (ptrdiff_t i = 0; i < n; i++) {
        float x = a[i];
        float t = vm_tanh(sqrt2_over_pi * (x + gelu_cubic * x * x * x));
        float value = 0.5f * x * (1.0f + t);
        float derivative = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * sqrt2_over_pi * (1.0f + 3.0f * gelu_cubic * x * x);
        // a stored-into buffer is never read: it may hold garbage (even NaN) before this pass
        da[i] = (add_a ? da[i] : 0.0f) + g[i] * b[i] * derivative;
        db[i] = (add_b ? db[i] : 0.0f) + g[i] * value;
    }
}

VM_CLONES
void vm_gated_gelu_tanh_backward(const float *restrict a, const float *restrict b, const float *restrict g,
                                 float *restrict da, float *restrict db, ptrdiff_t n, int add_a, int add_b) {
    // one loop per combination, each with constant flags, so none carries a branch or a load it does not need
    if (add_a && add_b) gated_gelu_tanh_backward(a, b, g, da, db, n, 1, 1);
    else if (add_a) gated_gelu_tanh_backward(a, b, g, da, db, n, 1, 0);
    else if (add_b) gated_gelu_tanh_backward(a, b, g, da, db, n, 0, 1);
    else gated_gelu_tanh_backward(a, b, g, da, db, n, 0, 0);
}

VM_CLONES
void vm_softmax_row(const float *x, float *y, ptrdiff_t n) {
    if (n <= 4) {
        // A decoding step's self-attention row (one query against t ≤ 4 cached keys): scalar, with none of the
        // block path's stores and reloads, which cost more than these few values.
        float maximum = -__builtin_inff(), total = 0;
        for (ptrdiff_t i = 0; i < n; i++) maximum = x[i] > maximum ? x[i] : maximum;
        if (maximum == -__builtin_inff()) {
            for (ptrdiff_t i = 0; i < n; i++) y[i] = 0;
            return;
        }
        for (ptrdiff_t i = 0; i < n; i++) { y[i] = vm_exp(x[i] - maximum); total += y[i]; }
        for (ptrdiff_t i = 0; i < n; i++) y[i] /= total;
        return;
    }
    // In blocks of 16 lanes, the short tail padded into one more block (−∞ for the max, 0 for the sum): attention
    // rows are often only 1–40 long, and scalar remainder loops were most of their cost. The max and the sum are
    // taken lane-wise, then across lanes, as the Swift reference does.
    const float negative_infinity = -__builtin_inff();
    ptrdiff_t whole = n / 16 * 16, rest = n - whole;
    float tail[16];
    for (int k = 0; k < 16; k++) tail[k] = k < rest ? x[whole + k] : negative_infinity;
    v16f block, lanes;
    __builtin_memcpy(&lanes, tail, sizeof lanes);
    for (ptrdiff_t j = 0; j < whole; j += 16) {
        __builtin_memcpy(&block, x + j, sizeof block);
        lanes = __builtin_elementwise_max(lanes, block);
    }
    float maximum = __builtin_reduce_max(lanes);
    if (maximum == negative_infinity) {
        for (ptrdiff_t i = 0; i < n; i++) y[i] = 0;
        return;
    }
    v16f sums = 0;
    for (ptrdiff_t j = 0; j < whole; j += 16) {
        vm_exp16(x + j, maximum, y + j);
        __builtin_memcpy(&block, y + j, sizeof block);
        sums += block;
    }
    if (rest > 0) {
        vm_exp16(tail, maximum, tail);
        for (int k = (int)rest; k < 16; k++) tail[k] = 0;   // the padding's exp(−87.3) must not enter the sum
        __builtin_memcpy(&block, tail, sizeof block);
        sums += block;
    }
    float parts[16];
    __builtin_memcpy(parts, &sums, sizeof parts);
    for (int width = 8; width > 0; width /= 2)
        for (int k = 0; k < width; k++) parts[k] += parts[k + width];
    float inverse = 1.0f / parts[0];
    for (ptrdiff_t j = 0; j < whole; j += 16) {
        __builtin_memcpy(&block, y + j, sizeof block);
        block *= inverse;
        __builtin_memcpy(y + j, &block, sizeof block);
    }
    for (ptrdiff_t k = 0; k < rest; k++) y[whole + k] = tail[k] * inverse;
}

// One block of `rows` rows × 16 columns of C, its accumulators in registers for the whole of k. A's element (i, p)
// is a[i·sa + p·sp] (sa = lda, sp = 1 plain; sa = 1, sp = lda transposed); the panel's row p is b[p·ldb …+16].
static inline __attribute__((always_inline)) void gemm_block(const int rows, const float *a, ptrdiff_t sa, ptrdiff_t sp,
                                                              const float *b, ptrdiff_t ldb, ptrdiff_t k,
                                                              float *c, ptrdiff_t ldc, int accumulate) {
    v16f acc[16];
    for (int i = 0; i < rows; i++) {
        if (accumulate) __builtin_memcpy(&acc[i], c + i * ldc, sizeof(v16f));
        else acc[i] = 0;
    }
    for (ptrdiff_t p = 0; p < k; p++) {
        v16f w;
        __builtin_memcpy(&w, b + p * ldb, sizeof w);
        for (int i = 0; i < rows; i++) acc[i] += a[i * sa + p * sp] * w;
    }
    for (int i = 0; i < rows; i++) __builtin_memcpy(c + i * ldc, &acc[i], sizeof(v16f));
}

// For every pass of GEMM_M_BLOCK rows, every 16-column panel: blocks of `rows` rows (as many as the registers hold),
// then the remainder in halving blocks.
// The panel is first copied to a contiguous buffer when B is transposed (its 16 columns are then rows of B) or when
// several blocks read it: read in place, its rows are ldb apart, and for wide B (ldb·4 a multiple of 2 KiB) they
// fall into so few L1 sets that they evict each other. k is at most GEMM_K_CHUNK here (gemm_chunked splits it).
#define GEMM_K_CHUNK 512
// Rows of A per pass over the panels: 192 rows × a 512-long chunk of k is 384 KiB, which stays in L2 while every panel
// passes over it. Unblocked, training's 20,000-row products streamed all of A from memory once per panel (NT with
// n = 128 ran at 108 GFLOP/s against 180 for the same work in L2). A multiple of every block height (12, 6, 2), so
// the remainder blocks run only at the end of the last pass.
#ifndef GEMM_M_BLOCK
#define GEMM_M_BLOCK 192
#endif
#define GEMM_BLOCK(r) gemm_block((r), a + i * sa, sa, sp, bp, ldbp, k, c + i * ldc + j, ldc, accumulate)
#define GEMM_BODY(rows)                                                                                           \
    float panel[GEMM_K_CHUNK * 16] __attribute__((aligned(64)));                                                 \
    const ptrdiff_t sa = trans_a ? 1 : lda, sp = trans_a ? lda : 1;                                               \
    const int copy = trans_b || m > (rows);                                                                       \
    for (ptrdiff_t i0 = 0; i0 < m; i0 += GEMM_M_BLOCK) {                                                          \
    const ptrdiff_t iend = m - i0 < GEMM_M_BLOCK ? m : i0 + GEMM_M_BLOCK;                                         \
    for (ptrdiff_t j = 0; j < n; j += 16) {                                                                       \
        const float *bp = b + j;                                                                                  \
        ptrdiff_t ldbp = ldb;                                                                                     \
        if (copy) {                                                                                               \
            if (trans_b) {                                                                                        \
                for (int q = 0; q < 16; q++)                                                                      \
                    for (ptrdiff_t p = 0; p < k; p++) panel[p * 16 + q] = b[(j + q) * ldb + p];                   \
            } else {                                                                                              \
                for (ptrdiff_t p = 0; p < k; p++) __builtin_memcpy(panel + p * 16, b + p * ldb + j, 16 * sizeof(float)); \
            }                                                                                                     \
            bp = panel; ldbp = 16;                                                                                \
        }                                                                                                         \
        ptrdiff_t i = i0;                                                                                         \
        for (; i + (rows) <= iend; i += (rows)) GEMM_BLOCK(rows);                                                 \
        if ((rows) > 8 && iend - i >= 8) { GEMM_BLOCK(8); i += 8; }                                               \
        if ((rows) > 4 && iend - i >= 4) { GEMM_BLOCK(4); i += 4; }                                               \
        if ((rows) > 2 && iend - i >= 2) { GEMM_BLOCK(2); i += 2; }                                               \
        if ((rows) > 1 && iend - i >= 1) { GEMM_BLOCK(1); i += 1; }                                               \
    }                                                                                                             \
    }

#define GEMM_PARAMETERS int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda, \
                        const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate
typedef void (*gemm_rows_fn)(GEMM_PARAMETERS);

// Rows per block by register file: 32 zmm (12 accumulators), 16 ymm (6 accumulators of two halves), 16 xmm (2 of four).
#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void gemm_rows_avx512(GEMM_PARAMETERS) { GEMM_BODY(12) }
__attribute__((target("avx2,fma"))) static void gemm_rows_avx2(GEMM_PARAMETERS) { GEMM_BODY(6) }
#endif
static void gemm_rows_baseline(GEMM_PARAMETERS) { GEMM_BODY(2) }

static gemm_rows_fn select_gemm_rows(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return gemm_rows_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return gemm_rows_avx2;
#endif
    return gemm_rows_baseline;
}

// k in chunks, C accumulating from the second on: a chunk of A stays in L2 while every panel of B passes over it
// (unchunked, a transposed A of a few thousand rows came from L3 once per panel), and a panel fits the buffer.
static void gemm_chunked(gemm_rows_fn f, GEMM_PARAMETERS) {
    if (k <= GEMM_K_CHUNK) { f(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate); return; }
    for (ptrdiff_t p0 = 0; p0 < k; p0 += GEMM_K_CHUNK) {
        ptrdiff_t kk = k - p0 < GEMM_K_CHUNK ? k - p0 : GEMM_K_CHUNK;
        const float *ap = trans_a ? a + p0 * lda : a + p0;
        const float *bp = trans_b ? b + p0 : b + p0 * ldb;
        f(trans_a, trans_b, m, n, kk, ap, lda, bp, ldb, c, ldc, p0 > 0 || accumulate);
    }
}

#define GEMM_ARGUMENTS trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate

int vm_sgemm_rows_at(int level, GEMM_PARAMETERS) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (level == 2 && __builtin_cpu_supports("avx512f")) { gemm_chunked(gemm_rows_avx512, GEMM_ARGUMENTS); return 1; }
    if (level == 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) { gemm_chunked(gemm_rows_avx2, GEMM_ARGUMENTS); return 1; }
#endif
    if (level == 0) { gemm_chunked(gemm_rows_baseline, GEMM_ARGUMENTS); return 1; }
    return 0;
}

void vm_sgemm_rows(GEMM_PARAMETERS) {
    static gemm_rows_fn chosen;   // a benign race: every thread computes the same pointer
    gemm_rows_fn f = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (!f) { f = select_gemm_rows(); __atomic_store_n(&chosen, f, __ATOMIC_RELAXED); }
    gemm_chunked(f, GEMM_ARGUMENTS);
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

// 1 unless MSCGREC_FLUSH_DENORMALS=0 or a benchmark switched it off; read once, a benign race like vm_has_bf16's.
static int flushing = -1;

static int flushing_enabled(void) {
    int enabled = __atomic_load_n(&flushing, __ATOMIC_RELAXED);
    if (enabled < 0) {
        const char *setting = getenv("MSCGREC_FLUSH_DENORMALS");
        enabled = !(setting && strcmp(setting, "0") == 0);
        __atomic_store_n(&flushing, enabled, __ATOMIC_RELAXED);
    }
    return enabled;
}

void vm_set_denormal_flushing(int enabled) {
    __atomic_store_n(&flushing, enabled ? 1 : 0, __ATOMIC_RELAXED);
#ifdef VM_MXCSR_FLUSH
    _mm_setcsr(enabled ? _mm_getcsr() | VM_MXCSR_FLUSH : _mm_getcsr() & ~VM_MXCSR_FLUSH);
#endif
}

unsigned vm_flush_denormals(void) {
#ifdef VM_MXCSR_FLUSH
    unsigned previous = _mm_getcsr();
    _mm_setcsr(flushing_enabled() ? previous | VM_MXCSR_FLUSH : previous & ~VM_MXCSR_FLUSH);
    return previous;
#else
    return 0;
#endif
}

void vm_restore_float_mode(unsigned previous) {
#ifdef VM_MXCSR_FLUSH
    _mm_setcsr(previous);
#else
    (void)previous;
#endif
}

int vm_flushes_denormals(void) {
#ifdef VM_MXCSR_FLUSH
    return (_mm_getcsr() & VM_MXCSR_FLUSH) == VM_MXCSR_FLUSH;
#else
    return 1;
#endif
}

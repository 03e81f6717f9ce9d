// Matrix products with bfloat16 inputs and float32 accumulation (AVX512_BF16's vdpbf16ps), for training: PyTorch's
// CPU autocast makes the same trade. One vdpbf16ps does 32 multiply-adds where an FMA does 16; on Zen 5 that measured
// 445 against 240 GFLOP/s. A and B are rounded to bfloat16 (nearest even) as they are packed, so the result equals the
// float32 product of the rounded inputs up to the order of the float32 additions.
//
// Layout: vdpbf16ps multiplies pairs, lane j of the result += a.pair[j]·b.pair[j] over two consecutive k. A pass of
// up to GEMM_BF16_M_BLOCK rows of A is packed as 32-bit words of one row's k pair, one broadcast per row and pair; a
// panel of 16 columns of B as 16 words per k pair, one 64-byte load per pair. Odd k is padded with zeros on both
// sides. Packing is all vector work (conversions, interleaving, 16 × 16 transposes): gathers and scatters cost a
// quarter of the products' time in the first version.
#include "CVectorMath.h"
#include "bf16_pack.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

float vm_round_bf16(float x) {
    uint32_t bits = (uint32_t)to_bf16(x) << 16;
    float y;
    __builtin_memcpy(&y, &bits, 4);
    return y;
}

#if defined(__x86_64__)
// rows × 16 block of C over `pairs` k pairs: A's words a[i·sa + q·sq], the panel's w[q·16 …+16].
static inline __attribute__((always_inline)) BF16_TARGET void bf16_block(const int rows, const uint32_t *a, ptrdiff_t sa, ptrdiff_t sq,
                                                                          ptrdiff_t pairs, const uint32_t *w, float *c, ptrdiff_t ldc,
                                                                          int accumulate) {
    __m512 acc[12];
    for (int i = 0; i < rows; i++) acc[i] = accumulate ? _mm512_loadu_ps(c + i * ldc) : _mm512_setzero_ps();
    for (ptrdiff_t q = 0; q < pairs; q++) {
        __m512bh b = (__m512bh)_mm512_load_si512(w + q * 16);
        for (int i = 0; i < rows; i++) acc[i] = _mm512_dpbf16_ps(acc[i], (__m512bh)_mm512_set1_epi32((int)a[i * sa + q * sq]), b);
    }
    for (int i = 0; i < rows; i++) _mm512_storeu_ps(c + i * ldc, acc[i]);
}

#define BF16_BLOCK(r) bf16_block((r), words + (i - i0) * wa, wa, wq, pairs, panel, c + i * ldc + j, ldc, accumulate)

// One k chunk (kk ≤ GEMM_BF16_K_CHUNK) of C (+)= op(A)·op(B).
static BF16_TARGET void gemm_bf16_chunk(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t kk, const float *a,
                                        ptrdiff_t lda, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate,
                                        uint32_t *words, uint32_t *panel) {
    const ptrdiff_t sa = trans_a ? 1 : lda, sp = trans_a ? lda : 1, pairs = (kk + 1) / 2;
    const ptrdiff_t sb = trans_b ? 1 : ldb, sc = trans_b ? ldb : 1;
    for (ptrdiff_t i0 = 0; i0 < m; i0 += GEMM_BF16_M_BLOCK) {
        const ptrdiff_t iend = m - i0 < GEMM_BF16_M_BLOCK ? m : i0 + GEMM_BF16_M_BLOCK;
        pack_a(a + i0 * sa, sa, sp, iend - i0, kk, words);
        const ptrdiff_t wa = sp == 1 ? pairs : 1, wq = sp == 1 ? 1 : iend - i0;   // pack_a's layout
        for (ptrdiff_t j = 0; j < n; j += 16) {
            pack_panel(b + j * sc, sb, sc, kk, panel);
            ptrdiff_t i = i0;
            for (; i + 12 <= iend; i += 12) BF16_BLOCK(12);
            if (iend - i >= 8) { BF16_BLOCK(8); i += 8; }
            if (iend - i >= 4) { BF16_BLOCK(4); i += 4; }
            if (iend - i >= 2) { BF16_BLOCK(2); i += 2; }
            if (iend - i >= 1) { BF16_BLOCK(1); i += 1; }
        }
    }
}

int vm_has_bf16(void) {
    static int known = -1;   // a benign race: every thread computes the same answer
    int has = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (has < 0) {
        __builtin_cpu_init();
        has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
        __atomic_store_n(&known, has, __ATOMIC_RELAXED);
    }
    return has;
}

// The packing buffer, one per thread (shards call at once), allocated on a thread's first product and freed when it
// exits. Not static thread-local storage: glibc puts that on each thread's stack, and 400 KiB would not fit.
static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;
static void make_buffer_key(void) { pthread_key_create(&buffer_key, free); }

uint32_t *vm_bf16_thread_buffer(void) {
    pthread_once(&buffer_once, make_buffer_key);
    uint32_t *words = pthread_getspecific(buffer_key);
    if (!words) {
        words = aligned_alloc(64, sizeof(uint32_t) * GEMM_BF16_BUFFER_WORDS);
        if (words && pthread_setspecific(buffer_key, words) != 0) { free(words); words = NULL; }
    }
    return words;
}

int vm_sgemm_rows_bf16(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                       const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    if (vm_amx_enabled()) return vm_sgemm_rows_amx(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    return vm_sgemm_rows_dpbf16(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

int vm_sgemm_rows_dpbf16(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                         const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    if (!vm_has_bf16() || n % 16 != 0) return 0;
    uint32_t *words = vm_bf16_thread_buffer();
    if (!words) return 0;
    uint32_t *panel = words + GEMM_BF16_M_BLOCK * (GEMM_BF16_K_CHUNK / 2);
    if (k == 0 && !accumulate)
        for (ptrdiff_t i = 0; i < m; i++) for (ptrdiff_t j = 0; j < n; j++) c[i * ldc + j] = 0;
    for (ptrdiff_t p0 = 0; p0 < k; p0 += GEMM_BF16_K_CHUNK) {
        ptrdiff_t kk = k - p0 < GEMM_BF16_K_CHUNK ? k - p0 : GEMM_BF16_K_CHUNK;
        const float *ap = trans_a ? a + p0 * lda : a + p0;
        const float *bp = trans_b ? b + p0 : b + p0 * ldb;
        gemm_bf16_chunk(trans_a, trans_b, m, n, kk, ap, lda, bp, ldb, c, ldc, p0 > 0 || accumulate, words, panel);
    }
    return 1;
}
#else
int vm_has_bf16(void) { return 0; }
int vm_sgemm_rows_bf16(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                       const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    return vm_sgemm_rows_dpbf16(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}
int vm_sgemm_rows_dpbf16(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                       const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)c; (void)ldc; (void)accumulate;
    return 0;
}
#endif

// Peak rates for `mscgrec-bench gemm`: 24 independent accumulators (more than any core's latency × issue width), so
// the loop is bound by how many vfmadd231ps or vdpbf16ps the core issues per cycle. Emerald Rapids issues the second
// at half the rate of the first, which is why bfloat16 does not pay there.
BF16_TARGET __attribute__((noinline)) static float peak_loop(int bf16, long iterations) {
    __m512 acc[24];
    for (int i = 0; i < 24; i++) acc[i] = _mm512_setzero_ps();
    const __m512 x = _mm512_set1_ps(1e-3f), y = _mm512_set1_ps(1e-3f);
    const __m512bh xh = (__m512bh)_mm512_set1_epi32(0x3a833a83), yh = xh;   // bfloat16 pairs of 1e-3
    for (long t = 0; t < iterations; t++) {
        if (bf16) { for (int i = 0; i < 24; i++) acc[i] = _mm512_dpbf16_ps(acc[i], xh, yh); }
        else { for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(x, y, acc[i]); }
        __asm__ volatile("" ::: "memory");
    }
    __m512 sum = acc[0];
    for (int i = 1; i < 24; i++) sum = _mm512_add_ps(sum, acc[i]);
    return _mm512_reduce_add_ps(sum);
}

double vm_peak_gflops(int bf16, double seconds) {
    if (!vm_has_bf16()) return 0;
    struct timespec t0, t1;
    long iterations = 1 << 16, done = 0;
    volatile float sink = 0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    double elapsed = 0;
    do {
        sink += peak_loop(bf16, iterations);
        done += iterations;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        elapsed = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    } while (elapsed < seconds);
    (void)sink;
    return (double)done * 24 * (bf16 ? 64 : 32) / elapsed / 1e9;   // flops per instruction: 16 lanes × (2 pairs) × 2
}

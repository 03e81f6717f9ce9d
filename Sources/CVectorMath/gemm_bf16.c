// Matrix products with bfloat16 inputs and float32 accumulation (AVX512_BF16's vdpbf16ps), for training: PyTorch's
// CPU autocast makes the same trade. One vdpbf16ps does 32 multiply-adds where an FMA does 16; on Zen 5 that measured
// 445 against 240 GFLOP/s. A and B are rounded to bfloat16 (nearest even) as they are packed, so the result equals the
// float32 product of the rounded inputs up to the order of the float32 additions.
//
// Layout: vdpbf16ps multiplies pairs, lane j of the result += a.pair[j]·b.pair[j] over two consecutive k. A pass of
// up to GEMM_BF16_M_BLOCK rows of A is packed as (row, k pair) 32-bit words, one broadcast per row and pair; a panel
// of 16 columns of B as (k pair, column) words, one 64-byte load per pair. Odd k is padded with zeros on both sides.
#include "CVectorMath.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define GEMM_BF16_K_CHUNK 512
// Rows of A per pass: 384 rows × 512 k of bfloat16 is 384 KiB, which stays in L2 while every panel passes over it.
#define GEMM_BF16_M_BLOCK 384

// Round-to-nearest-even to the upper 16 bits; NaN stays NaN (quiet); subnormals become zero, as the instructions
// (vcvtneps2bf16, vdpbf16ps) treat them.
static inline uint16_t to_bf16(float x) {
    uint32_t bits;
    __builtin_memcpy(&bits, &x, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40);
    if ((bits & 0x7f800000u) == 0) return (uint16_t)((bits >> 16) & 0x8000);
    bits += 0x7fffu + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

float vm_round_bf16(float x) {
    uint32_t bits = (uint32_t)to_bf16(x) << 16;
    float y;
    __builtin_memcpy(&y, &bits, 4);
    return y;
}

static inline uint32_t pair(float low, float high) { return (uint32_t)to_bf16(low) | ((uint32_t)to_bf16(high) << 16); }

#if defined(__x86_64__)
#include <immintrin.h>

#define BF16_TARGET __attribute__((target("avx512f,avx512bf16")))

// rows × 16 block of C over `pairs` k pairs: A's words a[i·pairs + q], the panel's w[q·16 …+16].
static inline __attribute__((always_inline)) BF16_TARGET void bf16_block(const int rows, const uint32_t *a, ptrdiff_t pairs,
                                                                          const uint32_t *w, float *c, ptrdiff_t ldc, int accumulate) {
    __m512 acc[12];
    for (int i = 0; i < rows; i++) acc[i] = accumulate ? _mm512_loadu_ps(c + i * ldc) : _mm512_setzero_ps();
    for (ptrdiff_t q = 0; q < pairs; q++) {
        __m512bh b = (__m512bh)_mm512_load_si512(w + q * 16);
        for (int i = 0; i < rows; i++) acc[i] = _mm512_dpbf16_ps(acc[i], (__m512bh)_mm512_set1_epi32((int)a[i * pairs + q]), b);
    }
    for (int i = 0; i < rows; i++) _mm512_storeu_ps(c + i * ldc, acc[i]);
}

// 16 floats at x[0], x[stride], … as bfloat16 in the low halves of 16 words (contiguous when stride is 1).
static inline BF16_TARGET __m512i bf16_words(const float *x, ptrdiff_t stride) {
    __m512 v;
    if (stride == 1) v = _mm512_loadu_ps(x);
    else v = _mm512_i32gather_ps(_mm512_mullo_epi32(_mm512_set1_epi32((int)stride),
                                                    _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)), x, 4);
    return _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(v));
}

// A's rows [i0, i0+rows) over k [p0, p0+kk) into words[r·pairs + q]. Element (i, p) is a[i·sa + p·sp].
static BF16_TARGET void pack_a(const float *a, ptrdiff_t sa, ptrdiff_t sp, ptrdiff_t rows, ptrdiff_t kk, uint32_t *words) {
    const ptrdiff_t pairs = (kk + 1) / 2, whole = kk / 2;
    if (sp == 1) {
        // Plain A: a row's k is contiguous, and 32 floats become 16 words in order.
        for (ptrdiff_t r = 0; r < rows; r++) {
            const float *row = a + r * sa;
            uint32_t *out = words + r * pairs;
            ptrdiff_t q = 0;
            for (; q + 16 <= whole; q += 16)
                _mm512_storeu_si512(out + q, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(row + 2 * q + 16), _mm512_loadu_ps(row + 2 * q)));
            for (; q < whole; q++) out[q] = pair(row[2 * q], row[2 * q + 1]);
            if (kk & 1) out[whole] = pair(row[kk - 1], 0);
        }
    } else {
        // Transposed A: 16 rows are contiguous at each k; two k make 16 words, one per row, stored `pairs` apart.
        ptrdiff_t r = 0;
        for (; r + 16 <= rows; r += 16) {
            const __m512i scatter = _mm512_mullo_epi32(_mm512_set1_epi32((int)pairs),
                                                       _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
            for (ptrdiff_t q = 0; q < pairs; q++) {
                __m512i low = bf16_words(a + r + 2 * q * sp, 1);
                __m512i high = 2 * q + 1 < kk ? _mm512_slli_epi32(bf16_words(a + r + (2 * q + 1) * sp, 1), 16) : _mm512_setzero_si512();
                _mm512_i32scatter_epi32(words + r * pairs + q, scatter, _mm512_or_si512(low, high), 4);
            }
        }
        for (; r < rows; r++)
            for (ptrdiff_t q = 0; q < pairs; q++)
                words[r * pairs + q] = pair(a[r + 2 * q * sp], 2 * q + 1 < kk ? a[r + (2 * q + 1) * sp] : 0);
    }
}

// Columns [j, j+16) of B over k [0, kk) into panel[q·16 + column]. Element (p, col) is b[p·sb + col·sc].
static BF16_TARGET void pack_panel(const float *b, ptrdiff_t sb, ptrdiff_t sc, ptrdiff_t kk, uint32_t *panel) {
    const ptrdiff_t pairs = (kk + 1) / 2;
    for (ptrdiff_t q = 0; q < pairs; q++) {
        __m512i low = bf16_words(b + 2 * q * sb, sc);
        __m512i high = 2 * q + 1 < kk ? _mm512_slli_epi32(bf16_words(b + (2 * q + 1) * sb, sc), 16) : _mm512_setzero_si512();
        _mm512_store_si512(panel + q * 16, _mm512_or_si512(low, high));
    }
}

#define BF16_BLOCK(r) bf16_block((r), words + (i - i0) * pairs, pairs, panel, c + i * ldc + j, ldc, accumulate)

// One k chunk (kk ≤ GEMM_BF16_K_CHUNK) of C (+)= op(A)·op(B).
static BF16_TARGET void gemm_bf16_chunk(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t kk, const float *a,
                                        ptrdiff_t lda, const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate,
                                        uint32_t *words, uint32_t *panel) {
    const ptrdiff_t sa = trans_a ? 1 : lda, sp = trans_a ? lda : 1, pairs = (kk + 1) / 2;
    const ptrdiff_t sb = trans_b ? 1 : ldb, sc = trans_b ? ldb : 1;
    for (ptrdiff_t i0 = 0; i0 < m; i0 += GEMM_BF16_M_BLOCK) {
        const ptrdiff_t iend = m - i0 < GEMM_BF16_M_BLOCK ? m : i0 + GEMM_BF16_M_BLOCK;
        pack_a(a + i0 * sa, sa, sp, iend - i0, kk, words);
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
        has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
        __atomic_store_n(&known, has, __ATOMIC_RELAXED);
    }
    return has;
}

// The packing buffer, one per thread (shards call at once), allocated on a thread's first product and freed when it
// exits. Not static thread-local storage: glibc puts that on each thread's stack, and 400 KiB would not fit.
static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;
static void make_buffer_key(void) { pthread_key_create(&buffer_key, free); }

static uint32_t *thread_buffer(void) {
    pthread_once(&buffer_once, make_buffer_key);
    uint32_t *words = pthread_getspecific(buffer_key);
    if (!words) {
        words = aligned_alloc(64, sizeof(uint32_t) * (GEMM_BF16_M_BLOCK + 16) * (GEMM_BF16_K_CHUNK / 2));
        if (words && pthread_setspecific(buffer_key, words) != 0) { free(words); words = NULL; }
    }
    return words;
}

int vm_sgemm_rows_bf16(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                       const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    if (!vm_has_bf16() || n % 16 != 0) return 0;
    uint32_t *words = thread_buffer();
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
    (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)c; (void)ldc; (void)accumulate;
    return 0;
}
#endif

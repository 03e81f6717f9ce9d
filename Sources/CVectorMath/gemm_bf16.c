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
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

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

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

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

// 16 words (bfloat16(low[j]), bfloat16(high[j])): one conversion of both vectors, then interleaving their halves.
static inline BF16_TARGET __m512i interleaved_pairs(__m512 low, __m512 high) {
    const __m512i order = _mm512_setr_epi32(0x00100000, 0x00110001, 0x00120002, 0x00130003, 0x00140004, 0x00150005,
                                            0x00160006, 0x00170007, 0x00180008, 0x00190009, 0x001a000a, 0x001b000b,
                                            0x001c000c, 0x001d000d, 0x001e000e, 0x001f000f);
    return _mm512_permutexvar_epi16(order, (__m512i)_mm512_cvtne2ps_pbh(high, low));
}

// The first `count` (0…16) floats at x, zeros after them.
static inline BF16_TARGET __m512 load_first(const float *x, ptrdiff_t count) {
    if (count >= 16) return _mm512_loadu_ps(x);
    return count <= 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps((__mmask16)((1u << count) - 1), x);
}

// 16 × 16 words: rows[t] becomes column t (an in-register transpose: 4 stages of 16 shuffles).
static inline BF16_TARGET void transpose16(__m512i rows[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(rows[i], rows[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(rows[i], rows[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    // u[4g + w] holds, in 128-bit lane L, words of rows 4g…4g+3 at column 4L + w.
    for (int g = 0; g < 4; g += 2)
        for (int w = 0; w < 4; w++) {
            t[4 * g + w] = _mm512_shuffle_i32x4(u[4 * g + w], u[4 * g + 4 + w], 0x88);
            t[4 * g + 4 + w] = _mm512_shuffle_i32x4(u[4 * g + w], u[4 * g + 4 + w], 0xdd);
        }
    for (int w = 0; w < 4; w++) {
        rows[w] = _mm512_shuffle_i32x4(t[w], t[8 + w], 0x88);
        rows[8 + w] = _mm512_shuffle_i32x4(t[w], t[8 + w], 0xdd);
        rows[4 + w] = _mm512_shuffle_i32x4(t[4 + w], t[12 + w], 0x88);
        rows[12 + w] = _mm512_shuffle_i32x4(t[4 + w], t[12 + w], 0xdd);
    }
}

// A's `rows` rows over kk values of k into words, element (i, p) being a[i·sa + p·sp]. Plain A (sp = 1) goes to
// words[r·pairs + q], a row's k being contiguous; transposed A to words[q·rows + r], 16 rows being contiguous at each k.
// `bf16_block` reads either through its strides.
static BF16_TARGET void pack_a(const float *a, ptrdiff_t sa, ptrdiff_t sp, ptrdiff_t rows, ptrdiff_t kk, uint32_t *words) {
    const ptrdiff_t pairs = (kk + 1) / 2;
    if (sp == 1) {
        for (ptrdiff_t r = 0; r < rows; r++) {
            const float *row = a + r * sa;
            uint32_t *out = words + r * pairs;
            ptrdiff_t q = 0;
            for (; 2 * q + 32 <= kk; q += 16)
                _mm512_storeu_si512(out + q, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(row + 2 * q + 16), _mm512_loadu_ps(row + 2 * q)));
            for (; q < pairs; q++) out[q] = pair(row[2 * q], 2 * q + 1 < kk ? row[2 * q + 1] : 0);
        }
    } else {
        for (ptrdiff_t q = 0; q < pairs; q++)
            for (ptrdiff_t r = 0; r < rows; r += 16) {
                const ptrdiff_t count = rows - r < 16 ? rows - r : 16;
                __m512 low = load_first(a + r + 2 * q * sp, count);
                __m512 high = 2 * q + 1 < kk ? load_first(a + r + (2 * q + 1) * sp, count) : _mm512_setzero_ps();
                _mm512_mask_storeu_epi32(words + q * rows + r, (__mmask16)((1u << count) - 1), interleaved_pairs(low, high));
            }
    }
}

// Columns [0, 16) of B over kk values of k into panel[q·16 + column], element (p, col) being b[p·sb + col·sc].
static BF16_TARGET void pack_panel(const float *b, ptrdiff_t sb, ptrdiff_t sc, ptrdiff_t kk, uint32_t *panel) {
    const ptrdiff_t pairs = (kk + 1) / 2;
    if (sc == 1) {
        // Plain B: a row's 16 columns are contiguous; two rows make one line of the panel.
        for (ptrdiff_t q = 0; q < pairs; q++) {
            __m512 low = _mm512_loadu_ps(b + 2 * q * sb);
            __m512 high = 2 * q + 1 < kk ? _mm512_loadu_ps(b + (2 * q + 1) * sb) : _mm512_setzero_ps();
            _mm512_store_si512(panel + q * 16, interleaved_pairs(low, high));
        }
        return;
    }
    // Transposed B: a column's k is contiguous, so 32 of its values become 16 words in order; 16 columns of them are
    // transposed into 16 lines of the panel.
    for (ptrdiff_t q0 = 0; q0 < pairs; q0 += 16) {
        __m512i lines[16];
        const ptrdiff_t p0 = 2 * q0, left = kk - p0;
        for (int col = 0; col < 16; col++) {
            const float *x = b + col * sc + p0;
            lines[col] = (__m512i)_mm512_cvtne2ps_pbh(load_first(x + 16, left - 16), load_first(x, left));
        }
        transpose16(lines);
        const ptrdiff_t count = pairs - q0 < 16 ? pairs - q0 : 16;
        for (ptrdiff_t t = 0; t < count; t++) _mm512_store_si512(panel + (q0 + t) * 16, lines[t]);
    }
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

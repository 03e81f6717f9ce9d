// bfloat16 packing shared by the two bfloat16 kernels (vdpbf16ps in gemm_bf16.c, AMX tiles in gemm_amx.c): both
// multiply pairs of consecutive k, so both read A as words of one row's k pair and B as panels of 16 columns × k pairs
// (one 64-byte line per pair). Internal to CVectorMath.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define GEMM_BF16_K_CHUNK 512
// Rows of A per pass: 384 rows × 512 k of bfloat16 is 384 KiB, which stays in L2 while every panel passes over it.
#define GEMM_BF16_M_BLOCK 384
// Columns of B the AMX kernel packs at once (panels of 256 columns × 256 pairs: 256 KiB).
#define GEMM_AMX_N_BLOCK 256
// The per-thread packing buffer, in 32-bit words: a pass of A, then one panel (vdpbf16ps) or GEMM_AMX_N_BLOCK columns
// of panels and four 16 × 16 tiles of scratch (AMX).
#define GEMM_BF16_BUFFER_WORDS ((GEMM_BF16_M_BLOCK + GEMM_AMX_N_BLOCK) * (GEMM_BF16_K_CHUNK / 2) + 4 * 256)

/// This thread's packing buffer (64-byte aligned, GEMM_BF16_BUFFER_WORDS), or NULL when it cannot be allocated.
uint32_t *vm_bf16_thread_buffer(void);

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


static inline uint32_t pair(float low, float high) { return (uint32_t)to_bf16(low) | ((uint32_t)to_bf16(high) << 16); }

#if defined(__x86_64__)
#include <immintrin.h>

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

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

// One row of plain A (kk contiguous floats) as its (kk + 1) / 2 k-pair words.
static inline BF16_TARGET void pack_row_pairs(const float *row, ptrdiff_t kk, uint32_t *out) {
    const ptrdiff_t pairs = (kk + 1) / 2;
    ptrdiff_t q = 0;
    for (; 2 * q + 32 <= kk; q += 16)
        _mm512_storeu_si512(out + q, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(row + 2 * q + 16), _mm512_loadu_ps(row + 2 * q)));
    for (; q < pairs; q++) out[q] = pair(row[2 * q], 2 * q + 1 < kk ? row[2 * q + 1] : 0);
}

// A's `rows` rows over kk values of k into words, element (i, p) being a[i·sa + p·sp]. Plain A (sp = 1) goes to
// words[r·pairs + q], a row's k being contiguous; transposed A to words[q·rows + r], 16 rows being contiguous at each k.
// `bf16_block` reads either through its strides.
static inline BF16_TARGET void pack_a(const float *a, ptrdiff_t sa, ptrdiff_t sp, ptrdiff_t rows, ptrdiff_t kk, uint32_t *words) {
    const ptrdiff_t pairs = (kk + 1) / 2;
    if (sp == 1) {
        for (ptrdiff_t r = 0; r < rows; r++) pack_row_pairs(a + r * sa, kk, words + r * pairs);
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
static inline BF16_TARGET void pack_panel(const float *b, ptrdiff_t sb, ptrdiff_t sc, ptrdiff_t kk, uint32_t *panel) {
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
#endif

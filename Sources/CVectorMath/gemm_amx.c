// The bfloat16 product on AMX tiles (Sapphire and Emerald Rapids): one TDPBF16PS multiplies a 16 × 32 tile of A by a
// 32 × 16 tile of B into a 16 × 16 float32 tile, 16,384 flops per instruction. On an Intel Xeon (family 6) under KVM
// one core reached 642 GFLOP/s with it against 168 for 512-bit FMAs and 84 for vdpbf16ps, which that core issues at half
// rate. Same contract as the vdpbf16ps kernel: inputs rounded to bfloat16 (nearest even) while packing, float32
// accumulation, so the result is the float32 product of the rounded inputs up to the order of the additions.
//
// The tiles want exactly the packing of bf16_pack.h: an A tile is 16 rows of 16 words (32 k) at a row stride, a B
// tile is 16 lines of a panel (16 k pairs × 16 columns). A pass packs up to GEMM_BF16_M_BLOCK rows of A with the
// pairs padded to a multiple of 16 and the rows to a multiple of 16 (zeros contribute nothing); each 32-column pair of
// panels then meets every 32-row pair of A tiles, four C tiles (2 × 2) accumulating in tile registers over the chunk.
// C rows past m go through a scratch tile.
#include "CVectorMath.h"
#include "bf16_pack.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16")))
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

int vm_has_amx(void) {
    static int known = -1;   // a benign race: every thread computes the same answer
    int has = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (has < 0) {
        unsigned eax, ebx, ecx, edx;
        has = vm_has_bf16() && __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)
              && (edx & (1u << 22)) && (edx & (1u << 24))                        // AMX-BF16, AMX-TILE
              // Linux hands out the 8 KiB tile state only to a process that asks for it (once, for all its threads).
              && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
        __atomic_store_n(&known, has, __ATOMIC_RELAXED);
    }
    return has;
}

static int amx_allowed = -1;   // -1: not yet read from MSCGREC_AMX

int vm_amx_enabled(void) {
    int allowed = __atomic_load_n(&amx_allowed, __ATOMIC_RELAXED);
    if (allowed < 0) {
        const char *setting = getenv("MSCGREC_AMX");
        allowed = !(setting && strcmp(setting, "0") == 0);
        __atomic_store_n(&amx_allowed, allowed, __ATOMIC_RELAXED);
    }
    return allowed && vm_has_amx();
}

void vm_set_amx_enabled(int enabled) { __atomic_store_n(&amx_allowed, enabled ? 1 : 0, __ATOMIC_RELAXED); }

struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
};

// A's `rows` rows over kk values of k as words[r·padded + q] (q < padded, a multiple of 16), zeros past kk and past
// `rows` up to the next multiple of 16; element (i, p) is a[i·sa + p·sp].
static AMX_TARGET void pack_a_rows(const float *a, ptrdiff_t sa, ptrdiff_t sp, ptrdiff_t rows, ptrdiff_t kk, ptrdiff_t padded,
                                   uint32_t *words) {
    const ptrdiff_t pairs = (kk + 1) / 2, rows16 = (rows + 15) & ~(ptrdiff_t)15;
    if (sp == 1) {
        for (ptrdiff_t r = 0; r < rows; r++) {
            pack_row_pairs(a + r * sa, kk, words + r * padded);
            memset(words + r * padded + pairs, 0, sizeof(uint32_t) * (size_t)(padded - pairs));
        }
        memset(words + rows * padded, 0, sizeof(uint32_t) * (size_t)((rows16 - rows) * padded));
        return;
    }
    // Transposed A: 16 rows are contiguous at each k, so 16 pairs of 16 rows are interleaved into lines (one per pair)
    // and transposed into one line per row.
    for (ptrdiff_t r0 = 0; r0 < rows16; r0 += 16) {
        const ptrdiff_t count = rows - r0 < 16 ? rows - r0 : 16;
        for (ptrdiff_t q0 = 0; q0 < padded; q0 += 16) {
            __m512i lines[16];
            for (int t = 0; t < 16; t++) {
                const ptrdiff_t q = q0 + t;
                __m512 low = q < pairs ? load_first(a + r0 + 2 * q * sp, count) : _mm512_setzero_ps();
                __m512 high = 2 * q + 1 < kk ? load_first(a + r0 + (2 * q + 1) * sp, count) : _mm512_setzero_ps();
                lines[t] = interleaved_pairs(low, high);
            }
            transpose16(lines);
            for (int r = 0; r < 16; r++) _mm512_storeu_si512(words + (r0 + r) * padded + q0, lines[r]);
        }
    }
}

// 16 columns of B as a panel of `padded` lines, zeros past kk.
static AMX_TARGET void pack_panel_padded(const float *b, ptrdiff_t sb, ptrdiff_t sc, ptrdiff_t kk, ptrdiff_t padded, uint32_t *panel) {
    const ptrdiff_t pairs = (kk + 1) / 2;
    pack_panel(b, sb, sc, kk, panel);
    memset(panel + pairs * 16, 0, sizeof(uint32_t) * (size_t)((padded - pairs) * 16));
}

// C tile t at rows (row, row + 16) of this pass and columns col: loaded from C (or zeroed), and stored back, through
// the scratch tile when fewer than 16 of its rows exist.
#define C_TILE_LOAD(t, row, col)                                                                                       \
    do {                                                                                                               \
        const ptrdiff_t valid = rows - (row);                                                                          \
        float *at = c + (i0 + (row)) * ldc + (col);                                                                    \
        if (!accumulate) _tile_zero(t);                                                                                \
        else if (valid >= 16) _tile_loadd(t, at, ldc * 4);                                                             \
        else {                                                                                                         \
            memset(scratch + (t) * 256, 0, 1024);                                                                      \
            for (ptrdiff_t r = 0; r < valid; r++) memcpy(scratch + (t) * 256 + r * 16, at + r * ldc, 64);              \
            _tile_loadd(t, scratch + (t) * 256, 64);                                                                   \
        }                                                                                                              \
    } while (0)
#define C_TILE_STORE(t, row, col)                                                                                      \
    do {                                                                                                               \
        const ptrdiff_t valid = rows - (row);                                                                          \
        float *at = c + (i0 + (row)) * ldc + (col);                                                                    \
        if (valid >= 16) _tile_stored(t, at, ldc * 4);                                                                 \
        else {                                                                                                         \
            _tile_stored(t, scratch + (t) * 256, 64);                                                                  \
            for (ptrdiff_t r = 0; r < valid; r++) memcpy(at + r * ldc, scratch + (t) * 256 + r * 16, 64);              \
        }                                                                                                              \
    } while (0)

// Rows (i, i + 16·two_rows) × columns (j, j + 16·two_cols) of the pass over the chunk's padded pairs; the two flags are
// constants at every use, so each variant compiles to straight tile code.
#define AMX_BLOCK(two_rows, two_cols)                                                                                  \
    do {                                                                                                               \
        C_TILE_LOAD(0, i, j);                                                                                          \
        if (two_cols) C_TILE_LOAD(1, i, j + 16);                                                                       \
        if (two_rows) C_TILE_LOAD(2, i + 16, j);                                                                       \
        if (two_rows && two_cols) C_TILE_LOAD(3, i + 16, j + 16);                                                      \
        for (ptrdiff_t q0 = 0; q0 < padded; q0 += 16) {                                                                \
            /* each load just before its first product, so the products of one tile overlap the next load */         \
            _tile_loadd(4, words + i * padded + q0, padded * 4);                                                       \
            _tile_loadd(6, panels + q0 * 16, 64);                                                                      \
            _tile_dpbf16ps(0, 4, 6);                                                                                   \
            if (two_cols) _tile_loadd(7, panels + padded * 16 + q0 * 16, 64);                                          \
            if (two_cols) _tile_dpbf16ps(1, 4, 7);                                                                     \
            if (two_rows) _tile_loadd(5, words + (i + 16) * padded + q0, padded * 4);                                  \
            if (two_rows) _tile_dpbf16ps(2, 5, 6);                                                                     \
            if (two_rows && two_cols) _tile_dpbf16ps(3, 5, 7);                                                         \
        }                                                                                                              \
        C_TILE_STORE(0, i, j);                                                                                         \
        if (two_cols) C_TILE_STORE(1, i, j + 16);                                                                      \
        if (two_rows) C_TILE_STORE(2, i + 16, j);                                                                      \
        if (two_rows && two_cols) C_TILE_STORE(3, i + 16, j + 16);                                                     \
    } while (0)

// One k chunk (kk ≤ GEMM_BF16_K_CHUNK) of C (+)= op(A)·op(B). Up to GEMM_AMX_N_BLOCK columns of B are packed once
// (256 KiB), then each pass of A: every 32-row pair of its tiles (32 KiB, L1) meets every panel pair (from L2). The
// other order (panels inner, A from L2) fell to 160 GFLOP/s at n = 512, where A, B and C no longer fitted in L2 together.
static AMX_TARGET void amx_chunk(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t kk, const float *a, ptrdiff_t lda,
                                 const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate, uint32_t *buffer) {
    const ptrdiff_t sa = trans_a ? 1 : lda, sp = trans_a ? lda : 1, sb = trans_b ? 1 : ldb, sc = trans_b ? ldb : 1;
    const ptrdiff_t padded = (((kk + 1) / 2) + 15) & ~(ptrdiff_t)15;
    uint32_t *words = buffer, *all_panels = buffer + GEMM_BF16_M_BLOCK * (GEMM_BF16_K_CHUNK / 2);
    float *scratch = (float *)(all_panels + GEMM_AMX_N_BLOCK * (GEMM_BF16_K_CHUNK / 2));
    for (ptrdiff_t j0 = 0; j0 < n; j0 += GEMM_AMX_N_BLOCK) {
        const ptrdiff_t jend = n - j0 < GEMM_AMX_N_BLOCK ? n : j0 + GEMM_AMX_N_BLOCK;
        for (ptrdiff_t j = j0; j < jend; j += 16) pack_panel_padded(b + j * sc, sb, sc, kk, padded, all_panels + (j - j0) * padded);
        for (ptrdiff_t i0 = 0; i0 < m; i0 += GEMM_BF16_M_BLOCK) {
            const ptrdiff_t rows = m - i0 < GEMM_BF16_M_BLOCK ? m - i0 : GEMM_BF16_M_BLOCK;
            const ptrdiff_t rows16 = (rows + 15) & ~(ptrdiff_t)15;
            pack_a_rows(a + i0 * sa, sa, sp, rows, kk, padded, words);
            for (ptrdiff_t i = 0; i < rows16; i += 32) {
                const int two_rows = rows16 - i >= 32;
                for (ptrdiff_t j = j0; j < jend; j += 32) {
                    const uint32_t *panels = all_panels + (j - j0) * padded;
                    if (jend - j >= 32) { if (two_rows) AMX_BLOCK(1, 1); else AMX_BLOCK(0, 1); }
                    else { if (two_rows) AMX_BLOCK(1, 0); else AMX_BLOCK(0, 0); }
                }
            }
        }
    }
}

AMX_TARGET int vm_sgemm_rows_amx(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                                 const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    if (!vm_has_amx() || n % 16 != 0) return 0;
    uint32_t *buffer = vm_bf16_thread_buffer();
    if (!buffer) return 0;
    if (k == 0 && !accumulate)
        for (ptrdiff_t i = 0; i < m; i++) for (ptrdiff_t j = 0; j < n; j++) c[i * ldc + j] = 0;
    if (k == 0 || m == 0) return 1;
    // Every tile is 16 rows of 64 bytes: C tiles 0–3, A tiles 4–5, B tiles 6–7.
    struct tile_config config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = 0; t < 8; t++) { config.bytes_per_row[t] = 64; config.rows[t] = 16; }
    _tile_loadconfig(&config);
    for (ptrdiff_t p0 = 0; p0 < k; p0 += GEMM_BF16_K_CHUNK) {
        const ptrdiff_t kk = k - p0 < GEMM_BF16_K_CHUNK ? k - p0 : GEMM_BF16_K_CHUNK;
        const float *ap = trans_a ? a + p0 * lda : a + p0;
        const float *bp = trans_b ? b + p0 : b + p0 * ldb;
        amx_chunk(trans_a, trans_b, m, n, kk, ap, lda, bp, ldb, c, ldc, p0 > 0 || accumulate, buffer);
    }
    _tile_release();   // back to the initial state: the kernel's context switches stay as cheap as before
    return 1;
}

// 24 products into 4 accumulator tiles from 4 operand tiles (as in the kernel's 2 × 2 block) over `iterations`.
AMX_TARGET __attribute__((noinline)) static void amx_peak_loop(long iterations, const uint32_t *operands) {
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    _tile_loadd(4, operands, 64); _tile_loadd(5, operands, 64); _tile_loadd(6, operands, 64); _tile_loadd(7, operands, 64);
    for (long t = 0; t < iterations; t++) {
        _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7); _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7);
    }
}

AMX_TARGET double vm_amx_peak_gflops(double seconds) {
    if (!vm_has_amx()) return 0;
    struct tile_config config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = 0; t < 8; t++) { config.bytes_per_row[t] = 64; config.rows[t] = 16; }
    _tile_loadconfig(&config);
    static const uint32_t operands[256] = {0};
    struct timespec t0, t1;
    long iterations = 1 << 14, done = 0;
    double elapsed = 0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    do {
        amx_peak_loop(iterations, operands);
        done += iterations;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        elapsed = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    } while (elapsed < seconds);
    _tile_release();
    return (double)done * 4 * 16 * 16 * 32 * 2 / elapsed / 1e9;
}
#else
int vm_has_amx(void) { return 0; }
int vm_amx_enabled(void) { return 0; }
void vm_set_amx_enabled(int enabled) { (void)enabled; }
int vm_sgemm_rows_amx(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                      const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)c; (void)ldc; (void)accumulate;
    return 0;
}
double vm_amx_peak_gflops(double seconds) { (void)seconds; return 0; }
#endif

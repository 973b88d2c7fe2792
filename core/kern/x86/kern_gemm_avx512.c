/* kern_gemm_avx512.c - an AVX-512 sgemm for the convolutions: C (m, n) =
 * A (m, k) B (k, n), A packed once at plan time (cq__sgemm_pack_a), B packed
 * per call in kc x 48 panels, an 8 x 48 register tile (24 accumulators), and
 * the conv epilogue (bias, activation) applied as the tile is stored. */
#include <immintrin.h>
#include <string.h>

#include "kern/kern_internal.h"
#include "kern/x86/kern_act_avx512.h"

#define MR 8
#define NR 48
#define KC 256
#ifndef MG_ROWS
#define MG_ROWS 16
#endif
#ifndef SHORT_K
#define SHORT_K 64
#endif
/* C is prefetched for writing CPF 48-column strips ahead of the first k
 * block's stores. Inside a model C is a pool buffer last touched long ago,
 * so its lines come from memory, and the hardware prefetchers do not cover
 * the 8 store streams of a tile. It speeds up the 1x1 layers with large
 * outputs and changes nothing with warm caches or a small C; 2 to 4 strips
 * ahead do the same (bench/NOTES.md, third round (b), and "Kernel comments
 * moved here"). */
#define CPF 2

/* Ap: ceil(m / 8) panels, each (k, 8) with rows past m zero. */
void cq__sgemm_pack_a(const float *a, int64_t m, int64_t k, float *ap)
{
    for (int64_t p0 = 0; p0 < m; p0 += MR)
        for (int64_t t = 0; t < k; t++)
            for (int64_t i = 0; i < MR; i++)
                ap[(p0 / MR) * k * MR + t * MR + i] = p0 + i < m ? a[(p0 + i) * k + t] : 0.0f;
}

/* The 8 x (16 nv) tile: C rows < mr, columns masked by last on the final
 * vector. first: C is overwritten (else accumulated); fin: add bias, act. */
/* Always inlined: each call site has a constant nv, so the k loop has no
 * branch on it. */
static inline __attribute__((always_inline)) void
tile(int nv, __mmask16 last, int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc,
     int64_t mr, int first, int fin, const float *bias, const float *res, cq_act act)
{
    /* A one-pass residual starts the sums, so its loads issue long before
     * this tile's stores. Loaded in the epilogue, each would alias the stores
     * of the rows above it (64 KB apart) and cost more than a separate Add
     * (bench/NOTES.md, "Kernel comments moved here"). */
    int res0 = first && fin && res;
    __m512 acc[MR][3];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++)
            acc[i][j] = res0 && i < mr && j < nv
                            ? _mm512_maskz_loadu_ps(j == nv - 1 ? last : (__mmask16)0xffff,
                                                    res + i * ldc + 16 * j)
                            : _mm512_setzero_ps();
    for (int64_t t = 0; t < kc; t++) {
        __m512 b0 = _mm512_loadu_ps(bp + t * NR);
        __m512 b1 = nv > 1 ? _mm512_loadu_ps(bp + t * NR + 16) : b0;
        __m512 b2 = nv > 2 ? _mm512_loadu_ps(bp + t * NR + 32) : b0;
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 av = _mm512_set1_ps(ap[t * MR + i]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            if (nv > 1)
                acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
            if (nv > 2)
                acc[i][2] = _mm512_fmadd_ps(av, b2, acc[i][2]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if (i >= mr)
            break;
        float *cr = c + i * ldc;
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++) {
            if (j >= nv)
                break;
            __mmask16 mk = j == nv - 1 ? last : (__mmask16)0xffff;
            __m512 v = acc[i][j];
            if (!first)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, cr + 16 * j));
            if (fin) {
                v = _mm512_add_ps(v, _mm512_set1_ps(bias ? bias[i] : 0.0f));
                if (res && !res0)
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, res + i * ldc + 16 * j));
                v = act16_inl(act, v);
            }
            _mm512_mask_storeu_ps(cr + 16 * j, mk, v);
        }
    }
}

size_t cq__sgemm_scratch_avx512(void) { return (size_t)KC * NR * sizeof(float); }

void cq__sgemm_avx512(int64_t m, int64_t n, int64_t k, const float *ap, const float *b,
                      int64_t ldb, float *c, int64_t ldc, const float *bias, const float *res,
                      cq_act act, float *bp)
{
    /* rows of C per pass over the column strips: all of them, or with a
     * short k (K <= SHORT_K: the 1x1s from 16-64 channels, where the stores
     * are a large part of the work) and more than 4 MG_ROWS rows, MG_ROWS at
     * a time, B's strips packed again for each group (EfficientNet's 16 > 96
     * at 112x112: 0.42 -> 0.35 ms; at 48 rows, RegNetY's 32 > 48, the
     * packing cost more than the fewer streams gained) */
    int64_t mg = k <= SHORT_K && m > 4 * MG_ROWS ? MG_ROWS : m;
    for (int64_t k0 = 0; k0 < k; k0 += KC) {
        int64_t kc = k - k0 < KC ? k - k0 : KC;
        int first = k0 == 0, fin = k0 + kc == k;
        for (int64_t g0 = 0; g0 < m; g0 += mg) {
            int64_t g1 = m - g0 < mg ? m : g0 + mg;
            for (int64_t n0 = 0; n0 < n; n0 += NR) {
                int64_t w = n - n0 < NR ? n - n0 : NR;
                /* pack B (kc, w) into bp (kc, 48), zeros past w: zmm copies, since GCC
                 * makes a memcpy of 192 bytes a slow rep movsq (bench/NOTES.md, first
                 * round) */
                __mmask16 m0k = w >= 16 ? 0xffff : (__mmask16)((1u << w) - 1u);
                __mmask16 m1k = w >= 32   ? 0xffff
                                : w > 16 ? (__mmask16)((1u << (w - 16)) - 1u)
                                          : 0;
                __mmask16 m2k = w >= 48   ? 0xffff
                                : w > 32 ? (__mmask16)((1u << (w - 32)) - 1u)
                                          : 0;
                for (int64_t t = 0; t < kc; t++) {
                    const float *src = b + (k0 + t) * ldb + n0;
                    float *dst = bp + t * NR;
                    _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps(m0k, src));
                    _mm512_storeu_ps(dst + 16, _mm512_maskz_loadu_ps(m1k, src + 16));
                    _mm512_storeu_ps(dst + 32, _mm512_maskz_loadu_ps(m2k, src + 32));
                }
                int nv = (int)((w + 15) / 16);
                int rem = (int)(w - 16 * (nv - 1));
                __mmask16 last = (__mmask16)(rem == 16 ? 0xffff : (1u << rem) - 1u);
                for (int64_t m0 = g0; m0 < g1; m0 += MR) {
                    const float *a = ap + (m0 / MR) * k * MR + k0 * MR;
                    float *ct = c + m0 * ldc + n0;
                    const float *bs = bias ? bias + m0 : NULL;
                    const float *rs = res ? res + m0 * ldc + n0 : NULL;
                    int64_t mr = m - m0;
                    /* the tile CPF strips on: its C rows, for writing */
                    if (first && n0 + (CPF + 1) * NR <= n)
                        for (int64_t i = 0; i < (mr < MR ? mr : MR); i++)
                            for (int j = 0; j < 3; j++)
                                _mm_prefetch((const char *)(ct + i * ldc + CPF * NR + 16 * j),
                                             _MM_HINT_ET0);
                    if (nv == 3)
                        tile(3, last, kc, a, bp, ct, ldc, mr, first, fin, bs, rs, act);
                    else if (nv == 2)
                        tile(2, last, kc, a, bp, ct, ldc, mr, first, fin, bs, rs, act);
                    else
                        tile(1, last, kc, a, bp, ct, ldc, mr, first, fin, bs, rs, act);
                }
            }
        }
    }
}

/*
 * kern_dw_avx512.c - depthwise 2-D convolution on NCHW planes with AVX-512.
 *
 * Vectors run along the output row, 16 columns at a time, and each output
 * vector keeps its own accumulator through every tap; four vectors are in
 * flight at once so the FMA latency is covered.
 *
 * 3x3 (MobileNet's and BlazeFace's depthwise layers) has blocked kernels
 * that keep the nine weights in registers, load each input row once per
 * block and make its shifted taps with valignd:
 * - stride 1 on input rows of 48 or more reads the plane itself, in blocks
 *   of 2 output rows x 2 column vectors;
 * - stride 1 on narrower rows reads a copy of the plane with zero borders
 *   (plain loads only), in blocks of 4 output rows x 2 column vectors;
 * - stride 2 with pad_left 0 or 1 reads the plane itself in blocks of 2
 *   output rows x 2 column vectors, deinterleaving each input row into even
 *   and odd columns in registers.
 * The two kernels that read the plane itself prefetch the rows a few blocks
 * ahead.
 *
 * Other kernels up to 7x7: every tap one (masked) load from the input row,
 * padding and ragged ends by masks made once per call, four output vectors
 * in flight. Their stride 2 reads the plane split into even and odd columns,
 * in zero-padded scratch rows: E[j] = x[2j - pad_left], O[j] = x[2j + 1 -
 * pad_left], so tap kx of output column ox is E[ox + kx / 2] (kx even) or
 * O[ox + kx / 2] (kx odd).
 *
 * Rows above or below the input are skipped (their taps are zero). The sums
 * run in a different order from the scalar reference: results agree to
 * rounding.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kern/x86/kern_act_avx512.h"
#include "kern/kern_internal.h"

#define VL 16
#define NACC 4
#define MAXK CQ__DWP_MAX_K
#define MAX_VECS (CQ__DWP_MAX_OW / VL + 1)

int cq__dwp_applies(const cq_conv2d_params *p)
{
    int64_t oh, ow;
    cq_err ignored; /* a bad shape: does not apply */
    if (p->groups != p->c_in || p->kh > MAXK || p->kw > MAXK || p->dil_h != 1 ||
        p->dil_w != 1 || (p->stride_w != 1 && p->stride_w != 2) || p->pad_left >= p->kw ||
        p->pad_right >= p->kw || cq_conv2d_out_shape(p, &oh, &ow, &ignored) != CQ_OK)
        return 0;
    return ow <= CQ__DWP_MAX_OW && p->w <= 2 * CQ__DWP_MAX_OW + 2 * MAXK;
}

/* Floats of one split row (E or O) of the stride-2 path. */
static int64_t split_len(int64_t ow)
{
    return (ow + VL - 1) / VL * VL + 2 * VL;
}

/* Stride 1, 3x3: the plane copied with zero borders, rows of pad_stride()
 * floats, the data of input row iy at (iy + pad_top) * stride + VL; as many
 * rows as the 4-row blocks read (pad_rows()). */
static int64_t pad_stride(const cq_conv2d_params *p, int64_t ow)
{
    int64_t nv = (ow + VL - 1) / VL, a = VL + p->w, b = VL * nv + 4 * VL;
    return ((a > b ? a : b) + VL - 1) / VL * VL + VL;
}

static int64_t pad_rows(const cq_conv2d_params *p, int64_t oh)
{
    int64_t a = (oh + 3) / 4 * 4 + 2, b = p->pad_top + p->h;
    return a > b ? a : b;
}

static int is_s1_3x3(const cq_conv2d_params *p)
{
    return p->stride_w == 1 && p->stride_h == 1 && p->kh == 3 && p->kw == 3;
}

/* 3x3 stride 1 on rows of 48 or more: plane_s1_3x3_direct(), no padded
 * copy. Narrower rows keep the copy: their one vector pair needs masked
 * loads, slower than the copy's plain ones (bench/NOTES.md, fourth round,
 * and "Kernel comments moved here") */
static int is_s1_3x3_direct(const cq_conv2d_params *p)
{
    return is_s1_3x3(p) && p->w >= 3 * VL;
}

/* 3x3 stride 2 with pad_left <= 1: plane_s2_3x3_direct(), no split rows */
static int is_s2_3x3_direct(const cq_conv2d_params *p)
{
    return p->stride_w == 2 && p->stride_h == 2 && p->kh == 3 && p->kw == 3 && p->pad_left <= 1;
}

size_t cq__dwp_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow)
{
    if (is_s2_3x3_direct(p) || is_s1_3x3_direct(p)) /* one zero row */
        return (size_t)(p->w + 5 * VL) * sizeof(float) + 64;
    if (is_s1_3x3(p))
        return (size_t)(pad_rows(p, oh) * pad_stride(p, ow)) * sizeof(float) + 64;
    if (p->stride_w != 2)
        return 0;
    /* the rows, then one zero row pair for the rows outside the input */
    return (size_t)((p->h + 1) * 2 * split_len(ow)) * sizeof(float) + 64;
}

/* base + off floats, off possibly negative: the masked loads touch only the
 * lanes inside the row, but their address starts where the vector does. */
static inline const float *at(const float *base, int64_t off)
{
    return (const float *)((uintptr_t)base + (uintptr_t)(off * (int64_t)sizeof(float)));
}

/* The input rows output row oy reads and the weight rows that go with them. */
static inline int taps_rows(const cq_conv2d_params *p, int64_t oy, int64_t kh, int64_t *iy,
                            int64_t *ky)
{
    int n = 0;
    for (int64_t k = 0; k < kh; k++) {
        int64_t r = oy * p->stride_h - p->pad_top + k;
        if (r >= 0 && r < p->h) {
            iy[n] = r;
            ky[n++] = k;
        }
    }
    return n;
}

/* Output vector j of a row of nv vectors, act applied; the last one masked
 * to the row's ragged end. */
static inline void store_vec(float *y, int64_t j, int64_t nv, __mmask16 tail, cq_act act,
                             __m512 v)
{
    if (j + 1 == nv)
        _mm512_mask_storeu_ps(y + j * VL, tail, act16(act, v));
    else
        _mm512_storeu_ps(y + j * VL, act16(act, v));
}

/* Tap (r, kx) of output vector j. Stride 1 (s2 0): src[r] is input row r's
 * start shifted by -pad_left, lm[j * kw + kx] the load mask of vector j, tap
 * kx. Stride 2: src[r] / o[r] are input row r's split halves (E / O). */
static inline __attribute__((always_inline)) __m512 tap(int s2, const float *const *src,
                                                        const float *const *o,
                                                        const __mmask16 *lm, int64_t kw, int r,
                                                        int64_t kx, int64_t j)
{
    if (s2)
        return _mm512_loadu_ps(((kx & 1) ? o[r] : src[r]) + kx / 2 + j * VL);
    return _mm512_maskz_loadu_ps(lm[j * kw + kx], at(src[r], kx + j * VL));
}

/* One output row of any kernel up to 7x7 (s2: stride 2, see tap()); wr[r]
 * the weight row of input row r. */
static inline __attribute__((always_inline)) void row_dw(int s2, const float *const *src,
                                                         const float *const *o,
                                                         const __mmask16 *lm,
                                                         const float *const *wr, int nr,
                                                         int64_t kw, int64_t nv,
                                                         __mmask16 tail, __m512 vb, cq_act act,
                                                         float *y)
{
    int64_t j = 0;
    for (; j + NACC <= nv; j += NACC) {
        __m512 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
        for (int r = 0; r < nr; r++)
            for (int64_t kx = 0; kx < kw; kx++) {
                __m512 w = _mm512_set1_ps(wr[r][kx]);
                a0 = _mm512_fmadd_ps(tap(s2, src, o, lm, kw, r, kx, j), w, a0);
                a1 = _mm512_fmadd_ps(tap(s2, src, o, lm, kw, r, kx, j + 1), w, a1);
                a2 = _mm512_fmadd_ps(tap(s2, src, o, lm, kw, r, kx, j + 2), w, a2);
                a3 = _mm512_fmadd_ps(tap(s2, src, o, lm, kw, r, kx, j + 3), w, a3);
            }
        store_vec(y, j, nv, tail, act, a0);
        store_vec(y, j + 1, nv, tail, act, a1);
        store_vec(y, j + 2, nv, tail, act, a2);
        store_vec(y, j + 3, nv, tail, act, a3);
    }
    for (; j < nv; j++) {
        __m512 a0 = vb, a1 = _mm512_setzero_ps();
        for (int r = 0; r < nr; r++)
            for (int64_t kx = 0; kx < kw; kx++) {
                __m512 v = tap(s2, src, o, lm, kw, r, kx, j);
                if (r & 1)
                    a1 = _mm512_fmadd_ps(v, _mm512_set1_ps(wr[r][kx]), a1);
                else
                    a0 = _mm512_fmadd_ps(v, _mm512_set1_ps(wr[r][kx]), a0);
            }
        store_vec(y, j, nv, tail, act, _mm512_add_ps(a0, a1));
    }
}

/* The 3x3 kernels below keep the nine weights in registers and compute a
 * block of RB output rows x 2 column vectors (8 accumulators): each input row
 * is loaded once per block (2-3 vectors) and its shifted taps are made with
 * valignd, instead of nine unaligned loads per output vector, most of them
 * split across cache lines (bench/NOTES.md, third round (a)). */
#define RB 4
#define SHIFT(hi, lo, k) \
    _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), k))

static inline void store_row(float *y, int64_t j, int64_t nv, int two, __mmask16 tail, cq_act act,
                             __m512 v0, __m512 v1)
{
    store_vec(y, j, nv, tail, act, v0);
    if (two)
        store_vec(y, j + 1, nv, tail, act, v1);
}

/* Prefetch for writing the output rows of the next block (into the next
 * plane after the last block; nothing past yend): inside the models the
 * output buffer was last touched long before, and the stores' misses would
 * stall the blocks (as in the 1x1 sgemm, see kern_gemm_avx512.c). */
static inline void prefetch_out(const float *y, int64_t n, const float *yend)
{
    const char *c = (const char *)y, *e = (const char *)yend;
    for (int64_t i = 0; i < n * (int64_t)sizeof(float) && c + i < e; i += 64)
        _mm_prefetch(c + i, _MM_HINT_ET0);
}

/* Accumulators a<rr><v>: output row rr of the block, column vector v. They
 * are named, not arrays indexed in unrolled loops, which GCC keeps on the
 * stack (its scalar replacement runs before the unrolling; bench/NOTES.md,
 * third round (a)). */
#define FMA3(A, B, ky, t0, t1, t2, u0, u1, u2)                                                  \
    do {                                                                                         \
        if ((ky) >= 0 && (ky) < 3) {                                                             \
            A = _mm512_fmadd_ps(t0, W(ky, 0), A);                                                \
            B = _mm512_fmadd_ps(u0, W(ky, 0), B);                                                \
            A = _mm512_fmadd_ps(t1, W(ky, 1), A);                                                \
            B = _mm512_fmadd_ps(u1, W(ky, 1), B);                                                \
            A = _mm512_fmadd_ps(t2, W(ky, 2), A);                                                \
            B = _mm512_fmadd_ps(u2, W(ky, 2), B);                                                \
        }                                                                                        \
    } while (0)
/* input row ir of the block feeds output rows rr with ky = ir - rr * STEP */
#define FMA_ROWS(ir, t0, t1, t2, u0, u1, u2)                                                    \
    do {                                                                                         \
        FMA3(a00, a01, (ir) - 0 * STEP, t0, t1, t2, u0, u1, u2);                                 \
        FMA3(a10, a11, (ir) - 1 * STEP, t0, t1, t2, u0, u1, u2);                                 \
        FMA3(a20, a21, (ir) - 2 * STEP, t0, t1, t2, u0, u1, u2);                                 \
        FMA3(a30, a31, (ir) - 3 * STEP, t0, t1, t2, u0, u1, u2);                                 \
    } while (0)
#define W(ky, kx) wv[3 * (ky) + (kx)]
#define FMA_ROWS2(ir, t0, t1, t2, u0, u1, u2)                                                   \
    do {                                                                                         \
        FMA3(a00, a01, (ir) - 0 * STEP, t0, t1, t2, u0, u1, u2);                                 \
        FMA3(a10, a11, (ir) - 1 * STEP, t0, t1, t2, u0, u1, u2);                                 \
    } while (0)
#define LOAD_W(wk)                                                                               \
    __m512 wv[9];                                                                                \
    for (int i_ = 0; i_ < 9; i_++)                                                               \
    wv[i_] = _mm512_set1_ps((wk)[i_])
#define STORE_BLOCK(ACT)                                                                         \
    do {                                                                                         \
        float *yb = y + oy * ow;                                                                 \
        store_row(yb, j, nv, two, tail, ACT, a00, a01);                                       \
        if (oy + 1 < oh)                                                                         \
            store_row(yb + ow, j, nv, two, tail, ACT, a10, a11);                              \
        if (oy + 2 < oh)                                                                         \
            store_row(yb + 2 * ow, j, nv, two, tail, ACT, a20, a21);                          \
        if (oy + 3 < oh)                                                                         \
            store_row(yb + 3 * ow, j, nv, two, tail, ACT, a30, a31);                          \
    } while (0)

/* stride 1: input row ir of the block, three vectors from column 16 j -
 * pad_left of the padded copy (plain loads: masked ones that miss the cache
 * are much slower; bench/NOTES.md, third round (a)) */
#define S1_ROW(ir)                                                                               \
    do {                                                                                         \
        const float *xr = rp + (ir) * ps + j * VL;                                               \
        __m512 va = _mm512_loadu_ps(xr), vc = _mm512_loadu_ps(xr + VL);                          \
        __m512 vd = _mm512_loadu_ps(xr + 2 * VL);                                                \
        __m512 t1 = SHIFT(vc, va, 1), t2 = SHIFT(vc, va, 2);                                     \
        __m512 u1 = SHIFT(vd, vc, 1), u2 = SHIFT(vd, vc, 2);                                     \
        FMA_ROWS(ir, va, t1, t2, vc, u1, u2);                                                    \
    } while (0)

/* Copy plane x (h, w) into the padded rows at pp (stride ps): the data with
 * plain loads and aligned stores, the row's ragged end from a masked load
 * whose zero lanes land in the right border. The borders elsewhere stay
 * zero from the caller's clearing. */
static void pad_plane(const float *x, int64_t h, int64_t w, int64_t pt, int64_t ps, float *pp)
{
    __mmask16 tail = range_mask(w / VL * VL, w);
    for (int64_t iy = 0; iy < h; iy++) {
        const float *xr = x + iy * w;
        float *d = pp + (iy + pt) * ps + VL;
        int64_t i = 0;
        for (; i + VL <= w; i += VL)
            _mm512_store_ps(d + i, _mm512_loadu_ps(xr + i));
        if (i < w)
            _mm512_store_ps(d + i, _mm512_maskz_loadu_ps(tail, xr + i));
    }
}

/* 3x3, stride 1 both ways, on the padded copy pp (stride ps). Two column
 * vectors at a time: past an odd last one the second reads zeros and is
 * not stored. */
static void plane_s1_3x3(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *pp,
                         int64_t ps, const float *wk, float bias, float *y, const float *yend)
{
#define STEP 1
    int64_t nv = (ow + VL - 1) / VL;
    __mmask16 tail = range_mask(nv * VL - VL, ow);
    __m512 vb = _mm512_set1_ps(bias);
    LOAD_W(wk);
    for (int64_t oy = 0; oy < oh; oy += RB) {
        const float *rp = pp + oy * ps + VL - p->pad_left;
        prefetch_out(y + (oy + RB) * ow, RB * ow, yend);
        for (int64_t j = 0; j < nv; j += 2) {
            int two = j + 1 < nv;
            __m512 a00 = vb, a01 = vb, a10 = vb, a11 = vb, a20 = vb, a21 = vb, a30 = vb, a31 = vb;
            S1_ROW(0);
            S1_ROW(1);
            S1_ROW(2);
            S1_ROW(3);
            S1_ROW(4);
            S1_ROW(5);
            STORE_BLOCK(p->act);
        }
    }
#undef STEP
}

/* The direct kernels' 2 x 2 block: output rows oy and oy + 1 (if inside). */
static inline void store_2rows(float *y, int64_t oy, int64_t oh, int64_t ow, int64_t j,
                               int64_t nv, int two, __mmask16 tail, cq_act act, __m512 a00,
                               __m512 a01, __m512 a10, __m512 a11)
{
    store_row(y + oy * ow, j, nv, two, tail, act, a00, a01);
    if (oy + 1 < oh)
        store_row(y + (oy + 1) * ow, j, nv, two, tail, act, a10, a11);
}

/* The direct kernels' prefetch of the input rows the block at output row ob
 * reads: rows [r0, r1) counted from its first row (ob stride_h - pad_top),
 * clipped to the plane. ob may run past ohr (the plane's output rows
 * rounded up to whole blocks) into the next plane, xnext (NULL: none). r0
 * skips the rows the block before also read; a plane's first block has no
 * block before, so it starts first rows earlier. */
static inline void prefetch_block_rows(const cq_conv2d_params *p, const float *x,
                                       const float *xnext, int64_t ob, int64_t ohr, int64_t r0,
                                       int64_t r1, int64_t first)
{
    const float *px = x;
    if (ob >= ohr) {
        px = xnext;
        ob -= ohr;
    }
    int64_t d = ob * p->stride_h - p->pad_top;
    r0 = (ob ? r0 : r0 - first) + d;
    r1 += d;
    r0 = r0 < 0 ? 0 : r0;
    r1 = r1 > p->h ? p->h : r1;
    if (px && r1 > r0)
        for (const char *a = (const char *)(px + r0 * p->w), *e = (const char *)(px + r1 * p->w);
             a < e; a += 64)
            /* asm, not _mm_prefetch: GCC 12 at -O2 deletes a helper's loop
             * of builtin prefetches as dead code (bench/NOTES.md, fourth
             * round) */
            __asm__ volatile("prefetcht0 %0" : : "m"(*a));
}

/* 3x3, stride 1 both ways, pad_left 0 to 2, straight from the plane (no
 * padded copy): a block of S1D_RB output rows x 2 column vectors reads
 * S1D_RB + 2 input rows, four vectors of each (from column 16 j - 16), and
 * makes the shifted taps with valignd. MASKED: the pair at the row's end,
 * whose loads stop at the row's width. 2 rows, not 4: with 4, GCC spills
 * accumulators (bench/NOTES.md, fourth round, and "Kernel comments moved
 * here"). */
#define S1D_RB 2
static inline __attribute__((always_inline)) void s1d_block(
    const float *const *rp, int64_t j, int masked, int pl, int64_t w, __m512 vb,
    const float *wk, float *y, int64_t oy, int64_t oh, int64_t ow, int64_t nv, __mmask16 tail,
    cq_act act)
{
#define STEP 1
#undef W
#define W(ky, kx) _mm512_set1_ps(wk[3 * (ky) + (kx)])
    int64_t c = VL * j;
    /* an opaque wk, as in s2d_block */
    __asm__("" : "+r"(wk));
    __mmask16 mp = range_mask(c - VL, w), m0 = range_mask(c, w), m1 = range_mask(c + VL, w),
              m2 = range_mask(c + 2 * VL, w);
    int two = j + 1 < nv;
    __m512 a00 = vb, a01 = vb, a10 = vb, a11 = vb;
#define S1D_ROW(ir)                                                                              \
    do {                                                                                         \
        const float *xr = rp[ir] + c;                                                            \
        __m512 lp = _mm512_setzero_ps(), l0, l1, l2;                                             \
        if (masked) {                                                                            \
            if (pl)                                                                              \
                lp = _mm512_maskz_loadu_ps(mp, at(xr, -VL));                                     \
            l0 = _mm512_maskz_loadu_ps(m0, xr);                                                  \
            l1 = _mm512_maskz_loadu_ps(m1, xr + VL);                                             \
            l2 = _mm512_maskz_loadu_ps(m2, xr + 2 * VL);                                         \
        } else {                                                                                 \
            if (pl && c)                                                                         \
                lp = _mm512_loadu_ps(xr - VL);                                                   \
            l0 = _mm512_loadu_ps(xr);                                                            \
            l1 = _mm512_loadu_ps(xr + VL);                                                       \
            l2 = _mm512_loadu_ps(xr + 2 * VL);                                                   \
        }                                                                                        \
        if (pl == 1) {                                                                           \
            __m512 t0 = SHIFT(l0, lp, 15), t2 = SHIFT(l1, l0, 1);                                \
            __m512 u0 = SHIFT(l1, l0, 15), u2 = SHIFT(l2, l1, 1);                                \
            FMA_ROWS2(ir, t0, l0, t2, u0, l1, u2);                                                \
        } else if (pl == 0) {                                                                    \
            __m512 t1 = SHIFT(l1, l0, 1), t2 = SHIFT(l1, l0, 2);                                 \
            __m512 u1 = SHIFT(l2, l1, 1), u2 = SHIFT(l2, l1, 2);                                 \
            FMA_ROWS2(ir, l0, t1, t2, l1, u1, u2);                                                \
        } else {                                                                                 \
            __m512 t0 = SHIFT(l0, lp, 14), t1 = SHIFT(l0, lp, 15);                               \
            __m512 u0 = SHIFT(l1, l0, 14), u1 = SHIFT(l1, l0, 15);                               \
            FMA_ROWS2(ir, t0, t1, l0, u0, u1, l1);                                                \
        }                                                                                        \
    } while (0)
    S1D_ROW(0);
    S1D_ROW(1);
    S1D_ROW(2);
    S1D_ROW(3);
#undef S1D_ROW
    store_2rows(y, oy, oh, ow, j, nv, two, tail, act, a00, a01, a10, a11);
#undef STEP
#undef W
#define W(ky, kx) wv[3 * (ky) + (kx)]
}

/* prefetch distance of plane_s1_3x3_direct in blocks. It matters less than
 * at stride 2: 2 to 6 blocks ahead are alike, and prefetching the block
 * itself is slower (bench/NOTES.md, "Kernel comments moved here") */
#define S1D_PF 2
static void plane_s1_3x3_direct(const cq_conv2d_params *p, int64_t oh, int64_t ow,
                                const float *x, const float *xnext, const float *zr,
                                const float *wk, float bias, float *y, const float *yend)
{
    int64_t nv = (ow + VL - 1) / VL, w = p->w, pl = p->pad_left;
    __mmask16 tail = range_mask(nv * VL - VL, ow);
    __m512 vb = _mm512_set1_ps(bias);
    /* the first pair whose loads (up to column 16 j + 48) reach the row's end */
    int64_t jm = 0;
    while (jm < nv && VL * jm + 3 * VL <= w)
        jm += 2;
    int64_t ohr = (oh + S1D_RB - 1) / S1D_RB * S1D_RB;
    for (int64_t oy = 0; oy < oh; oy += S1D_RB) {
        prefetch_out(y + (oy + S1D_RB) * ow, S1D_RB * ow, yend);
        const float *rp[S1D_RB + 2];
        for (int ir = 0; ir < S1D_RB + 2; ir++) {
            int64_t iy = oy + ir - p->pad_top;
            rp[ir] = iy >= 0 && iy < p->h ? x + iy * w : zr;
        }
        /* the rows block S1D_PF blocks ahead reads first (see plane_s2_3x3_direct) */
        prefetch_block_rows(p, x, xnext, oy + S1D_RB * S1D_PF, ohr, 2, S1D_RB + 2, 2);
        int64_t j = 0;
#define S1D_LOOP(PL)                                                                             \
    do {                                                                                         \
        for (; j < jm; j += 2)                                                                   \
            s1d_block(rp, j, 0, PL, w, vb, wk, y, oy, oh, ow, nv, tail, p->act);                 \
        for (; j < nv; j += 2)                                                                   \
            s1d_block(rp, j, 1, PL, w, vb, wk, y, oy, oh, ow, nv, tail, p->act);                 \
    } while (0)
        if (pl == 1)
            S1D_LOOP(1);
        else if (pl == 0)
            S1D_LOOP(0);
        else
            S1D_LOOP(2);
#undef S1D_LOOP
    }
}

/* stride 2: input row ir, split halves from column vector j */
#define S2_ROW(ir)                                                                               \
    do {                                                                                         \
        const float *e = rp[ir] + j * VL, *o = e + len;                                          \
        __m512 ea = _mm512_loadu_ps(e), eb = _mm512_loadu_ps(e + VL);                            \
        __m512 ec = _mm512_loadu_ps(e + 2 * VL);                                                 \
        __m512 oa = _mm512_loadu_ps(o), ob = _mm512_loadu_ps(o + VL);                            \
        __m512 t2 = SHIFT(eb, ea, 1), u2 = SHIFT(ec, eb, 1);                                     \
        FMA_ROWS(ir, ea, oa, t2, eb, ob, u2);                                                    \
    } while (0)

/* 3x3, stride 2 both ways, on split rows (split_plane): output row oy + rr
 * reads input rows 2 (oy + rr) - pad_top + ky. zr: a zero row pair. */
static void plane_s2_3x3(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *s,
                         int64_t len, const float *zr, const float *wk, float bias, float *y,
                         const float *yend)
{
#define STEP 2
    int64_t nv = (ow + VL - 1) / VL;
    __mmask16 tail = range_mask(nv * VL - VL, ow);
    __m512 vb = _mm512_set1_ps(bias);
    LOAD_W(wk);
    for (int64_t oy = 0; oy < oh; oy += RB) {
        prefetch_out(y + (oy + RB) * ow, RB * ow, yend);
        const float *rp[2 * RB + 1];
        for (int ir = 0; ir < 2 * RB + 1; ir++) {
            int64_t iy = 2 * oy + ir - p->pad_top;
            rp[ir] = iy >= 0 && iy < p->h ? s + 2 * iy * len : zr;
        }
        for (int64_t j = 0; j < nv; j += 2) {
            int two = j + 1 < nv;
            __m512 a00 = vb, a01 = vb, a10 = vb, a11 = vb, a20 = vb, a21 = vb, a30 = vb, a31 = vb;
            S2_ROW(0);
            S2_ROW(1);
            S2_ROW(2);
            S2_ROW(3);
            S2_ROW(4);
            S2_ROW(5);
            S2_ROW(6);
            S2_ROW(7);
            S2_ROW(8);
            STORE_BLOCK(p->act);
        }
    }
#undef STEP
}

/* 3x3, stride 2 both ways, pad_left 0 or 1, straight from the plane: a
 * block of 2 output rows x 2 column vectors (4 accumulators) reads 5 input
 * rows; each row's 64 columns for the vector pair are deinterleaved in
 * registers (vpermt2ps) into E (even columns) and O (odd), and the third tap
 * is E or O shifted by one column (valignd with the neighbouring vector).
 * No scratch rows: split copies spill out of L1 and cost a store and a
 * load per input float. 2 output rows per block, not the copy kernel's 4,
 * which leave GCC too few registers (accumulators and weights spill).
 * MASKED: the pair at the row's end, where the loads stop at the row's
 * width (the rest of the row is plain loads). bench/NOTES.md, fourth round,
 * has the measurements against the split rows. */
static inline __attribute__((always_inline)) void s2d_block(
    const float *const *rp, int64_t j, int masked, int pl, int64_t w, __m512 vb,
    const float *wk, float *y, int64_t oy, int64_t oh, int64_t ow, int64_t nv, __mmask16 tail,
    cq_act act)
{
#define STEP 2
#undef W
#define W(ky, kx) _mm512_set1_ps(wk[3 * (ky) + (kx)])
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    int64_t c = 32 * j;
    /* an opaque wk: GCC would hoist the nine broadcasts out of the loops and
     * spill them with the accumulators (bench/NOTES.md, fourth round, and
     * "Kernel comments moved here") */
    __asm__("" : "+r"(wk));
    __mmask16 m0 = range_mask(c, w), m1 = range_mask(c + VL, w), m2 = range_mask(c + 2 * VL, w),
              m3 = range_mask(c + 3 * VL, w), m4 = range_mask(c + 4 * VL, w);
    int two = j + 1 < nv;
    __m512 a00 = vb, a01 = vb, a10 = vb, a11 = vb;
#define S2D_ROW(ir)                                                                              \
    do {                                                                                         \
        const float *xr = rp[ir] + c;                                                            \
        __m512 l0, l1, l2, l3, ex;                                                               \
        if (masked) {                                                                            \
            l0 = _mm512_maskz_loadu_ps(m0, xr);                                                  \
            l1 = _mm512_maskz_loadu_ps(m1, xr + VL);                                             \
            l2 = _mm512_maskz_loadu_ps(m2, xr + 2 * VL);                                         \
            l3 = _mm512_maskz_loadu_ps(m3, xr + 3 * VL);                                         \
        } else {                                                                                 \
            l0 = _mm512_loadu_ps(xr);                                                            \
            l1 = _mm512_loadu_ps(xr + VL);                                                       \
            l2 = _mm512_loadu_ps(xr + 2 * VL);                                                   \
            l3 = _mm512_loadu_ps(xr + 3 * VL);                                                   \
        }                                                                                        \
        __m512 e0 = _mm512_permutex2var_ps(l0, ev, l1), o0 = _mm512_permutex2var_ps(l0, od, l1); \
        __m512 e1 = _mm512_permutex2var_ps(l2, ev, l3), o1 = _mm512_permutex2var_ps(l2, od, l3); \
        if (pl == 1) {                                                                           \
            /* tap 0: column 2 ox - 1, O shifted right; lane 15 of the vector before */          \
            ex = c ? _mm512_loadu_ps(xr - VL) : _mm512_setzero_ps();                             \
            __m512 s0 = SHIFT(o0, ex, 15), s1 = SHIFT(o1, l1, 15);                               \
            FMA_ROWS2(ir, s0, e0, o0, s1, e1, o1);                                               \
        } else {                                                                                 \
            /* tap 2: column 2 ox + 2, E shifted left; lane 0 of the vector after */             \
            ex = masked ? _mm512_maskz_loadu_ps(m4, xr + 4 * VL) : _mm512_loadu_ps(xr + 4 * VL); \
            __m512 s0 = SHIFT(l2, e0, 1), s1 = SHIFT(ex, e1, 1);                                 \
            FMA_ROWS2(ir, e0, o0, s0, e1, o1, s1);                                               \
        }                                                                                        \
    } while (0)
    S2D_ROW(0);
    S2D_ROW(1);
    S2D_ROW(2);
    S2D_ROW(3);
    S2D_ROW(4);
#undef S2D_ROW
    store_2rows(y, oy, oh, ow, j, nv, two, tail, act, a00, a01, a10, a11);
#undef STEP
#undef W
#define W(ky, kx) wv[3 * (ky) + (kx)]
}

/* prefetch distance in blocks: 3 is the fastest on MobileNetV2's
 * 96x112x112/2 in the model (bench/NOTES.md, fourth round) */
#define S2D_PF 3
static void plane_s2_3x3_direct(const cq_conv2d_params *p, int64_t oh, int64_t ow,
                                const float *x, const float *xnext, const float *zr,
                                const float *wk, float bias, float *y, const float *yend)
{
    int64_t nv = (ow + VL - 1) / VL, w = p->w;
    __mmask16 tail = range_mask(nv * VL - VL, ow);
    __m512 vb = _mm512_set1_ps(bias);
    /* the first pair whose loads (up to column 32 j + 80) reach the row's end */
    int64_t jm = 0;
    while (jm < nv && 32 * jm + 5 * VL <= w)
        jm += 2;
    for (int64_t oy = 0; oy < oh; oy += 2) {
        prefetch_out(y + (oy + 2) * ow, 2 * ow, yend);
        const float *rp[5];
        for (int ir = 0; ir < 5; ir++) {
            int64_t iy = 2 * oy + ir - p->pad_top;
            rp[ir] = iy >= 0 && iy < p->h ? x + iy * w : zr;
        }
        /* Prefetch the rows block S2D_PF blocks ahead reads first (past
         * the plane's end, the next plane's): inside the model the plane
         * comes from memory, and each row is only a few lines, too short
         * for the hardware's stream prefetch. */
        prefetch_block_rows(p, x, xnext, oy + 2 * S2D_PF, (oh + 1) / 2 * 2, 1, 5, 1);
        int64_t j = 0;
        if (p->pad_left == 1) {
            for (; j < jm; j += 2)
                s2d_block(rp, j, 0, 1, w, vb, wk, y, oy, oh, ow, nv, tail, p->act);
            for (; j < nv; j += 2)
                s2d_block(rp, j, 1, 1, w, vb, wk, y, oy, oh, ow, nv, tail, p->act);
        } else {
            for (; j < jm; j += 2)
                s2d_block(rp, j, 0, 0, w, vb, wk, y, oy, oh, ow, nv, tail, p->act);
            for (; j < nv; j += 2)
                s2d_block(rp, j, 1, 0, w, vb, wk, y, oy, oh, ow, nv, tail, p->act);
        }
    }
}

/* Split every row of plane x (h, w) into E and O rows of len floats each:
 * row iy's E at s + 2 * iy * len, its O right after. Only the vectors that
 * hold data are written: the caller zeroed the rest once for all planes. */
static void split_plane(const float *x, int64_t h, int64_t w, int64_t pl, int64_t len, float *s)
{
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int64_t iy = 0; iy < h; iy++) {
        const float *xr = x + iy * w;
        float *e = s + 2 * iy * len, *o = e + len;
        for (int64_t j = 0; j < len && 2 * j - pl < w; j += VL) {
            int64_t st = 2 * j - pl;
            __m512 lo, hi;
            if (st >= 0 && st + 2 * VL <= w) { /* plain loads: see S1_ROW */
                lo = _mm512_loadu_ps(xr + st);
                hi = _mm512_loadu_ps(xr + st + VL);
            } else {
                lo = _mm512_maskz_loadu_ps(range_mask(st, w), at(xr, st));
                hi = _mm512_maskz_loadu_ps(range_mask(st + VL, w), at(xr, st + VL));
            }
            _mm512_storeu_ps(e + j, _mm512_permutex2var_ps(lo, ev, hi));
            _mm512_storeu_ps(o + j, _mm512_permutex2var_ps(lo, od, hi));
        }
    }
}

static void plane_s1(const cq_conv2d_params *p, int64_t oh, int64_t ow, int64_t kh, int64_t kw,
                     const float *x, const float *wk, float bias, const __mmask16 *lm,
                     float *y)
{
    int64_t nv = (ow + VL - 1) / VL;
    __mmask16 tail = range_mask(nv * VL - VL, ow);
    __m512 vb = _mm512_set1_ps(bias);
    for (int64_t oy = 0; oy < oh; oy++) {
        int64_t iy[MAXK], ky[MAXK];
        const float *src[MAXK], *wr[MAXK];
        int nr = taps_rows(p, oy, kh, iy, ky);
        for (int r = 0; r < nr; r++) {
            src[r] = at(x + iy[r] * p->w, -p->pad_left);
            wr[r] = wk + ky[r] * kw;
        }
        if (kh == 3 && kw == 3)
            row_dw(0, src, NULL, lm, wr, nr, 3, nv, tail, vb, p->act, y + oy * ow);
        else if (kh == 5 && kw == 5)
            row_dw(0, src, NULL, lm, wr, nr, 5, nv, tail, vb, p->act, y + oy * ow);
        else
            row_dw(0, src, NULL, lm, wr, nr, kw, nv, tail, vb, p->act, y + oy * ow);
    }
}

static void plane_s2(const cq_conv2d_params *p, int64_t oh, int64_t ow, int64_t kh, int64_t kw,
                     const float *x, int split, const float *wk, float bias, float *s, float *y,
                     const float *yend)
{
    int64_t nv = (ow + VL - 1) / VL, len = split_len(ow);
    __mmask16 tail = range_mask(nv * VL - VL, ow);
    __m512 vb = _mm512_set1_ps(bias);
    if (split) /* else the rows of x are in s already */
        split_plane(x, p->h, p->w, p->pad_left, len, s);
    if (kh == 3 && kw == 3 && p->stride_h == 2) {
        plane_s2_3x3(p, oh, ow, s, len, s + 2 * p->h * len, wk, bias, y, yend);
        return;
    }
    for (int64_t oy = 0; oy < oh; oy++) {
        int64_t iy[MAXK], ky[MAXK];
        const float *e[MAXK], *o[MAXK], *wr[MAXK];
        int nr = taps_rows(p, oy, kh, iy, ky);
        for (int r = 0; r < nr; r++) {
            e[r] = s + 2 * iy[r] * len;
            o[r] = e[r] + len;
            wr[r] = wk + ky[r] * kw;
        }
        if (kh == 3 && kw == 3)
            row_dw(1, e, o, NULL, wr, nr, 3, nv, tail, vb, p->act, y + oy * ow);
        else if (kh == 5 && kw == 5)
            row_dw(1, e, o, NULL, wr, nr, 5, nv, tail, vb, p->act, y + oy * ow);
        else
            row_dw(1, e, o, NULL, wr, nr, kw, nv, tail, vb, p->act, y + oy * ow);
    }
}

void cq__dwp_run(const cq_conv2d_params *pin, int64_t oh, int64_t ow, const float *x,
                 const float *w, const float *bias, float *y, void *scratch)
{
    /* the activations with an exp: each plane bare, then act_exp_rows */
    cq_conv2d_params q = *pin;
    const cq_conv2d_params *p = &q;
    cq_act act = q.act;
    int late = act.kind >= CQ_ACT_SIGMOID;
    if (late)
        q.act.kind = CQ_ACT_NONE;
    int64_t kh = p->kh, kw = p->kw, mult = p->c_out / p->c_in, HW = p->h * p->w, P = oh * ow;
    int64_t nv = (ow + VL - 1) / VL;
    __mmask16 lm[MAX_VECS * MAXK];
    int s1_3x3 = is_s1_3x3(p);
    if (p->stride_w == 1 && !s1_3x3) /* the generic path's load masks */
        for (int64_t j = 0; j < nv; j++)
            for (int64_t kx = 0; kx < kw; kx++)
                lm[j * kw + kx] = range_mask(j * VL - p->pad_left + kx, p->w);
    float *s = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    int64_t ps = pad_stride(p, ow);
    int s1d = is_s1_3x3_direct(p), s2d = is_s2_3x3_direct(p);
    if (s1d || s2d) /* the zero row for the rows outside the input */
        memset(s, 0, (size_t)(p->w + 5 * VL) * sizeof(float));
    else if (s1_3x3) /* the borders, zero for every plane */
        memset(s, 0, (size_t)(pad_rows(p, oh) * ps) * sizeof(float));
    else if (p->stride_w == 2) /* the split rows' ends and the zero row pair after them */
        memset(s, 0, (size_t)(2 * (p->h + 1) * split_len(ow)) * sizeof(float));
    for (int64_t co = 0; co < p->c_out; co++) {
        const float *xc = x + co / mult * HW, *wk = w + co * kh * kw;
        float b = bias ? bias[co] : 0.0f;
        /* a new input plane (with a channel multiplier, every mult-th) */
        int fresh = co % mult == 0;
        /* the next plane, for the direct kernels' prefetch */
        const float *xn = co + 1 < p->c_out ? x + (co + 1) / mult * HW : NULL;
        if (s1d)
            plane_s1_3x3_direct(p, oh, ow, xc, xn, s, wk, b, y + co * P, y + p->c_out * P);
        else if (s1_3x3) {
            if (fresh)
                pad_plane(xc, p->h, p->w, p->pad_top, ps, s);
            plane_s1_3x3(p, oh, ow, s, ps, wk, b, y + co * P, y + p->c_out * P);
        } else if (s2d)
            plane_s2_3x3_direct(p, oh, ow, xc, xn, s, wk, b, y + co * P, y + p->c_out * P);
        else if (p->stride_w == 1)
            plane_s1(p, oh, ow, kh, kw, xc, wk, b, lm, y + co * P);
        else
            plane_s2(p, oh, ow, kh, kw, xc, fresh, wk, b, s, y + co * P, y + p->c_out * P);
        if (late)
            act_exp_rows(act, y + co * P, P);
    }
}

/* kern_stem_avx512.c - a direct AVX-512 convolution for the few-input-channel
 * stems (c_in <= CQ__STEM_MAX_CIN: 3-channel images into 7x7/2, 5x5/2,
 * 3x3/2 convolutions). With K = c_in * kh * kw as small as 27-147, a GEMM
 * pays for its packing (im2col or pixel-major rows) as much as for its FMAs;
 * here the register tile is 8 output channels x 48 output pixels of one
 * output row (24 accumulators), each tap loads 3 input vectors and
 * broadcasts 8 weights, and nothing is packed but the input rows.
 *
 * Input rows are prepared once each, into a ring of (kh - 1) dil_h + 1 rows
 * per channel in scratch: zero-padded left and right and split into
 * stride_w phases, so the input of output pixel ox at tap kx is phase
 * (kx * dil_w) % s, element ox + (kx * dil_w) / s: a plain unaligned vector
 * load. Rows above or below
 * the input are skipped (their taps are zero).
 *
 * With a max pool after it (ResNet's conv1 -> relu -> maxpool), the output
 * rows go to a ring of the pool's kh rows per channel instead, and each
 * channel block pools the rows it completes right away
 * (kern_pool_avx512.c's row function): the 3.2 MB conv output of ResNet-18
 * never exists, which halves the executor's peak pool memory for that model,
 * and the pool makes no pass over it from memory (bench/NOTES.md, sixth
 * round). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kern/kern_internal.h"
#include "kern/x86/kern_act_avx512.h"
#include "kern/x86/kern_tr.h"

#define CB 8   /* output channels per tile */
#define VW 16  /* floats per vector */

/* Phase row length: every load of a 48-pixel block (up to the rounded-up
 * row end) plus the tap offset stays inside. */
static int64_t phase_len(const cq_conv2d_params *p, int64_t ow)
{
    int64_t s = p->stride_w, reach = ((p->kw - 1) * p->dil_w) / s + 1;
    return ((ow + VW - 1) / VW * VW + reach + VW - 1) / VW * VW;
}

int cq__stem_applies(const cq_conv2d_params *p)
{
    int64_t oh, ow;
    cq_err ignored; /* a bad shape: does not apply */
    if (p->groups != 1 || p->c_in > CQ__STEM_MAX_CIN || (p->kh == 1 && p->kw == 1) ||
        cq_conv2d_out_shape(p, &oh, &ow, &ignored) != CQ_OK)
        return 0;
    /* small enough for the tap table; long enough rows to fill vectors */
    return p->c_in * p->kh * p->kw <= CQ__STEM_MAX_TAPS && p->stride_w <= 4 && ow >= 8 &&
           p->kw * p->dil_w <= 64;
}

/* wp: ceil(c_out / 8) blocks, each (K, 8), channels past c_out zero. */
void cq__stem_pack_w(const float *w, int64_t c_out, int64_t k, float *wp)
{
    for (int64_t c0 = 0; c0 < c_out; c0 += CB)
        for (int64_t t = 0; t < k; t++)
            for (int64_t i = 0; i < CB; i++)
                wp[c0 * k + t * CB + i] = c0 + i < c_out ? w[(c0 + i) * k + t] : 0.0f;
}

/* Input rows one output row reads: (kh - 1) dil_h + 1. */
static int64_t ring_rows(const cq_conv2d_params *p) { return (p->kh - 1) * p->dil_h + 1; }

size_t cq__stem_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow)
{
    (void)oh;
    int64_t L = phase_len(p, ow), s = p->stride_w;
    /* the ring (c_in x ring_rows rows of s phases) and one padded row */
    return (size_t)((p->c_in * ring_rows(p) + 1) * s * L) * sizeof(float) + 64;
}

/* Input row x (w floats) into s phase rows of L floats at dst. */
static void prep_row(const cq_conv2d_params *p, int64_t L, const float *x, float *tmp, float *dst)
{
    int64_t s = p->stride_w, pl = p->pad_left, n = s * L;
    int64_t copy = p->w < n - pl ? p->w : n - pl;
    float *row = s == 1 ? dst : tmp;
    memset(row, 0, (size_t)pl * sizeof(float));
    memcpy(row + pl, x, (size_t)copy * sizeof(float));
    memset(row + pl + copy, 0, (size_t)(n - pl - copy) * sizeof(float));
    if (s == 1)
        return;
    if (s == 2) {
        const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                             28, 30);
        const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27,
                                             29, 31);
        for (int64_t i = 0; i < L; i += VW) {
            __m512 a = _mm512_loadu_ps(tmp + 2 * i), b = _mm512_loadu_ps(tmp + 2 * i + VW);
            _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(a, ev, b));
            _mm512_storeu_ps(dst + L + i, _mm512_permutex2var_ps(a, od, b));
        }
        return;
    }
    for (int64_t ph = 0; ph < s; ph++)
        for (int64_t i = 0; i < L; i++)
            dst[ph * L + i] = tmp[i * s + ph];
}

/* One tile: 8 channels x (16 nv) pixels; the taps are (input pointer, 8
 * weights) pairs. y points at channel 0, pixel ox0 of the row; P is the
 * channel stride; mr channels are real; last masks the final vector.
 * pfw: prefetch the same tile of the row at pfw (the next output row) for
 * writing: the output is a buffer last touched long ago, so its lines come
 * from memory. It helps with cold caches and costs nothing with warm ones
 * (bench/NOTES.md, third round (b), and "Kernel comments moved here"). */
static inline __attribute__((always_inline)) void
tile(int nv, int64_t nt, const float *const *xt, const int64_t *wt, const float *wb, int64_t ox0,
     const float *bias, cq_act act, float *y, int64_t P, int64_t mr, __mmask16 last,
     const float *pfw)
{
    __m512 acc[CB][3];
#pragma GCC unroll 8
    for (int i = 0; i < CB; i++)
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++)
            acc[i][j] = _mm512_setzero_ps();
    if (pfw)
        for (int64_t i = 0; i < mr && i < CB; i++)
            for (int j = 0; j < nv; j++)
                _mm_prefetch((const char *)(pfw + i * P + ox0 + VW * j), _MM_HINT_ET0);
    for (int64_t t = 0; t < nt; t++) {
        const float *xr = xt[t] + ox0, *wv = wb + wt[t];
        __m512 x0 = _mm512_loadu_ps(xr);
        __m512 x1 = nv > 1 ? _mm512_loadu_ps(xr + VW) : x0;
        __m512 x2 = nv > 2 ? _mm512_loadu_ps(xr + 2 * VW) : x0;
#pragma GCC unroll 8
        for (int i = 0; i < CB; i++) {
            __m512 wi = _mm512_set1_ps(wv[i]);
            acc[i][0] = _mm512_fmadd_ps(wi, x0, acc[i][0]);
            if (nv > 1)
                acc[i][1] = _mm512_fmadd_ps(wi, x1, acc[i][1]);
            if (nv > 2)
                acc[i][2] = _mm512_fmadd_ps(wi, x2, acc[i][2]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < CB; i++) {
        if (i >= mr)
            break;
        __m512 b = _mm512_set1_ps(bias[i]);
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++) {
            if (j >= nv)
                break;
            __mmask16 mk = j == nv - 1 ? last : (__mmask16)0xffff;
            _mm512_mask_storeu_ps(y + i * P + ox0 + VW * j, mk,
                                  act16(act, _mm512_add_ps(acc[i][j], b)));
        }
    }
}

/* Where a run's output rows go: y (c_out, oh, ow) for a plain run; with a
 * max pool after the conv, a ring of the pool's kh rows per channel, each
 * pool row made as soon as its window's last row is in. */
typedef struct stem_out {
    float *y;                     /* plain: the output */
    const cq_pool2d_params *pool; /* else the pool (its h, w: oh, ow) */
    int64_t ph, pw;               /* its output size */
    float *ring, *buf;            /* (c_out, pool kh, ow) and the row buffer */
    float *py;                    /* the pool's output (c_out, ph, pw) */
    int yb;                       /* py in NCHW16c (c_out / 16, ph, pw, 16) */
    float *prow;                  /* yb: a block's pooled rows (CB, pw) */
} stem_out;

/* The CB = 8 pooled rows src (8, pw) into a NCHW16c row: pixel j's 8
 * channels at dst + 16 j (8x8 transposes). */
static void interleave8(const float *src, int64_t pw, float *dst)
{
    int64_t j = 0;
    for (; j + 8 <= pw; j += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; i++)
            r[i] = _mm256_loadu_ps(src + i * pw + j);
        cq__tr8x8_ps(r); /* r[k]: the 8 channels of pixel j + k */
        for (int k = 0; k < 8; k++)
            _mm256_storeu_ps(dst + 16 * (j + k), r[k]);
    }
    for (; j < pw; j++)
        for (int i = 0; i < 8; i++)
            dst[16 * j + i] = src[i * pw + j];
}

/* Pool rows [pa, pb) of channels [c0, c1) from the ring (their windows'
 * rows are all in it). */
static void pool_rows(int64_t oh, int64_t ow, int64_t pa, int64_t pb, int64_t c0, int64_t c1,
                      const stem_out *o)
{
    const cq_pool2d_params *q = o->pool;
    int64_t R = q->kh;
    const float *rows[CQ__MAXPOOL_MAX_KH];
    for (int64_t py = pa; py < pb; py++) {
        int64_t y0 = py * q->stride_h - q->pad_top, y1 = y0 + q->kh;
        int64_t ya = y0 > 0 ? y0 : 0, yb = y1 < oh ? y1 : oh;
        for (int64_t c = c0; c < c1; c++) {
            int64_t nr = 0;
            for (int64_t iy = ya; iy < yb; iy++)
                rows[nr++] = o->ring + (c * R + iy % R) * ow;
            cq__maxpool_row_avx512(q, rows, nr, o->pw, o->buf,
                                   o->yb ? o->prow + (c - c0) * o->pw
                                         : o->py + (c * o->ph + py) * o->pw);
        }
        if (o->yb) /* c1 - c0 == CB: c_out is a multiple of 16 */
            interleave8(o->prow, o->pw, o->py + ((c0 / 16 * o->ph + py) * o->pw) * 16 + c0 % 16);
    }
}

/* The end of the pool rows whose windows end at conv row oy or above
 * (clipped to the image), from pa on. */
static int64_t pool_ready(const cq_pool2d_params *q, int64_t oh, int64_t ph, int64_t oy,
                          int64_t pa)
{
    for (; pa < ph; pa++) {
        int64_t y1 = pa * q->stride_h - q->pad_top + q->kh;
        if ((y1 < oh ? y1 : oh) - 1 > oy)
            break;
    }
    return pa;
}

/* Output rows [oa, ob) (with a pool: the conv rows under pool rows [pa,
 * pb), which the pool rows of neighbouring shares may compute too). */
static void stem_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                     const float *wp, const float *bias_pad, const stem_out *o, void *scratch,
                     int64_t oa, int64_t ob, int64_t pa, int64_t pb_end)
{
    int64_t L = phase_len(p, ow), s = p->stride_w, kh = p->kh, kw = p->kw;
    int64_t R = ring_rows(p), K = p->c_in * kh * kw, rowf = s * L;
    float *ring = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *tmp = ring + p->c_in * R * rowf;
    const float *xt[CQ__STEM_MAX_TAPS];
    int64_t wt[CQ__STEM_MAX_TAPS];
    int64_t next = 0; /* input rows below next are in the ring (or were) */
    int64_t pnext = pa; /* pool rows below pnext are made */
    int64_t nvec = (ow + VW - 1) / VW, rem = ow - (nvec - 1) * VW;
    __mmask16 last = (__mmask16)(rem == VW ? 0xffff : (1u << rem) - 1u);
    /* channel stride of the output rows: the plane, or the ring's rows */
    int64_t P = o->pool ? o->pool->kh * ow : oh * ow;
    for (int64_t oy = oa; oy < ob; oy++) {
        /* this output row reads input rows [iy0, iy0 + R); each is prepared
         * once, into slot iy % R (R consecutive rows never share a slot) */
        int64_t iy0 = oy * p->stride_h - p->pad_top, hi = iy0 + R - 1;
        hi = hi < p->h - 1 ? hi : p->h - 1;
        for (int64_t r = next > iy0 ? next : (iy0 > 0 ? iy0 : 0); r <= hi; r++)
            for (int64_t c = 0; c < p->c_in; c++)
                prep_row(p, L, x + (c * p->h + r) * p->w, tmp, ring + (c * R + r % R) * rowf);
        next = hi + 1 > next ? hi + 1 : next;
        int64_t nt = 0;
        for (int64_t c = 0; c < p->c_in; c++)
            for (int64_t ky = 0; ky < kh; ky++) {
                int64_t iy = iy0 + ky * p->dil_h;
                if (iy < 0 || iy >= p->h)
                    continue;
                const float *r = ring + (c * R + iy % R) * rowf;
                for (int64_t kx = 0; kx < kw; kx++) {
                    int64_t d = kx * p->dil_w;
                    xt[nt] = r + (d % s) * L + d / s;
                    wt[nt++] = ((c * kh + ky) * kw + kx) * CB;
                }
            }
        float *yrow = o->pool ? o->ring + oy % o->pool->kh * ow : o->y + oy * ow;
        /* the pool rows this conv row completes, made per channel block
         * right after the block's conv row (its ring rows still in L1) */
        int64_t pb = o->pool ? pool_ready(o->pool, oh, pb_end, oy, pnext) : 0;
        /* the next row's lines for writing: only a plain output, last
         * touched long ago (the ring stays in cache) */
        const float *pfw = !o->pool && oy + 1 < ob ? yrow + ow : NULL;
        for (int64_t c0 = 0; c0 < p->c_out; c0 += CB) {
            const float *wb = wp + c0 * K;
            float *yr = yrow + c0 * P;
            const float *pfw_c = pfw ? pfw + c0 * P : NULL;
            int64_t mr = p->c_out - c0;
            /* blocks of 3 vectors; a remainder of 1 borrows one (2 + 2) */
            for (int64_t v = 0; v < nvec;) {
                int64_t left = nvec - v;
                int nv = left >= 5 || left == 3 ? 3 : left == 4 ? 2 : (int)left;
                __mmask16 mk = v + nv == nvec ? last : (__mmask16)0xffff;
                if (nv == 3)
                    tile(3, nt, xt, wt, wb, v * VW, bias_pad + c0, p->act, yr, P, mr, mk, pfw_c);
                else if (nv == 2)
                    tile(2, nt, xt, wt, wb, v * VW, bias_pad + c0, p->act, yr, P, mr, mk, pfw_c);
                else
                    tile(1, nt, xt, wt, wb, v * VW, bias_pad + c0, p->act, yr, P, mr, mk, pfw_c);
                v += nv;
            }
            if (o->pool)
                pool_rows(oh, ow, pnext, pb, c0, c0 + (mr < CB ? mr : CB), o);
        }
        pnext = o->pool ? pb : 0;
    }
}

void cq__stem_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                  const float *wp, const float *bias_pad, float *y, void *scratch, int part,
                  int nparts)
{
    stem_out o;
    memset(&o, 0, sizeof o);
    o.y = y;
    stem_run(p, oh, ow, x, wp, bias_pad, &o, scratch, oh * part / nparts,
             oh * (part + 1) / nparts, 0, 0);
}

size_t cq__stem_pool_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow,
                             const cq_pool2d_params *q)
{
    size_t ring = (size_t)(p->c_out * q->kh * ow) * sizeof(float);
    return cq__stem_scratch(p, oh, ow) + (ring + 63) / 64 * 64 +
           CQ__MAXPOOL_BUF_FLOATS * sizeof(float) + 64 +
           (p->y_blocked ? (size_t)(CB * ow) * sizeof(float) + 64 : 0);
}

void cq__stem_pool_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                       const float *wp, const float *bias_pad, const cq_pool2d_params *q,
                       int64_t ph, int64_t pw, float *y, void *scratch, int part, int nparts)
{
    stem_out o;
    memset(&o, 0, sizeof o);
    o.pool = q;
    o.ph = ph;
    o.pw = pw;
    o.py = y;
    /* after the stem's own scratch: the ring, then the row buffer */
    uintptr_t a = ((uintptr_t)scratch + cq__stem_scratch(p, oh, ow) + 63) & ~(uintptr_t)63;
    o.ring = (float *)a;
    a += ((size_t)(p->c_out * q->kh * ow) * sizeof(float) + 63) / 64 * 64;
    o.buf = (float *)a;
    cq__maxpool_buf_init(q, pw, o.buf);
    o.yb = p->y_blocked;
    a += (CQ__MAXPOOL_BUF_FLOATS * sizeof(float) + 63) / 64 * 64;
    o.prow = (float *)a;
    /* pool rows [pa, pb) and the conv rows under them */
    int64_t pa = ph * part / nparts, pb = ph * (part + 1) / nparts;
    if (pa >= pb)
        return;
    int64_t oa = pa * q->stride_h - q->pad_top, ob = (pb - 1) * q->stride_h - q->pad_top + q->kh;
    oa = oa > 0 ? oa : 0;
    ob = ob < oh ? ob : oh;
    if (ob <= oa) { /* windows all in the padding (no conv row under them) */
        int64_t per = p->y_blocked ? 16 : 1; /* channels per plane */
        for (int64_t c = 0; c < p->c_out / per; c++)
            for (int64_t i = pa * pw * per; i < pb * pw * per; i++)
                y[c * ph * pw * per + i] = -INFINITY;
        return;
    }
    stem_run(p, oh, ow, x, wp, bias_pad, &o, scratch, oa, ob, pa, pb);
}

/* kern_convpm_bf16_avx512.c - Conv2d in bf16 (f32 in and out, bf16
 * products, f32 sums) as a pixel-major implicit GEMM with AVX512-BF16: the
 * bf16 twin of kern_convpm_avx512.c's direct path,
 *   C^T (pixels, c_out) = bf(X)^T (pixels, K) bf(W)^T (K, c_out).
 * K runs (c / B, ky, kx, c % B) with B = 16 on NCHW16c input and B = 2 on
 * NCHW (channels padded with zeros to B), so that two consecutive K rows
 * of one pixel are adjacent bf16 values: one 32-bit broadcast feeds
 * vdpbf16ps, whose weight operand holds 16 channels' pairs (W^T packed once
 * in the plan as (k block, channel panel, pairs, pw, 2)). Per group of
 * output rows, the input rows under it are rounded to bf16 once into a
 * zero-padded buffer (c / B, gh, wpad, B) (vcvtne2ps2bf16; on NCHW two
 * channels' rows interleaved by vpermw), and each 7-pixel x 32/48-channel
 * tile broadcasts from it through a table of tap offsets. Per k block a
 * panel's W^T slice (16 KB) serves every tile of the group from L1; partial
 * sums of the k blocks go to scratch, or to y itself when it is NCHW16c.
 * The last k block adds the bias (and, into NCHW16c, the residual), applies
 * the activation and stores NCHW16c lines or, through 8x8 transposes, NCHW
 * planes, as the f32 kernel does. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kern/kern_conv_internal.h"
#include "kern/x86/kern_act_avx512.h"
#include "kern/x86/kern_tr.h"

#define MP 7                        /* pixels per tile */
#define W_PANEL_BYTES (16 * 1024)   /* a channel panel's slice of one k block */
#define GROUP_BYTES (448 * 1024)    /* a row group's bf16 input and partial sums */
#define MAX_WPAD 4096               /* padded row length (else not this path) */
#define AI static inline __attribute__((always_inline))

static int64_t blk_of(const cq_conv2d_params *p) { return p->x_blocked ? 16 : 2; }

static int64_t k2_of(const cq_conv2d_params *p)
{
    int64_t B = blk_of(p);
    return (p->c_in + B - 1) / B * B * p->kh * p->kw / 2;
}

static int64_t even_split(int64_t n, int64_t most)
{
    int64_t nb = (n + most - 1) / most;
    return (n + nb - 1) / nb;
}

/* Pairs per k block: the panel slice (pairs, pw) of 16 KB. */
static int64_t kc2_of(const cq_conv2d_params *p)
{
    int64_t most = W_PANEL_BYTES / 4 / cq__convpm_pw(p->c_out);
    return even_split(k2_of(p), most < 8 ? 8 : most);
}

static int64_t span_w(const cq_conv2d_params *p, int64_t ow)
{
    return ((ow + MP - 1) / MP * MP - 1) * p->stride_w + (p->kw - 1) * p->dil_w + 1;
}

int cq__convpmb_applies(const cq_conv2d_params *p)
{
    int64_t oh, ow;
    cq_err ignored;
    if (p->groups != 1 || cq_conv2d_out_shape(p, &oh, &ow, &ignored) != CQ_OK ||
        (p->x_blocked && p->c_in % 16) || (p->y_blocked && p->c_out % 16) ||
        (p->stride_w != 1 && p->stride_w != 2) || p->kw > 16)
        return 0;
    int64_t wp = p->pad_left + p->w + p->pad_right, sw = span_w(p, ow);
    return (wp > sw ? wp : sw) <= MAX_WPAD;
}

void cq__convpmb_pack_w(const cq_conv2d_params *p, const float *w, uint16_t *wp)
{
    int64_t B = blk_of(p), khw = p->kh * p->kw, K2 = k2_of(p), kc0 = kc2_of(p);
    int64_t c_out = p->c_out, pw = cq__convpm_pw(c_out), npad = (c_out + pw - 1) / pw * pw;
    int64_t kw_all = p->c_in * khw; /* W's row length */
    for (int64_t k0 = 0; k0 < K2; k0 += kc0) {
        int64_t kc = K2 - k0 < kc0 ? K2 - k0 : kc0;
        for (int64_t j0 = 0; j0 < npad; j0 += pw)
            for (int64_t t = 0; t < kc; t++)
                for (int64_t c = 0; c < pw; c++)
                    for (int64_t r = 0; r < 2; r++) {
                        int64_t kt = 2 * (k0 + t) + r, q = kt % (B * khw);
                        int64_t ch = kt / (B * khw) * B + q % B, tap = q / B;
                        float v = j0 + c < c_out && ch < p->c_in
                                      ? cq_bgemm_round(w[(j0 + c) * kw_all + ch * khw + tap])
                                      : 0.0f;
                        uint32_t u;
                        memcpy(&u, &v, 4);
                        wp[2 * (k0 * npad + j0 * kc + t * pw + c) + r] = (uint16_t)(u >> 16);
                    }
    }
}

typedef struct grid {
    int64_t kc2, rows, gh, wpad; /* k block (pairs), output rows per group, buffer rows, row */
    size_t buf_bytes, ct_floats;
    int partial;
} grid;

static void make_grid(const cq_conv2d_params *p, int64_t oh, int64_t ow, grid *g)
{
    int64_t B = blk_of(p), cpad = (p->c_in + B - 1) / B * B;
    int64_t pw = cq__convpm_pw(p->c_out), npad = (p->c_out + pw - 1) / pw * pw;
    g->kc2 = kc2_of(p);
    g->partial = g->kc2 < k2_of(p);
    int64_t wp = p->pad_left + p->w + p->pad_right, sw = span_w(p, ow);
    g->wpad = (wp > sw ? wp : sw);
    int64_t r = 1;
    for (int64_t t = 2; t <= oh; t++) {
        int64_t gh = (t - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
        int64_t bytes = 2 * cpad * gh * g->wpad + (g->partial ? 4 * t * ow * npad : 0);
        if (bytes > GROUP_BYTES)
            break;
        r = t;
    }
    g->rows = even_split(oh, r);
    g->gh = (g->rows - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
    g->buf_bytes = (size_t)(2 * cpad * g->gh * g->wpad) + 128;
    g->ct_floats = g->partial ? (size_t)(g->rows * ow * npad) : 0;
}

size_t cq__convpmb_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow)
{
    grid g;
    make_grid(p, oh, ow, &g);
    return round64(g.buf_bytes) + (g.ct_floats + 64 * (size_t)MP) * sizeof(float) +
           (size_t)k2_of(p) * sizeof(int64_t);
}

AI __mmask16 lanes(int64_t lo, int64_t hi)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    return hi > lo ? (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u)) : 0;
}

/* Input rows g0 s_h - pad_top + [0, gh) into buf (c / B, gh, wpad, B) bf16,
 * zeros in the padding, outside the image and past c_in. Whole-vector
 * stores may run past a row: rows go in order, and buf has 128 spare bytes. */
static void fill_group(const cq_conv2d_params *p, const float *x, int64_t g0, const grid *g,
                       uint16_t *buf)
{
    int64_t pl = p->pad_left, W = p->w, wp = g->wpad;
    if (p->x_blocked) {
        for (int64_t cb = 0; cb < p->c_in / 16; cb++)
            for (int64_t gy = 0; gy < g->gh; gy++) {
                int64_t iy = g0 * p->stride_h - p->pad_top + gy;
                uint16_t *dst = buf + (cb * g->gh + gy) * wp * 16;
                if (iy < 0 || iy >= p->h) {
                    memset(dst, 0, (size_t)(wp * 32));
                    continue;
                }
                memset(dst, 0, (size_t)(pl * 32));
                const float *src = x + (cb * p->h + iy) * W * 16;
                int64_t i = 0;
                for (; i + 2 <= W; i += 2)
                    _mm512_storeu_si512(dst + (pl + i) * 16,
                                        (__m512i)_mm512_cvtne2ps_pbh(
                                            _mm512_loadu_ps(src + 16 * i + 16),
                                            _mm512_loadu_ps(src + 16 * i)));
                if (i < W)
                    _mm256_storeu_si256((__m256i *)(dst + (pl + i) * 16),
                                        (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + 16 * i)));
                memset(dst + (pl + W) * 16, 0, (size_t)((wp - pl - W) * 32));
            }
        return;
    }
    /* NCHW: channels 2 cp and 2 cp + 1 interleaved, one 32-bit pair per pixel */
    const __m512i inter = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                           24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17,
                                           1, 16, 0);
    for (int64_t cp = 0; cp < (p->c_in + 1) / 2; cp++)
        for (int64_t gy = 0; gy < g->gh; gy++) {
            int64_t iy = g0 * p->stride_h - p->pad_top + gy;
            uint32_t *dst = (uint32_t *)buf + (cp * g->gh + gy) * wp;
            if (iy < 0 || iy >= p->h) {
                for (int64_t i = 0; i < wp; i += 16)
                    _mm512_storeu_si512(dst + i, _mm512_setzero_si512());
                continue;
            }
            int has1 = 2 * cp + 1 < p->c_in;
            /* masked lanes are not read: the address may lie before the row */
            uintptr_t s0 = (uintptr_t)(x + (2 * cp * p->h + iy) * W);
            uintptr_t s1 = has1 ? s0 + (uintptr_t)(p->h * W) * 4u : s0;
            for (int64_t i = 0; i < wp; i += 16) {
                __mmask16 m = lanes(pl - i, pl + W - i);
                uintptr_t o = (uintptr_t)(i - pl) * 4u;
                __m512 lo = _mm512_maskz_loadu_ps(m, (const void *)(s0 + o));
                __m512 hi = has1 ? _mm512_maskz_loadu_ps(m, (const void *)(s1 + o))
                                 : _mm512_setzero_ps();
                _mm512_storeu_si512(dst + i, _mm512_permutexvar_epi16(
                                                 inter, (__m512i)_mm512_cvtne2ps_pbh(hi, lo)));
            }
        }
}

typedef struct targs {
    int64_t kc2;
    const uint32_t *xp;   /* pixel i of pair t at xp[off[t] + step i] */
    const int64_t *off;
    const uint16_t *wp;   /* (kc2, pw, 2) */
    int64_t pw;
    float *ct;            /* partial sums (NULL: none), strides cti per pixel, ctj per 16 */
    int64_t cti, ctj;
    int first, fin;
    float *y;             /* fin: y + j0 P + m0 (yb: + 16 m0) */
    int yb;
    const float *res;     /* yb: the residual, indexed as y; or NULL */
    int64_t P, mr, cw;
    const float *bias;
    cq_act act;
    float *tmp;           /* 64 * MP floats */
} targs;

AI void tile(int nv, int step, const targs *a)
{
    __m512 acc[MP][3];
#pragma GCC unroll 7
    for (int i = 0; i < MP; i++)
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++)
            acc[i][j] = !a->first && j < nv && i < a->mr
                            ? _mm512_loadu_ps(a->ct + i * a->cti + j * a->ctj)
                            : _mm512_setzero_ps();
    const uint32_t *xp = a->xp;
    const uint16_t *wp = a->wp;
    const int64_t *off = a->off;
    int64_t pw2 = 2 * a->pw;
    for (int64_t t = 0; t < a->kc2; t++) {
        const uint32_t *xr = xp + off[t];
        const uint16_t *wt = wp + t * pw2;
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(wt);
        __m512bh b1 = nv > 1 ? (__m512bh)_mm512_loadu_si512(wt + 32) : b0;
        __m512bh b2 = nv > 2 ? (__m512bh)_mm512_loadu_si512(wt + 64) : b0;
#pragma GCC unroll 7
        for (int i = 0; i < MP; i++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)xr[step * i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
            if (nv > 1)
                acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
            if (nv > 2)
                acc[i][2] = _mm512_dpbf16_ps(acc[i][2], av, b2);
        }
    }
    if (!a->fin) {
#pragma GCC unroll 7
        for (int i = 0; i < MP; i++)
#pragma GCC unroll 3
            for (int j = 0; j < 3; j++)
                if (j < nv && i < a->mr)
                    _mm512_storeu_ps(a->ct + i * a->cti + j * a->ctj, acc[i][j]);
        return;
    }
    if (a->yb) {
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++) {
            if (j >= nv)
                break;
            __m512 bv = _mm512_loadu_ps(a->bias + 16 * j);
            float *yj = a->y + 16 * j * a->P;
            const float *rj = a->res ? a->res + 16 * j * a->P : NULL;
#pragma GCC unroll 7
            for (int i = 0; i < MP; i++)
                if (i < a->mr) {
                    __m512 v = _mm512_add_ps(acc[i][j], bv);
                    if (rj)
                        v = _mm512_add_ps(v, _mm512_loadu_ps(rj + 16 * i));
                    _mm512_storeu_ps(yj + 16 * i, act16(a->act, v));
                }
        }
        return;
    }
    float *tmp = a->tmp;
#pragma GCC unroll 3
    for (int j = 0; j < 3; j++) {
        if (j >= nv)
            break;
        __m512 bv = _mm512_loadu_ps(a->bias + 16 * j);
#pragma GCC unroll 7
        for (int i = 0; i < MP; i++)
            _mm512_storeu_ps(tmp + i * 64 + 16 * j, act16(a->act, _mm512_add_ps(acc[i][j], bv)));
    }
    __mmask8 pm = (__mmask8)((1u << a->mr) - 1u);
    int64_t c = 0;
    for (; c + 8 <= a->cw; c += 8) {
        __m256 r[8];
        for (int i = 0; i < MP; i++)
            r[i] = _mm256_loadu_ps(tmp + i * 64 + c);
        r[7] = _mm256_setzero_ps();
        cq__tr8x8_ps(r);
        for (int j = 0; j < 8; j++)
            _mm256_mask_storeu_ps(a->y + (c + j) * a->P, pm, r[j]);
    }
    __m256i idx = _mm256_setr_epi32(0, 64, 128, 192, 256, 320, 384, 0);
    for (; c < a->cw; c++)
        _mm256_mask_storeu_ps(a->y + c * a->P, pm, _mm256_i32gather_ps(tmp + c, idx, 4));
}

AI void tile_nv(int step, int nv, const targs *a)
{
    if (nv == 3)
        tile(3, step, a);
    else if (nv == 2)
        tile(2, step, a);
    else
        tile(1, step, a);
}

static void tile_any(int64_t step, int nv, const targs *a)
{
    switch (step) {
    case 1:
        tile_nv(1, nv, a);
        break;
    case 2:
        tile_nv(2, nv, a);
        break;
    case 8:
        tile_nv(8, nv, a);
        break;
    default:
        tile_nv(16, nv, a);
        break;
    }
}

void cq__convpmb_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                     const uint16_t *wp, const float *bias_pad, float *y, const float *res,
                     void *scratch, int part, int nparts)
{
    int64_t B = blk_of(p), khw = p->kh * p->kw, K2 = k2_of(p);
    int64_t pw = cq__convpm_pw(p->c_out), npad = (p->c_out + pw - 1) / pw * pw, P = oh * ow;
    grid g;
    make_grid(p, oh, ow, &g);
    /* fewer rows a group where that shares them out better (buf_bytes, the
     * scratch's layout, stays) */
    cq__grid_share sh;
    cq__share_grid(oh, g.rows, npad / pw, 0, part, nparts, &sh);
    g.rows = sh.rows;
    g.gh = (g.rows - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
    uint16_t *buf = scratch;
    float *ct = g.ct_floats ? (float *)((char *)scratch + round64(g.buf_bytes)) : NULL;
    float *tmp = (float *)((char *)scratch + round64(g.buf_bytes)) + g.ct_floats;
    int64_t *off = (int64_t *)(tmp + 64 * MP);
    for (int64_t t = 0; t < K2; t++) {
        int64_t kt = 2 * t, q = kt % (B * khw), plane = kt / (B * khw), tap = q / B;
        int64_t ky = tap / p->kw, kx = tap % p->kw;
        off[t] = (((plane * g.gh + ky * p->dil_h) * g.wpad + kx * p->dil_w) * B + q % B) / 2;
    }
    int ct_in_y = g.partial && p->y_blocked;
    int64_t step = p->stride_w * B / 2, panels_row = (ow + MP - 1) / MP;
    int64_t ja = sh.ja * pw, jb = sh.jb * pw, ga = sh.ga, gb = sh.gb;
    targs a;
    memset(&a, 0, sizeof a);
    a.yb = p->y_blocked;
    a.pw = pw;
    a.P = P;
    a.act = p->act;
    a.tmp = tmp;
    for (int64_t g0 = ga * g.rows; g0 < oh && g0 < gb * g.rows; g0 += g.rows) {
        int64_t rows = oh - g0 < g.rows ? oh - g0 : g.rows;
        fill_group(p, x, g0, &g, buf);
        for (int64_t k0 = 0; k0 < K2; k0 += g.kc2) {
            int64_t kc = K2 - k0 < g.kc2 ? K2 - k0 : g.kc2;
            a.kc2 = kc;
            a.off = off + k0;
            a.first = k0 == 0;
            a.fin = k0 + kc == K2;
            a.cti = ct_in_y ? 16 : npad;
            a.ctj = ct_in_y ? 16 * P : 16;
            for (int64_t j0 = ja; j0 < jb; j0 += pw) {
                int64_t cw = p->c_out - j0 < pw ? p->c_out - j0 : pw;
                int nv = (int)((cw + 15) / 16);
                a.wp = wp + 2 * (k0 * npad + j0 * kc);
                a.cw = cw;
                a.bias = bias_pad + j0;
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t pr = 0; pr < panels_row; pr++) {
                        int64_t ox0 = pr * MP, m = r * ow + ox0;
                        a.mr = ow - ox0 < MP ? ow - ox0 : MP;
                        a.ct = ct_in_y ? y + j0 * P + 16 * (g0 * ow + m)
                               : ct    ? ct + m * npad + j0
                                       : NULL;
                        a.y = y + j0 * P + (p->y_blocked ? 16 * (g0 * ow + m) : g0 * ow + m);
                        a.res = res ? res + j0 * P + 16 * (g0 * ow + m) : NULL;
                        a.xp = (const uint32_t *)buf +
                               (r * p->stride_h * g.wpad + ox0 * p->stride_w) * B / 2;
                        tile_any(step, nv, &a);
                    }
            }
        }
    }
}

size_t cq__convpmb_wcount(const cq_conv2d_params *p)
{
    int64_t pw = cq__convpm_pw(p->c_out), npad = (p->c_out + pw - 1) / pw * pw;
    return (size_t)(npad * 2 * k2_of(p));
}

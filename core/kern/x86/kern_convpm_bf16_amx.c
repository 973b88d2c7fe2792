/* kern_convpm_bf16_amx.c - Conv2d in bf16 (cq_conv2d_params.bf16) with AMX
 * tiles: an implicit GEMM, C (pixels, c_out) = bf(X) (pixels, K) bf(W)^T,
 * K = (ky, kx, c) in steps of 32 channels at one tap, summed by tdpbf16ps
 * in f32 tiles over the whole K (no partial sums).
 *
 * Per group of output rows, the input rows under it are rounded to bf16
 * once into a zero-padded channel-last buffer (gh, wpad, cpad), cpad =
 * c_in rounded up to 32; then an A tile is mt output pixels of one row (mt
 * <= 16, the row split into equal chunks; the last chunk of a row overlaps
 * the one before rather than needing another tile shape) x 32 channels at
 * one tap: rows sw * cpad apart in the buffer, loaded in place. W is packed
 * in the plan as one 1 KiB B tile per (k step, 16 output channels): 16
 * pairs of K x 16 channels x 2. Tiles: 0-3 the sums of 2 pixel chunks x 32
 * channels, 4-5 A, 6-7 B; per k step 4 tile loads feed 4 tdpbf16ps. The
 * sums go through a 4 KiB buffer to the epilogue (bias, residual into
 * NCHW16c, activation), stored as NCHW16c lines or gathered into NCHW
 * planes. Every share loads the tile configuration and releases the tiles
 * at its end. Same products as the other bf16 paths; the f32 sums go in
 * AMX's own order. */
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kern/kern_conv_internal.h"
#include "kern/x86/kern_act_avx512.h"

#define GROUP_BYTES (96 * 1024) /* a row group's bf16 input */
#define AI static inline __attribute__((always_inline))
#define MAX_STEPS 4096 /* k steps (taps x 32-channel chunks) */

int cq__amx_bf16(void)
{
    static int known = -1;
    if (known < 0) {
        unsigned a, b, c, d;
        known = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 22)) ? 1 : 0;
    }
    return known && cq_kern_amx();
}

static int64_t cpad_of(const cq_conv2d_params *p) { return (p->c_in + 31) / 32 * 32; }

/* Pixels per A tile: the row in equal chunks of at most 16. */
static int64_t mt_of(int64_t ow)
{
    int64_t nq = (ow + 15) / 16;
    return (ow + nq - 1) / nq;
}

int cq__convamx_applies(const cq_conv2d_params *p)
{
    int64_t oh, ow;
    cq_err ignored;
    if (p->groups != 1 || cq_conv2d_out_shape(p, &oh, &ow, &ignored) != CQ_OK ||
        (p->x_blocked && p->c_in % 16) || (p->y_blocked && p->c_out % 16))
        return 0;
    /* a buffer row and a tile row stride that stay reasonable */
    int64_t wpad = p->pad_left + p->w + p->pad_right;
    return wpad * cpad_of(p) * 2 <= 256 * 1024 && p->stride_w * cpad_of(p) * 2 <= 65535 &&
           p->kh * p->kw * (cpad_of(p) / 32) <= MAX_STEPS;
}

size_t cq__convamx_wcount(const cq_conv2d_params *p)
{
    int64_t nct = (p->c_out + 31) / 32 * 2; /* 16-channel tiles, even */
    return (size_t)(p->kh * p->kw * (cpad_of(p) / 32) * nct * 512);
}

void cq__convamx_pack_w(const cq_conv2d_params *p, const float *w, uint16_t *wp)
{
    int64_t khw = p->kh * p->kw, ncc = cpad_of(p) / 32, nct = (p->c_out + 31) / 32 * 2;
    int64_t kw_all = p->c_in * khw;
    for (int64_t tap = 0; tap < khw; tap++)
        for (int64_t cc = 0; cc < ncc; cc++)
            for (int64_t ct = 0; ct < nct; ct++) {
                uint16_t *t = wp + ((tap * ncc + cc) * nct + ct) * 512;
                for (int64_t pr = 0; pr < 16; pr++)
                    for (int64_t col = 0; col < 16; col++)
                        for (int64_t e = 0; e < 2; e++) {
                            int64_t co = ct * 16 + col, c = cc * 32 + 2 * pr + e;
                            float v = co < p->c_out && c < p->c_in
                                          ? cq_bgemm_round(w[co * kw_all + c * khw + tap])
                                          : 0.0f;
                            uint32_t u;
                            memcpy(&u, &v, 4);
                            t[pr * 32 + col * 2 + e] = (uint16_t)(u >> 16);
                        }
            }
}

typedef struct grid {
    int64_t rows, gh, wpad, cpad, mt, nq;
} grid;

static void make_grid(const cq_conv2d_params *p, int64_t oh, int64_t ow, grid *g)
{
    g->cpad = cpad_of(p);
    g->wpad = p->pad_left + p->w + p->pad_right;
    g->mt = mt_of(ow);
    g->nq = (ow + g->mt - 1) / g->mt;
    int64_t r = 1;
    for (int64_t t = 2; t <= oh; t++) {
        int64_t gh = (t - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
        if (2 * gh * g->wpad * g->cpad > GROUP_BYTES)
            break;
        r = t;
    }
    int64_t nb = (oh + r - 1) / r;
    g->rows = (oh + nb - 1) / nb;
    g->gh = (g->rows - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
}

size_t cq__convamx_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow)
{
    grid g;
    make_grid(p, oh, ow, &g);
    return round64((size_t)(2 * g.gh * g.wpad * g.cpad)) + 4 * 256 * sizeof(float) + 64;
}

/* r[16] (16 x 16 32-bit values) transposed in place: four rounds of
 * swapping the off-diagonal b x b blocks of each 2b x 2b block (b = 8, 4, 2,
 * 1), two vpermt2d per pair of rows. */
static inline __attribute__((always_inline)) void tr16x16(__m512i r[16])
{
    for (int b = 8; b >= 1; b /= 2) {
        int32_t lo[16], hi[16];
        for (int j = 0; j < 16; j++) {
            int in = j % (2 * b) < b;
            lo[j] = in ? j : 16 + j - b;
            hi[j] = in ? j + b : 16 + j;
        }
        __m512i il = _mm512_loadu_si512(lo), ih = _mm512_loadu_si512(hi);
        for (int i = 0; i < 16; i++)
            if (!(i & b)) {
                __m512i a = r[i], c = r[i + b];
                r[i] = _mm512_permutex2var_epi32(a, il, c);
                r[i + b] = _mm512_permutex2var_epi32(a, ih, c);
            }
    }
}

/* Input rows g0 s_h - pad_top + [0, gh) into buf (gh, wpad, cpad) bf16, zeros
 * in the padding, outside the image and past c_in. NCHW16c: each pixel's 16
 * channels converted and stored; NCHW: 16 pixels x 32 channels at a time,
 * channel pairs rounded and interleaved (vcvtne2ps2bf16, vpermw) into 16
 * rows of 32-bit pairs, then a 16 x 16 transpose into pixels. */
static void fill_group(const cq_conv2d_params *p, const float *x, int64_t g0, const grid *g,
                       uint16_t *buf)
{
    int64_t pl = p->pad_left, W = p->w, cp = g->cpad, HW = p->h * W;
    size_t row = (size_t)(g->wpad * cp) * 2;
    const __m512i inter = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                           24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17,
                                           1, 16, 0);
    for (int64_t gy = 0; gy < g->gh; gy++) {
        int64_t iy = g0 * p->stride_h - p->pad_top + gy;
        uint16_t *dst = buf + gy * g->wpad * cp;
        if (iy < 0 || iy >= p->h) {
            memset(dst, 0, row);
            continue;
        }
        memset(dst, 0, (size_t)(pl * cp) * 2);
        memset(dst + (pl + W) * cp, 0, (size_t)((g->wpad - pl - W) * cp) * 2);
        if (p->x_blocked) {
            for (int64_t ix = 0; ix < W; ix++) {
                uint16_t *d = dst + (pl + ix) * cp;
                int64_t c = 0;
                for (; c < p->c_in; c += 16)
                    _mm256_storeu_si256((__m256i *)(d + c),
                                        (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(
                                            x + ((c / 16 * p->h + iy) * W + ix) * 16)));
                for (; c < cp; c += 16)
                    _mm256_storeu_si256((__m256i *)(d + c), _mm256_setzero_si256());
            }
            continue;
        }
        for (int64_t ix0 = 0; ix0 < W; ix0 += 16) {
            int64_t np = W - ix0 < 16 ? W - ix0 : 16;
            __mmask16 m = (__mmask16)((1u << np) - 1u);
            const float *src = x + iy * W + ix0;
            for (int64_t c0 = 0; c0 < cp; c0 += 32) {
                __m512i r[16];
                for (int k = 0; k < 16; k++) {
                    int64_t c = c0 + 2 * k;
                    __m512 lo = c < p->c_in ? _mm512_maskz_loadu_ps(m, src + c * HW)
                                            : _mm512_setzero_ps();
                    __m512 hi = c + 1 < p->c_in ? _mm512_maskz_loadu_ps(m, src + (c + 1) * HW)
                                                : _mm512_setzero_ps();
                    r[k] = _mm512_permutexvar_epi16(inter, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
                }
                tr16x16(r);
                for (int64_t i = 0; i < np; i++)
                    _mm512_storeu_si512(dst + (pl + ix0 + i) * cp + c0, r[i]);
            }
        }
    }
}

typedef struct tile_cfg {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_cfg;

static void tiles_config(int64_t mt)
{
    tile_cfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) {
        c.colsb[t] = 64;
        c.rows[t] = (uint8_t)(t < 6 ? mt : 16);
    }
    _tile_loadconfig(&c);
}

typedef struct epi {
    const cq_conv2d_params *p;
    int64_t P, mt;
    const float *bias_pad;
    float *y;
    const float *res;
} epi;

/* Sums s (mt rows x 16 channels, 64-byte rows) of pixels m.. and channels
 * co.. into y. */
static void epilogue(const epi *e, const float *s, int64_t m, int64_t co)
{
    const cq_conv2d_params *p = e->p;
    int64_t cw = p->c_out - co < 16 ? p->c_out - co : 16;
    if (cw <= 0)
        return;
    __m512 bv = _mm512_loadu_ps(e->bias_pad + co);
    if (p->y_blocked) {
        float *yl = e->y + (co / 16 * e->P + m) * 16;
        const float *rl = e->res ? e->res + (co / 16 * e->P + m) * 16 : NULL;
        for (int64_t i = 0; i < e->mt; i++) {
            __m512 v = _mm512_add_ps(_mm512_loadu_ps(s + 16 * i), bv);
            if (rl)
                v = _mm512_add_ps(v, _mm512_loadu_ps(rl + 16 * i));
            _mm512_storeu_ps(yl + 16 * i, act16(p->act, v));
        }
        return;
    }
    /* NCHW: bias and activation in place, then one masked gather per channel */
    float t[256];
    for (int64_t i = 0; i < e->mt; i++)
        _mm512_storeu_ps(t + 16 * i, act16(p->act, _mm512_add_ps(_mm512_loadu_ps(s + 16 * i), bv)));
    __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3,
                                                      2, 1, 0),
                                     _mm512_set1_epi32(16));
    __mmask16 pm = (__mmask16)((1u << e->mt) - 1u);
    for (int64_t j = 0; j < cw; j++)
        _mm512_mask_storeu_ps(e->y + (co + j) * e->P + m, pm,
                              _mm512_mask_i32gather_ps(_mm512_setzero_ps(), pm, idx, t + j, 4));
}

/* The sums of pixel chunks a0 (and a1 when two) x channel tiles ct (and ct +
 * 1 when two) over every k step, then the epilogue. a: the chunks' A bases
 * at tap 0, channel 0; ld the A row stride in bytes. */
AI void block(const int two_m, const int two_n, const uint16_t *a0, const uint16_t *a1,
              int64_t ld, const uint16_t *wp, int64_t nct, const int64_t *aoff, int64_t nsteps,
              float *sb, const epi *e, int64_t m0, int64_t m1, int64_t ct)
{
    _tile_zero(0);
    if (two_n)
        _tile_zero(1);
    if (two_m) {
        _tile_zero(2);
        if (two_n)
            _tile_zero(3);
    }
    for (int64_t s = 0; s < nsteps; s++) {
        const uint16_t *b = wp + (s * nct + ct) * 512;
        _tile_loadd(4, a0 + aoff[s], ld);
        _tile_loadd(6, b, 64);
        _tile_dpbf16ps(0, 4, 6);
        if (two_n) {
            _tile_loadd(7, b + 512, 64);
            _tile_dpbf16ps(1, 4, 7);
        }
        if (two_m) {
            _tile_loadd(5, a1 + aoff[s], ld);
            _tile_dpbf16ps(2, 5, 6);
            if (two_n)
                _tile_dpbf16ps(3, 5, 7);
        }
    }
    _tile_stored(0, sb, 64);
    if (two_n)
        _tile_stored(1, sb + 256, 64);
    if (two_m) {
        _tile_stored(2, sb + 512, 64);
        if (two_n)
            _tile_stored(3, sb + 768, 64);
    }
    epilogue(e, sb, m0, ct * 16);
    if (two_n)
        epilogue(e, sb + 256, m0, ct * 16 + 16);
    if (two_m) {
        epilogue(e, sb + 512, m1, ct * 16);
        if (two_n)
            epilogue(e, sb + 768, m1, ct * 16 + 16);
    }
}

static void block_any(int two_m, int two_n, const uint16_t *a0, const uint16_t *a1, int64_t ld,
                      const uint16_t *wp, int64_t nct, const int64_t *aoff, int64_t nsteps,
                      float *sb, const epi *e, int64_t m0, int64_t m1, int64_t ct)
{
    if (two_m && two_n)
        block(1, 1, a0, a1, ld, wp, nct, aoff, nsteps, sb, e, m0, m1, ct);
    else if (two_m)
        block(1, 0, a0, a1, ld, wp, nct, aoff, nsteps, sb, e, m0, m1, ct);
    else if (two_n)
        block(0, 1, a0, a1, ld, wp, nct, aoff, nsteps, sb, e, m0, m1, ct);
    else
        block(0, 0, a0, a1, ld, wp, nct, aoff, nsteps, sb, e, m0, m1, ct);
}

void cq__convamx_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                     const uint16_t *wp, const float *bias_pad, float *y, const float *res,
                     void *scratch, int part, int nparts)
{
    grid g;
    make_grid(p, oh, ow, &g);
    int64_t khw = p->kh * p->kw, ncc = g.cpad / 32, nsteps = khw * ncc;
    int64_t nct = (p->c_out + 31) / 32 * 2, nct_used = (p->c_out + 15) / 16;
    /* fewer rows a group where that shares them out better (a smaller copy:
     * sb below moves down, inside the scratch) */
    cq__grid_share sh;
    cq__share_grid(oh, g.rows, (nct_used + 1) / 2, 0, part, nparts, &sh);
    g.rows = sh.rows;
    g.gh = (g.rows - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
    uint16_t *buf = scratch;
    float *sb = (float *)((char *)scratch + round64((size_t)(2 * g.gh * g.wpad * g.cpad)));
    int64_t aoff_stack[MAX_STEPS], *aoff = aoff_stack;
    if (nsteps > MAX_STEPS)
        return; /* cq__convamx_applies keeps K below this */
    for (int64_t s = 0; s < nsteps; s++) {
        int64_t tap = s / ncc, cc = s % ncc, ky = tap / p->kw, kx = tap % p->kw;
        aoff[s] = (ky * p->dil_h * g.wpad + kx * p->dil_w) * g.cpad + cc * 32;
    }
    int64_t ga = sh.ga, gb = sh.gb, ja = sh.ja, jb = sh.jb;
    if (ga >= gb || ja >= jb)
        return;
    epi e = {p, oh * ow, g.mt, bias_pad, y, res};
    int64_t ld = p->stride_w * g.cpad * 2;
    tiles_config(g.mt);
    for (int64_t g0 = ga * g.rows; g0 < oh && g0 < gb * g.rows; g0 += g.rows) {
        int64_t rows = oh - g0 < g.rows ? oh - g0 : g.rows, nch = rows * g.nq;
        fill_group(p, x, g0, &g, buf);
        for (int64_t jp = ja; jp < jb; jp++) {
            int64_t ct = 2 * jp;
            int two_n = ct + 1 < nct_used;
            for (int64_t u = 0; u < nch; u += 2) {
                int two_m = u + 1 < nch;
                int64_t m[2];
                const uint16_t *a[2];
                for (int k = 0; k < 1 + two_m; k++) {
                    int64_t r = (u + k) / g.nq, q = (u + k) % g.nq;
                    int64_t ox0 = q * g.mt + g.mt > ow ? ow - g.mt : q * g.mt;
                    m[k] = (g0 + r) * ow + ox0;
                    a[k] = buf + (r * p->stride_h * g.wpad + ox0 * p->stride_w) * g.cpad;
                }
                block_any(two_m, two_n, a[0], two_m ? a[1] : a[0], ld, wp, nct, aoff, nsteps,
                          sb, &e, m[0], two_m ? m[1] : m[0], ct);
            }
        }
    }
    _tile_release();
}

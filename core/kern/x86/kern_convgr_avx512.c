/* kern_convgr_avx512.c - grouped convolutions of a few channels a group
 * (RegNet's 8, ResNeXt's) on NCHW, direct, with pixels in lanes:
 *   y (g cog + o, oy, ox) = sum_{i, ky, kx} w (g cog + o, i, ky, kx)
 *                           x (g cig + i, s oy - pt + ky, s ox - pl + kx).
 * The im2col + sgemm path it replaces wrote each group's column matrix (kh kw
 * times its input) and ran an 8-row GEMM on it: RegNetY-400MF's grouped 3x3
 * layers reached 16-33 GFLOP/s, half the model's time (bench/NOTES.md).
 *
 * Per group, its cig input planes are copied once into a zero-padded
 * buffer, split into s x s phase planes (row parity, column parity at stride
 * 2; one plane at stride 1) of hq x wq floats, so that the input of tap (ky,
 * kx) under output (oy, ox) is phase (ky % s, kx % s) at flat index
 * (oy + ky / s) wq + ox + kx / s: the output's flat index q = oy wq + ox
 * plus a constant per tap. The tiles then run over q in 16-lane vectors
 * across rows (the columns ox >= ow are computed and dropped: wq / ow of the
 * lanes used), 8 output channels x up to 3 vectors (24 accumulators): per
 * (i, ky, kx) 3 loads of x and 8 weights broadcast, 24 FMAs; then bias and
 * activation in the registers. The sums go to a flat scratch (cog, oh wq),
 * and the copy-out stores the valid columns (with a fused residual: adds it,
 * then applies the activation). Shares are runs of groups. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kern/kern_internal.h"
#include "kern/x86/kern_act_avx512.h"

#define OCT 8  /* output channels a tile */
#define NVT 3  /* 16-lane vectors a tile */
#define TAIL 64 /* floats past a phase plane the last vectors may read */

int cq__convgr_applies(const cq_conv2d_params *p)
{
    int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    return p->groups > 1 && cig >= 2 && cig <= 64 && cog % OCT == 0 && !p->x_blocked &&
           !p->y_blocked && p->kh <= 7 && p->kw <= 7 && p->kh * p->kw > 1 &&
           p->stride_h == p->stride_w && (p->stride_h == 1 || p->stride_h == 2) &&
           p->dil_h == 1 && p->dil_w == 1 && p->pad_top < p->kh && p->pad_left < p->kw &&
           p->pad_bottom < p->kh && p->pad_right < p->kw;
}

/* The phase planes' geometry: s x s planes of hq rows of wq floats (hq
 * covering the rows the last output row's taps read, plus one). */
typedef struct grgeo {
    int64_t s, hq, wq, plane; /* plane: floats a phase plane, TAIL included */
} grgeo;

static grgeo geo_of(const cq_conv2d_params *p, int64_t oh, int64_t ow)
{
    grgeo g;
    g.s = p->stride_h;
    int64_t wp = p->pad_left + p->w + p->pad_right, need = (ow - 1) * g.s + p->kw;
    wp = wp > need ? wp : need;
    g.wq = (wp + g.s - 1) / g.s;
    g.hq = oh + (p->kh - 1) / g.s + 1;
    g.plane = (g.hq * g.wq + TAIL + 15) / 16 * 16;
    return g;
}

static int64_t flat_len(int64_t oh, const grgeo *g) { return (oh * g->wq + 15) / 16 * 16; }

size_t cq__convgr_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow)
{
    grgeo g = geo_of(p, oh, ow);
    int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    /* the phase planes, the flat sums */
    return (size_t)(cig * g.s * g.s * g.plane + cog * flat_len(oh, &g)) * sizeof(float) + 64;
}

/* W (c_out, cig kh kw) -> wp (groups, cog / 8, cig kh kw, 8). */
void cq__convgr_pack_w(const cq_conv2d_params *p, const float *w, float *wp)
{
    int64_t cog = p->c_out / p->groups, K = p->c_in / p->groups * p->kh * p->kw;
    for (int64_t g = 0; g < p->groups; g++)
        for (int64_t og = 0; og < cog / OCT; og++)
            for (int64_t k = 0; k < K; k++)
                for (int64_t o = 0; o < OCT; o++)
                    wp[((g * (cog / OCT) + og) * K + k) * OCT + o] =
                        w[(g * cog + og * OCT + o) * K + k];
}

/* The 16 floats of x row xr (W long) at columns c0 .. c0 + 15, zeros
 * outside it; no address outside the row is formed (a row's start, c0 < 0,
 * is an expanding load from xr into lanes -c0 ..). */
static inline __m512 row16(const float *xr, int64_t W, int64_t c0)
{
    int64_t lo = c0 < 0 ? -c0 : 0, hi = W - c0 < 16 ? W - c0 : 16;
    if (hi <= lo)
        return _mm512_setzero_ps();
    __mmask16 m = (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
    return lo ? _mm512_maskz_expandloadu_ps(m, xr) : _mm512_maskz_loadu_ps(m, xr + c0);
}

/* Input plane x (h, w) into its s x s phase planes at buf (each g->plane
 * floats apart): padded row r (input row r - pt) column c (input column c
 * - pl) goes to phase (r % s, c % s), row r / s, column c / s. Every float
 * of each plane is written (zeros outside x), rows in order in 16-float
 * stores that may run past a row's wq into the next (rewritten after) or
 * into the plane's tail. */
static void fill_planes(const cq_conv2d_params *p, const grgeo *g, const float *x, float *buf)
{
    int64_t s = g->s, wq = g->wq, W = p->w, pl = p->pad_left;
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                         30);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    const __m512 z = _mm512_setzero_ps();
    int64_t plane = g->plane;
    for (int64_t r = 0; r < g->hq * s; r++) {
        int64_t iy = r - p->pad_top;
        /* phase row r % s, row r / s (s is 1 or 2: no division) */
        float *d0 = buf + (s == 2 ? ((r & 1) * 2 * plane + (r >> 1) * wq) : r * wq);
        if (iy < 0 || iy >= p->h) {
            for (int64_t ph = 0; ph < s; ph++)
                for (int64_t c = 0; c < wq; c += 16)
                    _mm512_storeu_ps(d0 + ph * plane + c, z);
            continue;
        }
        const float *xr = x + iy * W;
        if (s == 1) {
            /* the vectors wholly inside the row as plain loads */
            for (int64_t c = 0; c < wq; c += 16)
                _mm512_storeu_ps(d0 + c, c >= pl && c - pl + 16 <= W
                                             ? _mm512_loadu_ps(xr + c - pl)
                                             : row16(xr, W, c - pl));
            continue;
        }
        /* stride 2: padded columns 2c .. 2c + 31, split even / odd */
        float *d1 = d0 + plane;
        for (int64_t c = 0; c < wq; c += 16) {
            int64_t c0 = 2 * c - pl;
            int in = c0 >= 0 && c0 + 32 <= W;
            __m512 a = in ? _mm512_loadu_ps(xr + c0) : row16(xr, W, c0);
            __m512 b = in ? _mm512_loadu_ps(xr + c0 + 16) : row16(xr, W, c0 + 16);
            _mm512_storeu_ps(d0 + c, _mm512_permutex2var_ps(a, ev, b));
            _mm512_storeu_ps(d1 + c, _mm512_permutex2var_ps(a, od, b));
        }
    }
    /* the last vectors of the last tiles read past hq rows: zeros */
    for (int64_t ph = 0; ph < s * s; ph++)
        memset(buf + ph * g->plane + g->hq * wq, 0,
               (size_t)(g->plane - g->hq * wq) * sizeof(float));
}

/* What a tile adds to its sums: the bias of its 8 channels (NULL: none)
 * and, where no residual comes after, the activation. */
typedef struct tile_ep {
    const float *bias;
    cq_act act;
} tile_ep;

/* One tile: 8 output channels x nv vectors at flat q0 into out (stride ld
 * a channel). xb: the group's phase planes; off[k]: where input k = (i, ky,
 * kx) reads, from q; wp: the tile's (K, 8) weights. */
static inline __attribute__((always_inline)) void tile(int nv, const float *xb,
                                                       const int64_t *off, int64_t K,
                                                       const float *wp, int64_t q0, float *out,
                                                       int64_t ld, const tile_ep *ep)
{
    __m512 acc[OCT][NVT];
#pragma GCC unroll 8
    for (int o = 0; o < OCT; o++)
#pragma GCC unroll 3
        for (int v = 0; v < NVT; v++)
            acc[o][v] = _mm512_setzero_ps();
    const float *xq = xb + q0;
    for (int64_t k = 0; k < K; k++) {
        const float *xk = xq + off[k];
        __m512 a0 = _mm512_loadu_ps(xk);
        __m512 a1 = nv > 1 ? _mm512_loadu_ps(xk + 16) : a0;
        __m512 a2 = nv > 2 ? _mm512_loadu_ps(xk + 32) : a0;
        const float *wk = wp + k * OCT;
#pragma GCC unroll 8
        for (int o = 0; o < OCT; o++) {
            __m512 b = _mm512_set1_ps(wk[o]);
            acc[o][0] = _mm512_fmadd_ps(a0, b, acc[o][0]);
            if (nv > 1)
                acc[o][1] = _mm512_fmadd_ps(a1, b, acc[o][1]);
            if (nv > 2)
                acc[o][2] = _mm512_fmadd_ps(a2, b, acc[o][2]);
        }
    }
    /* bias and activation here, the activation's kind tested once a tile */
    cq_act act = ep->act;
#pragma GCC unroll 8
    for (int o = 0; o < OCT; o++) {
        __m512 bv = _mm512_set1_ps(ep->bias ? ep->bias[o] : 0.0f);
#pragma GCC unroll 3
        for (int v = 0; v < NVT; v++)
            if (v < nv)
                acc[o][v] = _mm512_add_ps(acc[o][v], bv);
    }
    if (act.kind == CQ_ACT_RELU) {
#pragma GCC unroll 8
        for (int o = 0; o < OCT; o++)
#pragma GCC unroll 3
            for (int v = 0; v < NVT; v++)
                if (v < nv)
                    acc[o][v] = _mm512_max_ps(acc[o][v], _mm512_setzero_ps());
    } else if (act.kind != CQ_ACT_NONE) {
#pragma GCC unroll 8
        for (int o = 0; o < OCT; o++)
#pragma GCC unroll 3
            for (int v = 0; v < NVT; v++)
                if (v < nv)
                    acc[o][v] = act16(act, acc[o][v]);
    }
#pragma GCC unroll 8
    for (int o = 0; o < OCT; o++)
#pragma GCC unroll 3
        for (int v = 0; v < NVT; v++)
            if (v < nv)
                _mm512_storeu_ps(out + o * ld + q0 + 16 * v, acc[o][v]);
}

static __attribute__((noinline)) void tile3(const float *xb, const int64_t *off, int64_t K,
                                            const float *wp, int64_t q0, float *out, int64_t ld,
                                            const tile_ep *ep)
{
    tile(3, xb, off, K, wp, q0, out, ld, ep);
}

static __attribute__((noinline)) void tile2(const float *xb, const int64_t *off, int64_t K,
                                            const float *wp, int64_t q0, float *out, int64_t ld,
                                            const tile_ep *ep)
{
    tile(2, xb, off, K, wp, q0, out, ld, ep);
}

static __attribute__((noinline)) void tile1(const float *xb, const int64_t *off, int64_t K,
                                            const float *wp, int64_t q0, float *out, int64_t ld,
                                            const tile_ep *ep)
{
    tile(1, xb, off, K, wp, q0, out, ld, ep);
}

void cq__convgr_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                    const float *wp, const float *bias, float *y, const float *res,
                    void *scratch, int part, int nparts)
{
    grgeo g = geo_of(p, oh, ow);
    int64_t G = p->groups, cig = p->c_in / G, cog = p->c_out / G, HW = p->h * p->w;
    int64_t taps = p->kh * p->kw, K = cig * taps, P = oh * ow, s = g.s;
    int64_t nflat = flat_len(oh, &g), nvec = nflat / 16;
    float *buf = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *flat = buf + cig * s * s * g.plane;
    /* where input k = (i, ky, kx) reads for flat output 0; at most 64
     * channels x 49 taps */
    int64_t off[64 * 49];
    for (int64_t i = 0; i < cig; i++)
        for (int64_t ky = 0; ky < p->kh; ky++)
            for (int64_t kx = 0; kx < p->kw; kx++)
                off[(i * p->kh + ky) * p->kw + kx] = (i * s * s + (ky % s) * s + kx % s) * g.plane +
                                                     (ky / s) * g.wq + kx / s;
    cq_act act = p->act;
    int64_t g0 = G * part / nparts, g1 = G * (part + 1) / nparts;
    for (int64_t gi = g0; gi < g1; gi++) {
        for (int64_t i = 0; i < cig; i++)
            fill_planes(p, &g, x + (gi * cig + i) * HW, buf + i * s * s * g.plane);
        for (int64_t og = 0; og < cog / OCT; og++) {
            const float *w = wp + (gi * (cog / OCT) + og) * K * OCT;
            float *out = flat + og * OCT * nflat;
            tile_ep ep = {bias ? bias + gi * cog + og * OCT : NULL, act};
            if (res) /* the activation after the residual, in the copy-out */
                ep.act.kind = CQ_ACT_NONE;
            int64_t v = 0;
            for (; v + 3 <= nvec; v += 3)
                tile3(buf, off, K, w, 16 * v, out, nflat, &ep);
            if (nvec - v == 2)
                tile2(buf, off, K, w, 16 * v, out, nflat, &ep);
            else if (nvec - v == 1)
                tile1(buf, off, K, w, 16 * v, out, nflat, &ep);
        }
        /* the valid columns into y (with a residual: it, then the activation) */
        for (int64_t o = 0; o < cog; o++) {
            int64_t c = gi * cog + o;
            const float *src = flat + o * nflat;
            float *yc = y + c * P;
            const float *rc = res ? res + c * P : NULL;
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox += 16) {
                    __mmask16 m = ow - ox >= 16 ? (__mmask16)0xffff
                                                : (__mmask16)((1u << (ow - ox)) - 1u);
                    __m512 val = _mm512_maskz_loadu_ps(m, src + oy * g.wq + ox);
                    if (rc)
                        val = act16_inl(act, _mm512_add_ps(
                                                 val, _mm512_maskz_loadu_ps(m, rc + oy * ow + ox)));
                    _mm512_mask_storeu_ps(yc + oy * ow + ox, m, val);
                }
        }
    }
}

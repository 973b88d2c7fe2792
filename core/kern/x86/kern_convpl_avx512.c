/* kern_convpl_avx512.c - the 3x3 stride-1 pad-1 convolution of the narrow
 * NCHW16c layers (c_out 16: U-Net's and detection necks'), with pixels in
 * lanes:
 *   y (c_out / 16, oh, ow, 16) = W (c_out, c_in 3 3) * x (c_in / 16, h, w, 16).
 * The pixel-major GEMM (kern_convpm_avx512.c) holds one pixel's 16 output
 * channels per vector, so at c_out 16 each FMA needs a broadcast of one
 * input element: one load per FMA, bound near 150 GFLOP/s (bench/NOTES.md).
 * Here a vector holds 16 consecutive output pixels of one output channel.
 * A group of output rows has its input rows copied, transposed, into a
 * zero-padded NCHW buffer (c_in, gh, wpad); the tile is 8 output channels
 * x 3 pixel vectors (24 accumulators): per (c, ky, kx) it loads the 3 input
 * vectors once and broadcasts 8 weights, 24 FMAs for 11 loads. The three
 * vectors of a tile may lie on different output rows (the group's vectors
 * in raster order, 3 at a time), so rows whose width is no multiple of 48
 * waste no tile. The tile's raw sums go to a small scratch (c_out, 48),
 * and 16x16 transposes turn each 16-pixel vector's channels back into
 * NCHW16c lines, where bias, residual and activation are applied.
 * Only c_out 16: at 32 the pixel-major GEMM's 7 x 2 tiles (two weight
 * vectors per broadcast) ran as fast or faster (bench/NOTES.md, unet2). */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kern/kern_internal.h"
#include "kern/x86/kern_act_avx512.h"
#include "kern/x86/kern_tr.h"

#define NVT 3          /* pixel vectors per tile */
#define OCT 8          /* output channels per tile */
#define LP 16          /* column of input pixel 0 in a buffer row */
#define GROUP_BYTES (256 * 1024) /* a group's input copy, kept in L2 */

int cq__convpl_applies(const cq_conv2d_params *p)
{
    return p->groups == 1 && p->x_blocked && p->y_blocked && !p->bf16 &&
           p->c_out == 16 && p->c_in % 16 == 0 && p->kh == 3 &&
           p->kw == 3 && p->stride_h == 1 && p->stride_w == 1 && p->dil_h == 1 &&
           p->dil_w == 1 && p->pad_top == 1 && p->pad_left == 1 && p->pad_bottom == 1 &&
           p->pad_right == 1 && p->w >= 16;
}

/* W (c_out, c_in, 3, 3) -> wp (c_out / 8, c_in 9, 8): each tile's 8
 * channels' weights contiguous, in the order its k loop reads them. */
void cq__convpl_pack_w(const cq_conv2d_params *p, const float *w, float *wp)
{
    int64_t K = p->c_in * 9;
    for (int64_t og = 0; og < p->c_out / OCT; og++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t o = 0; o < OCT; o++)
                wp[(og * K + k) * OCT + o] = w[(og * OCT + o) * K + k];
}

static int64_t row_wpad(int64_t ow) { return LP + (ow + 15) / 16 * 16 + 16; }

static int64_t group_rows(const cq_conv2d_params *p, int64_t oh, int64_t ow)
{
    int64_t r = GROUP_BYTES / (4 * p->c_in * row_wpad(ow)) - 2;
    r = r < 1 ? 1 : r > oh ? oh : r;
    int64_t nb = (oh + r - 1) / r;
    return (oh + nb - 1) / nb;
}

size_t cq__convpl_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow)
{
    int64_t gh = group_rows(p, oh, ow) + 2;
    return (size_t)(p->c_in * gh * row_wpad(ow) + p->c_out * NVT * 16 + 16) * sizeof(float) + 64;
}

/* Input rows g0 - 1 .. g0 - 1 + gh of x (NCHW16c) into buf (c_in, gh, wpad):
 * pixel ix of a row at column LP + ix, zeros elsewhere. */
static void fill(const cq_conv2d_params *p, const float *x, int64_t g0, int64_t gh, int64_t wpad,
                 float *buf)
{
    int64_t W = p->w, W16 = (W + 15) / 16 * 16;
    __m512 z = _mm512_setzero_ps();
    for (int64_t cb = 0; cb < p->c_in / 16; cb++)
        for (int64_t gy = 0; gy < gh; gy++) {
            int64_t iy = g0 - 1 + gy;
            float *d = buf + (cb * 16 * gh + gy) * wpad;
            if (iy < 0 || iy >= p->h) {
                for (int64_t c = 0; c < 16; c++)
                    for (int64_t i = 0; i < wpad; i += 16)
                        _mm512_storeu_ps(d + c * gh * wpad + i, z);
                continue;
            }
            const float *s = x + (cb * p->h + iy) * W * 16;
            for (int64_t c = 0; c < 16; c++) {
                _mm512_storeu_ps(d + c * gh * wpad, z);
                for (int64_t i = LP + W16; i < wpad; i += 16)
                    _mm512_storeu_ps(d + c * gh * wpad + i, z);
            }
            for (int64_t ix = 0; ix < W; ix += 16) {
                __m512 r[16];
                if (ix + 16 <= W) {
#pragma GCC unroll 16
                    for (int l = 0; l < 16; l++)
                        r[l] = _mm512_loadu_ps(s + (ix + l) * 16);
                } else {
                    for (int l = 0; l < 16; l++)
                        r[l] = ix + l < W ? _mm512_loadu_ps(s + (ix + l) * 16) : z;
                }
                cq__tr16x16_ps(r);
                for (int c = 0; c < 16; c++)
                    _mm512_storeu_ps(d + c * gh * wpad + LP + ix, r[c]);
            }
        }
}

/* One tile: 8 channels (weights wt: (c_in 9, 8)) x nv pixel vectors, vector
 * v's window at b[v] (the buffer at its output pixel 0's tap (0, 0), channel
 * 0); raw sums to t[o * 48 + 16 v]. Meanwhile the npf 64-byte lines from pf
 * (npf <= 2 c_in: of the next group's input) are prefetched, two per
 * channel. */
static inline __attribute__((always_inline)) void tile(int nv, const float *const b[NVT],
                                                       const float *wt, int64_t c_in,
                                                       int64_t cstride, int64_t wpad, float *t,
                                                       const char *pf, int64_t npf)
{
    __m512 acc[OCT][NVT];
    for (int o = 0; o < OCT; o++)
        for (int v = 0; v < NVT; v++)
            acc[o][v] = _mm512_setzero_ps();
    const float *b0 = b[0], *b1 = b[1], *b2 = b[2];
    for (int64_t c = 0; c < c_in; c++) {
        int64_t oc = c * cstride;
        if (2 * c < npf) {
            _mm_prefetch(pf + 128 * c, _MM_HINT_T1);
            _mm_prefetch(pf + 128 * c + 64, _MM_HINT_T1);
        }
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                int64_t o = oc + ky * wpad + kx;
                __m512 x0 = _mm512_loadu_ps(b0 + o);
                __m512 x1 = nv > 1 ? _mm512_loadu_ps(b1 + o) : x0;
                __m512 x2 = nv > 2 ? _mm512_loadu_ps(b2 + o) : x0;
#pragma GCC unroll 8
                for (int j = 0; j < OCT; j++) {
                    __m512 w = _mm512_set1_ps(wt[j]);
                    acc[j][0] = _mm512_fmadd_ps(w, x0, acc[j][0]);
                    if (nv > 1)
                        acc[j][1] = _mm512_fmadd_ps(w, x1, acc[j][1]);
                    if (nv > 2)
                        acc[j][2] = _mm512_fmadd_ps(w, x2, acc[j][2]);
                }
                wt += OCT;
            }
    }
    for (int o = 0; o < OCT; o++)
        for (int v = 0; v < nv; v++)
            _mm512_storeu_ps(t + o * NVT * 16 + 16 * v, acc[o][v]);
}

void cq__convpl_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                    const float *wp, const float *bias_pad, float *y, const float *res,
                    void *scratch, int part, int nparts)
{
    cq__grid_share sh;
    cq__share_grid(oh, group_rows(p, oh, ow), 1, 0, part, nparts, &sh);
    int64_t rows0 = sh.rows, gh0 = rows0 + 2, wpad = row_wpad(ow);
    int64_t P = oh * ow, K = p->c_in * 9, nvr = (ow + 15) / 16;
    int64_t ga = sh.ga, gb = sh.gb;
    float *buf = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *t = buf + p->c_in * gh0 * wpad + 16;
    cq_act act = p->act;
    for (int64_t gi = ga; gi < gb; gi++) {
        int64_t g0 = gi * rows0, rows = oh - g0 < rows0 ? oh - g0 : rows0, gh = rows + 2;
        fill(p, x, g0, gh, wpad, buf);
        /* the next group's new input rows, per 16-channel block one run of
         * lines, prefetched over this group's tiles (it reads the input
         * from memory: U-Net's skip connections, written long before) */
        int64_t iy0 = g0 + rows + 1, iy1 = g0 + rows + 1 + rows0;
        iy1 = iy1 > p->h ? p->h : iy1;
        int64_t run_lines = gi + 1 < gb && iy1 > iy0 ? (iy1 - iy0) * p->w : 0;
        int64_t pf_cb = 0, pf_at = 0;
        int64_t nvec = rows * nvr;
        for (int64_t q0 = 0; q0 < nvec; q0 += NVT) {
            int nv = nvec - q0 < NVT ? (int)(nvec - q0) : NVT;
            const float *b[NVT];
            for (int v = 0; v < NVT; v++) {
                int64_t q = q0 + (v < nv ? v : 0), r = q / nvr, xv = q % nvr;
                b[v] = buf + r * wpad + LP - 1 + 16 * xv;
            }
            for (int64_t og = 0; og < p->c_out / OCT; og++) {
                const float *wt = wp + og * K * OCT;
                float *to = t + og * OCT * NVT * 16;
                const char *pf = NULL;
                int64_t npf = 0;
                if (pf_cb < p->c_in / 16 && run_lines) {
                    npf = run_lines - pf_at < 2 * p->c_in ? run_lines - pf_at : 2 * p->c_in;
                    pf = (const char *)(x + (pf_cb * p->h + iy0) * p->w * 16) + 64 * pf_at;
                    pf_at += npf;
                    if (pf_at == run_lines) {
                        pf_cb++;
                        pf_at = 0;
                    }
                }
                if (nv == 3)
                    tile(3, b, wt, p->c_in, gh * wpad, wpad, to, pf, npf);
                else if (nv == 2)
                    tile(2, b, wt, p->c_in, gh * wpad, wpad, to, pf, npf);
                else
                    tile(1, b, wt, p->c_in, gh * wpad, wpad, to, pf, npf);
            }
            /* each vector's 16-channel blocks back to NCHW16c lines */
            for (int v = 0; v < nv; v++) {
                int64_t q = q0 + v, r = q / nvr, xv = q % nvr;
                int64_t ox0 = 16 * xv, n = ow - ox0 < 16 ? ow - ox0 : 16;
                int64_t m0 = (g0 + r) * ow + ox0;
                for (int64_t cb = 0; cb < p->c_out / 16; cb++) {
                    __m512 rr[16];
                    for (int c = 0; c < 16; c++)
                        rr[c] = _mm512_loadu_ps(t + (cb * 16 + c) * NVT * 16 + 16 * v);
                    cq__tr16x16_ps(rr);
                    __m512 bv = _mm512_loadu_ps(bias_pad + 16 * cb);
                    float *yo = y + (cb * P + m0) * 16;
                    const float *ro = res ? res + (cb * P + m0) * 16 : NULL;
                    for (int64_t l = 0; l < n; l++) {
                        __m512 s = _mm512_add_ps(rr[l], bv);
                        if (ro)
                            s = _mm512_add_ps(s, _mm512_loadu_ps(ro + 16 * l));
                        _mm512_storeu_ps(yo + 16 * l, act16(act, s));
                    }
                }
            }
        }
    }
}

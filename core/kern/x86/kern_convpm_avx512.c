/* kern_convpm_avx512.c - Conv2d as a pixel-major implicit GEMM (AVX-512):
 *   C^T (pixels, c_out) = X^T (pixels, K) W^T (K, c_out),  K = c_in kh kw,
 * with no im2col matrix. The register tile is 7 pixels x pw channels (pw =
 * 16 nv, 32 or 48: up to 21 accumulators); seven pixels divide ResNet's
 * 56/28/14/7-wide rows, so no lane is wasted where the channel-major sgemm
 * loses a third of its 48-wide tile on 49 pixels. Where c_out comes in
 * 64-channel panels (flat64), the direct path's tile is 6 pixels x 64
 * channels instead, over a row group's pixels in raster order (a base
 * pointer per pixel), its W^T slices 32 KB. Output rows go in groups; per group and k
 * block, each channel panel's W^T slice (16 KB, packed once at plan time in
 * the order it is read) serves every pixel tile of the group from L1 while
 * the next slice is prefetched. With c_in >= 8 the tiles broadcast straight
 * from a zero-padded copy of the group's input rows (a table gives each
 * tap's offset); the few-channel stems pack each output row per k block
 * instead (masked loads, stride 1 or 2). Partial sums of a group's k blocks
 * stay in a scratch; the last block adds the bias, applies the activation
 * and stores through 8x8 transposes into y (NCHW). 1x1 stride-1 convs read
 * x as X^T directly (run_pointwise).
 * NCHW16c (the params' layout fields): an accumulator is one pixel's 16
 * channels of a block, stored as one line (a fused residual added from the
 * same offset); on the input side K runs (c / 16, ky, kx, c % 16), the
 * group's copy is one memcpy per row and block, and convolutions without
 * padding read x in place (reads_x), 1x1 ones included. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kern/kern_internal.h"
#include "kern/x86/kern_act_avx512.h"
#include "kern/x86/kern_convpm_x86.h"
#include "kern/x86/kern_tr.h"

#define MP 7 /* pixels per panel */
#define MP64 6 /* pixels of a 64-channel tile (flat64) */
/* how much faster flat64's 6 x 4 tiles run than 7 x 2 ones, per lane (the
 * convolutions of bench/NOTES.md, "convpm14", 6-8 %) */
#define FLAT_GAIN 1.07
#define W_BLOCK_BYTES (384 * 1024) /* k block of W^T kept in L2 */
#define MAX_CHUNKS 64 /* output rows up to 1024 wide (else the im2col path) */

/* Row stride of the packed rows: ow rounded up to whole 7-pixel panels, then
 * to whole vectors. */
static int64_t row_ld(int64_t ow) { return ((ow + MP - 1) / MP * MP + 15) / 16 * 16; }

static int64_t pw_f32(const cq_conv2d_params *p);
static int is_pointwise(const cq_conv2d_params *p);

static int no_pad(const cq_conv2d_params *p)
{
    return p->pad_top == 0 && p->pad_left == 0 && p->pad_bottom == 0 && p->pad_right == 0;
}

/* A 1x1 conv, stride 1, no padding, on NCHW: the input is already X^T's K
 * rows. (On NCHW16c the direct path reads it in place: reads_x.) */
static int is_pointwise(const cq_conv2d_params *p)
{
    return p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && no_pad(p) &&
           !p->x_blocked;
}

/* The direct path (c_in >= DIRECT_MIN_CIN or NCHW16c input) of a conv
 * whose channels come in 64-channel panels (whole, or a last one padded no
 * wider than the 32 / 48-wide panels would be): 6-pixel x 4-vector tiles
 * (24 accumulators, 10 loads to 24 FMAs against 9 to 14 for 7 x 2:
 * 205-220 GFLOP/s in L1 against 190-200), running over a row group's
 * output pixels in raster order, across rows: each pixel of a tile has its
 * own base pointer, so rows of any width fill every tile but a group's
 * last (bench/NOTES.md, "convpm14"). DIRECT_MIN_CIN: c_in from which the
 * tiles read the padded input directly (see cq__convpm_run); below, the
 * stems pack rows per k block. */
#ifndef DIRECT_MIN_CIN
#define DIRECT_MIN_CIN 8
#endif
static int flat64(const cq_conv2d_params *p)
{
    int64_t oh, ow;
    cq_err ignored; /* a bad shape: cq__convpm_applies refuses it */
    /* c_out in whole 64-channel panels, or a last panel no emptier than the
     * 32 / 48-wide panels would leave (112, 120, 184: the same padded width,
     * the faster tile) */
    int64_t pw = cq__convpm_pw(p->c_out), n64 = (p->c_out + 63) / 64 * 64;
    if (p->c_out <= 16 || n64 != (p->c_out + pw - 1) / pw * pw || is_pointwise(p) ||
        (p->c_in < DIRECT_MIN_CIN && !p->x_blocked) ||
        cq_conv2d_out_shape(p, &oh, &ow, &ignored) != CQ_OK)
        return 0;
    /* the 7 x 2 tiles where the flat ones would waste 7 % more lanes than
     * they run faster: 7x7 maps (49 pixels in 9 tiles of 6, ResNet's last
     * stage 4-5 % slower) */
    double P = (double)(oh * ow), rows = (double)ow / (double)((ow + MP - 1) / MP * MP);
    return P / (double)((oh * ow + MP64 - 1) / MP64 * MP64) * FLAT_GAIN > rows;
}

/* NCHW16c input without padding, whole 7-pixel tiles per row (or the flat
 * tiles, which read no pixel past ow): the direct path broadcasts from x
 * itself, no copy of the group's rows (no tile reads past a row, so none
 * past x). */
static int reads_x(const cq_conv2d_params *p, int64_t ow)
{
    return p->x_blocked && no_pad(p) && (ow % MP == 0 || flat64(p));
}

int cq__convpm_applies(const cq_conv2d_params *p)
{
    int64_t oh, ow;
    cq_err ignored; /* a bad shape: does not apply */
    if (p->groups != 1 || cq_conv2d_out_shape(p, &oh, &ow, &ignored) != CQ_OK ||
        (p->x_blocked && p->c_in % 16) || (p->y_blocked && p->c_out % 16))
        return 0;
    int64_t P = oh * ow, pw = pw_f32(p);
    /* lanes used by the channel-major sgemm (8 x 48 tiles, its last tile
     * 16-column vectors), the 1x1 convolutions' other kernel */
    double cm = (double)P / (double)((P + 15) / 16 * 16) * (double)p->c_out /
                (double)((p->c_out + 7) / 8 * 8);
    double chan = (double)p->c_out / (double)((p->c_out + pw - 1) / pw * pw);
    if (p->x_blocked) {
        /* every shape the direct path takes, 1x1 included (in place), but
         * 1x1 only where its 7-pixel tiles along each row waste no more
         * lanes than the sgemm would (BlazeFace's 8x8 maps use 8 of 14 and
         * run slower this way: bench/NOTES.md, seventh round) */
        if ((p->stride_w != 1 && p->stride_w != 2) || p->kw > 16)
            return 0;
        double rows = (double)ow / (double)((ow + MP - 1) / MP * MP) * chan;
        if (flat64(p)) { /* the faster tile across rows (MobileNetV3's 672 > 112 at 14x14) */
            /* a last panel of 33-48 channels runs 6 x 48 tiles */
            int64_t rem = p->c_out % 64;
            int64_t last = rem == 0 ? 0 : rem > 32 && rem <= 48 ? 48 : 64;
            double c64 = (double)p->c_out / (double)(p->c_out - rem + last);
            rows = (double)P / (double)((P + MP64 - 1) / MP64 * MP64) * c64 * FLAT_GAIN;
        }
        return p->kh > 1 || p->kw > 1 || rows >= cm - 0.02 || (p->c_out < 16 && !p->y_blocked);
    }
    if (is_pointwise(p)) {
        /* pixel-major only where it wastes fewer lanes, e.g. 7x7 maps (49
         * pixels: 49 / 64 used vs 49 / 49) */
        double pm = (double)P / (double)((P + MP - 1) / MP * MP) * chan;
        return pm > cm + 0.02;
    }
    if (row_ld(ow) > 16 * MAX_CHUNKS)
        return 0;
    /* (1x1 stride 2 on NCHW stays with im2col + sgemm, faster on ResNet's
     * projections: the direct path would copy the rows the stride skips;
     * bench/NOTES.md, third round (c)) */
    return (p->stride_w == 1 || p->stride_w == 2) && p->kw <= 16 && (p->kh > 1 || p->kw > 1);
}

/* Panel width in channels: 48 or 32, whichever pads c_out least (ties:
 * PW_TIE). 64 would need 28 accumulators + 4 B vectors + the broadcast: one
 * more register than AVX-512 has (GCC spills an accumulator). */
#ifndef PW_TIE
#define PW_TIE 48
#endif
int64_t cq__convpm_pw(int64_t c_out)
{
    int64_t w48 = (c_out + 47) / 48 * 48 - c_out, w32 = (c_out + 31) / 32 * 32 - c_out;
    return w48 < w32 ? 48 : w32 < w48 ? 32 : PW_TIE;
}

/* The panel of this file's f32 paths: 64 channels for flat64's tiles; one
 * vector where c_out fits in one
 * (U-Net's and detection necks' 16-channel layers). A 32-wide panel there
 * halved the k block a 16 KB W^T slice holds (partial sums twice as often)
 * and made the 1x1 convolutions on NCHW16c count half their lanes wasted,
 * so they converted to NCHW instead (bench/NOTES.md, fp32 zoo third round).
 * Within npad of cq__convpm_pw, what kern_conv.c allocates. */
static int64_t pw_f32(const cq_conv2d_params *p)
{
    return flat64(p) ? 64 : p->c_out <= 16 ? 16 : cq__convpm_pw(p->c_out);
}

static int64_t kblock(int64_t k, int64_t npad)
{
    int64_t kc = W_BLOCK_BYTES / 4 / npad;
    kc = kc < 32 ? 32 : kc;
    if (kc >= k)
        return k;
    /* even blocks */
    int64_t nb = (k + kc - 1) / kc;
    return (k + nb - 1) / nb;
}

/* Non-pointwise blocking: k blocks whose W^T slice of one channel panel
 * (kc, pw) stays in L1 while every pixel tile of a group of output rows uses
 * it, and groups of rows whose packed rows (rows, kc, ldx) stay in L2. The
 * slice is 16 KB so that it and the next one, prefetched meanwhile, both fit
 * the 48 KB L1 with the input; at 32 KB the prefetches evict the slice in
 * use (bench/NOTES.md, third round (c)). flat64's 6 x 64 tiles do better
 * with 32 KB (128 rows: half the partial sums and tile set-ups of 64 rows;
 * 6-8 % faster on 56x56 to 14x14 maps, bench/NOTES.md, "convpm14"), and
 * better still with no k blocks at all where the layer's packed W^T fits
 * W_WHOLE_BYTES (its panels then stream from L2 tile after tile, and no
 * partial sums are stored and read back): ResNet-18's 3x3 layers on 56x56
 * and 28x28 maps 203 -> 216 GFLOP/s. Larger weights keep the 32 KB blocks:
 * whole, ResNet-50's 14x14 layers (2.4 MB of W^T, from L3 in the model)
 * ran 4-7 % slower (bench/NOTES.md, session 20). The 7 x 32 / 48 tiles take
 * whole K only where it is short (K <= WHOLE_SHORT_K, two 16 KB blocks at most:
 * MobileNetV3's 112 > 672 at 14x14 0.151 -> 0.144 ms); MobileNetV2's 960 > 160
 * at 7x7 ran 5 % slower with its 614 KB whole. */
#ifndef W_PANEL_BYTES
#define W_PANEL_BYTES (16 * 1024)
#endif
#ifndef W_PANEL64_BYTES
#define W_PANEL64_BYTES (32 * 1024)
#endif
#ifndef W_WHOLE_BYTES
#define W_WHOLE_BYTES (640 * 1024)
#endif
#ifndef WHOLE_SHORT_K
#define WHOLE_SHORT_K 256
#endif
#ifndef XP_GROUP_BYTES
#define XP_GROUP_BYTES (384 * 1024)
#endif
#ifndef PF_HINT
#define PF_HINT _MM_HINT_T0
#endif
static int64_t even_split(int64_t n, int64_t most)
{
    int64_t nb = (n + most - 1) / most;
    return (n + nb - 1) / nb;
}

/* Rows of the k blocks W^T is packed in: K for a pointwise conv (its own
 * blocking reads across them); kblock's L2-sized blocks for the
 * few-channel stems (K <= 1536 in one block: their packed rows are the cost,
 * not W^T); else the L1-sized blocks of the row grid. */
static int64_t packed_kc(const cq_conv2d_params *p)
{
    int64_t K = p->c_in * p->kh * p->kw, pw = pw_f32(p);
    int64_t most = (flat64(p) ? W_PANEL64_BYTES : W_PANEL_BYTES) / 4 / pw;
    if (is_pointwise(p))
        return K;
    if (p->c_in < DIRECT_MIN_CIN && !p->x_blocked)
        return kblock(K, (p->c_out + pw - 1) / pw * pw);
    if (flat64(p) && 4 * K * ((p->c_out + 63) / 64 * 64) <= W_WHOLE_BYTES)
        return K;
    if (!flat64(p) && K <= WHOLE_SHORT_K &&
        4 * K * ((p->c_out + pw - 1) / pw * pw) <= W_WHOLE_BYTES)
        return K;
    return even_split(K, most < 16 ? 16 : most);
}

/* What kern_convpm_pack_avx512.c packs W^T by (kern_internal.h). */
int64_t cq__convpm_pack_pw(const cq_conv2d_params *p) { return pw_f32(p); }
int64_t cq__convpm_pack_kc(const cq_conv2d_params *p) { return packed_kc(p); }

typedef struct tile_args {
    int64_t kc;
    const float *xp;  /* (kc, ldx): broadcast xp[t * ldx + i], i < MP */
    int64_t ldx;
    const float *wp;  /* (kc, pw) */
    int64_t pw;
    float *ct;        /* partial sums at (pixel m0, channel j0); NULL: none */
    int64_t cti, ctj; /* their strides per pixel and per 16 channels: npad and
                       * 16 in scratch, 16 and 16 P in a NCHW16c y */
    int64_t npad;
    int first, fin;
    float *y;         /* fin: y + j0 * P + m0 (yb: y + j0 * P + 16 m0) */
    int yb;           /* y is NCHW16c: channel c of pixel m at y[(c / 16 * P + m) * 16 + c % 16] */
    const float *res; /* yb: a residual added before the activation, indexed as y; or NULL */
    int64_t P, mr, cw; /* valid pixels, valid channels */
    const float *bias; /* fin: npad entries from j0 */
    cq_act act;
    float *tmp;       /* 64 * MP floats */
    const float *pf;  /* prefetch the npf 64-byte lines from pf (of the next W^T slice) */
    int64_t npf;
    const int64_t *off; /* direct: broadcast xp[off[t] + sw i] instead */
    const int64_t *pix; /* flat: pixel i's tap t at xp[pix[i] + off[t]], i < mr */
} tile_args;

/* The fields of a k block's tiles that do not change from tile to tile
 * (the rest, zero here, each path sets per panel or tile). */
static tile_args tile_init(const cq_conv2d_params *p, int64_t k0, int64_t kc, int64_t K,
                           int64_t pw, int64_t npad, int64_t P, float *tmp)
{
    tile_args a;
    memset(&a, 0, sizeof a);
    a.yb = p->y_blocked;
    a.cti = npad;
    a.ctj = 16;
    a.kc = kc;
    a.pw = pw;
    a.npad = npad;
    a.first = k0 == 0;
    a.fin = k0 + kc == K;
    a.P = P;
    a.act = p->act;
    a.tmp = tmp;
    return a;
}

/* Always inlined per nv, sw and mp (pixels) so the k loop has no branch on
 * them. sw 0: packed rows (xp[t * ldx + i]); sw > 0: straight from the
 * padded input, pixel i of tap t at xp[off[t] + sw i]; sw < 0: at
 * xb[i][off[t]] (flat64). */
static inline __attribute__((always_inline)) void tile(int nv, int sw, int mp, const tile_args *a)
{
    __m512 acc[MP][4];
    /* vectors holding channels below c_out (a flat64 panel's last may hold
     * fewer than nv): only those are loaded and stored */
    int nvs = (int)((a->cw + 15) / 16) < nv ? (int)((a->cw + 15) / 16) : nv;
    /* (a short last tile of a group repeats its last pixel) */
    const float *xb[MP64];
#pragma GCC unroll 6
    for (int i = 0; i < MP64; i++)
        xb[i] = sw < 0 ? a->xp + a->pix[i < a->mr ? i : a->mr - 1] : NULL;
#pragma GCC unroll 7
    for (int i = 0; i < mp; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            acc[i][j] = !a->first && j < nvs && i < a->mr
                            ? _mm512_loadu_ps(a->ct + i * a->cti + j * a->ctj)
                            : _mm512_setzero_ps();
    const float *xp = a->xp, *wp = a->wp;
    int64_t pw = a->pw, ldx = a->ldx;
    const int64_t *off = a->off;
    /* one k step: row t of the W^T slice times the tap-t values of the
     * tile's pixels */
#define TILE_STEP(t)                                                                         \
    do {                                                                                     \
        const float *xr = sw > 0 ? xp + off[t] : sw < 0 ? NULL : xp + (t) * ldx;            \
        int64_t ot = sw < 0 ? off[t] : 0;                                                    \
        __m512 b0 = _mm512_loadu_ps(wp + (t) * pw);                                          \
        __m512 b1 = nv > 1 ? _mm512_loadu_ps(wp + (t) * pw + 16) : b0;                       \
        __m512 b2 = nv > 2 ? _mm512_loadu_ps(wp + (t) * pw + 32) : b0;                       \
        __m512 b3 = nv > 3 ? _mm512_loadu_ps(wp + (t) * pw + 48) : b0;                       \
        _Pragma("GCC unroll 7") for (int i = 0; i < mp; i++)                                 \
        {                                                                                    \
            __m512 av = _mm512_set1_ps(sw < 0 ? xb[i][ot] : xr[(sw > 0 ? sw : 1) * i]);      \
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);                                  \
            if (nv > 1)                                                                      \
                acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);                              \
            if (nv > 2)                                                                      \
                acc[i][2] = _mm512_fmadd_ps(av, b2, acc[i][2]);                              \
            if (nv > 3)                                                                      \
                acc[i][3] = _mm512_fmadd_ps(av, b3, acc[i][3]);                              \
        }                                                                                    \
    } while (0)
    /* the steps that also prefetch a line of the next slice (one per step,
     * not a row's lines at once, whose burst of misses stalls the loop:
     * bench/NOTES.md, third round (c)), then the rest (no test per step) */
    int64_t nl = a->npf, t = 0, lps = nl > a->kc ? (nl + a->kc - 1) / a->kc : 1;
    for (; t < a->kc && t * lps < nl; t++) {
        for (int64_t j = 0; j < lps; j++)
            _mm_prefetch((const char *)(a->pf + 16 * (t * lps + j)), PF_HINT);
        TILE_STEP(t);
    }
    for (; t < a->kc; t++)
        TILE_STEP(t);
#undef TILE_STEP
    if (!a->fin) {
#pragma GCC unroll 7
        for (int i = 0; i < mp; i++)
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                if (j < nvs && i < a->mr)
                    _mm512_storeu_ps(a->ct + i * a->cti + j * a->ctj, acc[i][j]);
        return;
    }
    /* the activations with an exp: the sums stored bare, then one pass over
     * the tile (act_exp_tile) */
    cq_act act = a->act;
    int ex = act.kind >= CQ_ACT_SIGMOID;
    if (ex)
        act.kind = CQ_ACT_NONE;
    if (a->yb) {
        /* NCHW16c: each accumulator is one pixel's 16 channels of a block */
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            if (j >= nvs)
                break;
            __m512 bv = _mm512_loadu_ps(a->bias + 16 * j);
            float *yj = a->y + 16 * j * a->P;
            const float *rj = a->res ? a->res + 16 * j * a->P : NULL;
#pragma GCC unroll 7
            for (int i = 0; i < mp; i++)
                if (i < a->mr) {
                    __m512 v = _mm512_add_ps(acc[i][j], bv);
                    if (rj)
                        v = _mm512_add_ps(v, _mm512_loadu_ps(rj + 16 * i));
                    _mm512_storeu_ps(yj + 16 * i, act16(act, v));
                }
        }
        if (ex)
            act_exp_tile(a->act, a->y, 16 * a->P, nvs, 16 * (int64_t)a->mr);
        return;
    }
    /* bias, activation, then transposed into y: tmp (MP, 64) -> y rows */
    float *tmp = a->tmp;
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        if (j >= nvs)
            break;
        __m512 bv = _mm512_loadu_ps(a->bias + 16 * j);
#pragma GCC unroll 7
        for (int i = 0; i < mp; i++)
            _mm512_storeu_ps(tmp + i * 64 + 16 * j, act16(act, _mm512_add_ps(acc[i][j], bv)));
    }
    if (ex)
        act_exp_tile(a->act, tmp, 64, mp, 16 * (int64_t)nvs);
    /* 8 channels at a time: an 8x8 transpose of tmp rows (row 7 unused),
     * much cheaper than one gather per channel (bench/NOTES.md, first round,
     * and "Kernel comments moved here") */
    __mmask8 pm = (__mmask8)((1u << a->mr) - 1u);
    int64_t c = 0;
    for (; c + 8 <= a->cw; c += 8) {
        __m256 r[8];
        for (int i = 0; i < mp; i++)
            r[i] = _mm256_loadu_ps(tmp + i * 64 + c);
        for (int i = mp; i < 8; i++)
            r[i] = _mm256_setzero_ps();
        cq__tr8x8_ps(r); /* r[j]: channel c + j of the tile's pixels */
        for (int j = 0; j < 8; j++)
            _mm256_mask_storeu_ps(a->y + (c + j) * a->P, pm, r[j]);
    }
    __m256i idx = _mm256_setr_epi32(0, 64, 128, 192, 256, 320, 384, 0);
    for (; c < a->cw; c++)
        _mm256_mask_storeu_ps(a->y + c * a->P, pm, _mm256_i32gather_ps(tmp + c, idx, 4));
}

/* The channel panels [ja, jb) of the pixel panel at m0 (a: kc, xp, ldx, mr
 * set); pf0: whether to prefetch the next panel's slice (the first pixel
 * panel of a share). */
static void panel(tile_args *a, int64_t c_out, int64_t ja, int64_t jb, int64_t K, int64_t k0,
                  const float *wp, float *ct, float *y, const float *res, const float *bias_pad,
                  int64_t m0, int pf0)
{
    int64_t pw = a->pw;
    for (int64_t j0 = ja; j0 < jb; j0 += pw) {
        int64_t cw = c_out - j0 < pw ? c_out - j0 : pw;
        int nv = (int)((cw + 15) / 16);
        a->wp = wp + j0 * K + k0 * pw;
        /* On the first pixel panel, the next channel panel's slice, a share
         * per k step: it comes from memory (the weights of MobileNetV2's 7x7
         * layers, 0.6-1.6 MB, are evicted between runs). The later pixel
         * panels find the k block in L2, and prefetching on every pixel
         * panel is slower (bench/NOTES.md, fourth round, "Cold weights"). */
        a->pf = pf0 && j0 + pw < jb ? wp + (j0 + pw) * K + k0 * pw : NULL;
        a->npf = a->pf ? a->kc * pw / 16 : 0;
        a->ct = ct ? ct + m0 * a->npad + j0 : NULL;
        a->y = y + j0 * a->P + (a->yb ? 16 * m0 : m0);
        a->res = res ? res + j0 * a->P + 16 * m0 : NULL;
        a->cw = cw;
        a->bias = bias_pad + j0;
        if (nv == 4)
            tile(4, 0, MP, a);
        else if (nv == 3)
            tile(3, 0, MP, a);
        else if (nv == 2)
            tile(2, 0, MP, a);
        else
            tile(1, 0, MP, a);
    }
}

static void run_pointwise(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                          const float *wp, const float *bias_pad, float *y, const float *res,
                          void *scratch, int part, int nparts)
{
    int64_t K = p->c_in, pw = pw_f32(p);
    int64_t npad = (p->c_out + pw - 1) / pw * pw, kc0 = kblock(K, npad), P = oh * ow;
    /* units of MP pixels; the weights K x npad, the input K x P */
    cq__grid_rect rc[3];
    int64_t one;
    int nrc = cq__share_cells((P + MP - 1) / MP, 1, npad / pw, 0, 1, part, nparts, rc, &one);
    float *xp = scratch;
    size_t xpb = ((size_t)(kc0 * row_ld(ow)) * sizeof(float) + 63) / 64 * 64;
    float *ct = kc0 < K ? (float *)((char *)scratch + xpb) : NULL;
    float *tmp = (float *)((char *)scratch + xpb) + (ct ? P * npad : 0);
    for (int64_t k0 = 0; k0 < K; k0 += kc0) {
        int64_t kc = K - k0 < kc0 ? K - k0 : kc0;
        tile_args a = tile_init(p, k0, kc, K, pw, npad, P, tmp);
        /* panels straight from x (K rows of P pixels); the last partial
         * panel is copied with zeros so no lane reads past x */
        for (int q = 0; q < nrc; q++)
            for (int64_t m0 = rc[q].ra * MP; m0 < P && m0 < rc[q].rb * MP; m0 += MP) {
                a.mr = P - m0 < MP ? P - m0 : MP;
                a.ldx = P;
                a.xp = x + k0 * P + m0;
                if (a.mr < MP) {
                    __mmask16 mk = (__mmask16)((1u << a.mr) - 1u);
                    for (int64_t t = 0; t < kc; t++)
                        _mm512_storeu_ps(xp + t * 16,
                                         _mm512_maskz_loadu_ps(mk, x + (k0 + t) * P + m0));
                    a.ldx = 16;
                    a.xp = xp;
                }
                panel(&a, p->c_out, rc[q].ja * pw, rc[q].jb * pw, K, k0, wp, ct, y, res,
                      bias_pad, m0, m0 == rc[q].ra * MP);
            }
    }
}

/* The direct path (c_in >= DIRECT_MIN_CIN; the few-channel stems keep the
 * packed rows): per group of output rows, the input rows under it, zero
 * padded, are copied once into a (c_in, gh, wp) buffer, and the tiles
 * broadcast straight from it through a table of tap offsets. There is no
 * per-k-block row packing, whose stores miss L1 (bench/NOTES.md, third
 * round (c)). */
#ifndef DIRECT_GROUP_BYTES
#define DIRECT_GROUP_BYTES (448 * 1024)
#endif
/* weights past L2 come from L3 once per group: larger groups (ResNet-50's
 * 3x3 stride 2 on 14x14, 9.4 MB: 2 groups -> 1, 2.0 -> 1.7 ms) */
#ifndef BIG_W_BYTES
#define BIG_W_BYTES (2 * 1024 * 1024)
#endif
#ifndef BIG_W_GROUP_BYTES
#define BIG_W_GROUP_BYTES (768 * 1024)
#endif
#ifndef INPLACE_GROUP_BYTES
#define INPLACE_GROUP_BYTES (1024 * 1024)
#endif
typedef struct grid {
    int64_t kc, rows;     /* k block, output rows per group */
    int direct;
    int inplace;          /* direct on x itself (reads_x): no buffer, gh = h, wpad = w */
    int64_t gh, wpad;     /* direct: buffer rows per channel, row length */
    size_t buf_floats;    /* packed rows or the padded input of one group */
    int partial;          /* more than one k block: partial sums */
    size_t ct_floats;     /* their scratch for one group (0: none). Sized whatever
                           * y's layout: a plan made for NCHW16c may run into NCHW
                           * (kern_conv.c's unfused pool), where they need it */
} grid;

static void make_grid(const cq_conv2d_params *p, int64_t oh, int64_t ow, grid *g)
{
    int64_t K = p->c_in * p->kh * p->kw, pw = pw_f32(p);
    int64_t npad = (p->c_out + pw - 1) / pw * pw, kc = packed_kc(p);
    g->kc = kc;
    g->direct = p->c_in >= DIRECT_MIN_CIN || p->x_blocked;
    g->inplace = reads_x(p, ow);
    if (!g->direct) {
        int64_t r = XP_GROUP_BYTES / 4 / (kc * row_ld(ow));
        g->rows = even_split(oh, r < 1 ? 1 : r);
        g->gh = g->wpad = 0;
        g->buf_floats = (size_t)(g->rows * kc * row_ld(ow));
    } else {
        int64_t span_w = ((ow + MP - 1) / MP * MP - 1) * p->stride_w +
                         (p->kw - 1) * p->dil_w + 1;
        int64_t wp = p->pad_left + p->w + p->pad_right;
        g->wpad = wp > span_w ? wp : span_w;
        /* A group's copy of all c_in channels' rows stays in L2 over its k
         * blocks. Read in place there is no copy: what a k block reads is
         * its kc channels' rows, and the group's partial sums; a larger
         * group streams W^T fewer times (once a group: ResNet-50's 7x7
         * layers read 2-8 MB of weights, from L3) */
        int64_t r = 1, cin = g->inplace ? kc : p->c_in;
        int64_t most = g->inplace ? INPLACE_GROUP_BYTES
                       : 4 * K * npad > BIG_W_BYTES ? BIG_W_GROUP_BYTES
                                                    : DIRECT_GROUP_BYTES;
        for (int64_t t = 2; t <= oh; t++) {
            int64_t gh = (t - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
            int64_t bytes = 4 * (cin * gh * g->wpad + (kc < K ? t * ow * npad : 0));
            if (bytes > most)
                break;
            r = t;
        }
        g->rows = even_split(oh, r);
        g->gh = (g->rows - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
        g->buf_floats = g->inplace ? 0 : (size_t)(p->c_in * g->gh * g->wpad) + 16;
        if (g->inplace) {
            g->gh = p->h;
            g->wpad = p->w;
        }
    }
    g->partial = kc < K;
    g->ct_floats = g->partial ? (size_t)(g->rows * ow * npad) : 0;
}

size_t cq__convpm_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow)
{
    int64_t k = p->c_in * p->kh * p->kw, pw = pw_f32(p);
    int64_t npad = (p->c_out + pw - 1) / pw * pw;
    if (is_pointwise(p)) {
        int64_t kc = kblock(k, npad);
        size_t xp = (size_t)(kc * row_ld(ow)) * sizeof(float);
        size_t ct = kc < k ? (size_t)(oh * ow * npad) * sizeof(float) : 0;
        return (xp + 63) / 64 * 64 + ct + 64 * (size_t)MP * sizeof(float);
    }
    if (cq__convpl_applies(p))
        return cq__convpl_scratch(p, oh, ow);
    grid g;
    make_grid(p, oh, ow, &g);
    size_t head = (g.buf_floats * sizeof(float) + 63) / 64 * 64;
    return head + (g.ct_floats + 64 * (size_t)MP) * sizeof(float) +
           (g.direct ? (size_t)k * sizeof(int64_t) : 0) +
           (flat64(p) ? (size_t)(g.rows * ow) * sizeof(int64_t) : 0);
}

/* flat64's tiles in functions of their own: inlined into cq__convpm_run's
 * loops, GCC kept two of the 24 accumulators on the stack (a load and a
 * store each k step) */
static __attribute__((noinline)) void tile_flat4(const tile_args *a) { tile(4, -1, MP64, a); }
static __attribute__((noinline)) void tile_flat3(const tile_args *a) { tile(3, -1, MP64, a); }

static inline __attribute__((always_inline)) void tile_sw(int sw, int nv, const tile_args *a)
{
    if (nv == 4)
        tile(4, sw, MP, a);
    else if (nv == 3)
        tile(3, sw, MP, a);
    else if (nv == 2)
        tile(2, sw, MP, a);
    else
        tile(1, sw, MP, a);
}

/* Loop order: groups of output rows; in each, k blocks; in each, every
 * channel panel's W^T slice (kc, pw) serves all the group's pixel tiles
 * while it sits in L1. Partial sums of the group stay in a (rows * ow, npad)
 * scratch, or in y itself when it is NCHW16c. */
void cq__convpm_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                    const float *wp, const float *bias_pad, float *y, const float *res,
                    void *scratch, int part, int nparts)
{
    if (is_pointwise(p)) {
        run_pointwise(p, oh, ow, x, wp, bias_pad, y, res, scratch, part, nparts);
        return;
    }
    if (cq__convpl_applies(p)) { /* 3x3 into 16 channels: pixels in lanes */
        cq__convpl_run(p, oh, ow, x, wp, bias_pad, y, res, scratch, part, nparts);
        return;
    }
    int64_t K = p->c_in * p->kh * p->kw, pw = pw_f32(p);
    int64_t npad = (p->c_out + pw - 1) / pw * pw, P = oh * ow;
    grid g;
    make_grid(p, oh, ow, &g);
    /* flat64's tiles run across rows: no cells */
    int flat = flat64(p);
    cq__grid_rect rc[3];
    int64_t rows0;
    int nrc = cq__share_cells(oh, g.rows, npad / pw, K * npad > 2 * p->c_in * p->h * p->w, !flat,
                              part, nparts, rc, &rows0);
    int64_t kc0 = g.kc;
    if (g.direct && !g.inplace) /* the group's copy: the rows under rows0 */
        g.gh = (rows0 - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
    int64_t ldx = row_ld(ow), nq = ldx / 16;
    chunk_src cs[16 * MAX_CHUNKS];
    float *xp = scratch;
    size_t head = (g.buf_floats * sizeof(float) + 63) / 64 * 64;
    float *ct = g.ct_floats ? (float *)((char *)scratch + head) : NULL;
    float *tmp = (float *)((char *)scratch + head) + g.ct_floats;
    int64_t *off = (int64_t *)(tmp + 64 * MP);
    /* into NCHW16c, the partial sums go to y itself, where the last k
     * block's stores land anyway (no scratch of a group's outputs) */
    int ct_in_y = g.partial && p->y_blocked;
    if (g.direct) {
        int64_t khw = p->kh * p->kw;
        for (int64_t t = 0; t < K; t++) {
            /* rows in (c, tap) order; on NCHW16c (c / 16, tap, c % 16), as
             * cq__convpm_pack_w packs them: plane c / 16 of 16-float pixels */
            int64_t blk = p->x_blocked ? 16 : 1, q = t % (blk * khw);
            int64_t plane = t / (blk * khw), tap = q / blk, ky = tap / p->kw, kx = tap % p->kw;
            off[t] = ((plane * g.gh + ky * p->dil_h) * g.wpad + kx * p->dil_w) * blk + q % blk;
        }
    } else {
        cq__convpm_chunk_srcs(p, ow, nq, cs);
    }
    /* flat64: where each pixel of a group (raster order) reads, from the
     * group's first input row */
    int64_t *pix = off + K;
    if (flat)
        for (int64_t r = 0, m = 0; r < rows0; r++)
            for (int64_t ox = 0; ox < ow; ox++, m++)
                pix[m] = (r * p->stride_h * g.wpad + ox * p->stride_w) * (p->x_blocked ? 16 : 1);
    int64_t panels_row = (ow + MP - 1) / MP;
    int sw = (int)p->stride_w;
    for (int q = 0; q < nrc; q++) /* each share rectangle, in groups of rows0 rows */
    for (int64_t g0 = rc[q].ra; g0 < rc[q].rb; g0 += rows0) {
        int64_t ja = rc[q].ja * pw, jb = rc[q].jb * pw, rb = rc[q].rb;
        int64_t rows = rb - g0 < rows0 ? rb - g0 : rows0;
        /* where the tiles read: the group's copy, or x itself */
        const float *xg = xp;
        if (g.inplace)
            xg = x + g0 * p->stride_h * g.wpad * 16;
        else if (g.direct)
            cq__convpm_fill_group(p, x, g0, g.gh, g.wpad, xp);
        for (int64_t k0 = 0; k0 < K; k0 += kc0) {
            int64_t kc = K - k0 < kc0 ? K - k0 : kc0;
            if (!g.direct)
                for (int64_t r = 0; r < rows; r++)
                    cq__convpm_pack_row(p, x, g0 + r, k0, kc, cs, nq, ldx, xp + r * kc * ldx);
            tile_args a = tile_init(p, k0, kc, K, pw, npad, P, tmp);
            a.ldx = ldx;
            a.off = g.direct ? off + k0 : NULL;
            if (ct_in_y) {
                a.cti = 16;
                a.ctj = 16 * P;
            }
            for (int64_t j0 = ja; j0 < jb; j0 += pw) {
                int64_t cw = p->c_out - j0 < pw ? p->c_out - j0 : pw;
                int nv = (int)((cw + 15) / 16);
                a.wp = wp + k0 * npad + j0 * kc;
                a.cw = cw;
                a.bias = bias_pad + j0;
                /* the share's next slice in wp's order (the next panel,
                 * the next k block's first panel, or the first one again
                 * for the next row group), fetched a share per tile
                 * meanwhile */
                const float *next = NULL;
                int64_t kn = kc;
                if (j0 + pw < jb) {
                    next = a.wp + kc * pw;
                } else if (k0 + kc < K) {
                    kn = K - k0 - kc < kc0 ? K - k0 - kc : kc0;
                    next = wp + (k0 + kc) * npad + ja * kn;
                } else if (g0 + rows < rb) {
                    kn = kc0;
                    next = wp + ja * kc0;
                }
                int64_t npx = rows * ow;
                int64_t ntile = flat ? (npx + MP64 - 1) / MP64 : rows * panels_row;
                int64_t kq = kn / ntile, kr = kn % ntile, t1 = 0, e = 0;
                for (int64_t m = 0; flat && m < npx; m += MP64) {
                    int64_t t0 = t1, up = (e += kr) >= ntile, mg = g0 * ow + m;
                    t1 += kq + up;
                    e -= up ? ntile : 0;
                    a.pf = next ? next + t0 * pw : NULL;
                    a.npf = next ? (t1 - t0) * pw / 16 : 0;
                    a.mr = npx - m < MP64 ? npx - m : MP64;
                    a.xp = xg;
                    a.pix = pix + m;
                    a.ct = ct_in_y ? y + j0 * P + 16 * mg : ct ? ct + m * npad + j0 : NULL;
                    a.y = y + j0 * P + (p->y_blocked ? 16 * mg : mg);
                    a.res = res ? res + j0 * P + 16 * mg : NULL;
                    if (nv == 3) /* 33-48 channels (c_out 112, 176) */
                        tile_flat3(&a);
                    else
                        tile_flat4(&a);
                }
                for (int64_t r = 0; !flat && r < rows; r++)
                    for (int64_t pr = 0; pr < panels_row; pr++) {
                        int64_t ox0 = pr * MP, m = r * ow + ox0, t0 = t1, up = (e += kr) >= ntile;
                        t1 += kq + up; /* tile ti: [t0, t1 = kn (ti + 1) / ntile) */
                        e -= up ? ntile : 0;
                        a.pf = next ? next + t0 * pw : NULL;
                        a.npf = next ? (t1 - t0) * pw / 16 : 0;
                        a.mr = ow - ox0 < MP ? ow - ox0 : MP;
                        a.ct = ct_in_y ? y + j0 * P + 16 * (g0 * ow + m)
                               : ct    ? ct + m * npad + j0
                                       : NULL;
                        a.y = y + j0 * P + (p->y_blocked ? 16 * (g0 * ow + m) : g0 * ow + m);
                        a.res = res ? res + j0 * P + 16 * (g0 * ow + m) : NULL;
                        if (!g.direct) {
                            a.xp = xp + r * kc * ldx + ox0;
                            tile_sw(0, nv, &a);
                        } else if (p->x_blocked) {
                            a.xp = xg + (r * p->stride_h * g.wpad + ox0 * sw) * 16;
                            if (sw == 1)
                                tile_sw(16, nv, &a);
                            else
                                tile_sw(32, nv, &a);
                        } else {
                            a.xp = xg + r * p->stride_h * g.wpad + ox0 * sw;
                            if (sw == 1)
                                tile_sw(1, nv, &a);
                            else
                                tile_sw(2, nv, &a);
                        }
                    }
            }
        }
    }
}

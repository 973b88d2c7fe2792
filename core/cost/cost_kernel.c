/* cost_kernel.c - which kernel a node runs, as the cost model sees it: its
 * efficiency class, the precision of its arithmetic, its MACs, the fraction
 * of its tiles' lanes doing useful work on these shapes, and the conversions
 * it does. The rules follow the kernels' own path choice (kern.h, "Internal
 * layout and the choice of path"; kern_qconv.h, "Paths") and their register
 * tiles; docs/cost-model.md, "Estimators", lists them. */
#include "cost/cost_internal.h"
#include "kern/kern_qconv.h"

#include <string.h>

/* Useful fraction of n items processed in tiles of t: n / (ceil(n / t) * t). */
static double fill(int64_t n, int64_t t)
{
    if (n <= 0 || t <= 1)
        return 1.0;
    return (double)n / (double)(((n + t - 1) / t) * t);
}

/* Whether the profile measured class name itself (not a stand-in). */
static int measured(const cq_hw *hw, const char *name)
{
    for (int k = 0; k < hw->n_eff; k++)
        if (!strcmp(hw->eff[k].name, name))
            return 1;
    return 0;
}

static double max2(double a, double b)
{
    return a > b ? a : b;
}

static int64_t numel(const cq_tinfo *t)
{
    int64_t k = 1;
    for (int d = 0; d < t->ndim; d++)
        k *= t->shape[d];
    return k;
}

static int is_int8(cq_dtype d)
{
    return d == CQ_U8 || d == CQ_S8;
}

/* The convolution's shape in GEMM terms, from x (n, c, [h,] w), w (m, c/g,
 * [kh,] kw) and y (n, m, [oh,] ow). */
typedef struct convshape {
    int64_t cin, cout, groups, kh, kw, oh, ow, pix, k, stride_w, stride_h;
    int64_t h, w, dil_h, dil_w, pads[4]; /* input height, width; pads top, left, bottom, right */
    int one_by_one; /* 1x1, stride 1, no pad: a plain GEMM over the pixels */
} convshape;

static int conv_shape(const cq_node *n, const cq_tinfo *x, const cq_tinfo *w, const cq_tinfo *y,
                      int transpose, convshape *s)
{
    memset(s, 0, sizeof *s);
    if (x->ndim < 3 || w->ndim < 3 || y->ndim < 3)
        return -1;
    s->groups = cq_node_int(n, "group", 1);
    if (s->groups < 1)
        s->groups = 1;
    s->cin = x->shape[1];
    s->cout = transpose ? w->shape[1] * s->groups : w->shape[0];
    s->kh = w->ndim >= 4 ? w->shape[2] : 1;
    s->kw = w->shape[w->ndim - 1];
    s->oh = y->ndim >= 4 ? y->shape[2] : 1;
    s->ow = y->shape[y->ndim - 1];
    s->pix = y->shape[0] * s->oh * s->ow;
    s->k = s->cin / s->groups * s->kh * s->kw;
    s->w = x->shape[x->ndim - 1];
    s->h = x->ndim >= 4 ? x->shape[2] : 1;
    int64_t st[CQ_MAX_DIMS], pads[2 * CQ_MAX_DIMS], dil[CQ_MAX_DIMS];
    int ns = (int)cq_node_ints(n, "strides", st, CQ_MAX_DIMS);
    int np = (int)cq_node_ints(n, "pads", pads, 2 * CQ_MAX_DIMS);
    int nd = (int)cq_node_ints(n, "dilations", dil, CQ_MAX_DIMS);
    s->dil_h = nd >= 2 ? dil[nd - 2] : 1;
    s->dil_w = nd >= 1 ? dil[nd - 1] : 1;
    if (np == 4)
        memcpy(s->pads, pads, sizeof s->pads); /* ONNX: begins (t, l), ends (b, r) */
    else if (np == 2) {
        s->pads[1] = pads[0]; /* 1-d: begin, end along w */
        s->pads[3] = pads[1];
    }
    int unit = 1;
    for (int d = 0; d < ns; d++)
        unit &= st[d] == 1;
    s->stride_w = ns > 0 ? st[ns - 1] : 1;
    s->stride_h = ns > 1 ? st[ns - 2] : 1;
    for (int d = 0; d < np; d++)
        unit &= pads[d] == 0;
    s->one_by_one = s->kh == 1 && s->kw == 1 && unit && !transpose;
    return 0;
}

/* fp32 depthwise: the path kern_conv.c's plan_make picks. With AVX-512, the
 * 16-channel-block kernel (its own class, f32_dw_cb) on planes of up to 14x14
 * outputs and, for kernels past 3x3 or dilated, on rows under 64 outputs;
 * the plane kernel (f32_dw, the class the probe measured first) on rows of
 * >= 14 outputs where it applies (no dilation, stride_w 1 or 2, up to 7x7);
 * otherwise, and on narrower vectors, channel-last (vectors over channels,
 * the input and output transposed in scratch) where output rows are short,
 * else the NCHW row kernel (f32_dw). */
static void dw_float(const convshape *s, const cq_exec_chain *c, const cq_hw *hw,
                     cq__cost_kernel *k)
{
    int64_t eh = s->dil_h * (s->kh - 1) + 1, ew = s->dil_w * (s->kw - 1) + 1, taps = s->kh * s->kw;
    int avx512 = hw->vector_bits >= 512;
    int same = s->cout == s->cin; /* a channel multiplier of 1 */
    int big = taps > 9 || s->dil_h > 1 || s->dil_w > 1;
    int cb = avx512 && same && taps <= 49 && s->pads[0] < eh && s->pads[1] < ew &&
             s->pads[2] < eh && s->pads[3] < ew && (s->oh * s->ow <= 196 || (big && s->ow < 64));
    int plane = avx512 && s->kh <= 7 && s->kw <= 7 && s->dil_h == 1 && s->dil_w == 1 &&
                (s->stride_w == 1 || s->stride_w == 2) && s->pads[1] < s->kw &&
                s->pads[3] < s->kw && s->ow >= 14 && s->ow <= 2048;
    k->kclass = "f32_dw";
    if (cb) {
        /* 16 channels a vector; output pixels four a row at 3x3, else eight
         * of the flat plane at a time. Where the profile measured the class,
         * its fit prices an element in (copied into the padded block) or
         * out apart, call_ns.f32_dw_elem each; else f32_dw's rate */
        k->kclass = "f32_dw_cb";
        k->fallback = "f32_dw";
        k->tile_eff = fill(s->cout, 16) * (big ? fill(s->oh * s->ow, 8) : fill(s->ow, 4));
        if (measured(hw, "f32_dw_cb")) {
            k->unit[0] = "f32_dw_elem";
            k->units[0] = numel(&c->in[0][0]) + numel(&c->out[0][0]);
        }
    } else if (plane) {
        k->tile_eff = fill(s->ow, 16); /* 16-lane vectors along each output row */
        k->streams = 1;
    } else if (same && taps <= 256 && (s->ow < 32 || (s->ow < 64 && s->cin >= 128))) {
        /* channel-last: vectors over channels, and the two transposes, each
         * written then read back (their bytes at the level they fit) */
        k->tile_eff = fill(s->cout, 16);
        int64_t bytes = 4 * (numel(&c->in[0][0]) + numel(&c->out[0][0]));
        k->reread_block = bytes;
        k->reread_bytes = 2 * bytes;
    } else {
        k->tile_eff = fill(s->ow, 16);
    }
}

/* The AMX bf16 conv's weight tiles (kern_convpm_bf16_amx.c): per group of
 * output rows (its bf16 input rows <= 96 KiB), per pair of 16-channel
 * column tiles, per pair of pixel chunks (a row in equal chunks of <= 16),
 * it loads that channel pair's B tiles for every k step (1 KiB a tile, 32
 * channels of one tap). A channel pair's slice is read again for each
 * chunk pair after the first: k->tile_bytes from the level the slice fits
 * (L1 for narrow K), the tile loads feeding the multiplies in order; the
 * whole weights again for each row group after the first (reread). */
static void amx_btiles(const convshape *s, cq__cost_kernel *k)
{
    int64_t cpad = (s->cin + 31) / 32 * 32, wpad = s->pads[1] + s->w + s->pads[3];
    int64_t nsteps = s->kh * s->kw * (cpad / 32), nct = (s->cout + 15) / 16;
    int64_t nq = (s->ow + 15) / 16, mt = nq > 0 ? (s->ow + nq - 1) / nq : 1;
    nq = mt > 0 ? (s->ow + mt - 1) / mt : 1;
    int64_t r = 1;
    for (int64_t t = 2; t <= s->oh; t++) {
        int64_t gh = (t - 1) * s->stride_h + (s->kh - 1) * s->dil_h + 1;
        if (2 * gh * wpad * cpad > 96 * 1024)
            break;
        r = t;
    }
    int64_t nb = (s->oh + r - 1) / r, rows = nb > 0 ? (s->oh + nb - 1) / nb : 1, passes = 0, groups = 0;
    for (int64_t g0 = 0; g0 < s->oh; g0 += rows, groups++)
        passes += ((s->oh - g0 < rows ? s->oh - g0 : rows) * nq + 1) / 2;
    k->tile_bytes = (passes - groups) * nsteps * nct * 1024;
    k->tile_block = nsteps * 2 * 1024;
    k->reread_block = nsteps * nct * 1024;
    k->reread_bytes = (groups - 1) * k->reread_block;
}

/* The pixel-major implicit GEMM's tile fill (kern_convpm_avx512.c): tiles
 * of 7 pixels of one output row (a row's last tile partly empty; a 1x1 at
 * stride 1 on NCHW runs the flat plane instead) x a panel of channels, 16
 * (one vector) where c_out <= 16, else 32 or 48, whichever pads c_out
 * least. A one-vector panel issues 7 broadcasts and a weight load for its 7
 * FMAs: at two loads a cycle 4 cycles where the FMAs need 3.5, so 7/8 of
 * the lanes' rate. A 1x1 at stride 1 takes the channel-major sgemm (8
 * channels x 48 pixels, its last pixels in 16-wide vectors) where that
 * wastes fewer lanes (cq__convpm_applies compares the same two). blocked:
 * the input is NCHW16c. */
static double pm_rows(const convshape *s, int blocked)
{
    double chan = s->cout <= 16 ? fill(s->cout, 16) * 7.0 / 8.0
                                : max2(fill(s->cout, 32), fill(s->cout, 48));
    int flat = s->one_by_one && !blocked;
    double pm = (flat ? fill(s->pix, 7) : fill(s->ow, 7)) * chan;
    /* c_out in 64-channel panels padded no wider than the 32 / 48 ones
     * (flat64: whole panels, or c_out 112, 120, 184): 6 pixels x 64
     * channels, over a row group's pixels across rows, where that wastes
     * less than 7 % more lanes than the 7-pixel rows (the kernel's own
     * test); a last panel of 33-48 channels runs 6 x 48 */
    int64_t plane = s->oh * s->ow, rem = s->cout % 64;
    if (s->cout > 16 && fill(s->cout, 64) >= chan - 1e-12 && !flat && (s->cin >= 8 || blocked) &&
        fill(plane, 6) * 1.07 > fill(s->ow, 7))
        pm = fill(plane, 6) * (double)s->cout /
             (double)(s->cout - rem + (rem == 0 ? 0 : rem > 32 && rem <= 48 ? 48 : 64));
    return pm;
}

/* The lanes of the channel-major sgemm's tiles (8 channels x 16 pixels),
 * a 1x1's other kernel. */
static double sgemm_fill(const convshape *s) { return fill(s->cout, 8) * fill(s->pix, 16); }

/* Whether the pixel-major kernel runs the conv rather than the sgemm: every
 * kxk, a 1x1 where its tiles waste no more lanes (cq__convpm_applies' test;
 * on NCHW16c also a c_out < 16 into NCHW). */
static int pm_runs(const convshape *s, int blocked, int out_blocked)
{
    if (!s->one_by_one)
        return 1;
    double pm = pm_rows(s, blocked), cm = sgemm_fill(s);
    return blocked ? pm >= cm - 0.02 || (s->cout < 16 && !out_blocked) : pm > cm + 0.02;
}

static double pm_fill(const convshape *s, int blocked)
{
    double pm = pm_rows(s, blocked);
    return s->one_by_one ? max2(pm, sgemm_fill(s)) : pm;
}

/* ConvTranspose with its kernel the size of its stride on NCHW16c in and
 * out (ops_convt.c's k_is_s: no pads, dilation 1, one group, whole
 * 16-channel blocks): each input pixel alone makes a kh x kw patch, so it
 * runs a 1x1 convolution on NCHW16c to kh kw c_out channels at the input's
 * pixels (the pixel-major kernel's tiles), written to scratch, then a
 * shuffle of its 16-channel pixels (64 bytes each) into the output: the
 * scratch is written and read back (its bytes at the level it fits), and
 * each output pixel is a 64-byte copy, call_ns.blk_px each (the probe's
 * nearest upsampling on NCHW16c, which stores its pixels the same way).
 * Returns 0 where the executor runs the sgemm path instead. */
static int convt_blocked(const cq_exec *e, const cq_node *n, const cq_exec_chain *c,
                         const convshape *s, cq__cost_kernel *k)
{
    const cq_tinfo *x = &c->in[0][0], *y = &c->out[0][0];
    if (n->n_inputs < 1 || n->n_outputs < 1 || !cq_exec_value_blocked(e, n->inputs[0]) ||
        !cq_exec_value_blocked(e, n->outputs[0]) || x->ndim != 4 || y->ndim != 4 ||
        s->groups != 1 || s->kh != s->stride_h || s->kw != s->stride_w || s->dil_h != 1 ||
        s->dil_w != 1 || s->pads[0] || s->pads[1] || s->pads[2] || s->pads[3] ||
        s->oh != x->shape[2] * s->kh || s->ow != x->shape[3] * s->kw || s->cin % 16 ||
        s->cout % 16)
        return 0;
    convshape q = *s;
    q.cout = s->kh * s->kw * s->cout;
    q.kh = q.kw = 1;
    q.oh = x->shape[2];
    q.ow = x->shape[3];
    q.pix = x->shape[0] * q.oh * q.ow;
    q.k = s->cin;
    q.stride_h = q.stride_w = 1;
    q.one_by_one = 1;
    k->tile_eff = pm_fill(&q, 1);
    k->reread_block = q.pix * q.cout * 4;
    k->reread_bytes = 2 * k->reread_block;
    k->unit[0] = "blk_px";
    k->units[0] = numel(y) / 16;
    return 1;
}

/* s as the kernels' parameters (n pictures), for their own rules. */
static cq_conv2d_params kern_params(const convshape *s, int64_t n)
{
    cq_conv2d_params p = cq_conv2d_params_default();
    p.n = n;
    p.c_in = s->cin;
    p.h = s->h;
    p.w = s->w;
    p.c_out = s->cout;
    p.groups = s->groups;
    p.kh = s->kh;
    p.kw = s->kw;
    p.stride_h = s->stride_h;
    p.stride_w = s->stride_w;
    p.dil_h = s->dil_h;
    p.dil_w = s->dil_w;
    p.pad_top = s->pads[0];
    p.pad_left = s->pads[1];
    p.pad_bottom = s->pads[2];
    p.pad_right = s->pads[3];
    return p;
}

/* The lanes the direct grouped kernel fills: oh ow outputs over flat rows
 * of wq = padded width / stride columns, in 16-lane vectors. */
static double grp_fill(const convshape *s)
{
    int64_t wp = s->pads[1] + s->w + s->pads[3], need = (s->ow - 1) * s->stride_w + s->kw;
    int64_t wq = ((wp > need ? wp : need) + s->stride_w - 1) / s->stride_w;
    return (double)(s->oh * s->ow) / (double)((s->oh * wq + 15) / 16 * 16);
}

/* fp32 and bf16 Conv / ConvTranspose (kern.h's paths). */
static void conv_float(const cq_exec *e, const cq_exec_chain *c, const cq_hw *hw,
                       cq__cost_kernel *k)
{
    const cq_node *n = &cq_exec_graph(e)->nodes[c->node[0]];
    int transpose = !strcmp(n->op_type, "ConvTranspose");
    convshape s;
    k->kclass = "f32_conv";
    k->weight_input = 1;
    if (conv_shape(n, &c->in[0][0], &c->in[0][1], &c->out[0][0], transpose, &s))
        return;
    int bf16 = k->precision == CQ_BF16;
    int dw = s.groups > 1 && s.groups == s.cin;
    /* whether the kernel's epilogue adds a fused residual (kern_conv_run.c:
     * im2col + sgemm always, the pixel-major kernels into NCHW16c only) */
    int out_blocked = cq_exec_value_blocked(e, cq_exec_node_output(e, c->node[0]));
    int res_ep = 0;
    int stem = s.groups == 1 && s.cin <= 4 && s.kh * s.kw > 1;
    cq_conv2d_params kp = kern_params(&s, 1);
    int grp_direct = hw->vector_bits >= 512 && !transpose && !out_blocked &&
                     !cq_exec_value_blocked(e, n->inputs[0]) && cq_conv2d_grouped_direct(&kp);
    if (dw || s.groups > 1 || stem || transpose)
        bf16 = 0; /* calq's bf16 convolution takes groups 1 and no stem */
    k->precision = bf16 ? CQ_BF16 : CQ_F32;
    if (dw) {
        dw_float(&s, c, hw, k);
    } else if (stem) {
        k->kclass = "f32_stem";
        k->fallback = "f32_conv";
        k->tile_eff = fill(s.ow, 16); /* direct kernel, vectors along the output row */
    } else if (transpose && convt_blocked(e, n, c, &s, k)) {
        /* priced by convt_blocked */
        res_ep = 1;
    } else if (grp_direct) {
        /* the direct grouped kernel: a fixed cost a group (call_ns) */
        res_ep = 1;
        k->kclass = s.stride_w > 1 ? "f32_grp_s2" : "f32_grp";
        k->fallback = s.stride_w > 1 ? "f32_grp" : "f32_conv";
        k->tile_eff = grp_fill(&s);
        k->calls = s.groups * (s.pix / (s.oh * s.ow));
    } else if (s.groups > 1 || transpose || hw->vector_bits < 512) {
        res_ep = 1;
        /* other grouped and transposed convs, dense ones without AVX-512 */
        if (s.groups > 1) {
            k->kclass = "f32_grp_gemm"; /* (not the direct kernel's f32_grp) */
            k->fallback = "f32_conv";
        }
        /* one sgemm per group: 8 x 48 tiles of (c_out / g) x pixels, on an
         * im2col matrix (k x pixels a group) written then read back */
        k->tile_eff = fill(s.cout / s.groups, 8) * fill(s.pix, 48);
        if (s.groups > 1)
            k->calls = s.groups;
        if (!s.one_by_one && !transpose) {
            k->copy_rows = s.k * s.oh * s.groups; /* kern_conv_ref.c's im2col */
            k->reread_block = s.k * s.pix * 4;
            k->reread_bytes = 2 * k->reread_block * s.groups;
            /* the copy (kern_conv_ref.c's im2col): at stride 1 row copies,
             * their elements inside call_ns.im2col_row where the profile has
             * it (the grouped path's fit), else an element a vector lane;
             * strided, one scalar operation an element */
            if (s.stride_w > 1)
                k->scalar_ops = s.k * s.pix * s.groups;
            else if (s.groups == 1 || cq_hw_call_ns(hw, "im2col_row") <= 0)
                k->flops += s.k * s.pix * s.groups;
        }
    } else if (bf16) {
        /* without bf16 hardware calq runs the f32 paths on rounded operands
         * (kern.h): f32 weights, f32 tiles, the profile's bf16_conv factor */
        int native = hw->amx || hw->macs[CQ_HW_MAC_BF16] > 0;
        k->kclass = "bf16_conv";
        res_ep = out_blocked;
        k->out_streams = out_blocked;
        /* an input not kept blocked (NCHW) is converted in the kernel:
         * call_ns.bf16_nchw an element */
        if (n->n_inputs > 0 && !cq_exec_value_blocked(e, n->inputs[0]))
            k->nchw_in = numel(&c->in[0][0]);
        k->weight_esize = native ? 2 : 0;
        /* AMX (kern_convpm_bf16_amx.c): A tiles of up to 16 pixels of one
         * output row (a row in equal chunks of <= 16) x 32 channels of one tap,
         * sums of 16-channel tiles (in pairs, a last one alone); else vdpbf16ps pixel-major tiles (7
         * pixels x 32 | 48 channels, k in pairs) */
        k->amx = hw->amx;
        /* the elements it rounds into its channel-last buffer (c_in padded
         * to 32 on AMX) and those it writes out, call_ns.bf16_elem each (the
         * probe's fit prices them apart from the MACs) */
        int64_t xin = numel(&c->in[0][0]);
        if (hw->amx && s.cin > 0)
            xin = xin / s.cin * ((s.cin + 31) / 32 * 32);
        k->unit[0] = "bf16_elem";
        k->units[0] = xin + numel(&c->out[0][0]);
        /* vdpbf16ps tiles: a panel's channels in 16-lane vectors, as many
         * as it has (kern_convpm_bf16_avx512.c's nv): c_out <= 16 wastes no
         * lanes but runs one vector a broadcast, the fp32 pixel-major
         * kernel's 7/8 (pm_fill); U-Net's 16-channel convs at 224 took half
         * the time the 32-wide panel's fill said (bench/NOTES.md, "a new
         * host, OpenBLAS's kernels") */
        double chan = s.cout <= 16 ? fill(s.cout, 16) * 7.0 / 8.0
                                   : max2(fill(s.cout, 32), fill(s.cout, 48));
        k->tile_eff = hw->amx ? fill(s.ow, 16) * fill(s.cout, 16) * fill(s.cin, 32)
                              : fill(s.pix, 7) * chan * (native ? fill(s.k, 2) : 1.0);
        if (hw->amx)
            amx_btiles(&s, k);
        /* the kernel rounds its input to bf16 itself: inside the efficiency
         * the probe measured, not a conversion node */
    } else if (s.one_by_one && s.oh == 1 && s.ow == 1 && hw->vector_bits >= 512) {
        /* a 1x1 on a 1x1 map (squeeze-excite, heads) runs as a matrix-vector
         * product over the dense weights (kern_conv_run.c, AVX-512): the
         * GEMM's class, row dots of 16 lanes; the weights' bytes are the
         * memory term's */
        k->kclass = "f32_gemm";
        k->fallback = "f32_conv";
        k->tile_eff = fill(s.cin / s.groups, 16);
    } else {
        /* pixel-major implicit GEMM (kern_convpm_avx512.c), but for a 1x1
         * at stride 2 on NCHW, which cq__convpm_applies leaves to im2col +
         * sgemm (ResNet's and RegNet's projections): its im2col copied an
         * element at a time, written and read back, then 8 x 48 tiles */
        int blocked = n->n_inputs > 0 && cq_exec_value_blocked(e, n->inputs[0]);
        if (!blocked && s.kh == 1 && s.kw == 1 && (s.stride_h > 1 || s.stride_w > 1)) {
            res_ep = 1;
            k->tile_eff = fill(s.cout, 8) * fill(s.pix, 48);
            k->scalar_ops = s.k * s.pix;
            k->reread_block = s.k * s.pix * 4;
            k->reread_bytes = 2 * k->reread_block;
        } else {
            int pm = pm_runs(&s, blocked, out_blocked);
            res_ep = pm ? out_blocked : 1;
            k->out_streams = pm && out_blocked;
            k->tile_eff = pm_fill(&s, blocked);
            k->wline = "f32_wline"; /* the next channel panel's slice (kern_convpm_avx512.c) */
        }
    }
    /* a residual Add fused into the conv that the epilogue does not take: the
     * kernel writes its output whole, then a pass adds the residual and
     * activates in chunks of 2048 (kern_conv_run.c), reading the output and
     * the residual and writing the output again. BlazeFace's 1x1s into NCHW
     * (24 to 96 channels) took 8-33 % over their standalone time in the model,
     * the pass 13 % of the bf16 model's (bench/NOTES.md, session 18). */
    for (int j = 1; j < c->n; j++) {
        const cq_node *a = &cq_exec_graph(e)->nodes[c->node[j]];
        if (strcmp(a->op_type, "Add") || a->n_inputs != 2)
            continue;
        int prev = cq_exec_graph(e)->nodes[c->node[j - 1]].outputs[0];
        k->res_value = a->inputs[0] == prev ? a->inputs[1] : a->inputs[0];
        if (!res_ep) {
            int64_t yb = numel(&c->out[0][0]) * 4;
            k->pass_bytes = 3 * yb;
            k->pass_block = 2 * yb;
        }
        break;
    }
}

/* The int8 depthwise 3x3/1 runs on flat rows (kern_qconv_dwf_avx512.c,
 * VNNI on AVX-512) where the kernel's own rule says (cq_qconv2d_flat_rows; a
 * fused residual, rare before a depthwise, keeps the chunks). */
static int dw_flat(const convshape *s, const cq_hw *hw)
{
    cq_conv2d_params c = kern_params(s, 1);
    return hw->vector_bits >= 512 && hw->macs[CQ_HW_MAC_S8] > 0 && cq_qconv2d_flat_rows(&c);
}

/* The channel lanes the int8 depthwise fills. With VNNI on AVX-512
 * (kern_qconv_avx512.c, kern_qconv_dw3_avx512.c) it works in chunks of 64
 * channels (4 vectors of 16 channels x 4 kernel rows): a last chunk of 17 to
 * 63 channels runs as a whole one under masks, a last one of up to 16 as
 * 16-channel vectors (144 = 2 x 64 + 16 fills every lane, 24 fills 24 of 64);
 * 16 or 32 channels at stride 1 hold 4 or 2 pixels a vector, every lane
 * used; so do the 3x3/1s on flat rows (dw_flat). Elsewhere (AVX2) channel
 * vectors of 16. */
static double dw_s8_fill(const convshape *s, const cq_hw *hw)
{
    if (hw->vector_bits < 512 || hw->macs[CQ_HW_MAC_S8] <= 0 || s->cout <= 0)
        return fill(s->cout, 16);
    if (s->stride_w == 1 && (s->cout == 16 || s->cout == 32))
        return 1.0;
    if (dw_flat(s, hw))
        return 1.0;
    int64_t last = s->cout - (s->cout - 1) / 64 * 64;
    int64_t lanes = s->cout - last + (last <= 16 ? 16 : 64);
    return (double)s->cout / (double)lanes;
}

/* QLinearConv (kern_qconv.h's paths): gemm1x1, igemm, dw, grp. */
static void conv_int8(const cq_exec *e, const cq_exec_chain *c, const cq_hw *hw,
                      cq__cost_kernel *k)
{
    const cq_node *n = &cq_exec_graph(e)->nodes[c->node[0]];
    convshape s;
    k->kclass = "s8_conv";
    k->weight_input = 3;
    k->cvt_kind = CQ_HW_CVT_REQUANT;
    k->cvt_elems = c->out[0][0].ndim >= 0 ? numel(&c->out[0][0]) : 0;
    if (conv_shape(n, &c->in[0][0], &c->in[0][3], &c->out[0][0], 0, &s))
        return;
    int dw = s.groups > 1 && s.groups == s.cin && s.cout == s.cin;
    int grp = !dw && (s.groups > 1 || (s.cin <= 4 && s.kh * s.kw > 1) ||
                      (s.one_by_one && s.cin <= 32));
    if (dw) {
        /* vpdpbusd on quads of kernel rows; strided (no two-row passes) its
         * own class where the profile measured it */
        k->kclass = "s8_dw";
        if (s.stride_w > 1 && measured(hw, "s8_dw_s2")) {
            k->kclass = "s8_dw_s2";
            k->fallback = "s8_dw";
        } else if (dw_flat(&s, hw) && measured(hw, "s8_dwf")) {
            k->kclass = "s8_dwf";
            k->fallback = "s8_dw";
        }
        k->tile_eff = dw_s8_fill(&s, hw) * fill(s.kh, 4);
    } else if (grp) {
        /* 16-output-channel vectors (vpdpbusd, never AMX) over broadcast
         * input quads, or, where a group has 4 or 8 channels in and out, in
         * lane mode (kern_qconv_grp_avx512.c: each lane its own group's
         * quad, every lane used); s8_conv stands in until a profile
         * measures s8_grp. The narrow 1x1s (a pixel's few products against
         * its loads and stores) are s8_grp1, the stems (c_in <= 4, k x k)
         * s8_stem, where the profile measured them */
        int64_t cig = s.cin / s.groups, cog = s.cout / s.groups;
        int lane = s.groups > 1 && cig == cog && (cig == 4 || cig == 8);
        k->kclass = "s8_grp";
        k->fallback = "s8_conv";
        if (s.one_by_one && s.groups == 1 && measured(hw, "s8_grp1")) {
            k->kclass = "s8_grp1";
            k->fallback = "s8_grp";
        } else if (s.groups == 1 && s.cin <= 4 && s.kh * s.kw > 1 && measured(hw, "s8_stem")) {
            k->kclass = "s8_stem";
            k->fallback = "s8_grp";
        }
        k->tile_eff = (lane ? 1.0 : fill(cog, 16)) * fill(s.k, 4);
    } else {
        /* vpdpbusd tiles prefetch the next panel of weights
         * (kern_qgemm_avx512.c) */
        if (!hw->amx && hw->vector_bits >= 512 && hw->macs[CQ_HW_MAC_S8] > 0)
            k->wline = "s8_wline";
        if (hw->amx) {
            /* AMX (kern_qgemm_amx.c): 32 x 32 blocks of sums (2 x 2 tiles of
             * 16 pixels x 16 channels; a last row or column half alone), 64
             * products deep */
            k->amx = 1;
            k->tile_eff = fill(s.pix, 16) * fill(s.cout, 16) * fill(s.k, 64);
        } else {
            k->tile_eff = fill(s.cout, 16) * fill(s.k, 4);
        }
        /* the GEMM paths' work apart from the MACs (the probe's fit): each
         * output requantized and stored (call_ns.s8_out); the implicit
         * GEMM's gather (kern_qconv.c), kh input rows a pixel, again for
         * each block of 256 output channels (call_ns.s8_row) */
        k->unit[0] = "s8_out";
        k->units[0] = k->cvt_elems;
        k->unit[1] = "s8_row";
        k->units[1] = s.one_by_one ? 0 : s.pix * s.kh * ((s.cout + 255) / 256);
        /* AVX-512 VNNI reads a u8 input's rows in place where that pays,
         * gathering only the pixels whose window meets the padding
         * (cq_qconv2d_gathered) */
        int64_t gp = -1;
        if (!s.one_by_one && !hw->amx && hw->vector_bits >= 512 && hw->macs[CQ_HW_MAC_S8] > 0 &&
            c->in[0][0].dtype == CQ_U8) {
            cq_conv2d_params kp = kern_params(&s, c->in[0][0].shape[0]);
            gp = cq_qconv2d_gathered(&kp);
        }
        if (gp >= 0)
            k->units[1] = gp * s.kh * ((s.cout + 255) / 256);
        /* AMX reads a 1x1's u8 input in place where its channels fill whole
         * 64-byte tile rows; else (s8, or channels no multiple of 64) it
         * copies each row panel to padded scratch rows first, a byte each
         * (call_ns.s8_acopy) */
        if (hw->amx && s.one_by_one && s.groups == 1 &&
            (s.cin % 64 || c->in[0][0].dtype == CQ_S8)) {
            k->unit[1] = "s8_acopy";
            k->units[1] = s.pix * ((s.cin + 63) / 64 * 64);
        }
        if (cq_hw_call_ns(hw, "s8_out") > 0)
            k->cvt_kind = -1; /* the requantize is in s8_out's figure */
        k->out_streams = 1;
    }
    /* the depthwise and grp classes' factors are the probe's whole kernels,
     * their requantizing epilogue inside: no conversion on top where the
     * profile measured the class (MobileNetV2 int8's depthwise convs were
     * priced 1.3-1.6x their time with it, bench/NOTES.md, session 18); the
     * s8_conv stand-in is the MACs alone */
    if ((dw || grp) && measured(hw, k->kclass))
        k->cvt_kind = -1;
    /* a QLinearAdd fused into the conv: its residual read and added, an
     * output each (call_ns.s8_res, the probe's 1x1 with and without it) */
    const cq_graph *g = cq_exec_graph(e);
    int res = -1;
    for (int j = 1; j < c->n; j++)
        if (!strcmp(g->nodes[c->node[j]].op_type, "QLinearAdd")) {
            k->unit[2] = "s8_res";
            k->units[2] = k->cvt_elems;
            const cq_node *a = &g->nodes[c->node[j]];
            res = a->n_inputs > 3 && a->inputs[0] == g->nodes[c->node[j - 1]].outputs[0]
                      ? a->inputs[3] : a->inputs[0];
            k->res_value = res;
        }
    /* values the executor does not keep NHWC: the kernel converts them in
     * its scratch on every run, call_ns.s8_nchw an element */
    const cq_node *last = &g->nodes[c->node[c->n - 1]];
    k->unit[3] = "s8_nchw";
    if (!cq_exec_value_blocked(e, n->inputs[0]))
        k->units[3] += numel(&c->in[0][0]);
    if (last->n_outputs > 0 && !cq_exec_value_blocked(e, last->outputs[0]))
        k->units[3] += k->cvt_elems;
    if (res >= 0 && !cq_exec_value_blocked(e, res))
        k->units[3] += k->cvt_elems;
}

/* Gemm / MatMul in f32 or bf16; QLinearMatMul. */
static void gemm(const cq_exec *e, const cq_exec_chain *c, const cq_hw *hw, cq__cost_kernel *k)
{
    const cq_node *n = &cq_exec_graph(e)->nodes[c->node[0]];
    int q = !strcmp(n->op_type, "QLinearMatMul");
    const cq_tinfo *a = &c->in[0][0], *b = &c->in[0][q ? 3 : 1], *y = &c->out[0][0];
    k->weight_input = q ? 3 : 1;
    if (q) {
        k->kclass = "s8_gemm";
        k->cvt_kind = CQ_HW_CVT_REQUANT;
        k->cvt_elems = y->ndim >= 0 ? numel(y) : 0;
        if (!hw->amx && hw->vector_bits >= 512 && hw->macs[CQ_HW_MAC_S8] > 0)
            k->wline = "s8_wline"; /* the AVX-512 GEMM's prefetched panels */
    } else if (k->precision == CQ_BF16 && b->data) {
        k->kclass = "bf16_gemm";
        k->weight_esize = hw->amx || hw->macs[CQ_HW_MAC_BF16] > 0 ? 2 : 0;
    } else {
        k->precision = CQ_F32;
        k->kclass = "f32_gemm";
    }
    if (a->ndim < 1 || y->ndim < 1)
        return;
    int64_t nn = y->shape[y->ndim - 1], kk = a->shape[a->ndim - 1];
    int64_t m = numel(y) / (nn > 0 ? nn : 1);
    int amx = hw->amx && k->precision != CQ_F32;
    k->amx = amx;
    k->tile_eff = amx ? fill(m, 32) * fill(nn, 32) * fill(kk, q ? 64 : 32) : fill(nn, 16);
}

/* Vector operations per element of calq's elementwise loops (kern_elt.c's
 * polynomial exp is about a dozen; a sigmoid adds the divide), for the ops
 * whose arithmetic is more than one operation an element; the rest count
 * cq_op_flops' one. */
static int64_t elt_ops(const char *op)
{
    static const struct {
        const char *op;
        int n;
    } t[] = {{"Sigmoid", 16}, {"Tanh", 18},   {"Exp", 12},         {"Log", 14},
             {"Erf", 20},     {"Gelu", 24},   {"Softmax", 20},     {"HardSwish", 4},
             {"HardSigmoid", 3}, {"Div", 4},  {"Sqrt", 4},         {"Pow", 16}};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        if (!strcmp(op, t[k].op))
            return t[k].n;
    return 1;
}

/* The activations the float kernels compute through an exp (CQ_ACT_SIGMOID,
 * SiLU's Sigmoid, TANH, HARDSIGMOID: kern_act_avx512.h's act16_exp). */
static int is_exp_act(const char *op)
{
    return !strcmp(op, "Sigmoid") || !strcmp(op, "Tanh") || !strcmp(op, "HardSigmoid");
}

void cq__cost_kernel_of(const cq_exec *e, const cq_exec_chain *c, const cq_hw *hw, int tu,
                        cq__cost_kernel *k)
{
    (void)tu;
    const cq_graph *g = cq_exec_graph(e);
    int i = c->node[0];
    const cq_node *n = &g->nodes[i];
    memset(k, 0, sizeof *k);
    k->kclass = "eltwise";
    k->tile_eff = 1.0;
    k->weight_input = -1;
    k->res_value = -1;
    k->cvt_kind = -1;
    k->serial_unit = -1;
    k->precision = cq_exec_node_precision(e, i);
    if (n->n_inputs > 0 && c->in[0][0].ndim >= 0 && is_int8(c->in[0][0].dtype))
        k->precision = c->in[0][0].dtype;
    /* the chain's arithmetic: a contraction's MACs, the rest's flops */
    int64_t exp_flops = 0; /* of the exp activations fused after the first node */
    for (int j = 0; j < c->n; j++) {
        const cq_node *nj = &g->nodes[c->node[j]];
        int64_t f = 0;
        int kind = cq_op_flops(nj, nj->n_inputs, c->in[j], nj->n_outputs, c->out[j], &f);
        if (kind == 1)
            k->macs += f / 2;
        else if (kind == 0)
            k->flops += f * elt_ops(nj->op_type);
        if (kind == 0 && j > 0 && is_exp_act(nj->op_type))
            exp_flops += f * elt_ops(nj->op_type);
        /* Resize is a move to cq_op_flops. Linear over the last two
         * dimensions (the leading ones kept: ops_resize.c's planar path)
         * resamples each input row along W element by element (two taps
         * from a table: one scalar operation an element of ih x ow a
         * plane), then blends two such rows into each output row
         * (cq_lerp_f32: 3 vector operations an output); other linear
         * resizes blend 2 taps a dimension, about 8 operations an output */
        if (!strcmp(nj->op_type, "Resize") && c->out[j][0].ndim >= 0) {
            const char *mode = cq_node_string(nj, "mode", "nearest");
            const cq_tinfo *x = &c->in[j][0], *y = &c->out[j][0];
            int planar = !strcmp(mode, "linear") && x->ndim >= 2 && x->ndim == y->ndim;
            for (int d = 0; planar && d < x->ndim - 2; d++)
                planar = x->shape[d] == y->shape[d];
            int blk = !strcmp(mode, "nearest") && x->ndim == 4 && y->ndim == 4 &&
                      x->dtype == CQ_F32 && nj->n_inputs > 0 &&
                      cq_exec_value_blocked(e, nj->inputs[0]) && x->shape[2] > 0 &&
                      x->shape[3] > 0 && y->shape[2] % x->shape[2] == 0 &&
                      y->shape[3] % x->shape[3] == 0 && cq_hw_call_ns(hw, "blk_px") > 0;
            if (blk) {
                /* NCHW16c by whole factors (cq_upsample_blocked_f32): each
                 * input pixel loaded once and stored to its fh x fw outputs,
                 * call_ns.blk_px an output pixel of 64 bytes (the probe's
                 * 2x2 upsampling in L2) */
                k->unit[0] = "blk_px";
                k->units[0] += numel(y) / 16;
            } else if (planar) {
                int64_t plane = y->shape[y->ndim - 2] * y->shape[y->ndim - 1];
                int64_t planes = plane > 0 ? numel(y) / plane : 0;
                k->scalar_ops += planes * x->shape[x->ndim - 2] * y->shape[y->ndim - 1];
                k->flops += numel(y) * 3;
            } else {
                k->flops += numel(y) * (strcmp(mode, "nearest") ? 8 : 1);
            }
        }
    }
    const char *op = n->op_type;
    if (!strcmp(op, "Conv") || !strcmp(op, "ConvTranspose")) {
        conv_float(e, c, hw, k);
        /* an exp activation fused into a float conv, priced an output
         * element as the probe measured it on such a conv, in place of its
         * operations: the pixel-major kernels run it over each tile they
         * stored (act_exp_tile), the depthwise ones over each plane they
         * wrote (act_exp_rows), a pass after the kernel's traffic, not
         * under it (kern_act_avx512.h) */
        int dw = !strncmp(k->kclass, "f32_dw", 6);
        const char *u = dw ? "f32_dw_act_exp" : "f32_act_exp";
        if (exp_flops > 0 && k->macs > 0 && !is_int8(k->precision) &&
            cq_hw_call_ns(hw, u) > 0 && !k->unit[3] && c->out[0][0].ndim >= 0) {
            k->flops -= exp_flops;
            k->unit[3] = u;
            k->units[3] = numel(&c->out[0][0]);
            if (dw)
                k->serial_unit = 3;
        }
    } else if (!strcmp(op, "QLinearConv"))
        conv_int8(e, c, hw, k);
    else if (!strcmp(op, "Gemm") || !strcmp(op, "MatMul") || !strcmp(op, "QLinearMatMul"))
        gemm(e, c, hw, k);
    else if (!strcmp(op, "QuantizeLinear")) {
        k->cvt_kind = CQ_HW_CVT_QUANT;
        k->cvt_elems = numel(&c->in[0][0]);
    } else if (!strcmp(op, "DequantizeLinear")) {
        /* a table on the codes (CQ_FUSE_LUT) maps codes to codes: one lookup
         * an element, the fused chain's arithmetic was done making it */
        int lut = cq_exec_node_lut(e, i);
        k->cvt_kind = lut ? CQ_HW_CVT_REQUANT : CQ_HW_CVT_DEQUANT;
        k->cvt_elems = numel(&c->in[0][0]);
        if (lut)
            k->flops = 0;
    } else if (!strcmp(op, "QLinearGlobalAveragePool") && measured(hw, "s8_gap")) {
        /* its own memory-bound class (the probe's pool on NHWC codes over
         * the bytes as this file counts them): the sums and the requantized
         * outputs inside its rate */
        k->kclass = "s8_gap";
        k->fallback = "eltwise";
        k->flops = 0;
    } else if (!strncmp(op, "QLinear", 7) && n->n_outputs > 0 && c->out[0][0].ndim >= 0) {
        k->cvt_kind = CQ_HW_CVT_REQUANT; /* QLinearAdd, QLinearMul, pools... */
        k->cvt_elems = numel(&c->out[0][0]);
        /* a per-channel QLinearMul (a squeeze-excite scale, (N, C, 1, 1))
         * on NHWC codes runs a row a pixel (ops_quant.c's run_qmul,
         * cq_qmul_8_rows), each call_ns.s8_mul_call */
        const cq_tinfo *y = &c->out[0][0];
        /* QLinearMul's loop (an int32 product, two float operations, a
         * rounding and a clamp an element) where the profile measured it,
         * call_ns.s8_mul_elem an element, in place of the table's rate */
        if (!strcmp(op, "QLinearMul") && cq_hw_call_ns(hw, "s8_mul_elem") > 0) {
            k->cvt_kind = -1;
            k->flops = 0; /* inside the measured loop */
            k->unit[1] = "s8_mul_elem";
            k->units[1] = numel(y);
        }
        if (!strcmp(op, "QLinearMul") && n->n_inputs > 3 && y->ndim == 4 &&
            n->n_outputs > 0 && cq_exec_value_blocked(e, n->outputs[0])) {
            const cq_tinfo *a = &c->in[0][0], *b = &c->in[0][3];
            if (numel(b) > numel(a))
                b = a;
            if (b->ndim == 4 && b->shape[2] == 1 && b->shape[3] == 1 && numel(b) < numel(y)) {
                k->unit[0] = "s8_mul_call";
                k->units[0] = y->shape[0] * y->shape[2] * y->shape[3];
            }
        }
    }
    if (k->kclass == NULL || !strcmp(k->kclass, "eltwise") || !strcmp(k->kclass, "s8_gap"))
        k->macs = 0;
    if (k->tile_eff <= 0)
        k->tile_eff = 1.0;
}

/*
 * kern_simd.h - the vector inner loops of kern_internal.h, written once over a
 * small set of vector primitives. Included only by kern_avx2.c and
 * kern_avx512.c, which define the primitives for their ISA first:
 *
 *   VL                    lanes per vector
 *   vf                    vector type
 *   v_ld(p) v_st(p, v)    unaligned load / store
 *   v_ld2(p)              p[0], p[2], ..., p[2 * (VL - 1)] (reads p[0 .. 2 * VL))
 *   v_set1(x)             broadcast
 *   v_add v_sub v_mul v_div v_min v_max v_fma(a, b, c) = a * b + c
 *   v_round(v)            round to nearest integer (as float)
 *   v_pow2i(v)            2^v for integer-valued v in [-126, 127]
 *   v_abs(v) v_sign(v)    |v| and v's sign bit (other bits zero)
 *   v_or(a, b)            bitwise or
 *   v_rcp(d)              1 / d to ~1e-7 relative (d >= 1 finite; rcp + a Newton step)
 *   v_lt_sel(x, t, a, b)  x < t ? a : b, lane by lane
 *   v_hsum(v) v_hmax(v)   horizontal sum / max
 *   CQ__VTAB              the name of the table to define
 *
 * This is an ISA-generic body (one text, two instruction sets), not a
 * dtype-generic one: everything here is fp32.
 */
#include "kern/kern_internal.h"

/* exp(x), Cephes-style: 2^n * p(r) with x = n ln2 + r, |r| <= ln2 / 2.
 * Inputs are clamped to [-87.33, 88.02] so 2^n stays a normal float. */
static inline vf v_exp(vf x)
{
    x = v_min(v_max(x, v_set1(-87.3365f)), v_set1(88.02f));
    vf n = v_round(v_mul(x, v_set1(1.44269504088896341f)));
    x = v_sub(x, v_mul(n, v_set1(0.693359375f)));
    x = v_sub(x, v_mul(n, v_set1(-2.12194440e-4f)));
    vf p = v_set1(1.9875691500E-4f);
    p = v_fma(p, x, v_set1(1.3981999507E-3f));
    p = v_fma(p, x, v_set1(8.3334519073E-3f));
    p = v_fma(p, x, v_set1(4.1665795894E-2f));
    p = v_fma(p, x, v_set1(1.6666665459E-1f));
    p = v_fma(p, x, v_set1(5.0000001201E-1f));
    p = v_fma(p, v_mul(x, x), v_add(x, v_set1(1.0f)));
    return v_mul(p, v_pow2i(n));
}

/* 1 / (1 + exp(-x)); 0 below x = -87, where it would be a denormal (they
 * slow down every FMA that reads them later), and exp's argument clamped
 * so the sum stays finite. */
static inline vf v_sigmoid(vf x)
{
    vf c = v_min(v_max(x, v_set1(-87.0f)), v_set1(88.0f));
    vf s = v_rcp(v_add(v_set1(1.0f), v_exp(v_sub(v_set1(0.0f), c))));
    return v_lt_sel(x, v_set1(-87.0f), v_set1(0.0f), s);
}

/* erf(x): for |x| < 1 its Taylor series to x^21 (truncation ~1e-9), beyond
 * Abramowitz-Stegun 7.1.26, 1 - t (a1 + ... a5 t^4) exp(-x^2), t = 1 / (1 +
 * p |x|) (absolute error <= 1.5e-7), with x's sign. */
static inline vf v_erf(vf x)
{
    vf one = v_set1(1.0f), ax = v_abs(x);
    vf xs = v_min(v_max(x, v_set1(-1.0f)), one), z = v_mul(xs, xs);
    vf s = v_set1(1.48071928e-8f); /* 2 / sqrt(pi) (-1)^k / (k! (2k + 1)), k = 10 .. 0 */
    s = v_fma(s, z, v_set1(-1.63658447e-7f));
    s = v_fma(s, z, v_set1(1.64621144e-6f));
    s = v_fma(s, z, v_set1(-1.49256504e-5f));
    s = v_fma(s, z, v_set1(1.20553330e-4f));
    s = v_fma(s, z, v_set1(-8.54832702e-4f));
    s = v_fma(s, z, v_set1(5.22397763e-3f));
    s = v_fma(s, z, v_set1(-2.68661706e-2f));
    s = v_fma(s, z, v_set1(1.12837917e-1f));
    s = v_fma(s, z, v_set1(-3.76126389e-1f));
    s = v_fma(s, z, v_set1(1.12837917f));
    vf small = v_mul(xs, s);
    vf t = v_rcp(v_fma(ax, v_set1(0.3275911f), one));
    vf q = v_set1(1.061405429f);
    q = v_fma(q, t, v_set1(-1.453152027f));
    q = v_fma(q, t, v_set1(1.421413741f));
    q = v_fma(q, t, v_set1(-0.284496736f));
    q = v_fma(q, t, v_set1(0.254829592f));
    vf big = v_sub(one, v_mul(v_mul(q, t), v_exp(v_sub(v_set1(0.0f), v_mul(ax, ax)))));
    return v_lt_sel(ax, one, small, v_or(big, v_sign(x)));
}

static inline vf v_act(cq_act act, vf v)
{
    switch (act.kind) {
    case CQ_ACT_RELU:
        return v_max(v, v_set1(0.0f));
    case CQ_ACT_CLIP:
        return v_min(v_max(v, v_set1(act.a)), v_set1(act.b));
    case CQ_ACT_LEAKY: {
        /* x >= 0 ? x : a x  ==  max(x, 0) + a * min(x, 0) */
        vf z = v_set1(0.0f);
        return v_fma(v_min(v, z), v_set1(act.a), v_max(v, z));
    }
    case CQ_ACT_HARDSWISH: {
        vf t = v_min(v_max(v_add(v, v_set1(3.0f)), v_set1(0.0f)), v_set1(6.0f));
        return v_mul(v_mul(v, t), v_set1(1.0f / 6.0f));
    }
    case CQ_ACT_SIGMOID:
        return v_sigmoid(v);
    case CQ_ACT_SILU:
        return v_mul(v, v_sigmoid(v));
    case CQ_ACT_HARDSIGMOID:
        return v_min(v_max(v_fma(v, v_set1(act.a), v_set1(act.b)), v_set1(0.0f)),
                     v_set1(1.0f));
    case CQ_ACT_TANH: {
        vf e = v_exp(v_mul(v_abs(v), v_set1(-2.0f)));
        vf t = v_div(v_sub(v_set1(1.0f), e), v_add(v_set1(1.0f), e));
        return v_or(t, v_sign(v));
    }
    default:
        return v;
    }
}

static inline vf v_unary(cq_unop op, vf va, vf vb, vf x)
{
    vf one = v_set1(1.0f), zero = v_set1(0.0f);
    switch (op) {
    case CQ_UN_RELU:
        return v_max(x, zero);
    case CQ_UN_LEAKY_RELU:
        return v_fma(v_min(x, zero), va, v_max(x, zero));
    case CQ_UN_CLIP:
        return v_min(v_max(x, va), vb);
    case CQ_UN_SIGMOID:
        return v_sigmoid(x);
    case CQ_UN_TANH: {
        /* tanh|x| = (1 - e) / (1 + e), e = exp(-2|x|); then the sign of x */
        vf e = v_exp(v_mul(v_abs(x), v_set1(-2.0f)));
        vf t = v_div(v_sub(one, e), v_add(one, e));
        return v_or(t, v_sign(x));
    }
    case CQ_UN_HARDSIGMOID:
        return v_min(v_max(v_fma(x, va, vb), zero), one);
    case CQ_UN_HARDSWISH: {
        vf t = v_min(v_max(v_add(x, v_set1(3.0f)), zero), v_set1(6.0f));
        return v_mul(v_mul(x, t), v_set1(1.0f / 6.0f));
    }
    case CQ_UN_EXP:
        return v_exp(x);
    case CQ_UN_ERF:
        return v_erf(x);
    case CQ_UN_GELU:
        return v_mul(v_mul(x, v_set1(0.5f)),
                     v_add(one, v_erf(v_mul(x, v_set1(0.70710678118654752f)))));
    case CQ_UN_GELU_TANH: {
        /* x (1 + tanh u) / 2 = x sigmoid(2 u) */
        vf u = v_mul(x, v_fma(v_mul(x, x), v_set1(0.044715f), one));
        return v_mul(x, v_sigmoid(v_mul(u, v_set1(2.0f * 0.79788456080286536f))));
    }
    case CQ_UN_SILU:
        return v_mul(x, v_sigmoid(x));
    default:
        return x;
    }
}

static void k_unary(cq_unop op, float a, float b, const float *x, float *y, int64_t n)
{
    vf va = v_set1(a), vb = v_set1(b);
    int64_t i = 0;
    for (; i + VL <= n; i += VL)
        v_st(y + i, v_unary(op, va, vb, v_ld(x + i)));
    for (; i < n; i++)
        y[i] = cq__unary1(op, a, b, x[i]);
}

static inline vf v_binop(cq_binop op, vf a, vf b)
{
    switch (op) {
    case CQ_BIN_ADD:
        return v_add(a, b);
    case CQ_BIN_SUB:
        return v_sub(a, b);
    case CQ_BIN_MUL:
        return v_mul(a, b);
    default:
        return v_div(a, b);
    }
}

static void k_binary(cq_binop op, const float *a, int a_inc, const float *b, int b_inc, float *y,
                     int64_t n)
{
    int64_t i = 0;
    if (a_inc && b_inc) {
        for (; i + VL <= n; i += VL)
            v_st(y + i, v_binop(op, v_ld(a + i), v_ld(b + i)));
    } else if (a_inc) {
        vf vb = v_set1(b[0]);
        for (; i + VL <= n; i += VL)
            v_st(y + i, v_binop(op, v_ld(a + i), vb));
    } else {
        vf va = v_set1(a[0]);
        for (; i + VL <= n; i += VL)
            v_st(y + i, v_binop(op, va, v_ld(b + i)));
    }
    for (; i < n; i++)
        y[i] = cq__binop1(op, a[i * a_inc], b[i * b_inc]);
}

static void k_bias_act(float bias, cq_act act, float *y, int64_t n)
{
    vf vb = v_set1(bias);
    int64_t i = 0;
    for (; i + VL <= n; i += VL)
        v_st(y + i, v_act(act, v_add(v_ld(y + i), vb)));
    for (; i < n; i++)
        y[i] = cq__act1(act, y[i] + bias);
}

static float k_sum(const float *x, int64_t n)
{
    vf s0 = v_set1(0.0f), s1 = v_set1(0.0f);
    int64_t i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        s0 = v_add(s0, v_ld(x + i));
        s1 = v_add(s1, v_ld(x + i + VL));
    }
    for (; i + VL <= n; i += VL)
        s0 = v_add(s0, v_ld(x + i));
    float s = v_hsum(v_add(s0, s1));
    for (; i < n; i++)
        s += x[i];
    return s;
}

static float k_max(const float *x, int64_t n)
{
    int64_t i = 0;
    float m = -1.0f / 0.0f;
    if (n >= VL) {
        vf vm = v_ld(x);
        for (i = VL; i + VL <= n; i += VL)
            vm = v_max(vm, v_ld(x + i));
        m = v_hmax(vm);
    }
    for (; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

/* One vector of depthwise outputs at ox (stride 1, any kernel). */
static inline void dw_block_s1(const float *const *rows, const float *const *wrows,
                               int64_t nrows, int64_t kw, int64_t dw, int64_t x_off, int64_t ox,
                               vf vb, cq_act act, float *y)
{
    vf acc = vb;
    for (int64_t r = 0; r < nrows; r++) {
        const float *xr = rows[r] + ox + x_off;
        for (int64_t k = 0; k < kw; k++)
            acc = v_fma(v_set1(wrows[r][k]), v_ld(xr + k * dw), acc);
    }
    v_st(y + ox, v_act(act, acc));
}

/* The 3x3 stride-1 case with the weights in registers and two chains. */
static inline void dw_block_3x3(const float *r0, const float *r1, const float *r2, const vf *w,
                                int64_t dw, int64_t ox, vf vb, cq_act act, float *y)
{
    vf acc = vb, acc2 = v_mul(w[0], v_ld(r0 + ox));
    acc = v_fma(w[1], v_ld(r0 + ox + dw), acc);
    acc2 = v_fma(w[2], v_ld(r0 + ox + 2 * dw), acc2);
    acc = v_fma(w[3], v_ld(r1 + ox), acc);
    acc2 = v_fma(w[4], v_ld(r1 + ox + dw), acc2);
    acc = v_fma(w[5], v_ld(r1 + ox + 2 * dw), acc);
    acc2 = v_fma(w[6], v_ld(r2 + ox), acc2);
    acc = v_fma(w[7], v_ld(r2 + ox + dw), acc);
    acc2 = v_fma(w[8], v_ld(r2 + ox + 2 * dw), acc2);
    v_st(y + ox, v_act(act, v_add(acc, acc2)));
}

static inline void dw_block_s2(const float *const *rows, const float *const *wrows,
                               int64_t nrows, int64_t kw, int64_t dw, int64_t x_off, int64_t ox,
                               vf vb, cq_act act, float *y)
{
    vf acc = vb;
    for (int64_t r = 0; r < nrows; r++) {
        const float *xr = rows[r] + 2 * ox + x_off;
        for (int64_t k = 0; k < kw; k++)
            acc = v_fma(v_set1(wrows[r][k]), v_ld2(xr + k * dw), acc);
    }
    v_st(y + ox, v_act(act, acc));
}

/* Vector blocks cover [ox0, ox1); a ragged end is covered by one more block
 * ending at ox1 that overlaps the previous one (it recomputes the same
 * values), so rows of VL or more outputs have no scalar tail. */
static void k_dw_row(const float *const *rows, const float *const *wrows, int64_t nrows,
                     int64_t kw, int64_t sw, int64_t dw, int64_t x_off, int64_t x_len,
                     int64_t ox0, int64_t ox1, float bias, cq_act act, float *y)
{
    int64_t ox = ox0, last = ox1 - VL;
    vf vb = v_set1(bias);
    if (sw == 1 && last >= ox0) {
        if (nrows == 3 && kw == 3) {
            vf w[9];
            for (int r = 0; r < 3; r++)
                for (int k = 0; k < 3; k++)
                    w[r * 3 + k] = v_set1(wrows[r][k]);
            const float *r0 = rows[0] + x_off, *r1 = rows[1] + x_off, *r2 = rows[2] + x_off;
            for (; ox < last; ox += VL)
                dw_block_3x3(r0, r1, r2, w, dw, ox, vb, act, y);
            dw_block_3x3(r0, r1, r2, w, dw, last, vb, act, y);
        } else {
            for (; ox < last; ox += VL)
                dw_block_s1(rows, wrows, nrows, kw, dw, x_off, ox, vb, act, y);
            dw_block_s1(rows, wrows, nrows, kw, dw, x_off, last, vb, act, y);
        }
        ox = ox1;
    } else if (sw == 2 && last >= ox0) {
        /* v_ld2 reads 2 * VL floats from the first tap: stay inside the row */
        int64_t reach = x_off + (kw - 1) * dw + 2 * VL;
        for (; ox <= last && 2 * ox + reach <= x_len; ox += VL)
            dw_block_s2(rows, wrows, nrows, kw, dw, x_off, ox, vb, act, y);
        if (ox < ox1 && 2 * last + reach <= x_len) {
            dw_block_s2(rows, wrows, nrows, kw, dw, x_off, last, vb, act, y);
            ox = ox1;
        }
    }
    for (; ox < ox1; ox++) {
        float s = bias;
        for (int64_t r = 0; r < nrows; r++) {
            const float *xr = rows[r] + ox * sw + x_off;
            for (int64_t k = 0; k < kw; k++)
                s += wrows[r][k] * xr[k * dw];
        }
        y[ox] = cq__act1(act, s);
    }
}

static void k_dw_nhwc(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                      const float *wp, const float *bias, float *y)
{
    int64_t C = p->c_in;
    int64_t xo[CQ__DW_MAX_TAPS], wo[CQ__DW_MAX_TAPS];
    for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
            /* the taps inside the input: offsets of their pixel and weights */
            int nt = 0;
            for (int64_t ky = 0; ky < p->kh; ky++) {
                int64_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                if (iy < 0 || iy >= p->h)
                    continue;
                for (int64_t kx = 0; kx < p->kw; kx++) {
                    int64_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                    if (ix < 0 || ix >= p->w)
                        continue;
                    xo[nt] = (iy * p->w + ix) * C;
                    wo[nt++] = (ky * p->kw + kx) * C;
                }
            }
            float *yo = y + (oy * ow + ox) * C;
            int64_t c = 0;
            for (; c + 4 * VL <= C; c += 4 * VL) {
                vf a0 = v_ld(bias + c), a1 = v_ld(bias + c + VL), a2 = v_ld(bias + c + 2 * VL),
                   a3 = v_ld(bias + c + 3 * VL);
                for (int t = 0; t < nt; t++) {
                    const float *xi = x + xo[t] + c, *wk = wp + wo[t] + c;
                    a0 = v_fma(v_ld(wk), v_ld(xi), a0);
                    a1 = v_fma(v_ld(wk + VL), v_ld(xi + VL), a1);
                    a2 = v_fma(v_ld(wk + 2 * VL), v_ld(xi + 2 * VL), a2);
                    a3 = v_fma(v_ld(wk + 3 * VL), v_ld(xi + 3 * VL), a3);
                }
                v_st(yo + c, v_act(p->act, a0));
                v_st(yo + c + VL, v_act(p->act, a1));
                v_st(yo + c + 2 * VL, v_act(p->act, a2));
                v_st(yo + c + 3 * VL, v_act(p->act, a3));
            }
            for (; c + VL <= C; c += VL) {
                vf a0 = v_ld(bias + c);
                for (int t = 0; t < nt; t++)
                    a0 = v_fma(v_ld(wp + wo[t] + c), v_ld(x + xo[t] + c), a0);
                v_st(yo + c, v_act(p->act, a0));
            }
            for (; c < C; c++) {
                float s = bias[c];
                for (int t = 0; t < nt; t++)
                    s += wp[wo[t] + c] * x[xo[t] + c];
                yo[c] = cq__act1(p->act, s);
            }
        }
}

static inline vf pool_block(int is_max, const float *const *rows, int64_t kh, int64_t kw,
                            int64_t sw, int64_t x_off, int64_t ox, vf vs)
{
    const float *q = rows[0] + ox * sw + x_off;
    vf m = sw == 1 ? v_ld(q) : v_ld2(q), s = v_set1(0.0f);
    for (int64_t r = 0; r < kh; r++) {
        q = rows[r] + ox * sw + x_off;
        for (int64_t k = 0; k < kw; k++) {
            vf v = sw == 1 ? v_ld(q + k) : v_ld2(q + k);
            if (is_max)
                m = v_max(m, v);
            else
                s = v_add(s, v);
        }
    }
    return is_max ? m : v_mul(s, vs);
}

/* Vector blocks over [ox0, ox1) for one (is_max, sw) pair, given as
 * constants by the caller so the inlined body is specialised; a ragged end
 * gets one overlapping block. Returns where the scalar tail starts. */
static inline int64_t pool_span(int is_max, int64_t sw, const float *const *rows, int64_t kh,
                                int64_t kw, int64_t x_off, int64_t x_len, int64_t ox0,
                                int64_t ox1, vf vs, float *y)
{
    /* v_ld2 reads 2 * VL floats from the first tap: stay inside the row */
    int64_t reach = x_off + kw - 1 + (sw == 2 ? 2 * VL : VL), ox = ox0, last = ox1 - VL;
    for (; ox <= last && ox * sw + reach <= x_len; ox += VL)
        v_st(y + ox, pool_block(is_max, rows, kh, kw, sw, x_off, ox, vs));
    if (ox < ox1 && last >= ox0 && last * sw + reach <= x_len) {
        v_st(y + last, pool_block(is_max, rows, kh, kw, sw, x_off, last, vs));
        ox = ox1;
    }
    return ox;
}

static void k_pool_row(int is_max, const float *const *rows, int64_t kh, int64_t kw, int64_t sw,
                       int64_t x_off, int64_t x_len, int64_t ox0, int64_t ox1, float scale,
                       float *y)
{
    int64_t ox = ox0;
    vf vs = v_set1(scale);
    if (sw == 1)
        ox = is_max ? pool_span(1, 1, rows, kh, kw, x_off, x_len, ox0, ox1, vs, y)
                    : pool_span(0, 1, rows, kh, kw, x_off, x_len, ox0, ox1, vs, y);
    else if (sw == 2)
        ox = is_max ? pool_span(1, 2, rows, kh, kw, x_off, x_len, ox0, ox1, vs, y)
                    : pool_span(0, 2, rows, kh, kw, x_off, x_len, ox0, ox1, vs, y);
    for (; ox < ox1; ox++) {
        const float *q = rows[0] + ox * sw + x_off;
        float m = q[0], s = 0.0f;
        for (int64_t r = 0; r < kh; r++) {
            q = rows[r] + ox * sw + x_off;
            for (int64_t k = 0; k < kw; k++) {
                m = q[k] > m ? q[k] : m;
                s += q[k];
            }
        }
        y[ox] = is_max ? m : s * scale;
    }
}

static void k_lerp(const float *a, const float *b, float wa, float wb, float *y, int64_t n)
{
    vf va = v_set1(wa), vb = v_set1(wb);
    int64_t i = 0;
    for (; i + VL <= n; i += VL)
        v_st(y + i, v_fma(v_ld(a + i), va, v_mul(v_ld(b + i), vb)));
    for (; i < n; i++)
        y[i] = wa * a[i] + wb * b[i];
}

static void k_binary16(cq_binop op, const float *x, const float *s16, float *y, int64_t n)
{
    /* 16 / VL vectors of the block's values (VL 8 or 16) */
    vf s0 = v_ld(s16), s1 = v_ld(s16 + 16 - VL);
    for (int64_t i = 0; i < n; i += 16) {
        v_st(y + i, v_binop(op, v_ld(x + i), s0));
        if (VL < 16)
            v_st(y + i + 8, v_binop(op, v_ld(x + i + 8), s1));
    }
}

const cq__kern_vtab CQ__VTAB = {k_unary,  k_binary,  k_bias_act, k_sum,         k_max,
                                k_dw_row, k_dw_nhwc, k_pool_row, CQ__TRANSPOSE, k_lerp,
                                k_binary16};

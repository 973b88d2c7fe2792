/* test_tensor.c - property tests of core/base/tensor.c and core/base/dtype.c.
 *
 * Views are checked against an independent model: a dense array holding, for
 * every element of the view, the linear index of the base element it must
 * show; each view op is applied to the model by plain index loops.
 * Conversions are checked bit-exactly against reference roundings written
 * here from the definitions (nearest representable value, ties to even). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/tensor.h"

/* ---- a small deterministic generator ---------------------------------- */

static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 0x9e3779b97f4a7c15ull + 1; }
static uint64_t rng_u64(void)
{
    uint64_t x = rng_state; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}
static int64_t rng_int(int64_t lo, int64_t hi) { return lo + (int64_t)(rng_u64() % (uint64_t)(hi - lo + 1)); }

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bitsf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* Random float covering every class: any bit pattern, or a special. */
static float rng_float(void)
{
    static const uint32_t specials[] = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u,
                                        0x7fc00000u, 0x7f800001u, 0x00000001u, 0x807fffffu,
                                        0x7f7fffffu, 0x477ff000u, 0x477fefffu, 0x33000000u,
                                        0x33000001u, 0x387fc000u};
    if (rng_u64() % 8 == 0)
        return bitsf(specials[rng_u64() % (sizeof specials / sizeof specials[0])]);
    return bitsf((uint32_t)rng_u64());
}

/* ---- reference conversions ------------------------------------------- */

/* Value of an f16 pattern from the definition; 0x7c00 stands for 65536 so the
 * rounding search below overflows to infinity exactly where IEEE does. */
static double ref_f16_value(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Nearest of the candidates lo < hi (magnitudes) to |x|, ties to the even pattern. */
static unsigned ref_pick(double ax, double vlo, double vhi, unsigned lo, unsigned hi)
{
    double dl = ax - vlo, dh = vhi - ax;
    if (dl < dh)
        return lo;
    if (dh < dl)
        return hi;
    return (lo & 1) ? hi : lo;
}

static uint16_t ref_f32_to_f16(float f)
{
    uint32_t u = fbits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    if (isnan(f))
        return (uint16_t)(sign | 0x7e00);
    double ax = fabs((double)f);
    if (ax >= 65536.0)
        return (uint16_t)(sign | 0x7c00);
    unsigned lo = 0, hi = 0x7c00; /* binary search: value(lo) <= ax < value(hi) */
    while (hi - lo > 1) {
        unsigned mid = (lo + hi) / 2;
        if (ref_f16_value((uint16_t)mid) <= ax)
            lo = mid;
        else
            hi = mid;
    }
    return (uint16_t)(sign | ref_pick(ax, ref_f16_value((uint16_t)lo), ref_f16_value((uint16_t)hi), lo, hi));
}

static uint16_t ref_f32_to_bf16(float f)
{
    uint32_t u = fbits(f);
    if (isnan(f))
        return (uint16_t)((u >> 16) | 0x40);
    if (isinf(f))
        return (uint16_t)(u >> 16);
    unsigned lo = (u >> 16) & 0x7fff, hi = lo + 1; /* magnitude candidates */
    double ax = fabs((double)f);
    double vlo = fabs((double)bitsf((uint32_t)lo << 16));
    double vhi = hi == 0x7f80 ? ldexp(1.0, 128) : fabs((double)bitsf((uint32_t)hi << 16));
    return (uint16_t)((u >> 16 & 0x8000) | ref_pick(ax, vlo, vhi, lo, hi));
}

static int32_t ref_round_half_even(double x)
{
    double f = floor(x), d = x - f;
    if (d > 0.5 || (d == 0.5 && fmod(f, 2.0) != 0.0))
        f += 1.0;
    return (int32_t)f;
}

/* ---- conversions ------------------------------------------------------ */

static void test_tensor_f16_all_patterns(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = cq_f16_to_f32((uint16_t)h);
        int e = (h >> 10) & 31;
        if (e == 31 && (h & 1023)) {
            assert_true(isnan(f));
            assert_int_equal(fbits(f) >> 31, h >> 15);
            uint16_t back = cq_f32_to_f16(f);
            assert_true((back & 0x7c00) == 0x7c00 && (back & 0x3ff));
            continue;
        }
        double ref = e == 31 ? ((h & 0x8000) ? -INFINITY : INFINITY) : ref_f16_value((uint16_t)h);
        assert_true((double)f == ref);
        assert_int_equal(fbits(f) >> 31, h >> 15); /* -0 keeps its sign */
        assert_int_equal(cq_f32_to_f16(f), h);
        /* the midpoint to the next pattern up (same sign) rounds to even */
        if ((h & 0x7fff) < 0x7c00) {
            double mid = (ref_f16_value((uint16_t)h) + ref_f16_value((uint16_t)(h + 1))) / 2;
            float fm = (float)mid; /* exact: f16 midpoints need 12 significant bits */
            assert_true((double)fm == mid);
            assert_int_equal(cq_f32_to_f16(fm), ref_f32_to_f16(fm));
            assert_int_equal(cq_f32_to_f16(fm), (h & 1) ? h + 1 : h);
            float above = nextafterf(fm, 2 * fm), below = nextafterf(fm, 0.0f);
            assert_int_equal(cq_f32_to_f16(above), ref_f32_to_f16(above));
            assert_int_equal(cq_f32_to_f16(below), ref_f32_to_f16(below));
        }
    }
}

static void test_tensor_bf16_all_patterns(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = cq_bf16_to_f32((uint16_t)h);
        assert_int_equal(fbits(f), h << 16);
        uint16_t back = cq_f32_to_bf16(f);
        if (isnan(f)) {
            assert_int_equal(back, h | 0x40); /* quieted, sign and payload kept */
            continue;
        }
        assert_int_equal(back, h);
        if ((h & 0x7fff) < 0x7f80) {
            float mid = bitsf(h << 16 | 0x8000); /* exactly halfway to h + 1 */
            assert_int_equal(cq_f32_to_bf16(mid), (h & 1) ? h + 1 : h);
            assert_int_equal(cq_f32_to_bf16(mid), ref_f32_to_bf16(mid));
            assert_int_equal(cq_f32_to_bf16(bitsf(h << 16 | 0x8001)), ref_f32_to_bf16(bitsf(h << 16 | 0x8001)));
            assert_int_equal(cq_f32_to_bf16(bitsf(h << 16 | 0x7fff)), h);
        }
    }
}

static void test_tensor_random_floats_convert(void **state)
{
    (void)state;
    rng_seed(1);
    for (int i = 0; i < 400000; i++) {
        float f = rng_float();
        uint16_t b = cq_f32_to_bf16(f), h = cq_f32_to_f16(f);
        if (isnan(f)) {
            assert_true(isnan(cq_bf16_to_f32(b)) && isnan(cq_f16_to_f32(h)));
            assert_int_equal(b >> 15, fbits(f) >> 31);
            assert_int_equal(h >> 15, fbits(f) >> 31);
            continue;
        }
        assert_int_equal(b, ref_f32_to_bf16(f));
        assert_int_equal(h, ref_f32_to_f16(f));
    }
}

/* The array converters of the traits table agree with the scalar ones. */
static void test_tensor_array_converters(void **state)
{
    (void)state;
    enum { N = 4099 };
    static float src[N], back[N];
    static uint16_t h[N];
    rng_seed(2);
    for (int i = 0; i < N; i++)
        src[i] = rng_float();
    const cq_dtype_traits *f16 = cq_dtype_info(CQ_F16), *bf16 = cq_dtype_info(CQ_BF16);
    f16->from_f32(src, h, N);
    f16->to_f32(h, back, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(h[i], cq_f32_to_f16(src[i]));
        assert_int_equal(fbits(back[i]), fbits(cq_f16_to_f32(h[i])));
    }
    bf16->from_f32(src, h, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(h[i], cq_f32_to_bf16(src[i]));
}

static void test_tensor_round_sat(void **state)
{
    (void)state;
    assert_int_equal(cq_round_sat(0.5f, -128, 127), 0);
    assert_int_equal(cq_round_sat(1.5f, -128, 127), 2);
    assert_int_equal(cq_round_sat(2.5f, -128, 127), 2);
    assert_int_equal(cq_round_sat(-2.5f, -128, 127), -2);
    assert_int_equal(cq_round_sat(127.5f, -128, 127), 127);
    assert_int_equal(cq_round_sat(-1e30f, -128, 127), -128);
    assert_int_equal(cq_round_sat(INFINITY, 0, 255), 255);
    assert_int_equal(cq_round_sat(NAN, 0, 255), 0);
    rng_seed(3);
    for (int i = 0; i < 200000; i++) {
        float x = (float)rng_int(-600, 600) / 2.0f + (rng_u64() % 4 == 0 ? 0.0f : (float)rng_int(-1000, 1000) / 1024.0f);
        int32_t ref = ref_round_half_even(x);
        ref = ref < -128 ? -128 : ref > 127 ? 127 : ref;
        assert_int_equal(cq_round_sat(x, -128, 127), ref);
    }
}

/* ---- views against the index model ------------------------------------ */

typedef struct model {
    int ndim;
    int64_t shape[CQ_MAX_DIMS];
    int64_t *lin; /* dense, row-major: base linear index of each element */
} model;

static int64_t model_numel(const model *m)
{
    int64_t n = 1;
    for (int i = 0; i < m->ndim; i++)
        n *= m->shape[i];
    return n;
}

/* Row-major unravel of position p over shape. */
static void unravel(int64_t p, int ndim, const int64_t *shape, int64_t *idx)
{
    for (int k = ndim - 1; k >= 0; k--) {
        idx[k] = shape[k] ? p % shape[k] : 0;
        p = shape[k] ? p / shape[k] : 0;
    }
}

static int64_t ravel(int ndim, const int64_t *shape, const int64_t *idx)
{
    int64_t p = 0;
    for (int k = 0; k < ndim; k++)
        p = p * shape[k] + idx[k];
    return p;
}

static void model_permute(model *m, const int *perm)
{
    model o = *m;
    for (int i = 0; i < m->ndim; i++)
        o.shape[i] = m->shape[perm[i]];
    int64_t n = model_numel(m);
    o.lin = malloc((size_t)(n ? n : 1) * sizeof *o.lin);
    for (int64_t p = 0; p < n; p++) {
        int64_t oi[CQ_MAX_DIMS], mi[CQ_MAX_DIMS];
        unravel(p, o.ndim, o.shape, oi);
        for (int i = 0; i < m->ndim; i++)
            mi[perm[i]] = oi[i];
        o.lin[p] = m->lin[ravel(m->ndim, m->shape, mi)];
    }
    free(m->lin);
    *m = o;
}

static void model_slice(model *m, int dim, int64_t start, int64_t count, int64_t step)
{
    model o = *m;
    o.shape[dim] = count;
    int64_t n = model_numel(&o);
    o.lin = malloc((size_t)(n ? n : 1) * sizeof *o.lin);
    for (int64_t p = 0; p < n; p++) {
        int64_t idx[CQ_MAX_DIMS];
        unravel(p, o.ndim, o.shape, idx);
        idx[dim] = start + idx[dim] * step;
        o.lin[p] = m->lin[ravel(m->ndim, m->shape, idx)];
    }
    free(m->lin);
    *m = o;
}

/* Reshape keeps row-major order: only the shape changes. */
static void model_reshape(model *m, int ndim, const int64_t *shape)
{
    m->ndim = ndim;
    memcpy(m->shape, shape, (size_t)ndim * sizeof *shape);
}

/* Insert a size-1 dim at pos, then broadcast it to size n. */
static void model_expand(model *m, int pos, int64_t n)
{
    model o = *m;
    o.ndim = m->ndim + 1;
    for (int i = 0, j = 0; i < o.ndim; i++)
        o.shape[i] = i == pos ? n : m->shape[j++];
    int64_t total = model_numel(&o);
    o.lin = malloc((size_t)(total ? total : 1) * sizeof *o.lin);
    for (int64_t p = 0; p < total; p++) {
        int64_t idx[CQ_MAX_DIMS], mi[CQ_MAX_DIMS];
        unravel(p, o.ndim, o.shape, idx);
        for (int i = 0, j = 0; i < o.ndim; i++)
            if (i != pos)
                mi[j++] = idx[i];
        o.lin[p] = m->lin[ravel(m->ndim, m->shape, mi)];
    }
    free(m->lin);
    *m = o;
}

/* Every element of t equals base element model->lin[...]; t's dense copy too. */
static void check_against_model(const cq_tensor *t, const model *m, const double *base)
{
    assert_int_equal(t->ndim, m->ndim);
    for (int i = 0; i < m->ndim; i++)
        assert_int_equal(t->shape[i], m->shape[i]);
    int64_t n = model_numel(m);
    cq_err err;
    cq_tensor *c = cq_tensor_clone(t, &err);
    assert_non_null(c);
    assert_true(cq_tensor_is_contiguous(c));
    const cq_dtype_traits *tr = cq_dtype_info(t->dtype);
    for (int64_t p = 0; p < n; p++) {
        int64_t idx[CQ_MAX_DIMS];
        double v;
        unravel(p, m->ndim, m->shape, idx);
        assert_int_equal(cq_tensor_get(t, idx, &v, &err), CQ_OK);
        assert_true(v == base[m->lin[p]]);
        assert_true(tr->get((char *)cq_tensor_data(c) + (size_t)p * tr->size) == base[m->lin[p]]);
    }
    cq_tensor_release(c);
}

static void random_shape(int ndim, int64_t *shape, int64_t numel)
{
    /* factor numel into ndim dims (numel > 0) */
    for (int i = 0; i < ndim - 1; i++) {
        int64_t d = 1;
        for (int tries = 0; tries < 8; tries++) {
            int64_t c = rng_int(1, 6);
            if (numel % c == 0) {
                d = c;
                break;
            }
        }
        shape[i] = d;
        numel /= d;
    }
    shape[ndim - 1] = numel;
}

static void test_tensor_views_random(void **state)
{
    (void)state;
    cq_err err;
    for (uint64_t seed = 0; seed < 300; seed++) {
        rng_seed(1000 + seed);
        cq_dtype dt = (cq_dtype)rng_int(0, CQ_DTYPE_COUNT - 1);
        int ndim = (int)rng_int(1, 4);
        int64_t shape[CQ_MAX_DIMS];
        for (int i = 0; i < ndim; i++)
            shape[i] = rng_int(1, 5);
        cq_tensor *t = cq_tensor_empty(dt, ndim, shape, &err);
        assert_non_null(t);
        int64_t n = cq_tensor_numel(t);
        double *base = malloc((size_t)n * sizeof *base);
        const cq_dtype_traits *tr = cq_dtype_info(dt);
        for (int64_t i = 0; i < n; i++) {
            /* values exact in every dtype: bool gets 0/1, the rest small integers */
            base[i] = dt == CQ_BOOL ? (double)(i % 2) : (double)((i % 200) - (tr->is_signed ? 100 : 0));
            tr->set((char *)cq_tensor_data(t) + (size_t)i * tr->size, base[i]);
        }
        model m = {ndim, {0}, malloc((size_t)n * sizeof(int64_t))};
        memcpy(m.shape, shape, sizeof shape);
        for (int64_t i = 0; i < n; i++)
            m.lin[i] = i;
        for (int step = 0; step < 6; step++) {
            cq_tensor *v = NULL;
            int op = (int)rng_int(0, 4);
            if (op == 0 && t->ndim >= 1) { /* permute */
                int perm[CQ_MAX_DIMS];
                for (int i = 0; i < t->ndim; i++)
                    perm[i] = i;
                for (int i = t->ndim - 1; i > 0; i--) {
                    int j = (int)rng_int(0, i), tmp = perm[i];
                    perm[i] = perm[j];
                    perm[j] = tmp;
                }
                v = cq_tensor_permute(t, perm, &err);
                model_permute(&m, perm);
            } else if (op == 1 && t->ndim >= 2) { /* transpose */
                int d0 = (int)rng_int(0, t->ndim - 1), d1 = (int)rng_int(0, t->ndim - 1);
                int perm[CQ_MAX_DIMS];
                for (int i = 0; i < t->ndim; i++)
                    perm[i] = i;
                perm[d0] = d1;
                perm[d1] = d0;
                v = cq_tensor_transpose(t, d0, d1, &err);
                model_permute(&m, perm);
            } else if (op == 2 && t->ndim >= 1) { /* slice */
                int d = (int)rng_int(0, t->ndim - 1);
                int64_t len = t->shape[d], start = rng_int(0, len - 1 > 0 ? len - 1 : 0);
                int64_t stop = rng_int(start + 1, len > start + 1 ? len : start + 1);
                int64_t st = rng_int(1, 3);
                v = cq_tensor_slice(t, d, start, stop, st, &err);
                model_slice(&m, d, start, (stop - start + st - 1) / st, st);
            } else if (op == 3 && t->ndim < CQ_MAX_DIMS - 1) { /* expand a new dim */
                int pos = (int)rng_int(0, t->ndim);
                int64_t one[CQ_MAX_DIMS], big[CQ_MAX_DIMS], k = rng_int(1, 3);
                for (int i = 0, j = 0; i <= t->ndim; i++) {
                    one[i] = i == pos ? 1 : t->shape[j];
                    big[i] = i == pos ? k : t->shape[j];
                    if (i != pos)
                        j++;
                }
                cq_tensor *u = cq_tensor_view(t, t->ndim + 1, one, &err);
                assert_non_null(u);
                v = cq_tensor_expand(u, t->ndim + 1, big, &err);
                cq_tensor_release(u);
                model_expand(&m, pos, k);
            } else { /* reshape (copies when it must) to a random factorisation */
                int64_t total = model_numel(&m), ns[CQ_MAX_DIMS];
                if (total == 0)
                    continue;
                int nd = (int)rng_int(1, 4);
                random_shape(nd, ns, total);
                v = cq_tensor_reshape(t, nd, ns, &err);
                model_reshape(&m, nd, ns);
                /* view() must agree with reshape() whenever it succeeds */
                cq_tensor *w = cq_tensor_view(t, nd, ns, &err);
                if (w) {
                    check_against_model(w, &m, base);
                    cq_tensor_release(w);
                }
            }
            if (!v)
                fail_msg("view step failed: %s", err.msg);
            check_against_model(v, &m, base);
            cq_tensor_release(t);
            t = v;
        }
        /* conversions of the final view to every dtype agree element-wise */
        for (int d = 0; d < CQ_DTYPE_COUNT; d++) {
            cq_tensor *c = cq_tensor_to(t, (cq_dtype)d, &err);
            assert_non_null(c);
            const cq_dtype_traits *ct = cq_dtype_info((cq_dtype)d);
            int64_t cn = cq_tensor_numel(c);
            for (int64_t p = 0; p < cn; p++) {
                double want = base[m.lin[p]], got = ct->get((char *)cq_tensor_data(c) + (size_t)p * ct->size);
                if (d == CQ_BOOL)
                    want = want != 0.0;
                else if (d == CQ_U8 && want < 0)
                    want = 0;
                else if (d == CQ_S8 && want > 127)
                    want = 127; /* saturates */
                if (got != want)
                    print_message("seed %d: %s -> %s: got %g want %g (p %lld, contiguous %d)\n", (int)seed,
                                  cq_dtype_info(t->dtype)->name, ct->name, got, want, (long long)p, cq_tensor_is_contiguous(t));
                assert_true(got == want);
            }
            cq_tensor_release(c);
        }
        free(m.lin);
        free(base);
        cq_tensor_release(t);
    }
}

static void test_tensor_view_errors(void **state)
{
    (void)state;
    cq_err err;
    int64_t shape[2] = {2, 3}, bad[2] = {4, 2}, infer[2] = {-1, -1};
    cq_tensor *t = cq_tensor_new(CQ_F32, 2, shape, &err);
    assert_null(cq_tensor_view(t, 2, bad, &err));
    assert_string_equal(err.msg, "new shape has 8 elements, tensor has 6");
    assert_null(cq_tensor_view(t, 2, infer, &err));
    assert_string_equal(err.msg, "more than one -1 in the new shape");
    cq_tensor *tr = cq_tensor_transpose(t, 0, 1, &err);
    int64_t flat[1] = {6};
    assert_null(cq_tensor_view(tr, 1, flat, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    cq_tensor *r = cq_tensor_reshape(tr, 1, flat, &err); /* copies */
    assert_non_null(r);
    assert_null(cq_tensor_slice(t, 2, 0, 1, 1, &err));
    assert_null(cq_tensor_slice(t, 0, 0, 1, 0, &err));
    int perm[2] = {0, 0};
    assert_null(cq_tensor_permute(t, perm, &err));
    int64_t e3[2] = {4, 3};
    assert_null(cq_tensor_expand(t, 2, e3, &err));
    assert_string_equal(err.msg, "cannot broadcast dimension 0 of size 2 to 4");
    int64_t neg[1] = {-2};
    assert_null(cq_tensor_new(CQ_F32, 1, neg, &err));
    int64_t huge[3] = {1 << 20, 1 << 20, 1 << 20};
    assert_null(cq_tensor_new(CQ_F32, 3, huge, &err));
    assert_int_equal(err.code, CQ_ENOMEM);
    cq_tensor_release(r);
    cq_tensor_release(tr);
    cq_tensor_release(t);
    cq_tensor_release(NULL);
}

/* Shapes whose element count or strides would overflow are refused, never
 * wrapped around into a small tensor. */
static void test_tensor_hostile_shapes(void **state)
{
    (void)state;
    cq_err err;
    int64_t big2[2] = {INT64_MAX, INT64_MAX};
    int64_t zero_big[3] = {0, (int64_t)1 << 62, (int64_t)1 << 62};
    int64_t four[1] = {4}, one[1] = {1};
    assert_null(cq_tensor_new(CQ_F32, 3, zero_big, &err));
    assert_int_equal(err.code, CQ_ENOMEM);
    assert_null(cq_tensor_empty(CQ_S8, 2, big2, &err));
    cq_tensor *t = cq_tensor_new(CQ_F32, 1, one, &err);
    assert_non_null(t);
    assert_null(cq_tensor_view(t, 2, big2, &err));
    assert_string_equal(err.msg, "the new shape's element count overflows");
    assert_null(cq_tensor_expand(t, 2, big2, &err));
    cq_tensor_release(t);
    t = cq_tensor_new(CQ_F32, 1, four, &err);
    int64_t wrap[3] = {(int64_t)1 << 62, (int64_t)1 << 62, 0};
    assert_null(cq_tensor_view(t, 3, wrap, &err));
    cq_tensor_release(t);
    int64_t empty[2] = {0, 4};
    t = cq_tensor_new(CQ_F32, 2, empty, &err);
    assert_null(cq_tensor_view(t, 3, zero_big, &err));
    assert_int_equal(err.code, CQ_ENOMEM);
    cq_tensor_release(t);
    int64_t ok[3] = {0, 1024, 1024};
    t = cq_tensor_new(CQ_F32, 3, ok, &err);
    assert_non_null(t);
    assert_int_equal(cq_tensor_numel(t), 0);
    cq_tensor_release(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_hostile_shapes),
        cmocka_unit_test(test_tensor_f16_all_patterns),
        cmocka_unit_test(test_tensor_bf16_all_patterns),
        cmocka_unit_test(test_tensor_random_floats_convert),
        cmocka_unit_test(test_tensor_array_converters),
        cmocka_unit_test(test_tensor_round_sat),
        cmocka_unit_test(test_tensor_views_random),
        cmocka_unit_test(test_tensor_view_errors),
    };
    return cmocka_run_group_tests_name("tensor", tests, NULL, NULL);
}

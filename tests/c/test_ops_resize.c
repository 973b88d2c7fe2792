/* test_ops_resize.c - Resize's planar path (nearest and linear over the last
 * two dimensions) against its generic loop, the reference, on random shapes
 * and scales, every coordinate mode and nearest mode, one and two threads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/par.h"
#include "ops/ops_internal.h"

static uint32_t seed = 777;
static uint32_t urand(void)
{
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
}

/* Resize(x, roi = [], scales or sizes) with the given modes, planar path or
 * not; a new reference. */
static cq_tensor *resize(cq_tensor *x, const float *scales, const int64_t *sizes, const char *mode,
                         const char *ctm, const char *nm, int generic)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    g->opsets = calloc(1, sizeof *g->opsets);
    g->opsets[0].domain = calloc(1, 1);
    g->opsets[0].version = 13;
    g->n_opsets = 1;
    const char *in[4] = {"x", "roi", "scales", "sizes"}, *out[1] = {"y"};
    int n = cq_graph_add_node(g, "Resize", "rs", "", sizes ? 4 : 3, in, 1, out, &err);
    assert_true(n >= 0);
    assert_int_equal(cq_node_set_string(g, n, "mode", mode, strlen(mode), &err), CQ_OK);
    assert_int_equal(cq_node_set_string(g, n, "coordinate_transformation_mode", ctm, strlen(ctm), &err), CQ_OK);
    assert_int_equal(cq_node_set_string(g, n, "nearest_mode", nm, strlen(nm), &err), CQ_OK);
    int64_t zero = 0, r = x->ndim;
    cq_tensor *roi = cq_tensor_new(CQ_F32, 1, &zero, &err);
    cq_tensor *sc = cq_tensor_new(CQ_F32, 1, sizes ? &zero : &r, &err);
    cq_tensor *sz = sizes ? cq_tensor_new(CQ_S64, 1, &r, &err) : NULL;
    if (!sizes)
        memcpy(cq_tensor_data(sc), scales, (size_t)r * sizeof(float));
    else
        memcpy(cq_tensor_data(sz), sizes, (size_t)r * sizeof(int64_t));
    cq_tensor *args[4] = {x, roi, sc, sz};
    cq_openv env = {0};
    cq_tensor *y[1] = {NULL};
    cq__resize_generic_only = generic;
    cq_status st = cq__run_node(g, n, args, y, &env, &err);
    cq__resize_generic_only = 0;
    if (st)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, CQ_OK);
    cq_free(env.scratch);
    cq_tensor_release(roi);
    cq_tensor_release(sc);
    cq_tensor_release(sz);
    cq_graph_free(g);
    return y[0];
}

static void test_ops_resize_planar_matches_generic(void **state)
{
    (void)state;
    static const char *ctms[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
                                 "asymmetric", "tf_half_pixel_for_nn"};
    static const char *nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    static const float factors[] = {2, 3, 0.5f, 1.7f, 0.6f, 1, 4};
    cq_err err;
    int cases = 0;
    for (int threads = 1; threads <= 2; threads++) {
        cq_par_set_threads(threads);
        for (int trial = 0; trial < 60; trial++) {
            int r = 3 + (int)(urand() % 2), linear = (int)(urand() % 2);
            int64_t xs[4];
            for (int d = 0; d < r; d++)
                xs[d] = d < r - 2 ? 1 + (int64_t)(urand() % 3) : 1 + (int64_t)(urand() % 13);
            cq_tensor *x = cq_tensor_empty(CQ_F32, r, xs, &err);
            float *p = cq_tensor_data(x);
            for (int64_t i = 0; i < cq_tensor_numel(x); i++)
                p[i] = (float)(urand() & 0xffff) / 32768.0f - 1.0f;
            /* the saturation extreme: the largest finite floats stay finite */
            if (trial % 10 == 9)
                for (int64_t i = 0; i < cq_tensor_numel(x); i++)
                    p[i] = i % 2 ? 3.0e38f : -3.0e38f;
            float sc[4];
            int64_t sz[4];
            for (int d = 0; d < r; d++) {
                sc[d] = d < r - 2 ? 1 : factors[urand() % (sizeof factors / sizeof factors[0])];
                sz[d] = d < r - 2 ? xs[d] : 1 + (int64_t)(urand() % 29);
            }
            const char *ctm = ctms[trial % 5], *nm = nms[(trial / 5) % 4];
            const char *mode = linear ? "linear" : "nearest";
            if (linear && !strcmp(ctm, "tf_half_pixel_for_nn"))
                ctm = "half_pixel";
            int by_sizes = trial % 3 == 0;
            cq_tensor *a = resize(x, sc, by_sizes ? sz : NULL, mode, ctm, nm, 1);
            cq_tensor *b = resize(x, sc, by_sizes ? sz : NULL, mode, ctm, nm, 0);
            assert_true(cq_tensor_same_shape(a, b));
            const float *pa = cq_tensor_data(a), *pb = cq_tensor_data(b);
            for (int64_t i = 0; i < cq_tensor_numel(a); i++) {
                double tol = 1e-6 * fmax(1.0, fabs((double)pa[i]));
                if (!(fabs((double)pa[i] - (double)pb[i]) <= tol))
                    fail_msg("trial %d %s %s %s element %lld: generic %g planar %g", trial, mode,
                             ctm, nm, (long long)i, (double)pa[i], (double)pb[i]);
            }
            cases++;
            cq_tensor_release(a);
            cq_tensor_release(b);
            cq_tensor_release(x);
        }
    }
    cq_par_set_threads(1);
    assert_int_equal(cases, 120);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_resize_planar_matches_generic),
    };
    return cmocka_run_group_tests_name("ops_resize", tests, NULL, NULL);
}

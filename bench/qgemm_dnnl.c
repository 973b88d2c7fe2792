/* bench/qgemm_dnnl.c - the anchor of bench/qgemm.c: Debian oneDNN's (libdnnl-dev)
 * u8 x s8 -> s32 matmul on the same shapes, src (m, k) u8 row-major, weights
 * (k, n) s8 reordered once into the layout the primitive asks for (as calq
 * packs its weights in the plan), dst (m, n) s32. Timed as bench/qgemm.c
 * times calq. Built by bench/qgemm.sh when oneDNN's headers are there (not by
 * make bench-build: the Makefile leaves this file out).
 * Usage: qgemm_dnnl [seconds] [--tsv]   (--tsv: "dnnl s32 m n k GOP/s impl") */
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qgemm_common.h"

#define CHECK(x)                                                                              \
    do {                                                                                      \
        dnnl_status_t s_ = (x);                                                               \
        if (s_ != dnnl_success) {                                                             \
            fprintf(stderr, "qgemm_dnnl: %s failed (%d)\n", #x, (int)s_);                    \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

int main(int argc, char **argv)
{
    double secs = 0.5;
    int tsv;
    parse_args(argc, argv, &secs, &tsv);
    dnnl_engine_t eng;
    dnnl_stream_t st;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
    srand(1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        dnnl_memory_desc_t a_md, b_user, b_any, c_md;
        dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n};
        CHECK(dnnl_memory_desc_init_by_tag(&a_md, 2, ad, dnnl_u8, dnnl_ab));
        CHECK(dnnl_memory_desc_init_by_tag(&b_user, 2, bd, dnnl_s8, dnnl_ab));
        CHECK(dnnl_memory_desc_init_by_tag(&b_any, 2, bd, dnnl_s8, dnnl_format_tag_any));
        CHECK(dnnl_memory_desc_init_by_tag(&c_md, 2, cd, dnnl_s32, dnnl_ab));
        dnnl_matmul_desc_t md;
        CHECK(dnnl_matmul_desc_init(&md, &a_md, &b_any, NULL, &c_md));
        dnnl_primitive_desc_t pd;
        CHECK(dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL));
        const char *impl = "?";
        CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
        const dnnl_memory_desc_t *b_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        dnnl_primitive_t mm;
        CHECK(dnnl_primitive_create(&mm, pd));

        dnnl_memory_t am, bu, bm, cm;
        CHECK(dnnl_memory_create(&am, &a_md, eng, DNNL_MEMORY_ALLOCATE));
        CHECK(dnnl_memory_create(&bu, &b_user, eng, DNNL_MEMORY_ALLOCATE));
        CHECK(dnnl_memory_create(&bm, b_md, eng, DNNL_MEMORY_ALLOCATE));
        CHECK(dnnl_memory_create(&cm, &c_md, eng, DNNL_MEMORY_ALLOCATE));
        void *p;
        CHECK(dnnl_memory_get_data_handle(am, &p));
        for (int64_t i = 0; i < m * k; i++)
            ((unsigned char *)p)[i] = (unsigned char)(rand() & 255);
        CHECK(dnnl_memory_get_data_handle(bu, &p));
        for (int64_t i = 0; i < k * n; i++)
            ((signed char *)p)[i] = (signed char)(rand() & 255);
        dnnl_primitive_desc_t rpd;
        CHECK(dnnl_reorder_primitive_desc_create(&rpd, &b_user, eng, b_md, eng, NULL));
        dnnl_primitive_t ro;
        CHECK(dnnl_primitive_create(&ro, rpd));
        dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, bu}, {DNNL_ARG_TO, bm}};
        CHECK(dnnl_primitive_execute(ro, st, 2, rargs));
        CHECK(dnnl_stream_wait(st));

        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}};
        CHECK(dnnl_primitive_execute(mm, st, 3, args)); /* warm up */
        CHECK(dnnl_stream_wait(st));
        double best = 1e30;
        for (int r = 0; r < 5; r++) {
            long reps = 0;
            double t0 = now(), t;
            do {
                dnnl_primitive_execute(mm, st, 3, args);
                dnnl_stream_wait(st);
                reps++;
                t = now() - t0;
            } while (t < secs / 5);
            if (t / (double)reps < best)
                best = t / (double)reps;
        }
        double g = 2.0 * (double)m * (double)n * (double)k / best * 1e-9;
        if (tsv)
            printf("dnnl\ts32\t%lld\t%lld\t%lld\t%.1f\t%s\n", (long long)m, (long long)n,
                   (long long)k, g, impl);
        else
            printf("dnnl    s32  m %5lld n %5lld k %5lld  %8.3f ms  %7.1f GOP/s  (%s)\n",
                   (long long)m, (long long)n, (long long)k, best * 1e3, g, impl);
        fflush(stdout);
        dnnl_primitive_destroy(ro);
        dnnl_primitive_desc_destroy(rpd);
        dnnl_primitive_destroy(mm);
        dnnl_primitive_desc_destroy(pd);
        dnnl_memory_destroy(am);
        dnnl_memory_destroy(bu);
        dnnl_memory_destroy(bm);
        dnnl_memory_destroy(cm);
    }
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return 0;
}

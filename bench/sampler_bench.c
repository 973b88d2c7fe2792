/* sampler_bench.c - timings for the data set layer.
 *   sampler_bench balance N        balance N synthetic records (size N/10, threshold 1)
 *   sampler_bench coco FILE        read a COCO instances JSON (streamed, ignored
 *                                  values skipped before yajl)
 *   sampler_bench coco-noskip FILE the same with every byte through yajl's
 *                                  callbacks (the reference path)
 *   sampler_bench yajl FILE        yajl alone on the same file (no callbacks)
 * Prints "name seconds [MB/s]" lines for bench/sampler.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <yajl_parse.h>

#include "data/data_internal.h"
#include "base/rng.h"
#include "data/sampler.h"

static double cpu(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec +
           (double)u.ru_stime.tv_sec + 1e-6 * (double)u.ru_stime.tv_usec;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* FNV-1a over what a reader fills: two reads are the same when this is. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t digest(const cq_dataset *ds)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t n = (size_t)ds->n, nb = (size_t)ds->nboxes;
    h = fnv(h, ds->id, n * sizeof *ds->id);
    h = fnv(h, ds->width, n * sizeof *ds->width);
    h = fnv(h, ds->height, n * sizeof *ds->height);
    h = fnv(h, ds->count, n * sizeof *ds->count);
    h = fnv(h, ds->box_n, n * sizeof *ds->box_n);
    h = fnv(h, ds->box, nb * 4 * sizeof *ds->box);
    h = fnv(h, ds->box_label, nb * sizeof *ds->box_label);
    h = fnv(h, ds->box_flags, nb);
    for (int64_t i = 0; i < ds->n; i++)
        h = fnv(h, cq_dataset_path(ds, i), strlen(cq_dataset_path(ds, i)) + 1);
    for (int32_t c = 0; c < ds->ncat; c++)
        h = fnv(h, cq_dataset_cat_name(ds, c), strlen(cq_dataset_cat_name(ds, c)) + 1);
    return h;
}

int main(int argc, char **argv)
{
    cq_err err;
    if (argc == 3 && strcmp(argv[1], "balance") == 0) {
        long n = atol(argv[2]);
        cq_dataset *ds = cq_dataset_new(&err);
        cq_rng r;
        cq_rng_seed(&r, 1);
        char path[32];
        for (long i = 0; ds && i < n; i++) {
            /* counts like a face set: 45% one face, the rest 0..12 */
            uint64_t u = cq_rng_below(&r, 100);
            int32_t c = u < 45 ? 1 : u < 55 ? 0 : (int32_t)(2 + cq_rng_below(&r, 11));
            snprintf(path, sizeof path, "img%07ld.jpg", i);
            if (cq_dataset_add(ds, path, i + 1, 640, 480, c, &err) < 0)
                break;
        }
        if (!ds || ds->n != n) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        cq_sample_opts o = cq_sample_defaults();
        o.size = n / 10;
        o.threshold = 1;
        o.seed = 7;
        int64_t *out = malloc((size_t)cq_sample_bound(ds, NULL, 0, &o) * sizeof *out), nout;
        cq_sample_report rep;
        double best = 1e9;
        for (int rep_i = 0; rep_i < 5; rep_i++) {
            double t0 = now();
            if (cq_sample_balanced(ds, NULL, 0, &o, out, ds->n, &nout, &rep, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            double t = now() - t0;
            if (t < best)
                best = t;
        }
        printf("balance %ld records: %.4f s (best of 5; chose %lld, replaced %lld, pool left %lld)\n", n,
               best, (long long)nout, (long long)rep.replaced, (long long)rep.pool_left);
        free(out);
        cq_dataset_free(ds);
        return 0;
    }
    if (argc == 3 && (strcmp(argv[1], "coco") == 0 || strcmp(argv[1], "coco-noskip") == 0)) {
        struct stat st;
        if (stat(argv[2], &st) != 0) {
            perror(argv[2]);
            return 1;
        }
        double t0 = now(), c0 = cpu();
        cq__coco_knobs k = {0};
        k.noskip = strcmp(argv[1], "coco-noskip") == 0;
        cq_dataset *ds = cq__coco_read(argv[2], NULL, 0, NULL, NULL, &k, &err);
        double t = now() - t0, c = cpu() - c0;
        if (!ds) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        printf("%s %.1f MB: wall %.3f s = %.1f MB/s, cpu %.3f s = %.1f MB/s (%lld images, %lld boxes, "
               "%lld crowd; %.1f MB skipped before yajl; digest %016llx)\n",
               argv[1], (double)st.st_size / 1e6, t, (double)st.st_size / 1e6 / t, c,
               (double)st.st_size / 1e6 / c, (long long)ds->n, (long long)ds->nboxes,
               (long long)ds->boxes_ignored, (double)k.skipped / 1e6, (unsigned long long)digest(ds));
        cq_dataset_free(ds);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "yajl") == 0) {
        /* yajl alone (no callbacks, same chunking): the library's ceiling */
        FILE *f = fopen(argv[2], "rb");
        if (!f) {
            perror(argv[2]);
            return 1;
        }
        static unsigned char buf[1 << 20];
        double t0 = now(), c0 = cpu(), mb = 0;
        yajl_handle h = yajl_alloc(NULL, NULL, NULL);
        yajl_config(h, yajl_dont_validate_strings, 1);
        size_t n;
        int ok = 1;
        while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) {
            ok = yajl_parse(h, buf, n) == yajl_status_ok;
            mb += (double)n / 1e6;
        }
        ok = ok && yajl_complete_parse(h) == yajl_status_ok;
        yajl_free(h);
        fclose(f);
        double t = now() - t0, c = cpu() - c0;
        printf("yajl alone %.1f MB: wall %.3f s = %.1f MB/s, cpu %.3f s = %.1f MB/s%s\n", mb, t,
               mb / t, c, mb / c, ok ? "" : " (parse error)");
        return !ok;
    }
    fprintf(stderr, "usage: sampler_bench balance N | coco FILE | coco-noskip FILE | yajl FILE\n");
    return 2;
}

/* conform.c - one ONNX backend test folder against the executor (conform.h). */
#include "exec/conform.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exec/exec.h"
#include "onnx/onnx.h"

/* Inputs and outputs of a test model, test_data_set_* folders of a case. */
#define CONFORM_MAX_IO 64
#define CONFORM_MAX_SETS 256

const char *cq_conform_verdict_name(cq_conform_verdict v)
{
    return v == CQ_CONFORM_PASS ? "pass" : v == CQ_CONFORM_SKIP ? "skip" : "fail";
}

static int is_dtype_problem(const cq_err *e)
{
    return e->code == CQ_EUNSUPPORTED &&
           (strstr(e->msg, "dtype") || strstr(e->msg, "DOUBLE") || strstr(e->msg, "STRING"));
}

static void verdict(cq_conform_result *r, cq_conform_verdict v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r->verdict = v;
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Compare got with want; 0 when within tolerance, else a message in why. */
static int compare(const cq_tensor *got, const cq_tensor *want, double rtol, double atol,
                   double *maxdiff, char *why, size_t n)
{
    char a[128], b[128];
    if (got->dtype != want->dtype || got->ndim != want->ndim ||
        cq_tensor_numel(got) != cq_tensor_numel(want)) {
        snprintf(why, n, "got %s, want %s", cq_tensor_describe(got, a, sizeof a),
                 cq_tensor_describe(want, b, sizeof b));
        return 1;
    }
    for (int i = 0; i < got->ndim; i++)
        if (got->shape[i] != want->shape[i]) {
            snprintf(why, n, "got %s, want %s", cq_tensor_describe(got, a, sizeof a),
                     cq_tensor_describe(want, b, sizeof b));
            return 1;
        }
    const cq_dtype_traits *tr = cq_dtype_info(got->dtype);
    const char *pg = cq_tensor_data(got), *pw = cq_tensor_data(want);
    int64_t k = cq_tensor_numel(got);
    for (int64_t i = 0; i < k; i++) {
        double x = tr->get(pg + (size_t)i * tr->size), y = tr->get(pw + (size_t)i * tr->size);
        if (isnan(x) && isnan(y))
            continue;
        if (isinf(y) && x == y)
            continue;
        double d = fabs(x - y);
        if (!(d <= d + 1) || isnan(d))
            d = INFINITY;
        if (d > *maxdiff)
            *maxdiff = d;
        int bad = tr->is_float ? !(d <= atol + rtol * fabs(y)) : d != 0;
        if (bad) {
            snprintf(why, n, "element %lld: got %.9g, want %.9g", (long long)i, x, y);
            return 1;
        }
    }
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cq_conform_case(const char *dir, double rtol, double atol, cq_conform_result *r)
{
    memset(r, 0, sizeof *r);
    char path[4096], why[512];
    cq_err err;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    cq_graph *g = cq_onnx_load(path, &err);
    if (!g) {
        verdict(r, err.code == CQ_EUNSUPPORTED ? CQ_CONFORM_SKIP : CQ_CONFORM_FAIL, "load: %s%s",
                err.msg, "");
        return;
    }
    char ops[512];
    if (cq_exec_unsupported(g, ops, sizeof ops)) {
        verdict(r, CQ_CONFORM_SKIP, "unsupported operators: %s%s", ops, "");
        cq_graph_free(g);
        return;
    }
    cq_exec *e = cq_exec_new(g, NULL, &err);
    if (!e) {
        verdict(r, is_dtype_problem(&err) ? CQ_CONFORM_SKIP : CQ_CONFORM_FAIL, "plan: %s%s",
                err.msg, "");
        cq_graph_free(g);
        return;
    }
    DIR *d = opendir(dir);
    char *sets[CONFORM_MAX_SETS];
    int ns = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) && ns < CONFORM_MAX_SETS)
        if (!strncmp(de->d_name, "test_data_set_", 14))
            sets[ns++] = strdup(de->d_name);
    if (d)
        closedir(d);
    qsort(sets, (size_t)ns, sizeof sets[0], cmp_names);
    r->verdict = CQ_CONFORM_PASS;
    cq_tensor *in[CONFORM_MAX_IO] = {0}, *out[CONFORM_MAX_IO] = {0}, *want = NULL;
    for (int s = 0; s < ns && r->verdict == CQ_CONFORM_PASS; s++) {
        int nin = 0;
        for (; nin < CONFORM_MAX_IO; nin++) {
            snprintf(path, sizeof path, "%s/%s/input_%d.pb", dir, sets[s], nin);
            if (!exists(path))
                break;
            in[nin] = cq_onnx_read_tensor(path, NULL, &err);
            if (!in[nin]) {
                verdict(r, is_dtype_problem(&err) ? CQ_CONFORM_SKIP : CQ_CONFORM_FAIL, "%s%s",
                        err.msg, "");
                break;
            }
        }
        if (r->verdict != CQ_CONFORM_PASS)
            goto next;
        if (nin != g->n_inputs || g->n_outputs > CONFORM_MAX_IO) {
            if (nin != g->n_inputs)
                snprintf(why, sizeof why, "%d input files for %d model inputs", nin,
                         g->n_inputs);
            else
                snprintf(why, sizeof why, "%d model outputs, calq compares up to %d",
                         g->n_outputs, CONFORM_MAX_IO);
            verdict(r, CQ_CONFORM_FAIL, "%s: %s", sets[s], why);
            goto next;
        }
        if (cq_exec_run(e, nin, in, out, &err)) {
            verdict(r, is_dtype_problem(&err) ? CQ_CONFORM_SKIP : CQ_CONFORM_FAIL, "%s: %s",
                    sets[s], err.msg);
            goto next;
        }
        for (int k = 0; k < g->n_outputs && r->verdict == CQ_CONFORM_PASS; k++) {
            snprintf(path, sizeof path, "%s/%s/output_%d.pb", dir, sets[s], k);
            want = cq_onnx_read_tensor(path, NULL, &err);
            if (!want) {
                verdict(r, is_dtype_problem(&err) ? CQ_CONFORM_SKIP : CQ_CONFORM_FAIL, "%s%s",
                        err.msg, "");
                break;
            }
            if (compare(out[k], want, rtol, atol, &r->max_abs_diff, why, sizeof why)) {
                char where[256];
                snprintf(where, sizeof where, "%s output %d ('%s')", sets[s], k,
                         g->values[g->outputs[k]].name);
                verdict(r, CQ_CONFORM_FAIL, "%s: %s", where, why);
            }
            cq_tensor_release(want);
            want = NULL;
        }
        r->sets++;
    next:
        for (int k = 0; k < CONFORM_MAX_IO; k++) {
            cq_tensor_release(in[k]);
            cq_tensor_release(out[k]);
            in[k] = out[k] = NULL;
        }
    }
    for (int s = 0; s < ns; s++)
        free(sets[s]);
    if (r->verdict == CQ_CONFORM_PASS && ns == 0)
        verdict(r, CQ_CONFORM_FAIL, "no test_data_set_* in %s%s", dir, "");
    cq_exec_free(e);
    cq_graph_free(g);
}

/* fuzz_stats: the statistics-file reader (stats_read.c): load any bytes as
 * a saved set, then merge it into itself (which reads every observer). */
#include "fuzz_util.h"
#include "calib/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cq_err err;
    const char *path = fuzz_file("s.calq", data, size);
    cq_calib_stats *s = cq_calib_stats_load(path, &err);
    if (!s) {
        fuzz_check_err(&err, "cq_calib_stats_load");
        return 0;
    }
    int n = cq_calib_stats_count(s);
    for (int i = 0; i < n; i++) {
        cq_observer *o = cq_calib_stats_at(s, i);
        if (!cq_calib_stats_name(s, i) || !o) abort();
        /* what a quantizer asks of a loaded observer: every method's range */
        for (int m = 0; m < CQ_CALIB_METHOD_COUNT; m++) {
            cq_calib_spec spec = {.dtype = (m & 1) ? CQ_U8 : CQ_S8, .symmetric = !(m & 1),
                                  .method = (cq_calib_method)m, .percentile = 99.9,
                                  .zero_bin = CQ_CALIB_ZERO_KEEP};
            cq_qparams q;
            if (cq_observer_qparams(o, &spec, &q, &err) != CQ_OK)
                fuzz_check_err(&err, "cq_observer_qparams");
            cq_qparams_clear(&q);
        }
    }
    cq_calib_stats *t = cq_calib_stats_load(path, &err);
    if (!t) abort();
    if (cq_calib_stats_merge(s, t, &err) != CQ_OK) fuzz_check_err(&err, "cq_calib_stats_merge");
    cq_calib_stats_free(t);
    cq_calib_stats_free(s);
    return 0;
}

/* fuzz_tfile: calq's tensor-file reader (tfile_read.c): open any bytes as a
 * .calq file, list the index and metadata, read every tensor. */
#include "fuzz_util.h"
#include "io/tfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cq_err err;
    const char *path = fuzz_file("t.calq", data, size);
    cq_tfile *r = cq_tfile_open(path, &err);
    if (!r) {
        fuzz_check_err(&err, "cq_tfile_open");
        return 0;
    }
    for (int i = 0; i < cq_tfile_meta_count(r); i++) {
        const char *k, *v;
        if (cq_tfile_meta_at(r, i, &k, &v) != CQ_OK || !k || !v) abort();
        if (cq_tfile_meta(r, k) == NULL) abort();
    }
    int n = cq_tfile_count(r);
    for (int i = 0; i < n; i++) {
        const cq_tfile_entry *e = cq_tfile_entry_at(r, i);
        if (!e || !e->name) abort();
        if (cq_tfile_find(r, e->name) < 0) abort();
        cq_tensor *t = cq_tfile_read(r, i, &err);
        if (!t) fuzz_check_err(&err, "cq_tfile_read");
        else if (cq_tensor_nbytes(t) != e->nbytes) abort();
        cq_tensor_release(t);
    }
    cq_tensor *t = cq_tfile_read_name(r, "no such tensor", &err);
    if (t) abort();
    fuzz_check_err(&err, "cq_tfile_read_name");
    cq_tfile_free(r);
    return 0;
}

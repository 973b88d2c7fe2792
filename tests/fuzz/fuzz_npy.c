/* fuzz_npy: the .npy reader (npy.c): the whole array, then rows through the
 * streaming reader (first, last, every other one). */
#include "fuzz_util.h"
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cq_err err;
    const char *path = fuzz_file("a.npy", data, size);
    cq_tensor *t = cq_npy_read(path, &err);
    if (!t) fuzz_check_err(&err, "cq_npy_read");
    cq_tensor_release(t);
    cq_npy_reader *r = cq_npy_open(path, &err);
    if (!r) {
        fuzz_check_err(&err, "cq_npy_open");
        return 0;
    }
    cq_dtype dt;
    int64_t shape[CQ_MAX_DIMS];
    int nd = cq_npy_shape(r, &dt, shape);
    if (nd < 1 || nd > CQ_MAX_DIMS) abort();
    int64_t rows = shape[0];
    const int64_t tries[][3] = {{0, 1, 1}, {rows - 1, 1, 1}, {0, (rows + 1) / 2, 2},
                                {rows, 1, 1}, {0, rows + 1, 1}, {-1, 1, 1}};
    for (size_t k = 0; k < sizeof tries / sizeof tries[0]; k++) {
        if (tries[k][1] < 1) continue;
        cq_tensor *x = cq_npy_read_rows(r, tries[k][0], tries[k][1], tries[k][2], &err);
        int in_range = tries[k][0] >= 0 && tries[k][0] + (tries[k][1] - 1) * tries[k][2] < rows;
        if (!x) fuzz_check_err(&err, "cq_npy_read_rows");
        else if (!in_range) abort();
        cq_tensor_release(x);
    }
    cq_npy_close(r);
    return 0;
}

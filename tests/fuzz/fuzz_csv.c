/* fuzz_csv: the CSV/TSV manifest reader (ds_csv.c): the input up to its
 * first NUL byte is m.csv, the rest a.jpg next to it (read for its size
 * when the manifest has no width/height columns). */
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p[2];
    size_t n[2];
    int k = fuzz_split(data, size, 2, p, n);
    fuzz_file("csv/a.jpg", k > 1 ? p[1] : NULL, k > 1 ? n[1] : 0);
    const char *path = fuzz_file("csv/m.csv", p[0], n[0]);
    fuzz_read_dataset(cq_ds_read_csv, path, "cq_ds_read_csv");
    return 0;
}

/* fuzz_dlib: the dlib imglab XML reader (ds_dlib.c, ds_xml.c over expat):
 * the input up to its first NUL byte is faces.xml, the rest a.jpg next to
 * it (read for its size when an <image> has none). */
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p[2];
    size_t n[2];
    int k = fuzz_split(data, size, 2, p, n);
    fuzz_file("dlib/a.jpg", k > 1 ? p[1] : NULL, k > 1 ? n[1] : 0);
    const char *path = fuzz_file("dlib/faces.xml", p[0], n[0]);
    fuzz_read_dataset(cq_ds_read_dlib, path, "cq_ds_read_dlib");
    return 0;
}

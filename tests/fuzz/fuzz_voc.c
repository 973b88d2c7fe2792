/* fuzz_voc: the Pascal VOC reader (ds_voc.c, ds_xml.c over expat): the
 * input up to its first NUL byte is Annotations/a.xml, the rest
 * JPEGImages/a.jpg (whose header gives the size when the XML has none). */
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p[2];
    size_t n[2];
    int k = fuzz_split(data, size, 2, p, n);
    fuzz_file("voc/Annotations/a.xml", p[0], n[0]);
    fuzz_file("voc/JPEGImages/a.jpg", k > 1 ? p[1] : NULL, k > 1 ? n[1] : 0);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/voc/Annotations", fuzz_dir());
    fuzz_read_dataset(cq_ds_read_voc, dir, "cq_ds_read_voc");
    return 0;
}

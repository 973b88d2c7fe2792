/* fuzz_yolo: the YOLO reader (ds_yolo.c, ds_imghdr.c): the input split at
 * its NUL bytes is labels/a.txt, images/a.jpg (the header gives the size)
 * and labels/classes.txt. */
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p[3];
    size_t n[3];
    int k = fuzz_split(data, size, 3, p, n);
    fuzz_file("yolo/labels/a.txt", p[0], n[0]);
    fuzz_file("yolo/images/a.jpg", k > 1 ? p[1] : NULL, k > 1 ? n[1] : 0);
    fuzz_file("yolo/labels/classes.txt", k > 2 ? p[2] : NULL, k > 2 ? n[2] : 0);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/yolo/labels", fuzz_dir());
    fuzz_read_dataset(cq_ds_read_yolo, dir, "cq_ds_read_yolo");
    return 0;
}

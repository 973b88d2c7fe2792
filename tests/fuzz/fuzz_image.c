/* fuzz_image: the image decode path (image_codec.c over libjpeg/libpng,
 * preproc.c): decode any bytes (at most 2^18 pixels: the decoders' limit
 * path, not their time, is what is fuzzed), then what calibration
 * does with an image: each preset's geometry and normalisation, a batch of
 * it with its grey twin; and a PNG round trip, which must be exact. */
#include "fuzz_util.h"
#include "image/image.h"
#include "image/preproc.h"
#include "base/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cq_err err;
    (void)cq_image_sniff(data, size);
    cq_image *im = cq_image_decode(data, size, "fuzz.img", (uint64_t)1 << 18, &err);
    if (!im) {
        fuzz_check_err(&err, "cq_image_decode");
        return 0;
    }
    if (im->width < 1 || im->height < 1 || (uint64_t)im->width * (uint64_t)im->height > (1u << 18)
        || (im->channels != 1 && im->channels != 3))
        abort();
    static const char *const presets[] = {"fmnist", "blazeface", "imagenet"};
    cq_image *grey = cq_image_convert(im, im->channels == 3 ? 1 : 3, &err);
    if (!grey) fuzz_check_err(&err, "cq_image_convert");
    for (size_t k = 0; k < sizeof presets / sizeof presets[0]; k++) {
        cq_preproc_spec s;
        if (cq_preproc_preset(presets[k], &s, &err) != CQ_OK) abort();
        cq_preproc_transform tr[2];
        const cq_image *ims[2] = {im, grey};
        cq_tensor *x = cq_preproc_batch(&s, ims, grey ? 2 : 1, tr, &err);
        if (!x) fuzz_check_err(&err, "cq_preproc_batch");
        cq_tensor_release(x);
    }
    uint8_t *png = NULL;
    size_t n = 0;
    if (cq_image_encode(im, CQ_IMAGE_PNG, 0, &png, &n, &err) != CQ_OK) {
        fuzz_check_err(&err, "cq_image_encode");
    } else {
        cq_image *back = cq_image_decode(png, n, "copy.png", 0, &err);
        if (!back || back->width != im->width || back->height != im->height
            || back->channels != im->channels
            || memcmp(back->data, im->data,
                      (size_t)im->width * (size_t)im->height * (size_t)im->channels) != 0) {
            fprintf(stderr, "PNG round trip changed the image\n");
            abort();
        }
        cq_image_free(back);
        free(png);
    }
    cq_image_free(grey);
    cq_image_free(im);
    return 0;
}

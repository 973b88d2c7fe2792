/* test_preproc.c - resize properties and the preprocessing pipeline. The
 * comparison with PIL and torch is in tests/lua/image_spec.lua. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "image/preproc.h"

static uint32_t rng_state = 88172645u;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static cq_image *random_image(int w, int h, int ch)
{
    cq_err err;
    cq_image *im = cq_image_new(w, h, ch, 0, &err);
    assert_non_null(im);
    for (size_t i = 0; i < (size_t)w * (size_t)h * (size_t)ch; i++)
        im->data[i] = (uint8_t)rnd();
    return im;
}

static int px(const cq_image *im, int x, int y, int c)
{
    return im->data[((size_t)y * (size_t)im->width + (size_t)x) * (size_t)im->channels + (size_t)c];
}

static void test_preproc_resize_keeps_constant_images(void **state)
{
    (void)state;
    cq_err err;
    for (int k = 0; k < 40; k++) {
        int w = 1 + (int)(rnd() % 300), h = 1 + (int)(rnd() % 300);
        int ow = 1 + (int)(rnd() % 300), oh = 1 + (int)(rnd() % 300);
        uint8_t v = (uint8_t)rnd();
        cq_image *im = cq_image_new(w, h, 3, v, &err);
        for (int interp = 0; interp < 2; interp++) {
            cq_image *r = cq_image_resize(im, ow, oh, (cq_interp)interp, &err);
            assert_non_null(r);
            for (size_t i = 0; i < (size_t)ow * (size_t)oh * 3; i++)
                if (r->data[i] != v)
                    fail_msg("%dx%d -> %dx%d interp %d: %d != %d", w, h, ow, oh, interp, r->data[i], v);
            cq_image_free(r);
        }
        cq_image_free(im);
    }
}

/* Half-pixel bilinear against the formula in double precision. */
static void test_preproc_half_pixel_matches_formula(void **state)
{
    (void)state;
    cq_err err;
    for (int k = 0; k < 30; k++) {
        int w = 1 + (int)(rnd() % 120), h = 1 + (int)(rnd() % 120);
        int ow = 1 + (int)(rnd() % 120), oh = 1 + (int)(rnd() % 120);
        cq_image *im = random_image(w, h, 1);
        cq_image *r = cq_image_resize(im, ow, oh, CQ_INTERP_HALF_PIXEL, &err);
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                double sx = fmax(0, (x + 0.5) * w / ow - 0.5), sy = fmax(0, (y + 0.5) * h / oh - 0.5);
                int x0 = (int)sx, y0 = (int)sy;
                int x1 = x0 + 1 < w ? x0 + 1 : w - 1, y1 = y0 + 1 < h ? y0 + 1 : h - 1;
                if (x0 > w - 1) x0 = w - 1;
                if (y0 > h - 1) y0 = h - 1;
                double fx = sx - x0, fy = sy - y0;
                if (x0 == w - 1) fx = 0;
                if (y0 == h - 1) fy = 0;
                double v = (1 - fy) * ((1 - fx) * px(im, x0, y0, 0) + fx * px(im, x1, y0, 0)) +
                           fy * ((1 - fx) * px(im, x0, y1, 0) + fx * px(im, x1, y1, 0));
                double d = fabs(v - px(r, x, y, 0));
                if (d > 0.5 + 1e-3)
                    fail_msg("%dx%d -> %dx%d at (%d,%d): %g vs %d", w, h, ow, oh, x, y, v, px(r, x, y, 0));
            }
        cq_image_free(r);
        cq_image_free(im);
    }
}

/* PIL's filter in double precision: triangle of support max(1, in/out). */
static double pil_ref_1d(const double *in, int n, int out_n, int o)
{
    double scale = (double)n / out_n, fs = scale < 1 ? 1 : scale, c = (o + 0.5) * scale;
    double sum = 0, ws = 0;
    for (int i = 0; i < n; i++) {
        double t = fabs((i + 0.5 - c) / fs), w = t < 1 ? 1 - t : 0;
        sum += w * in[i];
        ws += w;
    }
    return sum / ws;
}

static void test_preproc_pil_resize_matches_filter(void **state)
{
    (void)state;
    cq_err err;
    for (int k = 0; k < 60; k++) { /* one row: only the horizontal pass */
        int w = 1 + (int)(rnd() % 200), ow = 1 + (int)(rnd() % 200);
        cq_image *im = random_image(w, 1, 1);
        double in[200];
        for (int i = 0; i < w; i++)
            in[i] = im->data[i];
        cq_image *r = cq_image_resize(im, ow, 1, CQ_INTERP_PIL, &err);
        for (int o = 0; o < ow; o++) {
            double v = pil_ref_1d(in, w, ow, o);
            if (fabs(v - r->data[o]) > 0.5 + 1e-6)
                fail_msg("%d -> %d at %d: %g vs %d", w, ow, o, v, r->data[o]);
        }
        cq_image_free(r);
        cq_image_free(im);
    }
    /* 2:1 reduction: weights 1/8, 3/8, 3/8, 1/8 */
    cq_image *im = cq_image_new(8, 1, 1, 0, &err);
    im->data[3] = 240;
    cq_image *r = cq_image_resize(im, 4, 1, CQ_INTERP_PIL, &err);
    assert_int_equal(r->data[0], 0);
    assert_int_equal(r->data[1], 90);
    assert_int_equal(r->data[2], 30);
    cq_image_free(r);
    cq_image_free(im);
}

static void test_preproc_letterbox_transform(void **state)
{
    (void)state;
    cq_err err;
    cq_preproc_spec s;
    assert_int_equal(cq_preproc_preset("blazeface128", &s, &err), CQ_OK);
    /* 200x100, white; padded to 200x200 below it, then 128x128 */
    cq_image *im = cq_image_new(200, 100, 3, 255, &err);
    cq_preproc_transform tr;
    cq_image *p = cq_preproc_image(&s, im, &tr, &err);
    assert_non_null(p);
    assert_int_equal(tr.src_width, 200);
    assert_true(fabs(tr.sx - 0.64) < 1e-12 && fabs(tr.sy - 0.64) < 1e-12);
    assert_true(tr.ox == 0 && tr.oy == 0);
    assert_int_equal(px(p, 0, 0, 0), 255);
    assert_int_equal(px(p, 127, 62, 1), 255);
    assert_int_equal(px(p, 127, 65, 1), 0);
    cq_image_free(p);
    s.pad_center = 1;
    s.pad_value = 7;
    p = cq_preproc_image(&s, im, &tr, &err);
    assert_true(fabs(tr.oy - 50 * 0.64) < 1e-12); /* 50 rows of pad on top */
    assert_int_equal(px(p, 64, 0, 0), 7);
    assert_int_equal(px(p, 64, 64, 0), 255);
    assert_int_equal(px(p, 64, 127, 2), 7);
    cq_image_free(p);
    /* non-square target: 100x200 image into 64x32 pads the right */
    s.width = 64;
    s.height = 32;
    s.pad_center = 0;
    cq_image *tall = cq_image_new(100, 200, 3, 255, &err);
    p = cq_preproc_image(&s, tall, &tr, &err);
    assert_true(fabs(tr.sx - 64.0 / 400) < 1e-12 && fabs(tr.sy - 32.0 / 200) < 1e-12);
    assert_int_equal(px(p, 10, 16, 0), 255);
    assert_int_equal(px(p, 40, 16, 0), 7);
    cq_image_free(p);
    cq_image_free(tall);
    cq_image_free(im);
}

static void test_preproc_shorter_crop_transform(void **state)
{
    (void)state;
    cq_err err;
    cq_preproc_spec s;
    assert_int_equal(cq_preproc_preset("imagenet", &s, &err), CQ_OK);
    cq_image *im = random_image(500, 375, 3);
    cq_preproc_transform tr;
    cq_image *p = cq_preproc_image(&s, im, &tr, &err);
    assert_non_null(p);
    assert_int_equal(p->width, 224);
    /* 500x375 -> 341x256 (torchvision's int()), crop left round(117/2) = 58, top 16 */
    assert_true(fabs(tr.sx - 341.0 / 500) < 1e-12 && fabs(tr.sy - 256.0 / 375) < 1e-12);
    assert_true(tr.ox == -58 && tr.oy == -16);
    cq_image_free(p);
    s.resize_shorter = 100;
    assert_null(cq_preproc_image(&s, im, &tr, &err));
    assert_string_equal(err.msg, "preprocess: resize_shorter 100 must be at least the crop size 224x224");
    cq_image_free(im);
}

/* Target sides up to CQ_PREPROC_MAX_SIDE pass the check, one more fails;
 * resized or padded images stop at CQ_IMAGE_MAX_SIDE. */
static void test_preproc_size_limits(void **state)
{
    (void)state;
    cq_err err;
    cq_preproc_spec s;
    cq_preproc_spec_init(&s);
    s.width = CQ_PREPROC_MAX_SIDE;
    s.height = 1;
    assert_int_equal(cq_preproc_check(&s, &err), CQ_OK);
    s.width = CQ_PREPROC_MAX_SIDE + 1;
    assert_int_equal(cq_preproc_check(&s, &err), CQ_EINVAL);
    assert_string_equal(err.msg, "preprocess: size 16385x1 is not in 1..16384");
    s.width = s.height = 16;
    s.fit = CQ_FIT_SHORTER_CROP;
    s.resize_shorter = CQ_PREPROC_MAX_SIDE + 1;
    assert_int_equal(cq_preproc_check(&s, &err), CQ_EINVAL);
    cq_image *im = random_image(4, 4, 1);
    assert_null(cq_image_resize(im, CQ_IMAGE_MAX_SIDE + 1, 1, CQ_INTERP_HALF_PIXEL, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    assert_string_equal(err.msg, "resize to 1048577x1: sizes must be in 1..1048576");
    cq_image_free(im);
    /* letterbox into 16384 x 1: a 1 x 64 image pads to 2^20 x 64 (allowed),
     * a 1 x 65 image to more than 2^20 wide (refused) */
    s.fit = CQ_FIT_LETTERBOX;
    s.width = CQ_PREPROC_MAX_SIDE;
    s.height = 1;
    im = random_image(1, 64, 1);
    cq_image *p = cq_preproc_image(&s, im, NULL, &err);
    assert_non_null(p);
    cq_image_free(p);
    cq_image_free(im);
    im = random_image(1, 65, 1);
    assert_null(cq_preproc_image(&s, im, NULL, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    assert_non_null(strstr(err.msg, "too large"));
    cq_image_free(im);
}

/* NCHW and NHWC, RGB and BGR hold the same numbers in different places. */
static void test_preproc_layouts_and_orders(void **state)
{
    (void)state;
    cq_err err;
    cq_preproc_spec s;
    cq_preproc_spec_init(&s);
    s.width = 13;
    s.height = 9;
    s.mean[0] = 0.1f; s.mean[1] = 0.2f; s.mean[2] = 0.3f;
    s.std[0] = 0.5f; s.std[1] = 0.25f; s.std[2] = 2.0f;
    const cq_image *ims[3];
    cq_image *a = random_image(31, 17, 3), *b = random_image(8, 40, 3), *c = random_image(13, 9, 1);
    ims[0] = a; ims[1] = b; ims[2] = c;
    cq_tensor *nchw = cq_preproc_batch(&s, ims, 3, NULL, &err);
    s.layout = CQ_LAYOUT_NHWC;
    s.bgr = 1;
    cq_tensor *nhwc = cq_preproc_batch(&s, ims, 3, NULL, &err);
    assert_non_null(nchw);
    assert_non_null(nhwc);
    assert_int_equal(nchw->shape[1], 3);
    assert_int_equal(nhwc->shape[3], 3);
    const float *x = cq_tensor_data(nchw), *y = cq_tensor_data(nhwc);
    for (int n = 0; n < 3; n++)
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < 9 * 13; i++)
                assert_true(x[(n * 3 + ch) * 117 + i] == y[(n * 117 + i) * 3 + (2 - ch)]);
    /* the gray image was replicated, and the stretch of a 13x9 image is a copy */
    assert_true(fabs(x[(2 * 3 + 1) * 117 + 5] - (c->data[5] / 255.0 - 0.2) / 0.25) < 1e-5);
    cq_tensor_release(nchw);
    cq_tensor_release(nhwc);
    /* one image fails: the message says which */
    s.fit = (cq_fit)9;
    assert_null(cq_preproc_batch(&s, ims, 3, NULL, &err));
    assert_string_equal(err.msg, "preprocess: unknown fit mode 9");
    cq_image_free(a); cq_image_free(b); cq_image_free(c);
}

/* The letterbox without a padded copy gives the pixels of padding first. */
static void test_preproc_virtual_pad_matches_padding(void **state)
{
    (void)state;
    cq_err err;
    for (int k = 0; k < 40; k++) {
        int w = 1 + (int)(rnd() % 150), h = 1 + (int)(rnd() % 150), center = (int)(rnd() % 2);
        cq_image *im = random_image(w, h, 3);
        cq_preproc_spec s;
        cq_preproc_preset("blazeface128", &s, &err);
        s.width = 8 + (int)(rnd() % 200);
        s.height = 8 + (int)(rnd() % 200);
        s.pad_center = center;
        s.pad_value = (uint8_t)rnd();
        cq_preproc_transform tr;
        cq_image *fast = cq_preproc_image(&s, im, &tr, &err);
        assert_non_null(fast);
        int pw = (int)lrint(s.width / tr.sx), ph = (int)lrint(s.height / tr.sy);
        int x0 = (int)lrint(tr.ox / tr.sx), y0 = (int)lrint(tr.oy / tr.sy);
        cq_image *padded = cq_image_new(pw, ph, 3, s.pad_value, &err);
        cq_image_paste(padded, im, x0, y0, 0, &err);
        cq_image *slow = cq_image_resize(padded, s.width, s.height, CQ_INTERP_HALF_PIXEL, &err);
        assert_memory_equal(fast->data, slow->data, (size_t)s.width * (size_t)s.height * 3);
        cq_image_free(slow); cq_image_free(padded); cq_image_free(fast); cq_image_free(im);
    }
}

static void test_preproc_presets(void **state)
{
    (void)state;
    cq_err err;
    cq_preproc_spec s;
    assert_int_equal(cq_preproc_preset("fmnist", &s, &err), CQ_OK);
    assert_int_equal(s.channels, 1);
    assert_int_equal(s.width, 28);
    assert_int_equal(cq_preproc_preset("blazeface", &s, &err), CQ_OK);
    assert_int_equal(s.layout, CQ_LAYOUT_NHWC);
    cq_image *w = cq_image_new(3, 3, 3, 255, &err), *k = cq_image_new(3, 3, 3, 0, &err);
    const cq_image *ims[2] = {w, k};
    cq_tensor *t = cq_preproc_batch(&s, ims, 2, NULL, &err);
    const float *d = cq_tensor_data(t);
    assert_true(d[0] == 1.0f && d[256 * 256 * 3] == -1.0f); /* x / 127.5 - 1 */
    cq_tensor_release(t);
    assert_int_equal(cq_preproc_preset("resnet", &s, &err), CQ_EINVAL);
    cq_image_free(w); cq_image_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preproc_resize_keeps_constant_images),
        cmocka_unit_test(test_preproc_half_pixel_matches_formula),
        cmocka_unit_test(test_preproc_pil_resize_matches_filter),
        cmocka_unit_test(test_preproc_letterbox_transform),
        cmocka_unit_test(test_preproc_shorter_crop_transform),
        cmocka_unit_test(test_preproc_size_limits),
        cmocka_unit_test(test_preproc_layouts_and_orders),
        cmocka_unit_test(test_preproc_virtual_pad_matches_padding),
        cmocka_unit_test(test_preproc_presets),
    };
    return cmocka_run_group_tests_name("preproc", tests, NULL, NULL);
}

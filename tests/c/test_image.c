/* test_image.c - decode/encode round trips and hostile files for core/image. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <math.h>

#include "image/image.h"

static uint32_t rng_state = 2463534242u;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* A smooth test picture with some texture (so JPEG has work to do). */
static cq_image *picture(int w, int h, int ch)
{
    cq_err err;
    cq_image *im = cq_image_new(w, h, ch, 0, &err);
    assert_non_null(im);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++)
                im->data[((size_t)y * (size_t)w + (size_t)x) * (size_t)ch + (size_t)c] =
                    (uint8_t)lrint(128 + 100 * sin(x * 0.2 + c) * cos(y * 0.15 - c));
    return im;
}

static void test_image_png_round_trip_is_exact(void **state)
{
    (void)state;
    for (int k = 0; k < 20; k++) {
        int w = 1 + (int)(rnd() % 97), h = 1 + (int)(rnd() % 61), ch = rnd() % 2 ? 3 : 1;
        cq_err err;
        cq_image *im = cq_image_new(w, h, ch, 0, &err);
        assert_non_null(im);
        for (size_t i = 0; i < (size_t)w * (size_t)h * (size_t)ch; i++)
            im->data[i] = (uint8_t)rnd();
        uint8_t *buf;
        size_t n;
        assert_int_equal(cq_image_encode(im, CQ_IMAGE_PNG, 0, &buf, &n, &err), CQ_OK);
        assert_int_equal(cq_image_sniff(buf, n), CQ_IMAGE_PNG);
        cq_image *back = cq_image_decode(buf, n, "x.png", 0, &err);
        assert_non_null(back);
        assert_int_equal(back->width, w);
        assert_int_equal(back->height, h);
        assert_int_equal(back->channels, ch);
        assert_memory_equal(back->data, im->data, (size_t)w * (size_t)h * (size_t)ch);
        free(buf);
        cq_image_free(back);
        cq_image_free(im);
    }
}

static void test_image_jpeg_round_trip_is_close(void **state)
{
    (void)state;
    cq_image *im = picture(64, 48, 3);
    uint8_t *buf;
    size_t n;
    cq_err err;
    assert_int_equal(cq_image_encode(im, CQ_IMAGE_JPEG, 98, &buf, &n, &err), CQ_OK);
    cq_image *back = cq_image_decode(buf, n, "x.jpg", 0, &err);
    assert_non_null(back);
    double sum = 0;
    for (size_t i = 0; i < 64 * 48 * 3; i++)
        sum += abs((int)back->data[i] - (int)im->data[i]);
    print_message("mean |error| of a quality-98 JPEG: %.3f\n", sum / (64 * 48 * 3));
    assert_true(sum / (64 * 48 * 3) < 3.0);
    free(buf);
    cq_image_free(back);
    cq_image_free(im);
}

/* Every prefix of a valid file gives an error, never a crash or a partial image. */
static void truncate_all(cq_image_format fmt, int ch)
{
    cq_image *im = picture(40, 30, ch);
    uint8_t *buf;
    size_t n;
    cq_err err;
    assert_int_equal(cq_image_encode(im, fmt, 90, &buf, &n, &err), CQ_OK);
    for (size_t cut = 0; cut < n; cut += 1 + cut / 64) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
        memcpy(copy, buf, cut);
        cq_image *bad = cq_image_decode(copy, cut, "cut", 0, &err);
        if (bad) /* only a JPEG cut after its last scan can still be whole */
            assert_true(fmt == CQ_IMAGE_JPEG && cut >= n - 2);
        else
            assert_true(err.code == CQ_EFORMAT || err.code == CQ_EUNSUPPORTED);
        cq_image_free(bad);
        free(copy);
    }
    free(buf);
    cq_image_free(im);
}

static void test_image_truncated_files_fail_cleanly(void **state)
{
    (void)state;
    truncate_all(CQ_IMAGE_JPEG, 3);
    truncate_all(CQ_IMAGE_JPEG, 1);
    truncate_all(CQ_IMAGE_PNG, 3);
    truncate_all(CQ_IMAGE_PNG, 1);
}

static void test_image_truncated_jpeg_names_the_offset(void **state)
{
    (void)state;
    cq_image *im = picture(40, 30, 3);
    uint8_t *buf;
    size_t n;
    cq_err err;
    assert_int_equal(cq_image_encode(im, CQ_IMAGE_JPEG, 90, &buf, &n, &err), CQ_OK);
    assert_null(cq_image_decode(buf, n - 200, "a.jpg", 0, &err));
    char want[128];
    snprintf(want, sizeof want, "a.jpg: JPEG, at byte %zu of %zu: Premature end of JPEG file", n - 200,
             n - 200);
    print_message("%s\n", err.msg);
    assert_string_equal(err.msg, want);
    free(buf);
    cq_image_free(im);
}

/* Random bytes after a valid magic number, and bit flips in valid files. */
static void test_image_garbage_never_crashes(void **state)
{
    (void)state;
    cq_err err;
    for (int k = 0; k < 300; k++) {
        size_t n = 8 + rnd() % 2000;
        uint8_t *b = malloc(n);
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)rnd();
        if (k % 2)
            memcpy(b, "\xFF\xD8\xFF", 3);
        else
            memcpy(b, "\x89PNG\r\n\x1a\n", 8);
        cq_image *im = cq_image_decode(b, n, "garbage", 0, &err);
        cq_image_free(im);
        free(b);
    }
    for (int f = 0; f < 2; f++) {
        cq_image *src = picture(33, 17, 3);
        uint8_t *buf;
        size_t n;
        assert_int_equal(cq_image_encode(src, f ? CQ_IMAGE_PNG : CQ_IMAGE_JPEG, 90, &buf, &n, &err), 0);
        for (int k = 0; k < 300; k++) {
            uint8_t *b = malloc(n);
            memcpy(b, buf, n);
            for (int j = 0; j < 1 + k % 4; j++)
                b[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
            cq_image *im = cq_image_decode(b, n, "flipped", 0, &err);
            if (im) {
                assert_int_equal(im->width * im->height, 33 * 17);
                cq_image_free(im);
            }
            free(b);
        }
        free(buf);
        cq_image_free(src);
    }
    assert_null(cq_image_decode("abc", 3, "tiny", 0, &err));
    assert_string_equal(err.msg, "tiny: too short (3 bytes): not a JPEG or PNG file");
    assert_null(cq_image_decode(NULL, 0, NULL, 0, &err));
}

static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Headers that claim huge sizes are refused before any pixel allocation. */
static void test_image_bombs_are_refused(void **state)
{
    (void)state;
    cq_image *im = picture(16, 16, 3);
    uint8_t *buf;
    size_t n;
    cq_err err;
    assert_int_equal(cq_image_encode(im, CQ_IMAGE_PNG, 0, &buf, &n, &err), CQ_OK);
    put32(buf + 16, 100000); /* IHDR width, height, then its CRC */
    put32(buf + 20, 100000);
    put32(buf + 29, crc32_ref(buf + 12, 17));
    assert_null(cq_image_decode(buf, n, "bomb.png", 0, &err));
    assert_int_equal(err.code, CQ_ENOMEM);
    assert_string_equal(err.msg, "bomb.png: PNG image is 100000x100000 = 10000000000 pixels, above "
                                 "the limit of 268435456 (a decompression bomb?)");
    free(buf);
    /* the limit is the caller's: 16x16 is too much for 255 pixels */
    assert_int_equal(cq_image_encode(im, CQ_IMAGE_JPEG, 0, &buf, &n, &err), CQ_OK);
    assert_null(cq_image_decode(buf, n, "small.jpg", 255, &err));
    assert_int_equal(err.code, CQ_ENOMEM);
    cq_image *ok = cq_image_decode(buf, n, "small.jpg", 256, &err);
    assert_non_null(ok);
    cq_image_free(ok);
    for (size_t i = 2; i + 9 < n; i++) /* SOF0: FF C0 len(2) prec(1) height(2) width(2) */
        if (buf[i] == 0xFF && buf[i + 1] == 0xC0) {
            buf[i + 5] = buf[i + 6] = buf[i + 7] = buf[i + 8] = 0xFD;
            break;
        }
    assert_null(cq_image_decode(buf, n, "bomb.jpg", 0, &err));
    assert_int_equal(err.code, CQ_ENOMEM);
    free(buf);
    cq_image_free(im);
}

static void test_image_save_and_load_files(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/cq_test_image_%d.png", (int)(rnd() % 100000));
    cq_image *im = picture(9, 7, 1);
    cq_err err;
    assert_int_equal(cq_image_save(im, path, 0, &err), CQ_OK);
    cq_image *back = cq_image_load(path, 0, &err);
    assert_non_null(back);
    assert_memory_equal(back->data, im->data, 63);
    remove(path);
    assert_null(cq_image_load(path, 0, &err));
    assert_int_equal(err.code, CQ_EIO);
    assert_int_equal(cq_image_save(im, "/nonexistent-dir/x.jpg", 0, &err), CQ_EIO);
    assert_int_equal(cq_image_save(im, "x.bmp", 0, &err), CQ_EINVAL);
    cq_image_free(back);
    cq_image_free(im);
}

static void test_image_crop_paste_convert(void **state)
{
    (void)state;
    cq_err err;
    cq_image *im = picture(20, 10, 3);
    cq_image *c = cq_image_crop(im, 5, 2, 4, 3, &err);
    assert_non_null(c);
    assert_memory_equal(c->data, im->data + (2 * 20 + 5) * 3, 12);
    assert_null(cq_image_crop(im, 17, 0, 4, 1, &err));
    assert_int_equal(err.code, CQ_ERANGE);
    cq_image *dst = cq_image_new(20, 10, 3, 9, &err);
    assert_int_equal(cq_image_paste(dst, c, 5, 2, 0, &err), CQ_OK);
    cq_image *c2 = cq_image_crop(dst, 5, 2, 4, 3, &err);
    assert_memory_equal(c2->data, c->data, 36);
    /* clipped at every edge */
    assert_int_equal(cq_image_paste(dst, im, -15, -8, 0, &err), CQ_OK);
    assert_int_equal(dst->data[0], im->data[(8 * 20 + 15) * 3]);
    assert_int_equal(cq_image_paste(dst, im, -2147483647 - 1, 3, 0, &err), CQ_OK);
    assert_int_equal(cq_image_paste(dst, im, 19, 9, 0, &err), CQ_OK); /* one pixel visible */
    assert_int_equal(dst->data[(9 * 20 + 19) * 3], im->data[0]);
    /* feathered: the outer ring is a blend, the centre a copy */
    cq_image *white = cq_image_new(7, 7, 3, 255, &err), *black = cq_image_new(7, 7, 3, 0, &err);
    assert_int_equal(cq_image_paste(black, white, 0, 0, 2, &err), CQ_OK);
    assert_int_equal(black->data[0], 85);          /* 1/3 */
    assert_int_equal(black->data[(1 * 7 + 1) * 3], 170); /* 2/3 */
    assert_int_equal(black->data[(3 * 7 + 3) * 3], 255);
    cq_image *gray = cq_image_convert(im, 1, &err);
    uint8_t *p = im->data + 33 * 3;
    assert_int_equal(gray->data[33], (p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
    cq_image *rgb = cq_image_convert(gray, 3, &err);
    assert_int_equal(rgb->data[33 * 3 + 2], gray->data[33]);
    cq_image *g1 = cq_image_new(3, 3, 1, 0, &err);
    assert_int_equal(cq_image_paste(dst, g1, 0, 0, 0, &err), CQ_EINVAL);
    assert_null(cq_image_new(0, 3, 3, 0, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    cq_image_free(NULL);
    cq_image_free(g1); cq_image_free(rgb); cq_image_free(gray); cq_image_free(white);
    cq_image_free(black); cq_image_free(c2); cq_image_free(dst); cq_image_free(c); cq_image_free(im);
}

/* Real data when present: every dlib photo decodes, and truncations fail. */
static void test_image_real_photos(void **state)
{
    (void)state;
    const char *cache = getenv("CALQ_CACHE");
    char path[1024];
    snprintf(path, sizeof path, "%s/dlib/examples/faces/2008_001009.jpg", cache ? cache : ".cache");
    cq_err err;
    if (access(path, R_OK) != 0) {
        print_message("skipped: %s is missing (set CALQ_CACHE)\n", path);
        skip();
    }
    cq_image *im = cq_image_load(path, 0, &err);
    if (!im)
        fail_msg("%s", err.msg);
    assert_int_equal(im->width, 360);
    assert_int_equal(im->height, 480);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n);
    assert_int_equal(fread(buf, 1, n, f), n);
    fclose(f);
    for (size_t cut = 0; cut < n - 2; cut += 1 + cut / 16) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        cq_image *bad = cq_image_decode(copy, cut, "cut", 0, &err);
        assert_null(bad);
        free(copy);
    }
    free(buf);
    cq_image_free(im);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_png_round_trip_is_exact),
        cmocka_unit_test(test_image_jpeg_round_trip_is_close),
        cmocka_unit_test(test_image_truncated_files_fail_cleanly),
        cmocka_unit_test(test_image_truncated_jpeg_names_the_offset),
        cmocka_unit_test(test_image_garbage_never_crashes),
        cmocka_unit_test(test_image_bombs_are_refused),
        cmocka_unit_test(test_image_save_and_load_files),
        cmocka_unit_test(test_image_crop_paste_convert),
        cmocka_unit_test(test_image_real_photos),
    };
    return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}

/* test_idx.c - the idx reader (data/idx.h): every element type, plain and
 * gzip'ed files, batches and seeks, damaged files, and Debian's Fashion-MNIST. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <zlib.h>

#include "data/idx.h"
#include "tio_util.h"

static char dir[512];

static int setup(void **state)
{
    (void)state;
    tio_tmpdir(dir, sizeof dir, "idx");
    return dir[0] ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tio_rmdir(dir);
    return 0;
}

/* Write bytes to dir/name, gzip'ed when gz; returns the path in buf. */
static const char *put(char *buf, size_t size, const char *name, const void *bytes, size_t n, int gz)
{
    snprintf(buf, size, "%s/%s", dir, name);
    if (gz) {
        gzFile f = gzopen(buf, "wb");
        assert_non_null(f);
        if (n)
            assert_int_equal(gzwrite(f, bytes, (unsigned)n), (int)n);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(buf, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(bytes, 1, n, f), n);
        fclose(f);
    }
    return buf;
}

/* An idx file: header (type, dims) then payload, into out; returns its size. */
static size_t make_idx(unsigned char *out, int type, int ndim, const uint32_t *dims,
                       const void *payload, size_t plen)
{
    size_t k = 0;
    out[k++] = 0;
    out[k++] = 0;
    out[k++] = (unsigned char)type;
    out[k++] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++) {
        out[k++] = (unsigned char)(dims[i] >> 24);
        out[k++] = (unsigned char)(dims[i] >> 16);
        out[k++] = (unsigned char)(dims[i] >> 8);
        out[k++] = (unsigned char)dims[i];
    }
    memcpy(out + k, payload, plen);
    return k + plen;
}

static void test_idx_u8_batches_plain_and_gz(void **state)
{
    (void)state;
    unsigned char payload[5 * 2 * 3], file[256];
    for (int i = 0; i < 30; i++)
        payload[i] = (unsigned char)(7 * i + 1);
    const uint32_t dims[3] = {5, 2, 3};
    size_t n = make_idx(file, 0x08, 3, dims, payload, sizeof payload);
    for (int gz = 0; gz < 2; gz++) {
        char p[600];
        put(p, sizeof p, gz ? "u8.idx.gz" : "u8.idx", file, n, gz);
        cq_err err;
        cq_idx *r = cq_idx_open(p, &err);
        assert_non_null(r);
        assert_int_equal(cq_idx_dtype(r), CQ_U8);
        assert_int_equal(cq_idx_ndim(r), 3);
        assert_int_equal(cq_idx_count(r), 5);
        assert_int_equal(cq_idx_shape(r)[1], 2);
        assert_int_equal(cq_idx_shape(r)[2], 3);
        /* batches of 2, 2, 1 */
        int64_t seen = 0;
        while (cq_idx_tell(r) < cq_idx_count(r)) {
            int64_t left = cq_idx_count(r) - cq_idx_tell(r);
            cq_tensor *t = cq_idx_read(r, left < 2 ? left : 2, &err);
            assert_non_null(t);
            assert_int_equal(t->ndim, 3);
            assert_int_equal(t->shape[1], 2);
            assert_int_equal(t->shape[2], 3);
            assert_memory_equal(cq_tensor_data(t), payload + 6 * seen, (size_t)t->shape[0] * 6);
            seen += t->shape[0];
            cq_tensor_release(t);
        }
        assert_int_equal(seen, 5);
        /* asking past the end */
        assert_null(cq_idx_read(r, 1, &err));
        assert_int_equal(err.code, CQ_ERANGE);
        /* back to item 1, then forward to 4 */
        assert_int_equal(cq_idx_seek(r, 1, &err), CQ_OK);
        cq_tensor *t = cq_idx_read(r, 1, &err);
        assert_non_null(t);
        assert_memory_equal(cq_tensor_data(t), payload + 6, 6);
        cq_tensor_release(t);
        assert_int_equal(cq_idx_seek(r, 4, &err), CQ_OK);
        t = cq_idx_read(r, 1, &err);
        assert_non_null(t);
        assert_memory_equal(cq_tensor_data(t), payload + 24, 6);
        cq_tensor_release(t);
        assert_int_equal(cq_idx_seek(r, 6, &err), CQ_ERANGE);
        cq_idx_close(r);
        /* the one-call form */
        t = cq_idx_read_file(p, 2, 2, &err);
        assert_non_null(t);
        assert_int_equal(t->shape[0], 2);
        assert_memory_equal(cq_tensor_data(t), payload + 12, 12);
        cq_tensor_release(t);
        t = cq_idx_read_file(p, 3, -1, &err);
        assert_non_null(t);
        assert_int_equal(t->shape[0], 2);
        cq_tensor_release(t);
        assert_null(cq_idx_read_file(p, 4, 2, &err));
        assert_int_equal(err.code, CQ_ERANGE);
        assert_non_null(strstr(err.msg, "items 4..5 (0-based) asked, the file has 5"));
    }
    cq_idx_close(NULL);
}

static void test_idx_wider_types_big_endian(void **state)
{
    (void)state;
    cq_err err;
    char p[600];
    unsigned char file[128];
    const uint32_t dims[2] = {2, 2};
    /* s8 */
    const unsigned char s8[4] = {0x80, 0xff, 0x00, 0x7f};
    put(p, sizeof p, "s8.idx", file, make_idx(file, 0x09, 2, dims, s8, 4), 0);
    cq_tensor *t = cq_idx_read_file(p, 0, -1, &err);
    assert_non_null(t);
    assert_int_equal(t->dtype, CQ_S8);
    assert_int_equal(((int8_t *)cq_tensor_data(t))[0], -128);
    assert_int_equal(((int8_t *)cq_tensor_data(t))[1], -1);
    assert_int_equal(((int8_t *)cq_tensor_data(t))[3], 127);
    cq_tensor_release(t);
    /* s16 widened to s32 */
    const unsigned char s16[8] = {0x80, 0x00, 0xff, 0xfe, 0x01, 0x02, 0x7f, 0xff};
    put(p, sizeof p, "s16.idx.gz", file, make_idx(file, 0x0B, 2, dims, s16, 8), 1);
    t = cq_idx_read_file(p, 0, -1, &err);
    assert_non_null(t);
    assert_int_equal(t->dtype, CQ_S32);
    const int32_t *w = cq_tensor_data(t);
    assert_int_equal(w[0], -32768);
    assert_int_equal(w[1], -2);
    assert_int_equal(w[2], 0x0102);
    assert_int_equal(w[3], 32767);
    cq_tensor_release(t);
    /* s32 */
    const unsigned char s32[16] = {0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                                   0x01, 0x02, 0x03, 0x04, 0x7f, 0xff, 0xff, 0xff};
    put(p, sizeof p, "s32.idx", file, make_idx(file, 0x0C, 2, dims, s32, 16), 0);
    t = cq_idx_read_file(p, 1, 1, &err);
    assert_non_null(t);
    assert_int_equal(t->shape[0], 1);
    assert_int_equal(((int32_t *)cq_tensor_data(t))[0], 0x01020304);
    assert_int_equal(((int32_t *)cq_tensor_data(t))[1], INT32_MAX);
    cq_tensor_release(t);
    /* f32: 1.0, -2.5, 0.1f, +inf */
    const unsigned char f32[16] = {0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0,
                                   0x3d, 0xcc, 0xcc, 0xcd, 0x7f, 0x80, 0, 0};
    put(p, sizeof p, "f32.idx.gz", file, make_idx(file, 0x0D, 2, dims, f32, 16), 1);
    t = cq_idx_read_file(p, 0, -1, &err);
    assert_non_null(t);
    assert_int_equal(t->dtype, CQ_F32);
    const float *f = cq_tensor_data(t);
    assert_true(f[0] == 1.0f && f[1] == -2.5f && f[2] == 0.1f);
    assert_true(isinf(f[3]) && f[3] > 0);
    cq_tensor_release(t);
}

/* Each damaged file fails with code and a message containing what. */
static void expect_fail(const char *name, const void *bytes, size_t n, int gz, cq_status code,
                        const char *what)
{
    char p[600];
    cq_err err;
    put(p, sizeof p, name, bytes, n, gz);
    cq_tensor *t = cq_idx_read_file(p, 0, -1, &err);
    if (t || err.code != code || !strstr(err.msg, what) || !strstr(err.msg, name))
        print_message("%s: got %s '%s'\n", name, t ? "a tensor" : cq_status_name(err.code),
                      t ? "" : err.msg);
    assert_null(t);
    assert_int_equal(err.code, code);
    assert_non_null(strstr(err.msg, what));
    assert_non_null(strstr(err.msg, name));
}

static void test_idx_damaged_files(void **state)
{
    (void)state;
    unsigned char file[256], payload[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const uint32_t dims[2] = {3, 4};
    size_t n = make_idx(file, 0x08, 2, dims, payload, sizeof payload);
    for (int gz = 0; gz < 2; gz++) {
        expect_fail(gz ? "trunc.gz" : "trunc", file, n - 5, gz, CQ_EFORMAT,
                    "truncated at item 1 of 3");
        unsigned char more[300];
        memcpy(more, file, n);
        more[n] = 99;
        expect_fail(gz ? "extra.gz" : "extra", more, n + 1, gz, CQ_EFORMAT,
                    "bytes follow the last item");
        expect_fail(gz ? "short.gz" : "short", file, 6, gz, CQ_EFORMAT, "truncated dimensions");
        expect_fail(gz ? "empty.gz" : "empty", file, 0, gz, CQ_EFORMAT, "truncated magic");
    }
    unsigned char bad[256];
    memcpy(bad, file, n);
    bad[1] = 8;
    expect_fail("magic", bad, n, 0, CQ_EFORMAT, "not an idx file (bytes 0-1 are 00 08");
    memcpy(bad, file, n);
    bad[2] = 0x0A;
    expect_fail("type", bad, n, 0, CQ_EFORMAT, "unknown type byte 0x0A at byte 2");
    bad[2] = 0x0E;
    expect_fail("f64", bad, n, 0, CQ_EUNSUPPORTED, "float64");
    memcpy(bad, file, n);
    bad[3] = 0;
    expect_fail("rank0", bad, n, 0, CQ_EFORMAT, "rank 0 at byte 3");
    bad[3] = 9;
    expect_fail("rank9", bad, n, 0, CQ_EFORMAT, "rank 9 at byte 3");
    /* dimensions beyond the allocation limit, before anything is allocated */
    const uint32_t huge[4] = {0x7fffffff, 0x7fffffff, 0x7fffffff, 2};
    n = make_idx(bad, 0x0D, 4, huge, payload, 0);
    expect_fail("huge", bad, n, 0, CQ_ENOMEM, "above calq's limit");
    /* a gzip stream with its deflate data damaged */
    char p[600];
    n = make_idx(file, 0x08, 2, dims, payload, sizeof payload);
    put(p, sizeof p, "ok.gz", file, n, 1);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    unsigned char gzb[512];
    size_t gn = fread(gzb, 1, sizeof gzb, f);
    fclose(f);
    assert_true(gn > 20);
    for (size_t i = 10; i < gn - 8; i++)
        gzb[i] ^= 0x5a;
    put(p, sizeof p, "bad.gz", gzb, gn, 0);
    cq_err err;
    assert_null(cq_idx_read_file(p, 0, -1, &err));
    assert_int_equal(err.code, CQ_EFORMAT);
    assert_non_null(strstr(err.msg, "bad.gz"));
    /* a file that is not there */
    snprintf(p, sizeof p, "%s/none.idx", dir);
    assert_null(cq_idx_open(p, &err));
    assert_int_equal(err.code, CQ_EIO);
    assert_non_null(strstr(err.msg, "none.idx: cannot open"));
}

/* Debian's dataset-fashion-mnist, when installed: shape, first labels and the
 * sum of the first image (from fmnist_data.py: y[:8] and x[0].sum()). */
static void test_idx_fashion_mnist(void **state)
{
    (void)state;
    const char *img = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    const char *lab = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    if (access(img, R_OK) != 0 || access(lab, R_OK) != 0) {
        print_message("skipped: %s not installed\n", img);
        skip();
    }
    cq_err err;
    cq_idx *r = cq_idx_open(img, &err);
    assert_non_null(r);
    assert_int_equal(cq_idx_count(r), 10000);
    assert_int_equal(cq_idx_ndim(r), 3);
    assert_int_equal(cq_idx_shape(r)[1], 28);
    cq_tensor *t = cq_idx_read(r, 1, &err);
    assert_non_null(t);
    int64_t sum = 0;
    for (int i = 0; i < 784; i++)
        sum += ((uint8_t *)cq_tensor_data(t))[i];
    assert_int_equal(sum, 33456);
    cq_tensor_release(t);
    cq_idx_close(r);
    t = cq_idx_read_file(lab, 0, 8, &err);
    assert_non_null(t);
    const uint8_t want[8] = {9, 2, 1, 1, 6, 1, 4, 6};
    assert_memory_equal(cq_tensor_data(t), want, 8);
    cq_tensor_release(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_u8_batches_plain_and_gz),
        cmocka_unit_test(test_idx_wider_types_big_endian),
        cmocka_unit_test(test_idx_damaged_files),
        cmocka_unit_test(test_idx_fashion_mnist),
    };
    return cmocka_run_group_tests_name("idx", tests, setup, teardown);
}

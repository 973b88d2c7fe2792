/* test_tfile.c - calq tensor files: round trips, the index, metadata, and
 * hostile files (every truncation and every single-byte change of a small
 * file, random multi-byte damage, crafted indexes with valid checksums). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "io/tfile.h"
#include "tio_util.h"

static char dir[512];

static int setup(void **state)
{
    (void)state;
    tio_tmpdir(dir, sizeof dir, "tfile");
    return dir[0] ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tio_rmdir(dir);
    return 0;
}

static const char *path_of(const char *name)
{
    static char buf[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Open p and read every tensor: CQ_OK or the first error (into err). */
static cq_status load_all(const char *p, cq_err *err)
{
    cq_tfile *r = cq_tfile_open(p, err);
    if (!r)
        return err->code;
    for (int i = 0; i < cq_tfile_count(r); i++) {
        cq_tensor *t = cq_tfile_read(r, i, err);
        if (!t) {
            cq_tfile_free(r);
            return err->code;
        }
        cq_tensor_release(t);
    }
    cq_tfile_free(r);
    return CQ_OK;
}

static void test_tfile_roundtrip_random(void **state)
{
    (void)state;
    cq_err err;
    char p[600];
    snprintf(p, sizeof p, "%s", path_of("rt.calq"));
    for (uint64_t seed = 0; seed < 60; seed++) {
        tio_seed(seed);
        int n = (int)tio_int(0, 7);
        cq_tensor *ts[8];
        char names[8][32];
        cq_tfile_writer *w = cq_tfile_create(p, &err);
        assert_non_null(w);
        for (int i = 0; i < n; i++) {
            ts[i] = tio_random_tensor((cq_dtype)tio_int(0, CQ_DTYPE_COUNT - 1), 5, 9);
            assert_non_null(ts[i]);
            snprintf(names[i], sizeof names[i], "layer%d.%s", i, i % 2 ? "w" : "b");
            assert_int_equal(cq_tfile_add(w, names[i], ts[i], &err), CQ_OK);
        }
        assert_int_equal(cq_tfile_set_meta(w, "seed", "x", &err), CQ_OK);
        assert_int_equal(cq_tfile_set_meta(w, "model", "m\xc3\xa9", &err), CQ_OK);
        assert_int_equal(cq_tfile_set_meta(w, "seed", "again", &err), CQ_OK); /* replaces */
        assert_int_equal(cq_tfile_close(w, &err), CQ_OK);
        assert_false(exists(path_of("rt.calq.tmp")));

        cq_tfile *r = cq_tfile_open(p, &err);
        if (!r)
            print_message("%s\n", err.msg);
        assert_non_null(r);
        assert_int_equal(cq_tfile_count(r), n);
        assert_int_equal(cq_tfile_meta_count(r), 2);
        const char *k, *v;
        assert_int_equal(cq_tfile_meta_at(r, 0, &k, &v), CQ_OK); /* sorted by key */
        assert_string_equal(k, "model");
        assert_string_equal(v, "m\xc3\xa9");
        assert_string_equal(cq_tfile_meta(r, "seed"), "again");
        assert_null(cq_tfile_meta(r, "nope"));
        assert_int_equal(cq_tfile_meta_at(r, 2, &k, &v), CQ_ERANGE);
        for (int i = n - 1; i >= 0; i--) { /* any order */
            const cq_tfile_entry *e = cq_tfile_entry_at(r, i);
            assert_string_equal(e->name, names[i]);
            assert_int_equal(e->dtype, ts[i]->dtype);
            assert_int_equal(e->ndim, ts[i]->ndim);
            assert_int_equal(cq_tfile_find(r, names[i]), i);
            cq_tensor *t = cq_tfile_read_name(r, names[i], &err);
            assert_non_null(t);
            assert_true(cq_tensor_is_contiguous(t));
            assert_true(tio_equal(t, ts[i]));
            cq_tensor_release(t);
            cq_tensor_release(ts[i]);
        }
        assert_int_equal(cq_tfile_find(r, "missing"), -1);
        assert_null(cq_tfile_read_name(r, "missing", &err));
        assert_int_equal(err.code, CQ_ERANGE);
        assert_null(cq_tfile_read(r, n, &err));
        assert_int_equal(err.code, CQ_ERANGE);
        assert_null(cq_tfile_entry_at(r, -1));
        cq_tfile_free(r);
    }
}

/* Several 4 MiB chunks, strided (the writer gathers piece by piece). */
static void test_tfile_large_strided(void **state)
{
    (void)state;
    cq_err err;
    int64_t shape[2] = {1031, 2053}; /* 8.4 MB of f32: three chunks */
    cq_tensor *t = cq_tensor_empty(CQ_F32, 2, shape, &err);
    float *x = cq_tensor_data(t);
    for (int64_t i = 0; i < shape[0] * shape[1]; i++)
        x[i] = (float)(i % 9973) * 0.25f;
    cq_tensor *tt = cq_tensor_transpose(t, 0, 1, &err), *zero = cq_tensor_new(CQ_F32, 2, shape, &err);
    const char *p = path_of("big.calq");
    cq_tfile_writer *w = cq_tfile_create(p, &err);
    assert_int_equal(cq_tfile_add(w, "t", tt, &err), CQ_OK);
    assert_int_equal(cq_tfile_add(w, "zeros", zero, &err), CQ_OK); /* the best lz4 ratio */
    assert_int_equal(cq_tfile_close(w, &err), CQ_OK);
    cq_tfile *r = cq_tfile_open(p, &err);
    assert_non_null(r);
    cq_tensor *back = cq_tfile_read(r, 0, &err), *z = cq_tfile_read(r, 1, &err);
    assert_non_null(back);
    assert_non_null(z);
    assert_true(tio_equal(back, tt));
    assert_true(tio_equal(z, zero));
    assert_true(cq_tfile_entry_at(r, 1)->csize * 200 < cq_tfile_entry_at(r, 1)->nbytes);
    cq_tensor_release(back);
    cq_tensor_release(z);
    cq_tfile_free(r);
    cq_tensor_release(tt);
    cq_tensor_release(zero);
    cq_tensor_release(t);
}

/* Calibration statistics: thousands of tiny tensors, looked up by name. */
static void test_tfile_many_small(void **state)
{
    (void)state;
    cq_err err;
    enum { N = 3000 };
    const char *p = path_of("stats.calq");
    cq_tfile_writer *w = cq_tfile_create(p, &err);
    int64_t shape[1] = {2};
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%d/minmax", i);
        cq_tensor *t = cq_tensor_empty(CQ_F32, 1, shape, &err);
        ((float *)cq_tensor_data(t))[0] = (float)-i;
        ((float *)cq_tensor_data(t))[1] = (float)i;
        assert_int_equal(cq_tfile_add(w, name, t, &err), CQ_OK);
        cq_tensor_release(t);
    }
    assert_int_equal(cq_tfile_close(w, &err), CQ_OK);
    cq_tfile *r = cq_tfile_open(p, &err);
    assert_int_equal(cq_tfile_count(r), N);
    for (int i = N - 1; i >= 0; i -= 7) {
        char name[32];
        snprintf(name, sizeof name, "node%d/minmax", i);
        cq_tensor *t = cq_tfile_read_name(r, name, &err);
        assert_non_null(t);
        assert_true(((float *)cq_tensor_data(t))[1] == (float)i);
        cq_tensor_release(t);
    }
    cq_tfile_free(r);
}

static void test_tfile_writer_errors(void **state)
{
    (void)state;
    cq_err err;
    int64_t shape[1] = {3};
    cq_tensor *t = cq_tensor_new(CQ_S8, 1, shape, &err);
    const char *p = path_of("w.calq");
    /* an old file survives an aborted rewrite */
    cq_tfile_writer *w = cq_tfile_create(p, &err);
    assert_int_equal(cq_tfile_add(w, "old", t, &err), CQ_OK);
    assert_int_equal(cq_tfile_close(w, &err), CQ_OK);
    w = cq_tfile_create(p, &err);
    assert_int_equal(cq_tfile_add(w, "a", t, &err), CQ_OK);
    assert_int_equal(cq_tfile_add(w, "a", t, &err), CQ_EINVAL);
    assert_true(strstr(err.msg, "tensor 'a' is already in the file") != NULL);
    assert_int_equal(cq_tfile_add(w, "", t, &err), CQ_EINVAL);
    assert_true(exists(path_of("w.calq.tmp")));
    cq_tfile_abort(w);
    assert_false(exists(path_of("w.calq.tmp")));
    cq_tfile *r = cq_tfile_open(p, &err);
    assert_non_null(r);
    assert_int_equal(cq_tfile_find(r, "old"), 0);
    cq_tfile_free(r);
    cq_tfile_abort(NULL);
    cq_tfile_free(NULL);
    /* a directory that does not exist */
    assert_null(cq_tfile_create("/nonexistent-calq-dir/x.calq", &err));
    assert_int_equal(err.code, CQ_EIO);
    assert_string_equal(err.msg, "/nonexistent-calq-dir/x.calq.tmp: cannot create: No such file or directory");
    cq_tensor_release(t);
}

/* A small file with incompressible data, as bytes. */
static unsigned char *small_file(const char *p, size_t *n)
{
    cq_err err;
    int64_t s1[2] = {4, 3}, s2[1] = {5};
    tio_seed(77);
    cq_tensor *a = tio_random_dense(CQ_F32, 2, s1), *b = tio_random_dense(CQ_S8, 1, s2);
    cq_tfile_writer *w = cq_tfile_create(p, &err);
    assert_int_equal(cq_tfile_add(w, "conv1.w", a, &err), CQ_OK);
    assert_int_equal(cq_tfile_add(w, "conv1.b", b, &err), CQ_OK);
    assert_int_equal(cq_tfile_set_meta(w, "k", "v", &err), CQ_OK);
    assert_int_equal(cq_tfile_close(w, &err), CQ_OK);
    cq_tensor_release(a);
    cq_tensor_release(b);
    return tio_slurp(p, n);
}

static void test_tfile_every_truncation_and_byte(void **state)
{
    (void)state;
    cq_err err;
    const char *p = path_of("x.calq"), *q = path_of("bad.calq");
    size_t n;
    unsigned char *good = small_file(p, &n);
    assert_non_null(good);
    assert_int_equal(load_all(p, &err), CQ_OK);
    for (size_t len = 0; len < n; len++) {
        assert_int_equal(tio_spit(q, good, len), 0);
        assert_int_not_equal(load_all(q, &err), CQ_OK);
        assert_true(strncmp(err.msg, q, strlen(q)) == 0); /* names the file */
    }
    unsigned char *bad = malloc(n);
    for (size_t off = 0; off < n; off++) {
        for (int pattern = 0; pattern < 3; pattern++) {
            static const unsigned char flips[3] = {0xff, 0x01, 0x80};
            memcpy(bad, good, n);
            bad[off] ^= flips[pattern];
            assert_int_equal(tio_spit(q, bad, n), 0);
            cq_status st = load_all(q, &err);
            if (st == CQ_OK)
                print_message("byte %zu ^ 0x%02x went unnoticed\n", off, flips[pattern]);
            assert_int_not_equal(st, CQ_OK);
            assert_true(strncmp(err.msg, q, strlen(q)) == 0);
        }
    }
    /* the data bytes of 'conv1.w' (stored raw: random floats do not compress):
     * header 16 + lz4 frame header 15 + block size 4 */
    memcpy(bad, good, n);
    bad[16 + 15 + 4 + 10] ^= 0x20;
    assert_int_equal(tio_spit(q, bad, n), 0);
    assert_int_equal(load_all(q, &err), CQ_EFORMAT);
    char want[700];
    snprintf(want, sizeof want, "%s: tensor 'conv1.w': payload checksum mismatch", q);
    assert_string_equal(err.msg, want);
    free(bad);
    free(good);
}

static void test_tfile_random_damage(void **state)
{
    (void)state;
    cq_err err;
    const char *p = path_of("y.calq"), *q = path_of("bad2.calq");
    size_t n;
    unsigned char *good = small_file(p, &n), *bad = malloc(n + 64);
    tio_seed(4242);
    for (int trial = 0; trial < 3000; trial++) {
        size_t len = n;
        memcpy(bad, good, n);
        int flips = (int)tio_int(1, 8);
        for (int k = 0; k < flips; k++) {
            size_t off = (size_t)tio_int(0, (int64_t)n - 1);
            unsigned char x = (unsigned char)tio_int(1, 255);
            bad[off] ^= x;
        }
        if (trial % 3 == 0) /* also change the length */
            len = (size_t)tio_int(0, (int64_t)n + 63);
        for (size_t i = n; i < len; i++)
            bad[i] = (unsigned char)tio_u64();
        assert_int_equal(tio_spit(q, bad, len), 0);
        assert_int_not_equal(load_all(q, &err), CQ_OK);
    }
    free(bad);
    free(good);
}

/* Rewrite the index of a good file (keeping its CRC valid) with fn. */
static void craft(const char *p, unsigned char *file, size_t n, void (*fn)(unsigned char *idx, size_t isize))
{
    uint64_t ioff = 0, isize = 0;
    for (int i = 7; i >= 0; i--) {
        ioff = ioff << 8 | file[n - 24 + i];
        isize = isize << 8 | file[n - 16 + i];
    }
    fn(file + ioff, (size_t)isize);
    uint32_t crc = cq_crc32(0, file + ioff, (size_t)isize);
    for (int i = 0; i < 4; i++)
        file[n - 8 + i] = (unsigned char)(crc >> (8 * i));
    assert_int_equal(tio_spit(p, file, n), 0);
}

/* small_file's index: count(4) nmeta(4), then "conv1.w": len(2) name(7) dtype(1) ndim(1)
 * dims(2 x 8) offset(8) csize(8) = 43 bytes, then "conv1.b". */
static void absurd_shape(unsigned char *idx, size_t isize)
{
    (void)isize;
    unsigned char *dims = idx + 8 + 2 + 7 + 2;
    memset(dims, 0, 16);
    dims[5] = 1; /* 2^40 */
    dims[8 + 5] = 1;
}
static void huge_count(unsigned char *idx, size_t isize)
{
    (void)isize;
    idx[3] = 0x7f;
}
static void big_claim(unsigned char *idx, size_t isize)
{
    (void)isize;
    unsigned char *dims = idx + 8 + 2 + 7 + 2;
    dims[0] = 0;
    dims[2] = 1; /* 65536 x 3 floats in a few dozen compressed bytes */
}
static void bad_dtype(unsigned char *idx, size_t isize)
{
    (void)isize;
    idx[8 + 2 + 7] = 200;
}
static void outside(unsigned char *idx, size_t isize)
{
    (void)isize;
    idx[8 + 2 + 7 + 2 + 16 + 7] = 0x40; /* payload offset far away */
}
static void same_name(unsigned char *idx, size_t isize)
{
    (void)isize;
    idx[8 + 43 + 2 + 6] = 'w'; /* second entry: "conv1.b" -> "conv1.w" */
}

static void test_tfile_crafted_index(void **state)
{
    (void)state;
    cq_err err;
    const char *p = path_of("z.calq"), *q = path_of("crafted.calq");
    size_t n;
    unsigned char *good = small_file(p, &n), *f = malloc(n);
    struct { void (*fn)(unsigned char *, size_t); cq_status code; const char *msg; } cases[] = {
        {absurd_shape, CQ_EFORMAT, "tensor 'conv1.w': absurd shape (dimension 0 is 1099511627776)"},
        {huge_count, CQ_EFORMAT, "index claims 2130706434 tensors and 1 metadata pairs, more than its"},
        {big_claim, CQ_EFORMAT, "tensor 'conv1.w': declares 786432 bytes, more than its"},
        {bad_dtype, CQ_EFORMAT, "tensor 'conv1.w': unknown dtype code 200"},
        {outside, CQ_EFORMAT, "tensor 'conv1.w': payload at"},
        {same_name, CQ_EFORMAT, "tensor 'conv1.w' appears twice in the index"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(f, good, n);
        craft(q, f, n, cases[i].fn);
        cq_status st = load_all(q, &err);
        assert_int_equal(st, cases[i].code);
        if (cases[i].msg) {
            char want[800];
            snprintf(want, sizeof want, "%s: %s", q, cases[i].msg);
            assert_true(strncmp(err.msg, want, strlen(want)) == 0);
        }
    }
    /* wrong magic, version and flags */
    memcpy(f, good, n);
    f[1] = 'X';
    tio_spit(q, f, n);
    assert_null(cq_tfile_open(q, &err));
    char want[800];
    snprintf(want, sizeof want, "%s: not a calq tensor file (wrong magic)", q);
    assert_string_equal(err.msg, want);
    memcpy(f, good, n);
    f[8] = 2;
    tio_spit(q, f, n);
    assert_null(cq_tfile_open(q, &err));
    assert_int_equal(err.code, CQ_EUNSUPPORTED);
    snprintf(want, sizeof want, "%s: tensor file version 2 (calq reads 1)", q);
    assert_string_equal(err.msg, want);
    free(f);
    free(good);
}

static void test_tfile_crc32(void **state)
{
    (void)state;
    assert_int_equal(cq_crc32(0, "123456789", 9), 0xcbf43926u); /* the standard check value */
    assert_int_equal(cq_crc32(cq_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
    assert_int_equal(cq_crc32(0, "", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tfile_crc32),
        cmocka_unit_test(test_tfile_roundtrip_random),
        cmocka_unit_test(test_tfile_large_strided),
        cmocka_unit_test(test_tfile_many_small),
        cmocka_unit_test(test_tfile_writer_errors),
        cmocka_unit_test(test_tfile_every_truncation_and_byte),
        cmocka_unit_test(test_tfile_random_damage),
        cmocka_unit_test(test_tfile_crafted_index),
    };
    return cmocka_run_group_tests_name("tfile", tests, setup, teardown);
}

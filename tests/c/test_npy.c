/* test_npy.c - NumPy .npy: round trips, files written by Debian's numpy (and
 * calq's files read back by it), hostile headers and truncations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/npy.h"
#include "tio_util.h"

static char dir[512];

static int setup(void **state)
{
    (void)state;
    tio_tmpdir(dir, sizeof dir, "npy");
    return dir[0] ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tio_rmdir(dir);
    return 0;
}

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static const cq_dtype npy_dtypes[] = {CQ_F32, CQ_F16, CQ_S8, CQ_U8, CQ_S32, CQ_S64, CQ_BOOL};

static void test_npy_roundtrip_random(void **state)
{
    (void)state;
    cq_err err;
    char p[600];
    path_in(p, sizeof p, "rt.npy");
    for (uint64_t seed = 0; seed < 300; seed++) {
        tio_seed(seed);
        cq_dtype dt = npy_dtypes[tio_u64() % 7];
        cq_tensor *t = tio_random_tensor(dt, 8, 4);
        assert_non_null(t);
        assert_int_equal(cq_npy_write(p, t, &err), CQ_OK);
        cq_tensor *back = cq_npy_read(p, &err);
        if (!back)
            print_message("%s\n", err.msg);
        assert_non_null(back);
        assert_true(tio_equal(back, t));
        cq_tensor_release(back);
        cq_tensor_release(t);
    }
}

static void test_npy_bf16_refused(void **state)
{
    (void)state;
    cq_err err;
    int64_t shape[1] = {2};
    cq_tensor *t = cq_tensor_new(CQ_BF16, 1, shape, &err);
    char p[600], want[700];
    path_in(p, sizeof p, "bf16.npy");
    assert_int_equal(cq_npy_write(p, t, &err), CQ_EUNSUPPORTED);
    snprintf(want, sizeof want, "%s: NumPy has no bf16 dtype (convert to f32 first)", p);
    assert_string_equal(err.msg, want);
    assert_int_equal(access(p, F_OK), -1);
    cq_tensor_release(t);
}

static int have_numpy(void)
{
    return access("/usr/bin/python3", X_OK) == 0
           && system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

/* numpy writes: x = arange(n) reshaped, in various dtypes, orders and versions. */
static const char *py_write =
    "import numpy as np, sys\n"
    "from numpy.lib import format as F\n"
    "d = sys.argv[1]\n"
    "def base(shape, dt):\n"
    "    n = int(np.prod(shape))\n"
    "    a = (np.arange(n) % 97 - 40)\n"
    "    if dt == '?': a = a % 3 == 0\n"
    "    if dt in ('u1',): a = a % 97\n"
    "    return a.reshape(shape).astype(dt)\n"
    "cases = [('f4', (2, 3, 4)), ('<f2', (5,)), ('i1', (3, 7)), ('u1', (4, 4)),\n"
    "         ('<i4', (2, 2, 2)), ('<i8', (6,)), ('?', (3, 5)), ('>f4', (3, 4)), ('>i8', (2, 3)),\n"
    "         ('>f2', (7,)), ('f4', ()), ('f4', (0, 3))]\n"
    "for i, (dt, shape) in enumerate(cases):\n"
    "    np.save('%s/np%d.npy' % (d, i), base(shape, dt))\n"
    "    np.save('%s/npF%d.npy' % (d, i), np.asfortranarray(base(shape, dt)) if shape else base(shape, dt))\n"
    "    for v in ((2, 0), (3, 0)):\n"
    "        with open('%s/np%d_v%d.npy' % (d, i, v[0]), 'wb') as f:\n"
    "            F.write_array(f, base(shape, dt), version=v)\n";

/* The same values computed here. */
static double numpy_value(const char *dt, int64_t i)
{
    int64_t a = i % 97 - 40;
    if (strcmp(dt, "?") == 0)
        return a % 3 == 0;
    if (strcmp(dt, "u1") == 0)
        return (double)(((a % 97) + 97) % 97);
    return (double)a;
}

static void test_npy_numpy_interop(void **state)
{
    (void)state;
    if (!have_numpy()) {
        print_message("skipped: /usr/bin/python3 has no numpy\n");
        skip();
    }
    static const struct { const char *dt; int ndim; int64_t shape[3]; cq_dtype cq; } cases[] = {
        {"f4", 3, {2, 3, 4}, CQ_F32}, {"<f2", 1, {5}, CQ_F16}, {"i1", 2, {3, 7}, CQ_S8},
        {"u1", 2, {4, 4}, CQ_U8}, {"<i4", 3, {2, 2, 2}, CQ_S32}, {"<i8", 1, {6}, CQ_S64},
        {"?", 2, {3, 5}, CQ_BOOL}, {">f4", 2, {3, 4}, CQ_F32}, {">i8", 2, {2, 3}, CQ_S64},
        {">f2", 1, {7}, CQ_F16}, {"f4", 0, {0}, CQ_F32}, {"f4", 2, {0, 3}, CQ_F32},
    };
    char script[600], cmd[1400];
    path_in(script, sizeof script, "w.py");
    assert_int_equal(tio_spit(script, py_write, strlen(py_write)), 0);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script, dir);
    assert_int_equal(system(cmd), 0);
    cq_err err;
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        static const char *const variants[] = {"np%d.npy", "npF%d.npy", "np%d_v2.npy", "np%d_v3.npy"};
        for (int v = 0; v < 4; v++) {
            char name[64], p[700];
            snprintf(name, sizeof name, variants[v], i);
            path_in(p, sizeof p, name);
            cq_tensor *t = cq_npy_read(p, &err);
            if (!t)
                print_message("%s\n", err.msg);
            assert_non_null(t);
            if (t->dtype != cases[i].cq)
                print_message("%s: %s\n", p, cq_dtype_info(t->dtype)->name);
            assert_int_equal(t->dtype, cases[i].cq);
            assert_int_equal(t->ndim, cases[i].ndim);
            for (int d = 0; d < t->ndim; d++)
                assert_int_equal(t->shape[d], cases[i].shape[d]);
            const cq_dtype_traits *tr = cq_dtype_info(t->dtype);
            for (int64_t k = 0; k < cq_tensor_numel(t); k++)
                assert_true(tr->get((char *)cq_tensor_data(t) + (size_t)k * tr->size)
                            == numpy_value(cases[i].dt, k));
            /* and back through calq as a transposed view */
            char out[700];
            snprintf(out, sizeof out, "%s/calq%d_%d.npy", dir, i, v);
            cq_tensor *tt = t->ndim >= 2 ? cq_tensor_transpose(t, 0, t->ndim - 1, &err) : t;
            assert_int_equal(cq_npy_write(out, tt, &err), CQ_OK);
            cq_tensor *back = cq_npy_read(out, &err);
            assert_non_null(back);
            assert_true(tio_equal(back, tt));
            cq_tensor_release(back);
            if (tt != t)
                cq_tensor_release(tt);
            cq_tensor_release(t);
        }
    }
}

/* numpy reads what calq wrote, byte for byte (one python run checks all). */
static void test_npy_numpy_reads_calq(void **state)
{
    (void)state;
    if (!have_numpy()) {
        print_message("skipped: /usr/bin/python3 has no numpy\n");
        skip();
    }
    enum { N = 40 };
    cq_err err;
    char p[600], list[600];
    path_in(list, sizeof list, "list.txt");
    FILE *lf = fopen(list, "w");
    assert_non_null(lf);
    for (int k = 0; k < N; k++) {
        tio_seed(900 + (uint64_t)k);
        cq_dtype dt = npy_dtypes[k % 7];
        cq_tensor *t = tio_random_tensor(dt, 4, 5);
        snprintf(p, sizeof p, "%s/c%d.npy", dir, k);
        assert_int_equal(cq_npy_write(p, t, &err), CQ_OK);
        cq_tensor *c = cq_tensor_clone(t, &err);
        snprintf(p, sizeof p, "%s/c%d.raw", dir, k);
        assert_int_equal(tio_spit(p, cq_tensor_data(c), cq_tensor_nbytes(c)), 0);
        fprintf(lf, "%d %s", k, cq_dtype_info(dt)->npy_descr);
        for (int d = 0; d < t->ndim; d++)
            fprintf(lf, " %lld", (long long)t->shape[d]);
        fprintf(lf, "\n");
        cq_tensor_release(c);
        cq_tensor_release(t);
    }
    fclose(lf);
    static const char *check =
        "import numpy as np, sys\n"
        "d = sys.argv[1]\n"
        "for line in open(d + '/list.txt'):\n"
        "    f = line.split()\n"
        "    shape = tuple(int(x) for x in f[2:])\n"
        "    a = np.load('%s/c%s.npy' % (d, f[0]))\n"
        "    b = np.fromfile('%s/c%s.raw' % (d, f[0]), dtype=f[1]).reshape(shape)\n"
        "    if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():\n"
        "        sys.exit('mismatch in c%s.npy' % f[0])\n";
    char script[600], cmd[1400];
    path_in(script, sizeof script, "check.py");
    assert_int_equal(tio_spit(script, check, strlen(check)), 0);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script, dir);
    assert_int_equal(system(cmd), 0);
}

static void expect_error(const char *p, const void *bytes, size_t n, cq_status code, const char *msg)
{
    cq_err err;
    char want[900];
    assert_int_equal(tio_spit(p, bytes, n), 0);
    assert_null(cq_npy_read(p, &err));
    assert_int_equal(err.code, code);
    if (msg) {
        snprintf(want, sizeof want, "%s: %s", p, msg);
        if (strcmp(err.msg, want) != 0)
            print_message("got: %s\n", err.msg);
        assert_string_equal(err.msg, want);
    }
}

/* A version 1.0 file with header text h (padded) and n data bytes. */
static size_t make_npy(unsigned char *out, const char *h, size_t ndata)
{
    size_t hl = strlen(h), total = (10 + hl + 1 + 63) / 64 * 64;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)((total - 10) & 0xff);
    out[9] = (unsigned char)((total - 10) >> 8);
    memcpy(out + 10, h, hl);
    memset(out + 10 + hl, ' ', total - 10 - hl - 1);
    out[total - 1] = '\n';
    memset(out + total, 0, ndata);
    return total + ndata;
}

static void test_npy_hostile(void **state)
{
    (void)state;
    char p[600];
    path_in(p, sizeof p, "bad.npy");
    unsigned char buf[1024];
    size_t n;
    n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 1000000), }", 8);
    expect_error(p, buf, n, CQ_EFORMAT,
                 "truncated: the header's shape needs more than 8 bytes of data, the file has 8");
    n = make_npy(buf, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 8);
    expect_error(p, buf, n, CQ_EUNSUPPORTED,
                 "npy dtype '<f8' is not supported (calq reads f4 f2 i1 u1 i4 i8 b1)");
    n = make_npy(buf, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4);
    expect_error(p, buf, n, CQ_EUNSUPPORTED, "npy structured dtypes are not supported");
    n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 12 + 5);
    expect_error(p, buf, n, CQ_EFORMAT, "5 unexpected bytes after the data (shape and file size disagree)");
    n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -1), }", 12);
    expect_error(p, buf, n, CQ_EFORMAT, "npy header byte 64: shape entry is not a non-negative integer");
    n = make_npy(buf, "{'descr': '<f4', 'shape': (3,), }", 12);
    expect_error(p, buf, n, CQ_EFORMAT, NULL);
    n = make_npy(buf, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3,), }", 12);
    expect_error(p, buf, n, CQ_EFORMAT, NULL);
    n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4);
    expect_error(p, buf, n, CQ_EFORMAT, NULL);
    memcpy(buf, "\x93NUMPX", 6);
    expect_error(p, buf, n, CQ_EFORMAT, "not an npy file (wrong magic)");
    memcpy(buf, "\x93NUMPY\x04", 7);
    expect_error(p, buf, n, CQ_EUNSUPPORTED, "npy format version 4.0 (calq reads 1.0, 2.0, 3.0)");
    /* a header length beyond the file */
    n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 12);
    buf[8] = 0xff;
    buf[9] = 0xff;
    expect_error(p, buf, n, CQ_EFORMAT, NULL);
    /* every truncation of a good file fails cleanly */
    n = make_npy(buf, "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }", 48);
    cq_err err;
    assert_int_equal(tio_spit(p, buf, n), 0);
    cq_tensor *t = cq_npy_read(p, &err);
    assert_non_null(t);
    cq_tensor_release(t);
    for (size_t len = 0; len < n; len++)
        expect_error(p, buf, len, CQ_EFORMAT, NULL);
    /* random damage to the header never crashes */
    unsigned char bad[1024];
    tio_seed(5);
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(bad, buf, n);
        for (int k = 0; k < 3; k++)
            bad[tio_int(0, 63)] = (unsigned char)tio_u64();
        assert_int_equal(tio_spit(p, bad, n), 0);
        cq_tensor_release(cq_npy_read(p, &err));
    }
    assert_null(cq_npy_read("/nonexistent-calq/x.npy", &err));
    assert_int_equal(err.code, CQ_EIO);
}

/* Rows a few at a time (cq_npy_open / cq_npy_read_rows): every run of
 * rows, with steps, equals the same slice of the whole file, for random
 * dtypes and shapes; out-of-range requests are ERANGE; 0-d arrays refused. */
static void test_npy_read_rows(void **state)
{
    (void)state;
    cq_err err;
    char p[600];
    path_in(p, sizeof p, "rows.npy");
    for (uint64_t seed = 0; seed < 60; seed++) {
        tio_seed(seed + 1000);
        cq_dtype dt = npy_dtypes[tio_u64() % 7];
        int ndim = (int)tio_int(1, 4);
        int64_t shape[CQ_MAX_DIMS];
        for (int i = 0; i < ndim; i++)
            shape[i] = tio_int(1, i == 0 ? 20 : 5);
        cq_tensor *t = tio_random_dense(dt, ndim, shape);
        assert_int_equal(cq_npy_write(p, t, &err), CQ_OK);
        cq_npy_reader *r = cq_npy_open(p, &err);
        assert_non_null(r);
        cq_dtype rdt;
        int64_t rs[CQ_MAX_DIMS];
        assert_int_equal(cq_npy_shape(r, &rdt, rs), ndim);
        assert_int_equal(rdt, dt);
        for (int i = 0; i < ndim; i++)
            assert_int_equal(rs[i], shape[i]);
        for (int k = 0; k < 10; k++) {
            int64_t first = tio_int(0, shape[0] - 1), step = tio_int(1, 4);
            int64_t count = tio_int(1, (shape[0] - 1 - first) / step + 1);
            cq_tensor *rows = cq_npy_read_rows(r, first, count, step, &err);
            assert_non_null(rows);
            cq_tensor *want = cq_tensor_slice(t, 0, first, first + (count - 1) * step + 1, step, &err);
            assert_non_null(want);
            assert_true(tio_equal(rows, want));
            cq_tensor_release(rows);
            cq_tensor_release(want);
        }
        assert_null(cq_npy_read_rows(r, 0, shape[0] + 1, 1, &err));
        assert_int_equal(err.code, CQ_ERANGE);
        assert_null(cq_npy_read_rows(r, shape[0], 1, 1, &err));
        assert_int_equal(err.code, CQ_ERANGE);
        assert_null(cq_npy_read_rows(r, 0, 2, shape[0], &err));
        assert_int_equal(err.code, CQ_ERANGE);
        assert_null(cq_npy_read_rows(r, 0, 0, 1, &err));
        assert_int_equal(err.code, CQ_ERANGE);
        cq_npy_close(r);
        cq_tensor_release(t);
    }
    cq_tensor *s = cq_tensor_scalar(CQ_F32, 1.5, &err);
    assert_int_equal(cq_npy_write(p, s, &err), CQ_OK);
    assert_null(cq_npy_open(p, &err));
    assert_int_equal(err.code, CQ_EFORMAT);
    cq_tensor_release(s);
    assert_null(cq_npy_open("/nonexistent-calq/x.npy", &err));
    assert_int_equal(err.code, CQ_EIO);
    cq_npy_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_roundtrip_random),
        cmocka_unit_test(test_npy_bf16_refused),
        cmocka_unit_test(test_npy_numpy_interop),
        cmocka_unit_test(test_npy_numpy_reads_calq),
        cmocka_unit_test(test_npy_hostile),
        cmocka_unit_test(test_npy_read_rows),
    };
    return cmocka_run_group_tests_name("npy", tests, setup, teardown);
}

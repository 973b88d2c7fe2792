/* test_err_contract.c - the error contract of base/status.h, call by call:
 * every public call in the table below is made to fail (a missing path,
 * bytes that are not the format, a well-formed file of the wrong kind, bad
 * shapes, an index out of range, an unwritable folder), and each one must
 * return its failure (NULL, -1 or a status) AND leave err filled: a code
 * that is a failure, the same code it returned when it returns one, and a
 * non-empty message; where the call took a path, the message names the file.
 * err is cleared before each call, so a message left by an earlier call does
 * not count. docs/reliability.md, "The error contract". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "exec_testutil.h"

#include "base/limits.h"
#include "calib/stats.h"
#include "cost/hw.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "exec/exec.h"
#include "image/image.h"
#include "io/npy.h"
#include "io/tfile.h"
#include "onnx/onnx.h"

/* What a case returns: the status of a call that returns one, RET_NULL for
 * a NULL or -1 return, RET_OK when the call succeeded (a breach here). */
#define RET_NULL (-1)
#define RET_OK 0

static char dir[64];          /* the test's scratch folder */
static char p_missing[128];   /* a path that does not exist */
static char p_garbage[128];   /* bytes that are no calq format */
static char p_tfile[128];     /* a good tensor file with one tensor 'w', no statistics */
static char p_trunc[128];     /* the first half of a good ONNX model */
static char p_nodir[128];     /* a file in a folder that does not exist */
static char p_npy[128];       /* a good .npy of 4 rows */
static const char GARBAGE[] = "calq: these bytes are not a model, tensor, image or dataset\n"
                              "\x01\x02\x03\xff\xfe{<[\"";

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* y = Relu(x), x f32 [1, 4] */
static cq_graph *relu_graph(void)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    assert_non_null(g);
    int64_t s[2] = {1, 4};
    add_io(g, "x", 2, s, "y");
    const char *in[1] = {"x"};
    node(g, "Relu", "relu", 1, in, "y");
    set_opset(g, 13);
    return g;
}

static int setup(void **state)
{
    (void)state;
    cq_err err;
    strcpy(dir, "/tmp/cq_errcXXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(p_missing, sizeof p_missing, "%s/missing.file", dir);
    snprintf(p_garbage, sizeof p_garbage, "%s/garbage.bin", dir);
    snprintf(p_tfile, sizeof p_tfile, "%s/plain.calq", dir);
    snprintf(p_trunc, sizeof p_trunc, "%s/trunc.onnx", dir);
    snprintf(p_nodir, sizeof p_nodir, "%s/no/such/dir/out.file", dir);
    snprintf(p_npy, sizeof p_npy, "%s/rows.npy", dir);
    write_file(p_garbage, GARBAGE, sizeof GARBAGE - 1);

    int64_t s[2] = {4, 3};
    cq_tensor *t = cq_tensor_new(CQ_F32, 2, s, &err);
    assert_non_null(t);
    cq_tfile_writer *w = cq_tfile_create(p_tfile, &err);
    assert_non_null(w);
    assert_int_equal(cq_tfile_add(w, "w", t, &err), CQ_OK);
    assert_int_equal(cq_tfile_close(w, &err), CQ_OK);
    assert_int_equal(cq_npy_write(p_npy, t, &err), CQ_OK);
    cq_tensor_release(t);

    cq_graph *g = relu_graph();
    void *buf;
    size_t len;
    assert_int_equal(cq_onnx_save_buffer(g, &buf, &len, &err), CQ_OK);
    write_file(p_trunc, buf, len / 2);
    free(buf);
    cq_graph_free(g);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(p_garbage);
    unlink(p_tfile);
    unlink(p_trunc);
    unlink(p_npy);
    rmdir(dir);
    return 0;
}

/* ---- the cases: each makes one failing call -------------------------------- */

/* A call that returns a pointer, and what frees it should it succeed. */
#define PTR_CASE(name, freefn, call)               \
    static int name(cq_err *err)                   \
    {                                              \
        void *r = (void *)(call);                  \
        return r ? (freefn(r), RET_OK) : RET_NULL; \
    }

static void free_graph(void *p) { cq_graph_free(p); }
static void free_tensor(void *p) { cq_tensor_release(p); }
static void free_ds(void *p) { cq_dataset_free(p); }
static void free_image(void *p) { cq_image_free(p); }

#define GRAPH_CASE(name, call) PTR_CASE(name, free_graph, call)
#define TENSOR_CASE(name, call) PTR_CASE(name, free_tensor, call)
#define DS_CASE(name, call) PTR_CASE(name, free_ds, call)
#define IMAGE_CASE(name, call) PTR_CASE(name, free_image, call)

GRAPH_CASE(onnx_load_missing, cq_onnx_load(p_missing, err))
GRAPH_CASE(onnx_load_garbage, cq_onnx_load(p_garbage, err))
GRAPH_CASE(onnx_load_truncated, cq_onnx_load(p_trunc, err))
GRAPH_CASE(onnx_load_buffer_garbage,
           cq_onnx_load_buffer(GARBAGE, sizeof GARBAGE - 1, "garbage.bin", err))
TENSOR_CASE(onnx_tensor_missing, cq_onnx_read_tensor(p_missing, NULL, err))
TENSOR_CASE(onnx_tensor_garbage, cq_onnx_read_tensor(p_garbage, NULL, err))
TENSOR_CASE(npy_missing, cq_npy_read(p_missing, err))
TENSOR_CASE(npy_garbage, cq_npy_read(p_garbage, err))
TENSOR_CASE(npy_of_tfile, cq_npy_read(p_tfile, err))
TENSOR_CASE(idx_file_garbage, cq_idx_read_file(p_garbage, 0, 1, err))
DS_CASE(coco_missing, cq_ds_read_coco(p_missing, NULL, err))
DS_CASE(coco_garbage, cq_ds_read_coco(p_garbage, NULL, err))
DS_CASE(coco_mem_garbage, cq_ds_read_coco_mem(GARBAGE, sizeof GARBAGE - 1, "garbage.bin", err))
DS_CASE(voc_missing, cq_ds_read_voc(p_missing, NULL, err))
DS_CASE(yolo_missing, cq_ds_read_yolo(p_missing, NULL, err))
DS_CASE(dlib_missing, cq_ds_read_dlib(p_missing, NULL, err))
DS_CASE(dlib_garbage, cq_ds_read_dlib(p_garbage, NULL, err))
DS_CASE(csv_missing, cq_ds_read_csv(p_missing, NULL, err))
DS_CASE(dataset_format, cq_dataset_read(p_garbage, "nosuchformat", NULL, err))
IMAGE_CASE(image_missing, cq_image_load(p_missing, 0, err))
IMAGE_CASE(image_garbage, cq_image_load(p_garbage, 0, err))
IMAGE_CASE(image_decode_garbage,
           cq_image_decode(GARBAGE, sizeof GARBAGE - 1, "garbage.bin", 0, err))

static int onnx_tensor_buffer_garbage(cq_err *err)
{
    cq_tensor *t = cq_onnx_read_tensor_buffer("\x0a\x7f", 2, "short.pb", NULL, err);
    return t ? (cq_tensor_release(t), RET_OK) : RET_NULL;
}

static int onnx_save_nodir(cq_err *err)
{
    cq_graph *g = relu_graph();
    cq_status st = cq_onnx_save(g, p_nodir, err);
    cq_graph_free(g);
    return (int)st;
}

static int tfile_missing(cq_err *err)
{
    cq_tfile *r = cq_tfile_open(p_missing, err);
    return r ? (cq_tfile_free(r), RET_OK) : RET_NULL;
}

static int tfile_garbage(cq_err *err)
{
    cq_tfile *r = cq_tfile_open(p_garbage, err);
    return r ? (cq_tfile_free(r), RET_OK) : RET_NULL;
}

static int tfile_create_nodir(cq_err *err)
{
    cq_tfile_writer *w = cq_tfile_create(p_nodir, err);
    return w ? (cq_tfile_close(w, err), RET_OK) : RET_NULL;
}

/* a good file, a tensor it does not have (by index, by name) */
static int tfile_read_range(cq_err *err)
{
    cq_err e2;
    cq_tfile *r = cq_tfile_open(p_tfile, &e2);
    assert_non_null(r);
    cq_tensor *t = cq_tfile_read(r, 7, err);
    cq_tfile_free(r);
    return t ? (cq_tensor_release(t), RET_OK) : RET_NULL;
}

static int tfile_read_name(cq_err *err)
{
    cq_err e2;
    cq_tfile *r = cq_tfile_open(p_tfile, &e2);
    assert_non_null(r);
    cq_tensor *t = cq_tfile_read_name(r, "nosuchtensor", err);
    cq_tfile_free(r);
    return t ? (cq_tensor_release(t), RET_OK) : RET_NULL;
}

static int npy_open_garbage(cq_err *err)
{
    cq_npy_reader *r = cq_npy_open(p_garbage, err);
    return r ? (cq_npy_close(r), RET_OK) : RET_NULL;
}

static int npy_rows_range(cq_err *err)
{
    cq_err e2;
    cq_npy_reader *r = cq_npy_open(p_npy, &e2);
    assert_non_null(r);
    cq_tensor *t = cq_npy_read_rows(r, 3, 2, 1, err); /* rows 3 and 4 of 4 */
    cq_npy_close(r);
    return t ? (cq_tensor_release(t), RET_OK) : RET_NULL;
}

static int npy_write_nodir(cq_err *err)
{
    int64_t s[1] = {2};
    cq_err e2;
    cq_tensor *t = cq_tensor_new(CQ_F32, 1, s, &e2);
    assert_non_null(t);
    cq_status st = cq_npy_write(p_nodir, t, err);
    cq_tensor_release(t);
    return (int)st;
}

static int stats_missing(cq_err *err)
{
    cq_calib_stats *s = cq_calib_stats_load(p_missing, err);
    return s ? (cq_calib_stats_free(s), RET_OK) : RET_NULL;
}

static int stats_garbage(cq_err *err)
{
    cq_calib_stats *s = cq_calib_stats_load(p_garbage, err);
    return s ? (cq_calib_stats_free(s), RET_OK) : RET_NULL;
}

/* a well-formed tensor file that holds no statistics */
static int stats_of_tfile(cq_err *err)
{
    cq_calib_stats *s = cq_calib_stats_load(p_tfile, err);
    return s ? (cq_calib_stats_free(s), RET_OK) : RET_NULL;
}

static int idx_missing(cq_err *err)
{
    cq_idx *r = cq_idx_open(p_missing, err);
    return r ? (cq_idx_close(r), RET_OK) : RET_NULL;
}

static int image_header_garbage(cq_err *err)
{
    int32_t w, h;
    return (int)cq_image_header_size(p_garbage, &w, &h, err);
}

/* the C half of a hardware profile: an empty one */
static int hw_empty(cq_err *err)
{
    cq_hw hw;
    memset(&hw, 0, sizeof hw);
    return (int)cq_hw_check(&hw, err);
}

static int limits_zero(cq_err *err)
{
    cq_limits lim = CQ_LIMITS_DEFAULT;
    lim.max_nodes = 0;
    return (int)cq_limits_check(&lim, err);
}

static int exec_run_graph(cq_graph *g, cq_err *err)
{
    cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
    cq_exec *e = cq_exec_new(g, &o, err);
    cq_graph_free(g);
    return e ? (cq_exec_free(e), RET_OK) : RET_NULL;
}

/* cq_exec_new on bad models: an operator calq does not have, shapes that do
 * not broadcast, an input no one makes */
static int exec_unknown_op(cq_err *err)
{
    cq_graph *g = relu_graph();
    free(g->nodes[0].op_type);
    g->nodes[0].op_type = strdup("NoSuchOp");
    return exec_run_graph(g, err);
}

static int exec_bad_shapes(cq_err *err)
{
    cq_err e2;
    cq_graph *g = cq_graph_new(&e2);
    assert_non_null(g);
    int64_t s[2] = {2, 3}, s2[2] = {4, 5};
    add_io(g, "x", 2, s, "y");
    add_init(g, "b", rand_tensor(2, s2));
    const char *in[2] = {"x", "b"};
    node(g, "Add", "add", 2, in, "y");
    set_opset(g, 13);
    return exec_run_graph(g, err);
}

static int exec_dangling_input(cq_err *err)
{
    cq_err e2;
    cq_graph *g = cq_graph_new(&e2);
    assert_non_null(g);
    int64_t s[2] = {1, 4};
    add_io(g, "x", 2, s, "y");
    const char *in[2] = {"x", "nobody"};
    node(g, "Add", "add", 2, in, "y");
    set_opset(g, 13);
    return exec_run_graph(g, err);
}

static int exec_run_bad_input(cq_err *err)
{
    cq_err e2;
    cq_graph *g = relu_graph();
    cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
    cq_exec *e = cq_exec_new(g, &o, &e2);
    assert_non_null(e);
    int64_t s[2] = {5, 7}; /* the model takes [1, 4] */
    cq_tensor *x = cq_tensor_new(CQ_F32, 2, s, &e2), *y = NULL;
    cq_status st = cq_exec_run(e, 1, &x, &y, err);
    cq_tensor_release(x);
    cq_tensor_release(y);
    cq_exec_free(e);
    cq_graph_free(g);
    return (int)st;
}

/* ---- the table ------------------------------------------------------------ */

typedef struct err_case {
    const char *what;
    int (*fn)(cq_err *err);
    const char *names; /* the message must contain this (a file's name), or NULL */
} err_case;

#define C(fn, names) {#fn, fn, names}

static const err_case CASES[] = {
    C(onnx_load_missing, "missing.file"),
    C(onnx_load_garbage, "garbage.bin"),
    C(onnx_load_truncated, "trunc.onnx"),
    C(onnx_load_buffer_garbage, "garbage.bin"),
    C(onnx_tensor_missing, "missing.file"),
    C(onnx_tensor_garbage, "garbage.bin"),
    C(onnx_tensor_buffer_garbage, "short.pb"),
    C(onnx_save_nodir, "out.file"),
    C(tfile_missing, "missing.file"),
    C(tfile_garbage, "garbage.bin"),
    C(tfile_create_nodir, "out.file"),
    C(tfile_read_range, NULL),
    C(tfile_read_name, "nosuchtensor"),
    C(npy_missing, "missing.file"),
    C(npy_garbage, "garbage.bin"),
    C(npy_of_tfile, "plain.calq"),
    C(npy_open_garbage, "garbage.bin"),
    C(npy_rows_range, NULL),
    C(npy_write_nodir, "out.file"),
    C(stats_missing, "missing.file"),
    C(stats_garbage, "garbage.bin"),
    C(stats_of_tfile, "plain.calq"),
    C(idx_missing, "missing.file: cannot open: No such file"),
    C(idx_file_garbage, "garbage.bin"),
    C(coco_missing, "missing.file"),
    C(coco_garbage, "garbage.bin"),
    C(coco_mem_garbage, "garbage.bin"),
    C(voc_missing, "missing.file: cannot open the folder: No such file"),
    C(yolo_missing, "missing.file: cannot open the folder: No such file"),
    C(dlib_missing, "missing.file"),
    C(dlib_garbage, "garbage.bin"),
    C(csv_missing, "missing.file: cannot open: No such file"),
    C(dataset_format, "nosuchformat"),
    C(image_missing, "missing.file"),
    C(image_garbage, "garbage.bin"),
    C(image_decode_garbage, "garbage.bin"),
    C(image_header_garbage, "garbage.bin"),
    C(hw_empty, NULL),
    C(limits_zero, "max_nodes"),
    C(exec_unknown_op, "NoSuchOp"),
    C(exec_bad_shapes, NULL),
    C(exec_dangling_input, "nobody"),
    C(exec_run_bad_input, NULL),
};

static void test_err_contract_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const err_case *c = &CASES[i];
        cq_err err;
        cq_err_clear(&err);
        int r = c->fn(&err);
        const char *why = NULL;
        if (r == RET_OK)
            why = "the call succeeded";
        else if (err.code == CQ_OK || (int)err.code < 0 || err.code >= CQ_STATUS_COUNT)
            why = "err.code is not a failure";
        else if (r > 0 && (int)err.code != r)
            why = "err.code is not the status returned";
        else if (!err.msg[0])
            why = "err.msg is empty";
        else if (c->names && !strstr(err.msg, c->names))
            why = "err.msg does not name it";
        if (why) {
            print_error("%s: %s (returned %d, code %d, msg \"%s\")\n", c->what, why, r,
                        (int)err.code, err.msg);
            bad++;
        } else {
            print_message("  %-28s %-12s %s\n", c->what, cq_status_name(err.code), err.msg);
        }
    }
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_contract_table),
    };
    return cmocka_run_group_tests_name("err_contract", tests, setup, teardown);
}

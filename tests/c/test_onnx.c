/* test_onnx.c - ONNX reader and writer on built graphs, crafted bytes and real models. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "onnx/onnx.h"
#include "onnx/pb.h"

static char *cache_path(const char *rel)
{
    const char *c = getenv("CALQ_CACHE");
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", c && *c ? c : ".cache", rel);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

static const char *node_data_dir(void)
{
    const char *d = getenv("CALQ_ONNX_NODE_DATA");
    return d && *d ? d : "/usr/share/libonnx-testdata/data/node";
}

static cq_graph *build(void)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    assert_non_null(g);
    int x = cq_graph_value(g, "x", &err);
    cq_value *xv = &g->values[x];
    xv->has_type = 1;
    xv->dtype = CQ_F32;
    xv->ndim = 4;
    xv->shape[0] = -1;
    xv->dim_param[0] = strdup("N");
    xv->shape[1] = 3, xv->shape[2] = 8, xv->shape[3] = 8;
    assert_int_equal(cq_graph_add_input(g, x, &err), CQ_OK);
    int64_t ws[4] = {4, 3, 3, 3};
    cq_tensor *w = cq_tensor_new(CQ_F32, 4, ws, &err);
    float *wd = cq_tensor_data(w);
    for (int i = 0; i < 108; i++)
        wd[i] = (float)i * 0.37f - 11.0f;
    assert_int_equal(cq_graph_add_initializer(g, cq_graph_value(g, "w", &err), w, &err), CQ_OK);
    cq_tensor_release(w);
    cq_tensor *b = cq_tensor_scalar(CQ_BF16, 1.5, &err);
    assert_int_equal(cq_graph_add_initializer(g, cq_graph_value(g, "b16", &err), b, &err), CQ_OK);
    cq_tensor_release(b);
    const char *in[] = {"x", "w", ""}, *out[] = {"y"};
    int n = cq_graph_add_node(g, "Conv", "conv1", "", 3, in, 1, out, &err);
    assert_true(n >= 0);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){1, 1}, &err);
    cq_node_set_int(g, n, "group", 1, &err);
    cq_node_set_float(g, n, "alpha", -0.0f, &err);
    cq_node_set_floats(g, n, "fs", 2, (float[]){1.25f, -3}, &err);
    cq_node_set_string(g, n, "bytes", "a\0b", 3, &err);
    cq_tensor *t = cq_tensor_scalar(CQ_S64, -7, &err);
    cq_node_set_tensor(g, n, "value", t, &err);
    cq_tensor_release(t);
    const char *in2[] = {"y"}, *out2[] = {"z"};
    n = cq_graph_add_node(g, "Relu", "", "", 1, in2, 1, out2, &err);
    assert_true(n >= 0);
    assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, "z", &err), &err), CQ_OK);
    g->opsets = calloc(2, sizeof *g->opsets);
    g->n_opsets = 2;
    g->opsets[0].domain = strdup("");
    g->opsets[0].version = 13;
    g->opsets[1].domain = strdup("com.example");
    g->opsets[1].version = 2;
    g->meta = calloc(1, sizeof *g->meta);
    g->n_meta = 1;
    g->meta[0].key = strdup("author");
    g->meta[0].value = strdup("calq");
    g->ir_version = 7;
    g->name = strdup("tiny");
    return g;
}

static void test_onnx_roundtrip_built(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = build();
    void *buf;
    size_t len;
    /* An old-style model (IR < 4) lists initializer w among the inputs too. */
    g->values[cq_graph_find(g, "w")].is_input = 1;
    assert_int_equal(cq_onnx_save_buffer(g, &buf, &len, &err), CQ_OK);
    cq_graph *h = cq_onnx_load_buffer(buf, len, "tiny.onnx", &err);
    free(buf);
    assert_non_null(h);
    assert_int_equal(h->n_inputs, 1);
    assert_true(h->values[cq_graph_find(h, "w")].is_input);
    assert_true(h->values[cq_graph_find(h, "w")].is_initializer);
    cq_graph_free(h);
    g->values[cq_graph_find(g, "w")].is_input = 0;
    assert_int_equal(cq_onnx_save_buffer(g, &buf, &len, &err), CQ_OK);
    h = cq_onnx_load_buffer(buf, len, "tiny.onnx", &err);
    free(buf);
    assert_non_null(h);
    char why[512];
    if (cq_onnx_graph_diff(g, h, why, sizeof why))
        fail_msg("%s", why);
    int x = cq_graph_find(h, "x");
    assert_string_equal(h->values[x].dim_param[0], "N");
    assert_int_equal(h->values[x].shape[3], 8);
    const cq_node *conv = &h->nodes[0];
    assert_string_equal(conv->op_type, "Conv");
    assert_int_equal(conv->inputs[2], -1);
    assert_int_equal(cq_node_attr(conv, "bytes")->s_len, 3);
    assert_int_equal(cq_node_attr(conv, "value")->t->dtype, CQ_S64);
    assert_int_equal(cq_graph_opset(h, "com.example"), 2);
    assert_string_equal(h->meta[0].value, "calq");
    /* A change is seen by the comparison. */
    ((float *)cq_tensor_data(h->values[cq_graph_find(h, "w")].data))[5] += 1e-6f;
    assert_int_equal(cq_onnx_graph_diff(g, h, why, sizeof why), 1);
    assert_string_equal(why, "value 'w': data differ");
    cq_graph_free(h);

    /* Through a file: no .tmp left behind. */
    char dir[] = "/tmp/calq_onnx_XXXXXX", path[256], tmp[260];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(cq_onnx_save(g, path, &err), CQ_OK);
    assert_int_equal(access(tmp, F_OK), -1);
    h = cq_onnx_load(path, &err);
    assert_non_null(h);
    if (cq_onnx_graph_diff(g, h, why, sizeof why))
        fail_msg("%s", why);
    cq_graph_free(h);
    unlink(path);
    rmdir(dir);
    snprintf(path, sizeof path, "%s/none/m.onnx", dir);
    assert_int_equal(cq_onnx_save(g, path, &err), CQ_EIO);
    assert_null(cq_onnx_load(path, &err));
    assert_int_equal(err.code, CQ_EIO);
    cq_graph_free(g);
}

/* ModelProto{graph{node{op_type, <field 5 claiming 99999 bytes>}}} */
static void test_onnx_error_offsets(void **state)
{
    (void)state;
    cq_pb_buf b = {0};
    cq_pb_put_int(&b, 1, 7);
    size_t gm = cq_pb_begin(&b, 7);
    size_t nm = cq_pb_begin(&b, 1);
    cq_pb_put_string(&b, 4, "Relu");
    size_t attr_at = b.len;
    cq_pb_put_tag(&b, 5, CQ_PB_LEN);
    cq_pb_put_varint(&b, 99999);
    cq_pb_put_raw(&b, "abc", 3);
    cq_pb_end(&b, nm);
    cq_pb_end(&b, gm);
    /* Each length fits one byte: the node payload starts 2 bytes later per level. */
    size_t node_start = 2 /* ir */ + 2 /* graph tag+len */ + 2 /* node tag+len */;
    size_t node_end = b.len;
    attr_at += 2; /* the two length bytes inserted before it */
    cq_err err;
    assert_null(cq_onnx_load_buffer(b.data, b.len, "model.onnx", &err));
    char want[256];
    snprintf(want, sizeof want, "model.onnx: byte %zu: NodeProto.attribute (field 5): length "
             "99999 runs past the end of the message (ends at %zu)", attr_at, node_end);
    assert_string_equal(err.msg, want);
    assert_int_equal(err.code, CQ_EFORMAT);
    (void)node_start;
    free(b.data);

    assert_null(cq_onnx_load_buffer("", 0, "empty.onnx", &err));
    assert_string_equal(err.msg, "empty.onnx: not an ONNX model: no ModelProto.graph (field 7) "
                                 "in 0 bytes");
    assert_null(cq_onnx_load_buffer("\x12\x05hello", 7, "t.onnx", &err));
    assert_int_equal(err.code, CQ_EFORMAT);

    /* Wire type mismatch inside a node. */
    memset(&b, 0, sizeof b);
    gm = cq_pb_begin(&b, 7);
    nm = cq_pb_begin(&b, 1);
    cq_pb_put_int(&b, 4, 3);
    cq_pb_end(&b, nm);
    cq_pb_end(&b, gm);
    assert_null(cq_onnx_load_buffer(b.data, b.len, "w.onnx", &err));
    assert_string_equal(err.msg, "w.onnx: byte 4: NodeProto.op_type (field 4): wire type varint, "
                                 "expected length-delimited");
    free(b.data);

    /* An input nobody provides. */
    memset(&b, 0, sizeof b);
    gm = cq_pb_begin(&b, 7);
    nm = cq_pb_begin(&b, 1);
    cq_pb_put_string(&b, 1, "ghost");
    cq_pb_put_string(&b, 2, "y");
    cq_pb_put_string(&b, 3, "r");
    cq_pb_put_string(&b, 4, "Relu");
    cq_pb_end(&b, nm);
    cq_pb_end(&b, gm);
    assert_null(cq_onnx_load_buffer(b.data, b.len, "g.onnx", &err));
    assert_string_equal(err.msg, "g.onnx: node 'r' (Relu): input 'ghost' is not produced by any "
                                 "node, initializer or graph input");
    free(b.data);
}

/* An initializer of a dtype calq lacks, one with external data, one lying about its size. */
static void put_tensor_model(cq_pb_buf *b, int dtype, int external, size_t raw_len)
{
    memset(b, 0, sizeof *b);
    size_t gm = cq_pb_begin(b, 7);
    size_t tm = cq_pb_begin(b, 5);
    cq_pb_put_int(b, 1, 2);
    cq_pb_put_int(b, 2, dtype);
    cq_pb_put_string(b, 8, "w");
    uint8_t raw[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    if (external) {
        size_t em = cq_pb_begin(b, 13);
        cq_pb_put_string(b, 1, "location");
        cq_pb_put_string(b, 2, "weights.bin");
        cq_pb_end(b, em);
        cq_pb_put_int(b, 14, 1);
    } else {
        cq_pb_put_bytes(b, 9, raw, raw_len);
    }
    cq_pb_end(b, tm);
    size_t nm = cq_pb_begin(b, 1);
    cq_pb_put_string(b, 1, "w");
    cq_pb_put_string(b, 2, "y");
    cq_pb_put_string(b, 4, "Identity");
    cq_pb_end(b, nm);
    size_t om = cq_pb_begin(b, 12);
    cq_pb_put_string(b, 1, "y");
    cq_pb_end(b, om);
    cq_pb_end(b, gm);
}

static void test_onnx_tensor_kinds(void **state)
{
    (void)state;
    cq_pb_buf b;
    cq_err err;
    char why[512];
    put_tensor_model(&b, 11 /* DOUBLE */, 0, 16);
    cq_graph *g = cq_onnx_load_buffer(b.data, b.len, "d.onnx", &err);
    free(b.data);
    assert_non_null(g);
    int w = cq_graph_find(g, "w");
    assert_null(g->values[w].data);
    assert_string_equal(g->values[w].unsupported, "dtype DOUBLE");
    assert_int_equal(g->values[w].onnx_elem_type, 11);
    assert_int_equal(g->values[w].shape[0], 2);
    void *buf;
    size_t len;
    assert_int_equal(cq_onnx_save_buffer(g, &buf, &len, &err), CQ_OK);
    cq_graph *h = cq_onnx_load_buffer(buf, len, "d2.onnx", &err);
    free(buf);
    assert_non_null(h);
    if (cq_onnx_graph_diff(g, h, why, sizeof why))
        fail_msg("%s", why);
    cq_graph_free(h);
    cq_graph_free(g);

    put_tensor_model(&b, 1, 1, 0);
    assert_null(cq_onnx_load_buffer(b.data, b.len, "e.onnx", &err));
    free(b.data);
    assert_int_equal(err.code, CQ_EUNSUPPORTED);
    assert_string_equal(err.msg, "e.onnx: byte 4: tensor 'w' keeps its data outside the model "
                                 "(external data, location 'weights.bin'); calq reads "
                                 "self-contained models only");

    put_tensor_model(&b, 1, 0, 7); /* 2 floats need 8 bytes */
    assert_null(cq_onnx_load_buffer(b.data, b.len, "s.onnx", &err));
    free(b.data);
    assert_int_equal(err.code, CQ_EFORMAT);
    assert_string_equal(err.msg, "s.onnx: byte 11: tensor 'w' (f32, 2 elements): raw_data has 7 "
                                 "bytes, expected 8");

    put_tensor_model(&b, 1, 0, 8);
    g = cq_onnx_load_buffer(b.data, b.len, "ok.onnx", &err);
    free(b.data);
    assert_non_null(g);
    const uint8_t *d = cq_tensor_data(g->values[cq_graph_find(g, "w")].data);
    assert_int_equal(d[7], 8);
    cq_graph_free(g);

    /* .pb tensors: write, read back bit-exact; typed-field encodings read too. */
    int64_t shape[2] = {2, 3};
    cq_tensor *t = cq_tensor_new(CQ_F16, 2, shape, &err);
    for (int i = 0; i < 6; i++)
        ((uint16_t *)cq_tensor_data(t))[i] = cq_f32_to_f16((float)i - 2.5f);
    char dir[] = "/tmp/calq_pb_XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/input_0.pb", dir);
    assert_int_equal(cq_onnx_write_tensor(t, "x", path, &err), CQ_OK);
    char *name;
    cq_tensor *u = cq_onnx_read_tensor(path, &name, &err);
    assert_non_null(u);
    assert_string_equal(name, "x");
    assert_true(cq_tensor_same_shape(t, u));
    assert_memory_equal(cq_tensor_data(t), cq_tensor_data(u), 12);
    free(name);
    cq_tensor_release(u);
    cq_tensor_release(t);
    unlink(path);
    rmdir(dir);

    memset(&b, 0, sizeof b);
    cq_pb_put_int(&b, 1, 3);
    cq_pb_put_int(&b, 2, 6); /* INT32 via int32_data, unpacked */
    for (int i = 0; i < 3; i++)
        cq_pb_put_int(&b, 5, -i);
    u = cq_onnx_read_tensor_buffer(b.data, b.len, "i.pb", NULL, &err);
    free(b.data);
    assert_non_null(u);
    assert_int_equal(((int32_t *)cq_tensor_data(u))[2], -2);
    cq_tensor_release(u);

    memset(&b, 0, sizeof b);
    cq_pb_put_int(&b, 1, 2);
    cq_pb_put_int(&b, 2, 11);
    cq_pb_put_string(&b, 8, "dbl");
    assert_null(cq_onnx_read_tensor_buffer(b.data, b.len, "d.pb", NULL, &err));
    free(b.data);
    assert_int_equal(err.code, CQ_EUNSUPPORTED);
    assert_string_equal(err.msg, "d.pb: tensor 'dbl': dtype DOUBLE is not supported by calq");
}

static void test_onnx_check_ops(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = build();
    const char *in[] = {"z"}, *out[] = {"q"};
    cq_graph_add_node(g, "Foo", "f1", "com.example", 1, in, 1, out, &err);
    const char *ok[] = {"Conv", "Relu", "com.example:Foo"};
    assert_int_equal(cq_onnx_check_ops(g, ok, 3, &err), CQ_OK);
    const char *some[] = {"Conv"};
    assert_int_equal(cq_onnx_check_ops(g, some, 1, &err), CQ_EUNSUPPORTED);
    assert_string_equal(err.msg, "2 nodes with unsupported operators: Relu (opset 13, 1 node), "
                                 "com.example:Foo (opset 2, 1 node); Relu: #1; "
                                 "com.example:Foo: 'f1'");
    cq_graph_free(g);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void check_roundtrip(const char *path)
{
    cq_err err;
    cq_graph *g = cq_onnx_load(path, &err);
    if (!g)
        fail_msg("%s", err.msg);
    void *buf;
    size_t len;
    assert_int_equal(cq_onnx_save_buffer(g, &buf, &len, &err), CQ_OK);
    cq_graph *h = cq_onnx_load_buffer(buf, len, path, &err);
    free(buf);
    if (!h)
        fail_msg("%s: reload: %s", path, err.msg);
    char why[512];
    if (cq_onnx_graph_diff(g, h, why, sizeof why))
        fail_msg("%s: round trip: %s", path, why);
    cq_graph_free(h);
    cq_graph_free(g);
}

static void test_onnx_blazeface(void **state)
{
    (void)state;
    const char *names[] = {"face_detection_back_256x256_barracuda.onnx",
                           "face_detection_front_128x128_barracuda.onnx"};
    for (int i = 0; i < 2; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "blazeface/package/ONNX/%s", names[i]);
        const char *p = cache_path(rel);
        if (!p) {
            print_message("skipped: %s not in CALQ_CACHE\n", rel);
            skip();
        }
        check_roundtrip(p);
    }
    cq_err err;
    cq_graph *g = cq_onnx_load(cache_path("blazeface/package/ONNX/"
                                          "face_detection_back_256x256_barracuda.onnx"), &err);
    assert_non_null(g);
    assert_int_equal(g->n_nodes, 149);
    assert_int_equal(g->n_inputs, 1);
    assert_int_equal(g->n_outputs, 4);
    assert_int_equal(cq_graph_opset(g, ""), 12);
    const cq_value *in = &g->values[g->inputs[0]];
    assert_int_equal(in->ndim, 4);
    assert_int_equal(in->shape[1], 256);
    assert_int_equal(in->shape[3], 3);
    cq_graph_free(g);
}

/* Truncations and flipped bytes: an error naming the place, never a crash. */
static void test_onnx_corrupt(void **state)
{
    (void)state;
    const char *p = cache_path("blazeface/package/ONNX/face_detection_front_128x128_barracuda.onnx");
    if (!p) {
        print_message("skipped: BlazeFace not in CALQ_CACHE\n");
        skip();
    }
    size_t len = 0;
    unsigned char *buf = slurp(p, &len);
    assert_non_null(buf);
    int errors = 0, loads = 0;
    for (size_t cut = 0; cut < len; cut += len / 700 + 1) {
        cq_err err;
        cq_graph *g = cq_onnx_load_buffer(buf, cut, "cut.onnx", &err);
        if (g) {
            loads++;
            cq_graph_free(g);
            continue;
        }
        errors++;
        assert_true(strncmp(err.msg, "cut.onnx: ", 10) == 0);
    }
    assert_true(errors > 600);
    unsigned char *copy = malloc(len);
    srand(7);
    for (int trial = 0; trial < 300; trial++) {
        memcpy(copy, buf, len);
        int flips = 1 + rand() % 4;
        for (int k = 0; k < flips; k++)
            copy[(size_t)rand() % len] ^= (unsigned char)(1 + rand() % 255);
        cq_err err;
        cq_graph *g = cq_onnx_load_buffer(copy, len, "flip.onnx", &err);
        if (g) {
            void *out;
            size_t olen;
            if (cq_onnx_save_buffer(g, &out, &olen, &err) == CQ_OK)
                free(out);
            cq_graph_free(g);
        } else {
            assert_true(strncmp(err.msg, "flip.onnx: ", 11) == 0);
        }
    }
    free(copy);
    free(buf);
    print_message("truncated: %d errors, %d loads\n", errors, loads);
}

/* Small models with attributes, subgraphs and typed tensors: every
 * truncation point and many random byte changes. */
static void test_onnx_corrupt_small(void **state)
{
    (void)state;
    const char *models[] = {"test_conv_with_strides_padding", "test_loop11", "test_if_seq",
                            "test_constant", "test_cast_DOUBLE_to_FLOAT", "test_scan9_sum"};
    srand(11);
    int tried = 0;
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/model.onnx", node_data_dir(), models[m]);
        size_t len = 0;
        unsigned char *buf = slurp(path, &len);
        if (!buf)
            continue;
        tried++;
        for (size_t cut = 0; cut < len; cut++) {
            cq_err err;
            cq_graph *g = cq_onnx_load_buffer(buf, cut, "cut.onnx", &err);
            if (g)
                cq_graph_free(g);
            else
                assert_true(strncmp(err.msg, "cut.onnx: ", 10) == 0);
        }
        unsigned char *copy = malloc(len);
        for (int trial = 0; trial < 2000; trial++) {
            memcpy(copy, buf, len);
            int flips = 1 + rand() % 3;
            for (int k = 0; k < flips; k++)
                copy[(size_t)rand() % len] = (unsigned char)rand();
            cq_err err;
            cq_graph *g = cq_onnx_load_buffer(copy, len, "flip.onnx", &err);
            if (g) {
                void *out;
                size_t olen;
                if (cq_onnx_save_buffer(g, &out, &olen, &err) == CQ_OK) {
                    cq_graph *h = cq_onnx_load_buffer(out, olen, "again.onnx", &err);
                    cq_graph_free(h);
                    free(out);
                }
                cq_graph_free(g);
            } else {
                assert_true(strncmp(err.msg, "flip.onnx: ", 11) == 0);
            }
        }
        free(copy);
        free(buf);
    }
    if (!tried) {
        print_message("skipped: no ONNX node test data in %s\n", node_data_dir());
        skip();
    }
}

/* Every model of the ONNX node tests loads and round-trips; .pb tensors read. */
static void test_onnx_node_models(void **state)
{
    (void)state;
    char pat[4096];
    glob_t gl;
    snprintf(pat, sizeof pat, "%s/*/model.onnx", node_data_dir());
    if (glob(pat, 0, NULL, &gl) != 0) {
        print_message("skipped: no ONNX node test data in %s\n", node_data_dir());
        skip();
    }
    for (size_t i = 0; i < gl.gl_pathc; i++)
        check_roundtrip(gl.gl_pathv[i]);
    print_message("%zu node-test models load and round-trip\n", gl.gl_pathc);
    assert_true(gl.gl_pathc >= 900);
    globfree(&gl);

    snprintf(pat, sizeof pat, "%s/*/test_data_set_*/*.pb", node_data_dir());
    assert_int_equal(glob(pat, 0, NULL, &gl), 0);
    int ok = 0, unsupported = 0, malformed = 0;
    for (size_t i = 0; i < gl.gl_pathc; i++) {
        cq_err err;
        char *name;
        cq_tensor *t = cq_onnx_read_tensor(gl.gl_pathv[i], &name, &err);
        if (t) {
            ok++;
            cq_tensor_release(t);
            free(name);
        } else if (err.code == CQ_EUNSUPPORTED) {
            unsupported++;
        } else {
            /* Sequence and optional tests store SequenceProto / OptionalProto files. */
            assert_true(strstr(gl.gl_pathv[i], "seq") || strstr(gl.gl_pathv[i], "opt"));
            malformed++;
        }
    }
    print_message("%zu .pb files: %d read, %d unsupported (dtype, segments), %d malformed\n",
                  gl.gl_pathc, ok, unsupported, malformed);
    assert_true(ok > 2000);
    globfree(&gl);

    /* Relu's reference output is max(input, 0). */
    char in[4096], out[4096];
    snprintf(in, sizeof in, "%s/test_relu/test_data_set_0/input_0.pb", node_data_dir());
    snprintf(out, sizeof out, "%s/test_relu/test_data_set_0/output_0.pb", node_data_dir());
    cq_err err;
    cq_tensor *x = cq_onnx_read_tensor(in, NULL, &err), *y = cq_onnx_read_tensor(out, NULL, &err);
    assert_non_null(x);
    assert_non_null(y);
    assert_true(cq_tensor_same_shape(x, y));
    const float *xd = cq_tensor_data(x), *yd = cq_tensor_data(y);
    for (int64_t i = 0; i < cq_tensor_numel(x); i++)
        assert_true(yd[i] == (xd[i] > 0 ? xd[i] : 0));
    cq_tensor_release(x);
    cq_tensor_release(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_onnx_roundtrip_built),
        cmocka_unit_test(test_onnx_error_offsets),
        cmocka_unit_test(test_onnx_tensor_kinds),
        cmocka_unit_test(test_onnx_check_ops),
        cmocka_unit_test(test_onnx_blazeface),
        cmocka_unit_test(test_onnx_corrupt),
        cmocka_unit_test(test_onnx_corrupt_small),
        cmocka_unit_test(test_onnx_node_models),
    };
    return cmocka_run_group_tests_name("onnx", tests, NULL, NULL);
}

/* test_graph.c - the graph IR: values, nodes, attributes, toposort, compact. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "graph/graph.h"

static int add(cq_graph *g, const char *op, const char *name, const char *a, const char *b,
               const char *out)
{
    const char *in[2] = {a, b}, *o[1] = {out};
    cq_err err;
    int n = cq_graph_add_node(g, op, name, "", b ? 2 : 1, in, 1, o, &err);
    assert_true(n >= 0);
    return n;
}

static void test_graph_values(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    assert_non_null(g);
    int x = cq_graph_value(g, "x", &err);
    assert_int_equal(x, 0);
    assert_int_equal(cq_graph_value(g, "x", &err), 0);
    assert_int_equal(cq_graph_find(g, "x"), 0);
    assert_int_equal(cq_graph_find(g, "nope"), -1);
    assert_int_equal(cq_graph_value(g, "", &err), -1);
    assert_int_equal(err.code, CQ_EINVAL);
    assert_int_equal(g->values[x].ndim, -1);
    assert_int_equal(g->values[x].producer, -1);
    int a = cq_graph_new_value(g, "x", &err);
    assert_string_equal(g->values[a].name, "x__1");
    int b = cq_graph_new_value(g, "x", &err);
    assert_string_equal(g->values[b].name, "x__2");
    int c = cq_graph_new_value(g, "fresh", &err);
    assert_string_equal(g->values[c].name, "fresh");
    /* Many values: the index grows and every name still resolves. */
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "v%d", i);
        assert_int_equal(cq_graph_value(g, name, &err), 4 + i);
    }
    for (int i = 0; i < 5000; i += 7) {
        snprintf(name, sizeof name, "v%d", i);
        assert_int_equal(cq_graph_find(g, name), 4 + i);
    }
    int64_t shape[2] = {2, 3};
    cq_tensor *t = cq_tensor_new(CQ_S8, 2, shape, &err);
    assert_int_equal(cq_graph_add_initializer(g, x, t, &err), CQ_OK);
    assert_int_equal(cq_graph_add_initializer(g, x, t, &err), CQ_OK);
    cq_tensor_release(t);
    assert_int_equal(g->n_initializers, 1);
    assert_true(g->values[x].has_type);
    assert_int_equal(g->values[x].dtype, CQ_S8);
    assert_int_equal(g->values[x].onnx_elem_type, 3);
    assert_int_equal(g->values[x].shape[1], 3);
    assert_int_equal(cq_graph_set_data(g, 99999, NULL, &err), CQ_ERANGE);
    cq_graph_free(g);
    cq_graph_free(NULL);
}

/* cq_graph_add_node: omitted optionals are -1, outputs get their producer,
 * and each refusal fills err and leaves the node list as it was. */
static void test_graph_add_node_errors(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    assert_non_null(g);
    const char *in[3] = {"x", "", NULL}, *out[2] = {"y", ""};
    int n = cq_graph_add_node(g, "Clip", "c", "", 3, in, 2, out, &err);
    assert_int_equal(n, 0);
    assert_int_equal(g->nodes[0].n_inputs, 3);
    assert_int_equal(g->nodes[0].inputs[0], cq_graph_find(g, "x"));
    assert_int_equal(g->nodes[0].inputs[1], -1);
    assert_int_equal(g->nodes[0].inputs[2], -1);
    assert_int_equal(g->nodes[0].outputs[1], -1);
    assert_int_equal(g->values[cq_graph_find(g, "y")].producer, 0);
    assert_string_equal(g->nodes[0].name, "c");

    const char *again[1] = {"y"};
    assert_int_equal(cq_graph_add_node(g, "Relu", "r", "", 1, in, 1, again, &err), -1);
    assert_int_equal(err.code, CQ_EINVAL);
    assert_string_equal(err.msg, "node 'r' (Relu): output 'y' is already produced by node 'c'");
    const char *twice[2] = {"z", "z"};
    assert_int_equal(cq_graph_add_node(g, "Split", NULL, "", 1, in, 2, twice, &err), -1);
    assert_int_equal(err.code, CQ_EINVAL);
    assert_string_equal(err.msg, "node '' (Split): output 'z' appears twice");
    assert_int_equal(cq_graph_add_node(g, NULL, "n", "", 1, in, 1, out, &err), -1);
    assert_int_equal(err.code, CQ_EINVAL);
    assert_int_equal(cq_graph_add_node(g, "Relu", "n", "", 1, NULL, 1, out, &err), -1);
    assert_int_equal(err.code, CQ_EINVAL);
    assert_string_equal(err.msg, "cq_graph_add_node: bad arguments");
    assert_int_equal(g->n_nodes, 1);
    /* a refused node produced nothing: z is free for the next one */
    const char *z[1] = {"z"};
    assert_int_equal(cq_graph_add_node(g, "Relu", "ok", "", 1, in, 1, z, &err), 1);
    assert_int_equal(g->values[cq_graph_find(g, "z")].producer, 1);
    cq_graph_free(g);
}

static void test_graph_attrs(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    int n = add(g, "Conv", "conv1", "x", "w", "y");
    assert_int_equal(cq_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 2}, &err), CQ_OK);
    assert_int_equal(cq_node_set_int(g, n, "group", 1, &err), CQ_OK);
    assert_int_equal(cq_node_set_int(g, n, "group", 4, &err), CQ_OK);
    assert_int_equal(cq_node_set_float(g, n, "alpha", 0.5f, &err), CQ_OK);
    assert_int_equal(cq_node_set_string(g, n, "auto_pad", "SAME_UPPER", 10, &err), CQ_OK);
    assert_int_equal(cq_node_set_floats(g, n, "fs", 3, (float[]){1, 2, 3}, &err), CQ_OK);
    cq_tensor *t = cq_tensor_scalar(CQ_F32, 7, &err);
    assert_int_equal(cq_node_set_tensor(g, n, "value", t, &err), CQ_OK);
    cq_tensor_release(t);
    const cq_node *nd = &g->nodes[n];
    assert_int_equal(nd->n_attrs, 6);
    assert_int_equal(cq_node_int(nd, "group", 1), 4);
    assert_int_equal(cq_node_int(nd, "missing", 9), 9);
    assert_int_equal(cq_node_int(nd, "alpha", 9), 9); /* wrong type -> default */
    assert_true(cq_node_float(nd, "alpha", 0) == 0.5f);
    assert_string_equal(cq_node_string(nd, "auto_pad", "NOTSET"), "SAME_UPPER");
    int64_t s[4];
    assert_int_equal(cq_node_ints(nd, "strides", s, 4), 2);
    assert_int_equal(s[1], 2);
    assert_int_equal(cq_node_attr(nd, "value")->t->refcount, 1);
    int64_t v;
    assert_int_equal(cq_node_int_check(nd, "alpha", 0, &v, &err), CQ_EFORMAT);
    assert_string_equal(err.msg, "node 'conv1' (Conv): attribute 'alpha' has type 1, expected INT");
    assert_int_equal(cq_node_int_check(nd, "nope", 3, &v, &err), CQ_OK);
    assert_int_equal(v, 3);
    int64_t cnt;
    assert_int_equal(cq_node_ints_check(nd, "strides", s, 1, &cnt, &err), CQ_ERANGE);
    assert_int_equal(cq_node_ints_check(nd, "strides", s, 4, &cnt, &err), CQ_OK);
    assert_int_equal(cnt, 2);
    const char *str;
    assert_int_equal(cq_node_string_check(nd, "auto_pad", "", &str, &err), CQ_OK);
    assert_string_equal(str, "SAME_UPPER");
    float f;
    assert_int_equal(cq_node_float_check(nd, "group", 0, &f, &err), CQ_EFORMAT);
    cq_graph_free(g);
}

static void test_graph_toposort(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    cq_graph_add_input(g, cq_graph_value(g, "x", &err), &err);
    /* Reverse order: c consumes b consumes a. */
    add(g, "Relu", "c", "b_out", NULL, "c_out");
    add(g, "Relu", "b", "a_out", NULL, "b_out");
    add(g, "Relu", "a", "x", NULL, "a_out");
    add(g, "Relu", "z", "x", NULL, "z_out"); /* independent */
    cq_graph_add_output(g, cq_graph_find(g, "c_out"), &err);
    assert_int_equal(cq_graph_toposort(g, &err), CQ_OK);
    assert_string_equal(g->nodes[0].name, "a");
    assert_string_equal(g->nodes[1].name, "b");
    assert_string_equal(g->nodes[2].name, "c");
    assert_string_equal(g->nodes[3].name, "z");
    assert_int_equal(g->values[cq_graph_find(g, "c_out")].producer, 2);
    /* Stable on a sorted graph. */
    assert_int_equal(cq_graph_toposort(g, &err), CQ_OK);
    assert_string_equal(g->nodes[3].name, "z");
    int cons[4];
    assert_int_equal(cq_graph_consumers(g, cq_graph_find(g, "x"), cons, 4), 2);
    assert_int_equal(cons[0], 0);
    assert_int_equal(cons[1], 3);
    /* Compact: kill z; z_out disappears, indices shift. */
    g->nodes[3].dead = 1;
    int nv = g->n_values;
    assert_int_equal(cq_graph_compact(g, &err), CQ_OK);
    assert_int_equal(g->n_nodes, 3);
    assert_int_equal(g->n_values, nv - 1);
    assert_int_equal(cq_graph_find(g, "z_out"), -1);
    assert_int_equal(g->values[cq_graph_find(g, "c_out")].producer, 2);
    assert_int_equal(g->outputs[0], cq_graph_find(g, "c_out"));
    cq_graph_free(g);
}

static void test_graph_toposort_errors(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    add(g, "Add", "p", "q_out", "x", "p_out");
    add(g, "Add", "q", "p_out", "x", "q_out");
    cq_graph_add_input(g, cq_graph_value(g, "x", &err), &err);
    assert_int_equal(cq_graph_toposort(g, &err), CQ_EFORMAT);
    assert_string_equal(err.msg, "node 'p' (Add) is on a cycle (2 of 2 nodes cannot be ordered)");
    cq_graph_free(g);

    g = cq_graph_new(&err);
    add(g, "Relu", "r", "ghost", NULL, "y");
    assert_int_equal(cq_graph_toposort(g, &err), CQ_EFORMAT);
    assert_string_equal(err.msg, "node 'r' (Relu): input 'ghost' is not produced by any node, "
                                 "initializer or graph input");
    /* A second producer of y is refused. */
    const char *in[1] = {"y"}, *out[1] = {"y"};
    assert_int_equal(cq_graph_add_node(g, "Relu", "r2", "", 1, in, 1, out, &err), -1);
    assert_int_equal(err.code, CQ_EINVAL);
    cq_graph_free(g);

    /* A node writing a graph input (a run would keep the caller's tensor):
     * refused. */
    g = cq_graph_new(&err);
    add(g, "Relu", "r", "x", NULL, "y");
    cq_graph_add_input(g, cq_graph_value(g, "x", &err), &err);
    cq_graph_add_input(g, cq_graph_value(g, "y", &err), &err);
    assert_int_equal(cq_graph_toposort(g, &err), CQ_EFORMAT);
    assert_string_equal(err.msg, "value 'y' is a graph input and an output of node 'r'");
    cq_graph_free(g);
    /* and one writing an initializer */
    g = cq_graph_new(&err);
    add(g, "Relu", "r", "x", NULL, "w");
    cq_graph_add_input(g, cq_graph_value(g, "x", &err), &err);
    cq_graph_add_initializer(g, cq_graph_value(g, "w", &err), NULL, &err);
    assert_int_equal(cq_graph_toposort(g, &err), CQ_EFORMAT);
    assert_string_equal(err.msg, "value 'w' is a graph initializer and an output of node 'r'");
    cq_graph_free(g);
}

/* Property: random DAGs shuffled, sorted: every input comes before use. */
static void test_graph_toposort_random(void **state)
{
    (void)state;
    srand(1234);
    for (int trial = 0; trial < 50; trial++) {
        cq_err err;
        cq_graph *g = cq_graph_new(&err);
        int n = 1 + rand() % 60;
        int *perm = malloc((size_t)n * sizeof *perm);
        for (int i = 0; i < n; i++)
            perm[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = rand() % (i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        cq_graph_add_input(g, cq_graph_value(g, "in", &err), &err);
        char a[16], b[16], o[16], nm[16];
        for (int k = 0; k < n; k++) {
            int i = perm[k]; /* node i reads outputs of nodes < i */
            snprintf(a, sizeof a, i ? "o%d" : "in", i ? rand() % i : 0);
            snprintf(b, sizeof b, i ? "o%d" : "in", i ? rand() % i : 0);
            snprintf(o, sizeof o, "o%d", i);
            snprintf(nm, sizeof nm, "n%d", i);
            add(g, "Add", nm, a, b, o);
        }
        assert_int_equal(cq_graph_toposort(g, &err), CQ_OK);
        for (int i = 0; i < g->n_nodes; i++)
            for (int k = 0; k < g->nodes[i].n_inputs; k++) {
                int p = g->values[g->nodes[i].inputs[k]].producer;
                assert_true(p < i);
            }
        free(perm);
        cq_graph_free(g);
    }
}

/* A node with a subgraph that reads an outer value by name depends on it. */
static void test_graph_subgraph_reads(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    cq_graph_add_input(g, cq_graph_value(g, "x", &err), &err);
    cq_graph_add_input(g, cq_graph_value(g, "cond", &err), &err);
    int n_if = add(g, "If", "if", "cond", NULL, "y");
    cq_graph *body = cq_graph_new(&err);
    add(body, "Relu", "inner", "a", NULL, "out"); /* 'a' comes from the outer graph */
    cq_attr a = {0};
    a.name = strdup("then_branch");
    a.type = CQ_ATTR_GRAPH;
    a.g = body;
    assert_int_equal(cq_node_add_attr(g, n_if, &a, &err), CQ_OK);
    add(g, "Neg", "producer", "x", NULL, "a");
    add(g, "Neg", "unused", "x", NULL, "junk");
    cq_graph_add_output(g, cq_graph_find(g, "y"), &err);
    assert_int_equal(cq_graph_toposort(g, &err), CQ_OK);
    assert_string_equal(g->nodes[0].name, "producer");
    assert_string_equal(g->nodes[1].name, "if");
    int cons[2];
    assert_int_equal(cq_graph_consumers(g, cq_graph_find(g, "a"), cons, 2), 1);
    assert_int_equal(cons[0], 1);
    g->nodes[2].dead = 1;
    assert_int_equal(cq_graph_compact(g, &err), CQ_OK);
    assert_true(cq_graph_find(g, "a") >= 0);
    assert_int_equal(cq_graph_find(g, "junk"), -1);
    assert_int_equal(g->values[cq_graph_find(g, "a")].producer, 0);
    cq_graph_free(g);
}

static void test_graph_opset(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    g->opsets = calloc(2, sizeof *g->opsets);
    g->n_opsets = 2;
    g->opsets[0].domain = strdup("ai.onnx");
    g->opsets[0].version = 13;
    g->opsets[1].domain = strdup("com.microsoft");
    g->opsets[1].version = 1;
    assert_int_equal(cq_graph_opset(g, ""), 13);
    assert_int_equal(cq_graph_opset(g, "ai.onnx"), 13);
    assert_int_equal(cq_graph_opset(g, "com.microsoft"), 1);
    assert_int_equal(cq_graph_opset(g, "x"), 0);
    assert_string_equal(cq_onnx_type_name(11), "DOUBLE");
    assert_string_equal(cq_onnx_type_name(999), "UNKNOWN");
    cq_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_values),
        cmocka_unit_test(test_graph_add_node_errors),
        cmocka_unit_test(test_graph_attrs),
        cmocka_unit_test(test_graph_toposort),
        cmocka_unit_test(test_graph_toposort_errors),
        cmocka_unit_test(test_graph_toposort_random),
        cmocka_unit_test(test_graph_subgraph_reads),
        cmocka_unit_test(test_graph_opset),
    };
    return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}

/* onnx_read.c - ModelProto -> cq_graph (see onnx.h). Field numbers are those
 * of the public onnx.proto. */
#include "onnx/onnx_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_GRAPH_DEPTH 16
/* Inputs or outputs of one node: more is a hostile file, not a model. */
#define MAX_NODE_IO 100000
/* opset_import entries: every node looks its domain up among them
 * (cq_graph_opset), so their count multiplies planning's time; real
 * models import a handful. */
#define MAX_OPSETS 256

static const cq_pb_name model_names[] = {
    {1, "ir_version"}, {2, "producer_name"}, {3, "producer_version"}, {4, "domain"},
    {5, "model_version"}, {6, "doc_string"}, {7, "graph"}, {8, "opset_import"},
    {14, "metadata_props"}, {20, "training_info"}, {25, "functions"}, {0, NULL},
};
static const cq_pb_name graph_names[] = {
    {1, "node"}, {2, "name"}, {5, "initializer"}, {10, "doc_string"}, {11, "input"},
    {12, "output"}, {13, "value_info"}, {14, "quantization_annotation"},
    {15, "sparse_initializer"}, {0, NULL},
};
static const cq_pb_name node_names[] = {
    {1, "input"}, {2, "output"}, {3, "name"}, {4, "op_type"}, {5, "attribute"},
    {6, "doc_string"}, {7, "domain"}, {8, "overload"}, {0, NULL},
};
static const cq_pb_name attr_names[] = {
    {1, "name"}, {2, "f"}, {3, "i"}, {4, "s"}, {5, "t"}, {6, "g"}, {7, "floats"},
    {8, "ints"}, {9, "strings"}, {10, "tensors"}, {11, "graphs"}, {13, "doc_string"},
    {14, "tp"}, {15, "type_protos"}, {20, "type"}, {21, "ref_attr_name"},
    {22, "sparse_tensor"}, {23, "sparse_tensors"}, {0, NULL},
};
static const cq_pb_name vi_names[] = {
    {1, "name"}, {2, "type"}, {3, "doc_string"}, {0, NULL},
};
static const cq_pb_name type_names[] = {
    {1, "tensor_type"}, {4, "sequence_type"}, {5, "map_type"}, {6, "denotation"},
    {8, "sparse_tensor_type"}, {9, "optional_type"}, {0, NULL},
};
static const cq_pb_name ttensor_names[] = {{1, "elem_type"}, {2, "shape"}, {0, NULL}};
static const cq_pb_name shape_names[] = {{1, "dim"}, {0, NULL}};
static const cq_pb_name dim_names[] = {
    {1, "dim_value"}, {2, "dim_param"}, {3, "denotation"}, {0, NULL},
};
static const cq_pb_name opset_names[] = {{1, "domain"}, {2, "version"}, {0, NULL}};
static const cq_pb_name entry_names[] = {{1, "key"}, {2, "value"}, {0, NULL}};

static cq_status code_of(const cq_pb *m)
{
    return m->err->code != CQ_OK ? m->err->code : CQ_EFORMAT;
}

static uint8_t *memdup(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* Append the whole field f (tag included) to *p. */
static cq_status keep(const cq_pb *m, const cq_pb_field *f, uint8_t **p, size_t *n)
{
    size_t add = f->end - f->offset;
    uint8_t *q = realloc(*p, *n + add);
    if (!q)
        return cq_pb_fail(m, f, CQ_ENOMEM, "out of memory keeping %zu bytes", add);
    memcpy(q + *n, m->buf + f->offset, add);
    *p = q;
    *n += add;
    return CQ_OK;
}

/* Grow a pointer array by one. */
static cq_status push_ptr(const cq_pb *m, const cq_pb_field *f, void ***a, int64_t *n, void *p)
{
    void **q = realloc(*a, (size_t)(*n + 1) * sizeof *q);
    if (!q)
        return cq_pb_fail(m, f, CQ_ENOMEM, "out of memory");
    q[(*n)++] = p;
    *a = q;
    return CQ_OK;
}

static cq_status read_graph(cq_pb *m, cq_graph *g, int depth);

/* ---- types ------------------------------------------------------------- */

typedef struct vtype {
    int has_tensor;     /* TypeProto.tensor_type present */
    int elem;
    int ndim;           /* -1: no shape */
    int64_t dims[CQ_MAX_DIMS];
    char *params[CQ_MAX_DIMS];
    int opaque;         /* something calq cannot represent: keep the bytes */
} vtype;

static void vtype_clear(vtype *t)
{
    for (int i = 0; i < CQ_MAX_DIMS; i++)
        free(t->params[i]);
}

static cq_status read_dim(cq_pb *m, vtype *t)
{
    cq_pb_field f;
    int more, k = t->ndim;
    int64_t v = -1;
    char *param = NULL;
    cq_status st = CQ_OK;
    while (st == CQ_OK && (more = cq_pb_next(m, &f)) > 0) {
        /* dim_value and dim_param are a oneof: the last one read wins */
        if (f.num == 1) {
            st = cq_pb_int64(m, &f, &v);
            free(param);
            param = NULL;
        } else if (f.num == 2) {
            st = cq_pb_set_string(m, &f, &param);
            v = -1;
        } else
            t->opaque = 1; /* denotation and the like */
    }
    if (st == CQ_OK && more < 0)
        st = code_of(m);
    if (st == CQ_OK && k < CQ_MAX_DIMS) {
        t->dims[k] = v < 0 ? -1 : v;
        t->params[k] = param;
        param = NULL;
    } else if (k >= CQ_MAX_DIMS) {
        t->opaque = 1;
    }
    free(param);
    t->ndim++;
    return st;
}

static cq_status read_type(cq_pb *m, vtype *t)
{
    cq_pb_field f;
    cq_pb sub, sh, dm;
    int more;
    cq_status st = CQ_OK;
    while (st == CQ_OK && (more = cq_pb_next(m, &f)) > 0) {
        if (f.num != 1) {
            t->opaque = 1;
            continue;
        }
        if ((st = cq_pb_want(m, &f, CQ_PB_LEN)) != CQ_OK)
            break;
        t->has_tensor = 1;
        cq_pb_sub(m, &f, "TypeProto.Tensor", ttensor_names, &sub);
        cq_pb_field tf;
        while (st == CQ_OK && (more = cq_pb_next(&sub, &tf)) > 0) {
            int64_t e;
            if (tf.num == 1) {
                if ((st = cq_pb_int64(&sub, &tf, &e)) == CQ_OK)
                    t->elem = (int)e;
            } else if (tf.num == 2) {
                if ((st = cq_pb_want(&sub, &tf, CQ_PB_LEN)) != CQ_OK)
                    break;
                t->ndim = 0;
                cq_pb_sub(&sub, &tf, "TensorShapeProto", shape_names, &sh);
                cq_pb_field sf;
                while (st == CQ_OK && (more = cq_pb_next(&sh, &sf)) > 0) {
                    if (sf.num != 1) {
                        t->opaque = 1;
                        continue;
                    }
                    if ((st = cq_pb_want(&sh, &sf, CQ_PB_LEN)) != CQ_OK)
                        break;
                    cq_pb_sub(&sh, &sf, "TensorShapeProto.Dimension", dim_names, &dm);
                    st = read_dim(&dm, t);
                }
                if (st == CQ_OK && more < 0)
                    st = code_of(m);
            } else {
                t->opaque = 1;
            }
        }
        if (st == CQ_OK && more < 0)
            st = code_of(m);
    }
    if (st == CQ_OK && more < 0)
        st = code_of(m);
    return st;
}

/* ENOMEM when value name's declared shape, fully known, is a tensor above
 * the limit per tensor (m->ud, a cq__onnx_budget). A dtype calq lacks
 * counts one byte per element. */
static cq_status declared_size(const cq_pb *m, const cq_pb_field *f, const char *name,
                               const vtype *t)
{
    const cq__onnx_budget *b = m->ud;
    cq_dtype dt;
    uint64_t bytes;
    char shape[160], nb[48];
    for (int d = 0; d < t->ndim; d++)
        if (t->dims[d] < 0)
            return CQ_OK; /* symbolic: the executor checks what it infers */
    if (cq_dtype_from_onnx(t->elem, &dt))
        dt = CQ_U8;
    int over = cq_shape_bytes(dt, t->ndim, t->dims, &bytes) != 0;
    if (!b || (!over && bytes <= b->lim.max_tensor_bytes))
        return CQ_OK;
    return cq_pb_fail(m, f, CQ_ENOMEM, "value '%s' (%s %s) would take %s bytes, above the "
                      "limit of %llu bytes per tensor (max_tensor_bytes)", name,
                      cq_onnx_type_name(t->elem), cq_shape_str(t->ndim, t->dims, shape, sizeof shape),
                      cq_shape_bytes_str(dt, t->ndim, t->dims, nb, sizeof nb),
                      (unsigned long long)b->lim.max_tensor_bytes);
}

/* Read a ValueInfoProto (field f of m) into the graph; *out gets the value. */
static cq_status read_value_info(cq_pb *m, const cq_pb_field *f, cq_graph *g, int *out)
{
    cq_pb sub;
    cq_pb_field vf;
    char *name = NULL, *doc = NULL;
    vtype t;
    int more, has_type = 0, opaque = 0;
    cq_status st = cq_pb_want(m, f, CQ_PB_LEN);
    if (st != CQ_OK)
        return st;
    memset(&t, 0, sizeof t);
    t.ndim = -1;
    cq_pb_sub(m, f, "ValueInfoProto", vi_names, &sub);
    while (st == CQ_OK && (more = cq_pb_next(&sub, &vf)) > 0) {
        if (vf.num == 1) {
            st = cq_pb_set_string(&sub, &vf, &name);
        } else if (vf.num == 2) {
            if ((st = cq_pb_want(&sub, &vf, CQ_PB_LEN)) == CQ_OK) {
                cq_pb ts;
                cq_pb_sub(&sub, &vf, "TypeProto", type_names, &ts);
                has_type = 1;
                st = read_type(&ts, &t);
            }
        } else if (vf.num == 3) {
            st = cq_pb_set_string(&sub, &vf, &doc);
        } else {
            opaque = 1;
        }
    }
    if (st == CQ_OK && more < 0)
        st = code_of(&sub);
    if (st == CQ_OK && (!name || !*name))
        st = cq_pb_fail(m, f, CQ_EFORMAT, "value without a name");
    if (st == CQ_OK && has_type && t.has_tensor && t.ndim >= 0 && t.ndim <= CQ_MAX_DIMS)
        st = declared_size(m, f, name, &t);
    int v = -1;
    if (st == CQ_OK) {
        v = cq_graph_value(g, name, m->err);
        if (v < 0)
            st = CQ_ENOMEM;
    }
    if (st == CQ_OK) {
        cq_value *val = &g->values[v];
        if (has_type && (t.opaque || !t.has_tensor || t.ndim > CQ_MAX_DIMS))
            opaque = 1;
        int typed = has_type && t.has_tensor && t.ndim <= CQ_MAX_DIMS;
        if (typed) {
            cq_dtype dt;
            val->onnx_elem_type = t.elem;
            val->has_type = cq_dtype_from_onnx(t.elem, &dt) == 0;
            if (val->has_type)
                val->dtype = dt;
            val->ndim = t.ndim;
            for (int i = 0; i < CQ_MAX_DIMS; i++) {
                val->shape[i] = i < t.ndim ? t.dims[i] : 0;
                free(val->dim_param[i]);
                val->dim_param[i] = i < t.ndim ? t.params[i] : NULL;
                t.params[i] = NULL;
            }
        }
        /* kept as bytes, the declaration is written as it was read: its doc
         * (or none) replaces one read before */
        if (doc || opaque) {
            free(val->doc_string);
            val->doc_string = doc;
            doc = NULL;
        }
        free(val->onnx_vi);
        val->onnx_vi = NULL;
        val->onnx_vi_len = 0;
        if (opaque && !typed && !val->is_initializer) {
            /* A later declaration of the same value (listed twice, or in two
             * merged GraphProtos) replaces the earlier one; the writer writes
             * these bytes, so no tensor type read before may remain. */
            val->has_type = 0;
            val->onnx_elem_type = 0;
            val->ndim = -1;
            for (int i = 0; i < CQ_MAX_DIMS; i++) {
                val->shape[i] = 0;
                free(val->dim_param[i]);
                val->dim_param[i] = NULL;
            }
        }
        if (opaque) {
            val->onnx_vi = memdup(f->data, f->len);
            val->onnx_vi_len = f->len;
            if (!val->onnx_vi)
                st = cq_pb_fail(m, f, CQ_ENOMEM, "out of memory");
        }
    }
    vtype_clear(&t);
    free(name);
    free(doc);
    *out = v;
    return st;
}

/* ---- attributes -------------------------------------------------------- */

static cq_status read_attr(cq_pb *m, const cq_pb_field *af, cq_attr *a, int depth)
{
    cq_pb sub;
    cq_pb_field f;
    int more, keep_raw = 0;
    int64_t type = 0, nf = 0, capf = 0, ni = 0, capi = 0, ns = 0, nt = 0;
    int seen_f = 0, seen_i = 0, seen_s = 0, seen_t = 0, seen_g = 0;
    cq_status st = cq_pb_want(m, af, CQ_PB_LEN);
    memset(a, 0, sizeof *a);
    if (st != CQ_OK)
        return st;
    cq_pb_sub(m, af, "AttributeProto", attr_names, &sub);
    while (st == CQ_OK && (more = cq_pb_next(&sub, &f)) > 0) {
        switch (f.num) {
        case 1: st = cq_pb_set_string(&sub, &f, &a->name); break;
        case 2: st = cq_pb_float(&sub, &f, &a->f); seen_f = 1; break;
        case 3: st = cq_pb_int64(&sub, &f, &a->i); seen_i = 1; break;
        case 4:
            if ((st = cq_pb_set_string(&sub, &f, &a->s)) == CQ_OK)
                a->s_len = f.len;
            seen_s = 1;
            break;
        case 5: case 10: {
            cq_pb ts;
            cq__onnx_tensor ot;
            if ((st = cq_pb_want(&sub, &f, CQ_PB_LEN)) != CQ_OK)
                break;
            cq_pb_sub(&sub, &f, "TensorProto", cq__onnx_tensor_names, &ts);
            if ((st = cq__onnx_read_tensor(&ts, &ot)) != CQ_OK)
                break;
            if (!ot.t)
                keep_raw = 1;
            if (f.num == 5) {
                cq_tensor_release(a->t);
                a->t = ot.t;
                seen_t = 1;
            } else if (ot.t) {
                st = push_ptr(&sub, &f, (void ***)&a->tensors, &nt, ot.t);
                if (st != CQ_OK)
                    cq_tensor_release(ot.t);
            }
            ot.t = NULL;
            cq__onnx_tensor_clear(&ot);
            break;
        }
        case 6: {
            if ((st = cq_pb_want(&sub, &f, CQ_PB_LEN)) != CQ_OK)
                break;
            if (depth >= MAX_GRAPH_DEPTH) {
                st = cq_pb_fail(&sub, &f, CQ_EFORMAT, "subgraphs nested deeper than %d",
                                MAX_GRAPH_DEPTH);
                break;
            }
            cq_graph_free(a->g);
            a->g = cq_graph_new(sub.err);
            if (!a->g) {
                st = CQ_ENOMEM;
                break;
            }
            cq_pb gs;
            cq_pb_sub(&sub, &f, "GraphProto", graph_names, &gs);
            st = read_graph(&gs, a->g, depth + 1);
            seen_g = 1;
            break;
        }
        case 7: st = cq_pb_append_float(&sub, &f, &a->floats, &nf, &capf); break;
        case 8: st = cq_pb_append_int64(&sub, &f, &a->ints, &ni, &capi); break;
        case 9: {
            char *s = cq_pb_strdup(&sub, &f);
            if (!s) {
                st = code_of(&sub);
                break;
            }
            if (memchr(f.data, 0, f.len))
                keep_raw = 1;
            if ((st = push_ptr(&sub, &f, (void ***)&a->strings, &ns, s)) != CQ_OK)
                free(s);
            break;
        }
        case 20: st = cq_pb_int64(&sub, &f, &type); break;
        default: keep_raw = 1; break; /* graphs, type protos, sparse, doc, refs */
        }
    }
    if (st == CQ_OK && more < 0)
        st = code_of(&sub);
    /* Old models leave type out: infer it from the field present. */
    if (st == CQ_OK && type == 0) {
        keep_raw = 1;
        type = seen_f ? CQ_ATTR_FLOAT : seen_i ? CQ_ATTR_INT : seen_s ? CQ_ATTR_STRING
             : seen_t ? CQ_ATTR_TENSOR : seen_g ? CQ_ATTR_GRAPH : nf ? CQ_ATTR_FLOATS
             : ni ? CQ_ATTR_INTS : ns ? CQ_ATTR_STRINGS : nt ? CQ_ATTR_TENSORS : 0;
    }
    a->type = (cq_attr_type)type;
    /* a STRING attribute without its s field is the empty string (readers
     * take a->s as a C string) */
    if (st == CQ_OK && type == CQ_ATTR_STRING && !a->s) {
        a->s = calloc(1, 1);
        a->s_len = 0;
        if (!a->s)
            st = cq_pb_fail(m, af, CQ_ENOMEM, "out of memory");
    }
    if ((nf && type != CQ_ATTR_FLOATS) || (ni && type != CQ_ATTR_INTS) ||
        (ns && type != CQ_ATTR_STRINGS) || (nt && type != CQ_ATTR_TENSORS) ||
        type > CQ_ATTR_TENSORS || type == CQ_ATTR_GRAPHS)
        keep_raw = 1;
    a->n = type == CQ_ATTR_FLOATS ? nf : type == CQ_ATTR_INTS ? ni
         : type == CQ_ATTR_STRINGS ? ns : type == CQ_ATTR_TENSORS ? nt : 0;
    /* cq_attr_clear walks n entries of strings and tensors: keep them consistent. */
    if (type != CQ_ATTR_STRINGS) {
        for (int64_t i = 0; i < ns; i++)
            free(a->strings[i]);
        free(a->strings);
        a->strings = NULL;
    }
    if (type != CQ_ATTR_TENSORS) {
        for (int64_t i = 0; i < nt; i++)
            cq_tensor_release(a->tensors[i]);
        free(a->tensors);
        a->tensors = NULL;
    }
    if (st == CQ_OK && !a->name)
        st = cq_pb_fail(m, af, CQ_EFORMAT, "attribute without a name");
    if (st == CQ_OK && keep_raw) {
        a->raw = memdup(af->data, af->len);
        a->raw_len = af->len;
        if (!a->raw)
            st = cq_pb_fail(m, af, CQ_ENOMEM, "out of memory");
    }
    if (st != CQ_OK)
        cq_attr_clear(a);
    return st;
}

/* ---- nodes ------------------------------------------------------------- */

static void free_strs(char **s, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

static cq_status read_node(cq_pb *m, const cq_pb_field *nf, cq_graph *g, int depth)
{
    cq_pb sub;
    cq_pb_field f;
    char **ins = NULL, **outs = NULL, *name = NULL, *op = NULL, *domain = NULL, *doc = NULL;
    int64_t nin = 0, nout = 0, nattr = 0;
    cq_attr *attrs = NULL;
    uint8_t *extra = NULL;
    size_t extra_len = 0;
    int more;
    cq_status st = cq_pb_want(m, nf, CQ_PB_LEN);
    if (st != CQ_OK)
        return st;
    cq_pb_sub(m, nf, "NodeProto", node_names, &sub);
    while (st == CQ_OK && (more = cq_pb_next(&sub, &f)) > 0) {
        switch (f.num) {
        case 1: case 2: {
            char *s = cq_pb_strdup(&sub, &f);
            if (!s) {
                st = code_of(&sub);
                break;
            }
            if (f.num == 1)
                st = push_ptr(&sub, &f, (void ***)&ins, &nin, s);
            else
                st = push_ptr(&sub, &f, (void ***)&outs, &nout, s);
            if (st != CQ_OK)
                free(s);
            break;
        }
        case 3: st = cq_pb_set_string(&sub, &f, &name); break;
        case 4: st = cq_pb_set_string(&sub, &f, &op); break;
        case 5: {
            cq_attr *q = realloc(attrs, (size_t)(nattr + 1) * sizeof *q);
            if (!q) {
                st = cq_pb_fail(&sub, &f, CQ_ENOMEM, "out of memory");
                break;
            }
            attrs = q;
            if ((st = read_attr(&sub, &f, &attrs[nattr], depth)) == CQ_OK)
                nattr++;
            break;
        }
        case 6: st = cq_pb_set_string(&sub, &f, &doc); break;
        case 7: st = cq_pb_set_string(&sub, &f, &domain); break;
        default: st = keep(&sub, &f, &extra, &extra_len); break;
        }
    }
    if (st == CQ_OK && more < 0)
        st = code_of(&sub);
    if (st == CQ_OK && (!op || !*op))
        st = cq_pb_fail(m, nf, CQ_EFORMAT, "node '%s' has no op_type", name ? name : "");
    if (st == CQ_OK && (nin > MAX_NODE_IO || nout > MAX_NODE_IO))
        st = cq_pb_fail(m, nf, CQ_EFORMAT, "node '%s' has too many inputs or outputs", name);
    const cq__onnx_budget *bud = m->ud;
    if (st == CQ_OK && bud && g->n_nodes >= bud->lim.max_nodes)
        st = cq_pb_fail(m, nf, CQ_ENOMEM, "more than %lld nodes in one graph, the limit "
                        "(max_nodes)", (long long)bud->lim.max_nodes);
    int n = -1;
    if (st == CQ_OK) {
        n = cq_graph_add_node(g, op, name ? name : "", domain ? domain : "", (int)nin,
                              (const char *const *)ins, (int)nout, (const char *const *)outs,
                              m->err);
        if (n < 0) {
            /* a bad node in a file is the file's fault, not the caller's */
            cq_status code = m->err->code == CQ_EINVAL ? CQ_EFORMAT : m->err->code;
            st = cq_err_prefix(m->err, code, "%s: byte %zu: %s.node (field 1): ", m->file,
                               nf->offset, m->msg);
        }
    }
    int64_t i = 0;
    while (st == CQ_OK && i < nattr) /* add_attr frees the attribute on failure */
        st = cq_node_add_attr(g, n, &attrs[i++], m->err);
    for (; i < nattr; i++)
        cq_attr_clear(&attrs[i]);
    if (st == CQ_OK) {
        g->nodes[n].doc_string = doc;
        g->nodes[n].onnx_extra = extra;
        g->nodes[n].onnx_extra_len = extra_len;
        doc = NULL;
        extra = NULL;
    }
    free(attrs);
    free_strs(ins, nin);
    free_strs(outs, nout);
    free(name);
    free(op);
    free(domain);
    free(doc);
    free(extra);
    return st;
}

/* ---- graph and model --------------------------------------------------- */

static cq_status read_initializer(cq_pb *m, const cq_pb_field *f, cq_graph *g)
{
    cq_pb ts;
    cq__onnx_tensor ot;
    cq_status st = cq_pb_want(m, f, CQ_PB_LEN);
    if (st != CQ_OK)
        return st;
    cq_pb_sub(m, f, "TensorProto", cq__onnx_tensor_names, &ts);
    if ((st = cq__onnx_read_tensor(&ts, &ot)) != CQ_OK)
        return st;
    if (!ot.name || !*ot.name) {
        cq__onnx_tensor_clear(&ot);
        return cq_pb_fail(m, f, CQ_EFORMAT, "initializer without a name");
    }
    int v = cq_graph_value(g, ot.name, m->err);
    if (v >= 0 && g->values[v].is_initializer) {
        st = cq_pb_fail(m, f, CQ_EFORMAT, "initializer '%s' appears twice", ot.name);
    } else if (v < 0) {
        st = CQ_ENOMEM;
    } else if ((st = cq_graph_add_initializer(g, v, ot.t, m->err)) == CQ_OK && !ot.t) {
        cq_value *val = &g->values[v];
        val->unsupported = ot.unsupported;
        val->onnx_elem_type = ot.elem_type;
        val->has_type = 0;
        val->ndim = ot.ndim <= CQ_MAX_DIMS ? ot.ndim : -1;
        for (int i = 0; i < CQ_MAX_DIMS; i++)
            val->shape[i] = i < ot.ndim ? ot.dims[i] : 0;
        val->onnx_tensor = memdup(f->data, f->len);
        val->onnx_tensor_len = f->len;
        if (!val->onnx_tensor)
            st = cq_pb_fail(m, f, CQ_ENOMEM, "out of memory");
    }
    cq__onnx_tensor_clear(&ot);
    return st;
}

static cq_status read_graph(cq_pb *m, cq_graph *g, int depth)
{
    cq_pb_field f;
    int more, v;
    cq_status st = CQ_OK;
    while (st == CQ_OK && (more = cq_pb_next(m, &f)) > 0) {
        switch (f.num) {
        case 1: st = read_node(m, &f, g, depth); break;
        case 2: st = cq_pb_set_string(m, &f, &g->name); break;
        case 5: st = read_initializer(m, &f, g); break;
        case 10: st = cq_pb_set_string(m, &f, &g->doc_string); break;
        case 11:
            if ((st = read_value_info(m, &f, g, &v)) == CQ_OK)
                st = cq_graph_add_input(g, v, m->err);
            break;
        case 12:
            if ((st = read_value_info(m, &f, g, &v)) == CQ_OK)
                st = cq_graph_add_output(g, v, m->err);
            break;
        case 13: st = read_value_info(m, &f, g, &v); break;
        default: st = keep(m, &f, &g->onnx_extra, &g->onnx_extra_len); break;
        }
    }
    if (st == CQ_OK && more < 0)
        st = code_of(m);
    /* Initializers listed as inputs too (IR < 4) are not inputs to feed. */
    int k = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (!g->values[g->inputs[i]].is_initializer)
            g->inputs[k++] = g->inputs[i];
    g->n_inputs = k;
    return st;
}

static cq_status read_pair(cq_pb *m, const cq_pb_field *f, const char *msg,
                           const cq_pb_name *names, char **a, int64_t *num, char **b)
{
    cq_pb sub;
    cq_pb_field pf;
    int more;
    cq_status st = cq_pb_want(m, f, CQ_PB_LEN);
    if (st != CQ_OK)
        return st;
    cq_pb_sub(m, f, msg, names, &sub);
    while (st == CQ_OK && (more = cq_pb_next(&sub, &pf)) > 0) {
        if (pf.num == 1)
            st = cq_pb_set_string(&sub, &pf, a);
        else if (pf.num == 2 && num)
            st = cq_pb_int64(&sub, &pf, num);
        else if (pf.num == 2)
            st = cq_pb_set_string(&sub, &pf, b);
    }
    if (st == CQ_OK && more < 0)
        st = code_of(&sub);
    if (st == CQ_OK && !*a && (*a = calloc(1, 1)) == NULL)
        st = cq_pb_fail(m, f, CQ_ENOMEM, "out of memory");
    if (st == CQ_OK && b && !*b && (*b = calloc(1, 1)) == NULL)
        st = cq_pb_fail(m, f, CQ_ENOMEM, "out of memory");
    return st;
}

static cq_status read_model(cq_pb *m, cq_graph *g)
{
    cq_pb_field f;
    int more, has_graph = 0;
    cq_status st = CQ_OK;
    while (st == CQ_OK && (more = cq_pb_next(m, &f)) > 0) {
        switch (f.num) {
        case 1: st = cq_pb_int64(m, &f, &g->ir_version); break;
        case 2: st = cq_pb_set_string(m, &f, &g->producer_name); break;
        case 3: st = cq_pb_set_string(m, &f, &g->producer_version); break;
        case 4: st = cq_pb_set_string(m, &f, &g->model_domain); break;
        case 5: st = cq_pb_int64(m, &f, &g->model_version); break;
        case 6: st = cq_pb_set_string(m, &f, &g->model_doc_string); break;
        case 7: {
            cq_pb gs;
            if ((st = cq_pb_want(m, &f, CQ_PB_LEN)) != CQ_OK)
                break;
            cq_pb_sub(m, &f, "GraphProto", graph_names, &gs);
            st = read_graph(&gs, g, 0);
            has_graph = 1;
            break;
        }
        case 8: {
            if (g->n_opsets >= MAX_OPSETS) {
                st = cq_pb_fail(m, &f, CQ_EFORMAT, "more than %d opset imports", MAX_OPSETS);
                break;
            }
            cq_opset *q = realloc(g->opsets, (size_t)(g->n_opsets + 1) * sizeof *q);
            if (!q) {
                st = cq_pb_fail(m, &f, CQ_ENOMEM, "out of memory");
                break;
            }
            g->opsets = q;
            memset(&q[g->n_opsets], 0, sizeof *q);
            st = read_pair(m, &f, "OperatorSetIdProto", opset_names, &q[g->n_opsets].domain,
                           &q[g->n_opsets].version, NULL);
            g->n_opsets++;
            break;
        }
        case 14: {
            cq_meta_prop *q = realloc(g->meta, (size_t)(g->n_meta + 1) * sizeof *q);
            if (!q) {
                st = cq_pb_fail(m, &f, CQ_ENOMEM, "out of memory");
                break;
            }
            g->meta = q;
            memset(&q[g->n_meta], 0, sizeof *q);
            st = read_pair(m, &f, "StringStringEntryProto", entry_names, &q[g->n_meta].key,
                           NULL, &q[g->n_meta].value);
            g->n_meta++;
            break;
        }
        default: st = keep(m, &f, &g->onnx_model_extra, &g->onnx_model_extra_len); break;
        }
    }
    if (st == CQ_OK && more < 0)
        st = code_of(m);
    if (st == CQ_OK && !has_graph)
        st = cq_errf(m->err, CQ_EFORMAT, "%s: not an ONNX model: no ModelProto.graph (field 7) "
                     "in %zu bytes", m->file, m->end);
    return st;
}

cq_graph *cq_onnx_load_buffer_limited(const void *buf, size_t len, const char *name,
                                      const cq_limits *lim, cq_err *err)
{
    cq_err_clear(err);
    if (!name)
        name = "<buffer>";
    cq__onnx_budget budget = {CQ_LIMITS_DEFAULT, 0};
    if (cq_limits_check(lim, err))
        return NULL;
    if (lim)
        budget.lim = *lim;
    if (len > budget.lim.max_model_bytes) {
        cq_errf(err, CQ_ENOMEM, "%s: %zu bytes, above the limit of %llu bytes per model "
                "(max_model_bytes)", name, len, (unsigned long long)budget.lim.max_model_bytes);
        return NULL;
    }
    cq_graph *g = cq_graph_new(err);
    if (!g)
        return NULL;
    cq_pb m;
    cq_pb_init(&m, buf, len, name, "ModelProto", model_names, err);
    m.ud = &budget;
    cq_status st = read_model(&m, g);
    if (st == CQ_OK && (st = cq_graph_toposort(g, err)) != CQ_OK)
        cq_err_prefix(err, st, "%s: ", name);
    if (st != CQ_OK) {
        cq_graph_free(g);
        return NULL;
    }
    return g;
}

cq_graph *cq_onnx_load_buffer(const void *buf, size_t len, const char *name, cq_err *err)
{
    return cq_onnx_load_buffer_limited(buf, len, name, NULL, err);
}

cq_graph *cq_onnx_load_limited(const char *path, const cq_limits *lim, cq_err *err)
{
    const cq_limits def = CQ_LIMITS_DEFAULT;
    struct stat sb;
    if (cq_limits_check(lim, err))
        return NULL;
    /* a file past the limit is refused before it is read */
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
        (uint64_t)sb.st_size > (lim ? lim : &def)->max_model_bytes) {
        cq_errf(err, CQ_ENOMEM, "%s: %lld bytes, above the limit of %llu bytes per model "
                "(max_model_bytes)", path, (long long)sb.st_size,
                (unsigned long long)(lim ? lim : &def)->max_model_bytes);
        return NULL;
    }
    uint8_t *buf;
    size_t len;
    if (cq__onnx_read_file(path, &buf, &len, err) != CQ_OK)
        return NULL;
    cq_graph *g = cq_onnx_load_buffer_limited(buf, len, path, lim, err);
    free(buf);
    return g;
}

cq_graph *cq_onnx_load(const char *path, cq_err *err)
{
    return cq_onnx_load_limited(path, NULL, err);
}

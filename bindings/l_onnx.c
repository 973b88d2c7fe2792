/* l_onnx.c - calq.Model: an ONNX model (cq_graph) as Lua userdata.
 *
 *   local m = assert(calq.onnx.load("model.onnx"))
 *   for node in m:nodes() do print(node.op_type, node.name) end
 *   m:save("copy.onnx")
 *
 * Other binding files add methods to the same metatable through
 * cq__lua_model_methods() (see lcalq.h). */
#include "lcalq.h"

#include <stdlib.h>
#include <string.h>

#include "onnx/onnx.h"

/* busy: runs of this model in progress (set by l_exec.c around cq_exec_run);
 * while set, close/save/run raise "model is running". lim: the limits it was
 * loaded with, which its plans keep (cq__lua_model_limits). */
typedef struct { cq_graph *g; int busy; cq_limits lim; } mbox;

static void ensure_metatable(lua_State *L);

void cq__lua_model_methods(lua_State *L)
{
    ensure_metatable(L);
    lua_getfield(L, -1, "__index");
    lua_remove(L, -2);
}

static mbox *new_box(lua_State *L)
{
    mbox *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->g = NULL;
    b->busy = 0;
    b->lim = (cq_limits)CQ_LIMITS_DEFAULT;
    ensure_metatable(L);
    lua_setmetatable(L, -2);
    return b;
}

cq_graph **cq__lua_new_model(lua_State *L)
{
    return &new_box(L)->g;
}

cq_graph *cq__lua_check_model(lua_State *L, int idx)
{
    mbox *b = luaL_checkudata(L, idx, CQ_LUA_MODEL);
    if (!b->g)
        luaL_argerror(L, idx, "model is closed");
    return b->g;
}

cq_graph *cq__lua_test_model(lua_State *L, int idx, int *busy)
{
    mbox *b = luaL_testudata(L, idx, CQ_LUA_MODEL);
    *busy = b ? b->busy : 0;
    return b ? b->g : NULL;
}

cq_graph *cq__lua_check_idle_model(lua_State *L, int idx)
{
    mbox *b = luaL_checkudata(L, idx, CQ_LUA_MODEL);
    if (b->busy)
        luaL_argerror(L, idx, "model is running");
    return cq__lua_check_model(L, idx);
}

const cq_limits *cq__lua_model_limits(lua_State *L, int idx)
{
    mbox *b = luaL_checkudata(L, idx, CQ_LUA_MODEL);
    return &b->lim;
}

void cq__lua_model_set_busy(lua_State *L, int idx, int busy)
{
    mbox *b = luaL_checkudata(L, idx, CQ_LUA_MODEL);
    b->busy += busy ? 1 : -1;
}

/* ---- loading ----------------------------------------------------------- */

/* The limits of an options table at arg (absent or nil: the defaults):
 * max_tensor_bytes, max_model_bytes, max_nodes, positive integers; a wrong
 * type or value raises (misuse). */
static void check_limits(lua_State *L, int arg, cq_limits *lim)
{
    static const char *const keys[] = {"max_tensor_bytes", "max_model_bytes", "max_nodes"};
    *lim = (cq_limits)CQ_LIMITS_DEFAULT;
    if (lua_isnoneornil(L, arg))
        return;
    luaL_checktype(L, arg, LUA_TTABLE);
    for (int k = 0; k < 3; k++) {
        int t = lua_getfield(L, arg, keys[k]);
        if (t != LUA_TNIL) {
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (!ok || v <= 0)
                luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a positive integer",
                                                      keys[k]));
            if (k == 0)
                lim->max_tensor_bytes = (uint64_t)v;
            else if (k == 1)
                lim->max_model_bytes = (uint64_t)v;
            else
                lim->max_nodes = (int64_t)v;
        }
        lua_pop(L, 1);
    }
    cq_err err;
    if (cq_limits_check(lim, &err))
        luaL_argerror(L, arg, lua_pushstring(L, err.msg));
}

/* calq.onnx.load(path [, limits]) -> Model | nil, msg, code */
static int l_onnx_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    cq_limits lim;
    check_limits(L, 2, &lim);
    mbox *b = new_box(L);
    b->lim = lim;
    cq_err err;
    b->g = cq_onnx_load_limited(path, &lim, &err);
    if (!b->g)
        return cq__lua_fail(L, &err);
    return 1;
}

/* calq.onnx.load_string(bytes [, name [, limits]]) -> Model | nil, msg, code */
static int l_onnx_load_buffer(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "<buffer>");
    cq_limits lim;
    check_limits(L, 3, &lim);
    mbox *b = new_box(L);
    b->lim = lim;
    cq_err err;
    b->g = cq_onnx_load_buffer_limited(s, len, name, &lim, &err);
    if (!b->g)
        return cq__lua_fail(L, &err);
    return 1;
}

static int push_name(lua_State *L)
{
    const char *name = lua_touserdata(L, 1);
    lua_pushstring(L, name ? name : "");
    return 1;
}

/* calq.onnx.read_tensor(path) -> Tensor, name | nil, msg, code */
static int l_onnx_read_tensor(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    cq_err err;
    char *name = NULL;
    cq_tensor *t = cq_onnx_read_tensor(path, &name, &err);
    if (!t)
        return cq__lua_fail(L, &err);
    /* name is C memory: it must be freed before anything can raise */
    lua_pushcfunction(L, push_name);
    lua_pushlightuserdata(L, name);
    int st = lua_pcall(L, 1, 1, 0);
    free(name);
    if (st != LUA_OK) {
        cq_tensor_release(t);
        return lua_error(L);
    }
    cq__lua_push_tensor(L, t);
    lua_insert(L, -2);
    return 2;
}

/* calq.onnx.write_tensor(path, tensor [, name]) -> true | nil, msg, code */
static int l_onnx_write_tensor(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    cq_tensor *t = cq__lua_check_tensor(L, 2);
    const char *name = luaL_optstring(L, 3, "");
    cq_err err;
    if (cq_onnx_write_tensor(t, name, path, &err) != CQ_OK)
        return cq__lua_fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- values and attributes as Lua data --------------------------------- */

static const char *dtype_name(const cq_value *v)
{
    if (v->has_type)
        return cq_dtype_info(v->dtype)->name;
    if (v->onnx_elem_type)
        return cq_onnx_type_name(v->onnx_elem_type);
    return NULL;
}

/* Shape table: integers, dim_param names as strings, -1 for unknown; nil
 * (nothing pushed, returns 0) when the rank is unknown. */
static int push_shape(lua_State *L, const cq_value *v)
{
    if (v->ndim < 0)
        return 0;
    lua_createtable(L, v->ndim, 0);
    for (int i = 0; i < v->ndim; i++) {
        if (v->dim_param[i])
            lua_pushstring(L, v->dim_param[i]);
        else
            lua_pushinteger(L, v->shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static void push_value_info(lua_State *L, const cq_value *v)
{
    lua_createtable(L, 0, 4);
    lua_pushstring(L, v->name);
    lua_setfield(L, -2, "name");
    const char *dt = dtype_name(v);
    if (dt) {
        lua_pushstring(L, dt);
        lua_setfield(L, -2, "dtype");
    }
    if (push_shape(L, v))
        lua_setfield(L, -2, "shape");
    if (v->unsupported) {
        lua_pushstring(L, v->unsupported);
        lua_setfield(L, -2, "unsupported");
    }
}

static void push_attr(lua_State *L, const cq_attr *a)
{
    switch (a->type) {
    case CQ_ATTR_FLOAT: lua_pushnumber(L, a->f); return;
    case CQ_ATTR_INT: lua_pushinteger(L, a->i); return;
    case CQ_ATTR_STRING: lua_pushlstring(L, a->s ? a->s : "", a->s ? a->s_len : 0); return;
    case CQ_ATTR_FLOATS:
    case CQ_ATTR_INTS:
    case CQ_ATTR_STRINGS:
        lua_createtable(L, (int)a->n, 0);
        for (int64_t i = 0; i < a->n; i++) {
            if (a->type == CQ_ATTR_FLOATS)
                lua_pushnumber(L, a->floats[i]);
            else if (a->type == CQ_ATTR_INTS)
                lua_pushinteger(L, a->ints[i]);
            else
                lua_pushstring(L, a->strings[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return;
    case CQ_ATTR_TENSOR:
        if (a->t) {
            cq_tensor_retain(a->t);
            cq__lua_push_tensor(L, a->t);
            return;
        }
        break;
    case CQ_ATTR_TENSORS:
        if (!a->raw) {
            lua_createtable(L, (int)a->n, 0);
            for (int64_t i = 0; i < a->n; i++) {
                cq_tensor_retain(a->tensors[i]);
                cq__lua_push_tensor(L, a->tensors[i]);
                lua_rawseti(L, -2, (lua_Integer)i + 1);
            }
            return;
        }
        break;
    case CQ_ATTR_GRAPH:
        if (a->g) {
            lua_createtable(L, 0, 2);
            lua_pushliteral(L, "graph");
            lua_setfield(L, -2, "kind");
            lua_pushinteger(L, a->g->n_nodes);
            lua_setfield(L, -2, "nodes");
            return;
        }
        break;
    default: break;
    }
    /* What calq keeps only as bytes. */
    lua_createtable(L, 0, 2);
    lua_pushliteral(L, "unsupported");
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, a->type);
    lua_setfield(L, -2, "type");
}

static void push_names(lua_State *L, const cq_graph *g, const int *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, v[i] >= 0 ? g->values[v[i]].name : "");
        lua_rawseti(L, -2, i + 1);
    }
}

static void push_shapes(lua_State *L, const cq_graph *g, const int *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        if (v[i] < 0 || !push_shape(L, &g->values[v[i]]))
            lua_pushboolean(L, 0);
        lua_rawseti(L, -2, i + 1);
    }
}

static void push_node(lua_State *L, const cq_graph *g, int i)
{
    const cq_node *n = &g->nodes[i];
    lua_createtable(L, 0, 10);
    lua_pushstring(L, n->op_type);
    lua_setfield(L, -2, "op_type");
    lua_pushstring(L, n->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, n->domain);
    lua_setfield(L, -2, "domain");
    lua_pushinteger(L, i + 1);
    lua_setfield(L, -2, "index");
    push_names(L, g, n->inputs, n->n_inputs);
    lua_setfield(L, -2, "inputs");
    push_names(L, g, n->outputs, n->n_outputs);
    lua_setfield(L, -2, "outputs");
    push_shapes(L, g, n->inputs, n->n_inputs);
    lua_setfield(L, -2, "input_shapes");
    push_shapes(L, g, n->outputs, n->n_outputs);
    lua_setfield(L, -2, "output_shapes");
    lua_createtable(L, 0, n->n_attrs);
    for (int k = 0; k < n->n_attrs; k++) {
        push_attr(L, &n->attrs[k]);
        lua_setfield(L, -2, n->attrs[k].name);
    }
    lua_setfield(L, -2, "attrs");
}

/* ---- methods ----------------------------------------------------------- */

static int nodes_iter(lua_State *L)
{
    const cq_graph *g = cq__lua_check_model(L, lua_upvalueindex(1));
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));
    while (i < g->n_nodes && g->nodes[i].dead)
        i++;
    if (i >= g->n_nodes)
        return 0;
    lua_pushinteger(L, i + 1);
    lua_replace(L, lua_upvalueindex(2));
    push_node(L, g, (int)i);
    return 1;
}

/* m:nodes() -> iterator over node tables */
static int m_nodes(lua_State *L)
{
    cq__lua_check_model(L, 1);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, nodes_iter, 2);
    return 1;
}

static int push_value_list(lua_State *L, const int *list, int n)
{
    const cq_graph *g = cq__lua_check_model(L, 1);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        push_value_info(L, &g->values[list[i]]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* m:inputs(), m:outputs() -> {{name=, dtype=, shape=}, ...} */
static int m_inputs(lua_State *L)
{
    const cq_graph *g = cq__lua_check_model(L, 1);
    return push_value_list(L, g->inputs, g->n_inputs);
}

static int m_outputs(lua_State *L)
{
    const cq_graph *g = cq__lua_check_model(L, 1);
    return push_value_list(L, g->outputs, g->n_outputs);
}

/* m:initializers() -> {{name=, dtype=, shape=}, ...} */
static int m_initializers(lua_State *L)
{
    const cq_graph *g = cq__lua_check_model(L, 1);
    return push_value_list(L, g->initializers, g->n_initializers);
}

/* m:initializer(name) -> Tensor | nil, msg */
static int m_initializer(lua_State *L)
{
    const cq_graph *g = cq__lua_check_model(L, 1);
    const char *name = luaL_checkstring(L, 2);
    int v = cq_graph_find(g, name);
    cq_err err;
    if (v < 0 || !g->values[v].is_initializer) {
        cq_errf(&err, CQ_ERANGE, "no initializer named '%s'", name);
        return cq__lua_fail(L, &err);
    }
    if (!g->values[v].data) {
        cq_errf(&err, CQ_EUNSUPPORTED, "initializer '%s': %s is not supported by calq", name,
                g->values[v].unsupported ? g->values[v].unsupported : "its data");
        return cq__lua_fail(L, &err);
    }
    cq_tensor_retain(g->values[v].data);
    cq__lua_push_tensor(L, g->values[v].data);
    return 1;
}

/* m:opset([domain]) -> version (0 when not imported) */
static int m_opset(lua_State *L)
{
    const cq_graph *g = cq__lua_check_model(L, 1);
    lua_pushinteger(L, cq_graph_opset(g, luaL_optstring(L, 2, "")));
    return 1;
}

/* m:opsets() -> {[domain] = version}; m:metadata() -> {[key] = value} */
static int m_opsets(lua_State *L)
{
    const cq_graph *g = cq__lua_check_model(L, 1);
    lua_createtable(L, 0, g->n_opsets);
    for (int i = 0; i < g->n_opsets; i++) {
        lua_pushinteger(L, g->opsets[i].version);
        lua_setfield(L, -2, g->opsets[i].domain ? g->opsets[i].domain : "");
    }
    return 1;
}

static int m_metadata(lua_State *L)
{
    const cq_graph *g = cq__lua_check_model(L, 1);
    lua_createtable(L, 0, g->n_meta + 3);
    for (int i = 0; i < g->n_meta; i++) {
        lua_pushstring(L, g->meta[i].value);
        lua_setfield(L, -2, g->meta[i].key);
    }
    return 1;
}

/* m:info() -> {ir_version=, producer_name=, producer_version=, graph_name=, nodes=} */
static int m_info(lua_State *L)
{
    const cq_graph *g = cq__lua_check_model(L, 1);
    int live = 0;
    for (int i = 0; i < g->n_nodes; i++)
        live += !g->nodes[i].dead;
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, g->ir_version);
    lua_setfield(L, -2, "ir_version");
    lua_pushstring(L, g->producer_name ? g->producer_name : "");
    lua_setfield(L, -2, "producer_name");
    lua_pushstring(L, g->producer_version ? g->producer_version : "");
    lua_setfield(L, -2, "producer_version");
    lua_pushstring(L, g->name ? g->name : "");
    lua_setfield(L, -2, "graph_name");
    lua_pushinteger(L, live);
    lua_setfield(L, -2, "nodes");
    return 1;
}

/* m:save(path) -> true | nil, msg, code */
static int m_save(lua_State *L)
{
    const cq_graph *g = cq__lua_check_idle_model(L, 1);
    const char *path = luaL_checkstring(L, 2);
    cq_err err;
    if (cq_onnx_save(g, path, &err) != CQ_OK)
        return cq__lua_fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* m:check_ops({"Conv", "Relu", "com.microsoft:Foo", ...}) -> true | nil, msg, code */
static int m_check_ops(lua_State *L)
{
    const cq_graph *g = cq__lua_check_model(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = (int)luaL_len(L, 2);
    const char **ops = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *ops, 0);
    for (int i = 0; i < n; i++) {
        /* Only real strings: the table keeps them alive after the pop (a
         * number converted by lua_tostring would live on the stack only). */
        if (lua_geti(L, 2, i + 1) != LUA_TSTRING)
            luaL_argerror(L, 2, "operator names must be strings");
        ops[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    cq_err err;
    if (cq_onnx_check_ops(g, ops, n, &err) != CQ_OK)
        return cq__lua_fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* m:diff(other) -> nil when the same model, else a description */
static int m_diff(lua_State *L)
{
    const cq_graph *a = cq__lua_check_model(L, 1);
    const cq_graph *b = cq__lua_check_model(L, 2);
    char why[512];
    if (!cq_onnx_graph_diff(a, b, why, sizeof why))
        return 0;
    lua_pushstring(L, why);
    return 1;
}

/* __gc: idempotent. A running model is on the stack of m:run, so it is
 * never collected while busy. */
static int mm_gc(lua_State *L)
{
    mbox *b = luaL_checkudata(L, 1, CQ_LUA_MODEL);
    cq_graph_free(b->g);
    b->g = NULL;
    return 0;
}

/* close and __close: idempotent; raise while the model runs (from its observer). */
static int mm_close(lua_State *L)
{
    mbox *b = luaL_checkudata(L, 1, CQ_LUA_MODEL);
    if (b->busy)
        luaL_argerror(L, 1, "model is running");
    return mm_gc(L);
}

static int mm_tostring(lua_State *L)
{
    mbox *b = luaL_checkudata(L, 1, CQ_LUA_MODEL);
    if (!b->g) {
        lua_pushliteral(L, "calq.Model (closed)");
        return 1;
    }
    int live = 0;
    for (int i = 0; i < b->g->n_nodes; i++)
        live += !b->g->nodes[i].dead;
    lua_pushfstring(L, "calq.Model (%d nodes, %d inputs, %d outputs, opset %d)", live,
                    b->g->n_inputs, b->g->n_outputs, (int)cq_graph_opset(b->g, ""));
    return 1;
}

static const luaL_Reg methods[] = {
    {"nodes", m_nodes}, {"inputs", m_inputs}, {"outputs", m_outputs},
    {"initializers", m_initializers}, {"initializer", m_initializer}, {"opset", m_opset},
    {"opsets", m_opsets}, {"metadata", m_metadata}, {"info", m_info}, {"save", m_save},
    {"check_ops", m_check_ops}, {"diff", m_diff}, {"close", mm_close}, {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__gc", mm_gc}, {"__close", mm_close}, {"__tostring", mm_tostring}, {NULL, NULL},
};

static const luaL_Reg functions[] = {
    {"load", l_onnx_load}, {"load_string", l_onnx_load_buffer},
    {"read_tensor", l_onnx_read_tensor}, {"write_tensor", l_onnx_write_tensor},
    {NULL, NULL},
};

static void ensure_metatable(lua_State *L)
{
    if (luaL_newmetatable(L, CQ_LUA_MODEL)) {
        luaL_setfuncs(L, metamethods, 0);
        luaL_newlib(L, methods);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "__methods");
        lua_setfield(L, -2, "__index");
    }
}

int cq__lua_open_onnx(lua_State *L)
{
    ensure_metatable(L);
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    return 1;
}

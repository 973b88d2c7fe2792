/* l_quant.c - the quantizer from Lua: calq.quant.new(model, stats [, opts])
 * -> calq.Quantizer (quant/quant.h), calq.quant.lower(model) (the QDQ ->
 * QLinear rewrite) and calq.quant.match(model, pattern).
 *
 *   local q = assert(calq.quant.new(model, stats, {activations = "u8", method = "mse",
 *                                                   precision = {{"first:Conv", "fp32"}}}))
 *   local qdq = q:model()             -- a new calq.Model: the QDQ graph
 *   for _, n in ipairs(q:nodes()) do print(n.name, n.int8, n.reason) end
 *   assert(q:measure(x))              -- sensitivity: feed calibration items
 *   for _, s in ipairs(q:sensitivity()) do print(s.name, s.sqnr) end
 *   calq.quant.lower(qdq)             -- calq's integer form, before qdq runs
 *
 * A Quantizer keeps its model and statistics alive (user values 1 and 2) and
 * borrows the model's graph (planned by calq.quant.new) and the statistics;
 * closing either makes its methods raise. */
#include "lcalq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib/stats.h"
#include "graph/graph.h"
#include "quant/quant.h"

#define CQ_LUA_QUANTIZER "calq.Quantizer"

typedef struct {
    cq_quant *q;
    cq_quant_sens *sens;
    cq_graph *g;             /* the model's graph (borrowed) */
    cq_calib_stats *stats;   /* borrowed */
    int threads;             /* of the sensitivity runs */
} qbox;

static const char *const methods_names[] = {"minmax", "percentile", "entropy", "entropy_asym",
                                            "mse", NULL};

static qbox *check_q(lua_State *L, int idx)
{
    qbox *b = luaL_checkudata(L, idx, CQ_LUA_QUANTIZER);
    if (!b->q)
        luaL_argerror(L, idx, "quantizer is closed");
    lua_getiuservalue(L, idx, 1);
    int busy;
    cq_graph *g = cq__lua_test_model(L, -1, &busy);
    lua_pop(L, 1);
    if (g != b->g)
        luaL_argerror(L, idx, "its model is closed");
    lua_getiuservalue(L, idx, 2);
    if (cq__lua_check_stats(L, lua_gettop(L)) != b->stats)
        luaL_argerror(L, idx, "its statistics are closed");
    lua_pop(L, 1);
    return b;
}

/* ---- options ----------------------------------------------------------------- */

static int opt_field(lua_State *L, int idx, const char *name, int type)
{
    int t = lua_getfield(L, idx, name);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (t != type) {
        const char *msg = lua_pushfstring(L, "option '%s' must be a %s, not %s", name,
                                          lua_typename(L, type), luaL_typename(L, -1));
        luaL_argerror(L, idx, msg);
    }
    return 1;
}

static cq_calib_method check_method(lua_State *L, int arg, const char *s)
{
    char buf[32];
    size_t n = strlen(s);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = s[i] == '-' ? '_' : s[i];
    buf[n] = 0;
    for (int i = 0; methods_names[i]; i++)
        if (!strcmp(buf, methods_names[i]))
            return (cq_calib_method)i;
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown method '%s' (minmax, percentile, entropy, "
                                          "entropy_asym, mse)", s));
    return CQ_CALIB_MINMAX;
}

static cq_dtype check_precision(lua_State *L, int arg, const char *s)
{
    if (!strcmp(s, "int8") || !strcmp(s, "s8") || !strcmp(s, "u8"))
        return CQ_S8;
    if (!strcmp(s, "fp32") || !strcmp(s, "f32"))
        return CQ_F32;
    if (!strcmp(s, "bf16"))
        return CQ_BF16;
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown precision '%s' (int8, fp32, bf16)", s));
    return CQ_F32;
}

/* The options table at idx into o; the precision list into map (g->n_nodes
 * entries, CQ_S8 by default; {pattern or node index, precision} pairs in
 * order, later ones win). Raises on
 * misuse; returns 0, or -1 with err filled when a pattern names no node. */
static int read_opts(lua_State *L, int idx, const cq_graph *g, cq_quant_opts *o, cq_dtype *map,
                     unsigned char *hit, cq_err *err)
{
    for (int i = 0; i < g->n_nodes; i++)
        map[i] = CQ_S8;
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    if (opt_field(L, idx, "activations", LUA_TSTRING)) {
        const char *s = lua_tostring(L, -1);
        if (strcmp(s, "u8") && strcmp(s, "s8"))
            luaL_argerror(L, idx, "option 'activations' must be \"u8\" or \"s8\"");
        o->act_dtype = s[0] == 'u' ? CQ_U8 : CQ_S8;
        lua_pop(L, 1);
    }
    if (opt_field(L, idx, "symmetric", LUA_TBOOLEAN)) {
        o->act_symmetric = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    if (opt_field(L, idx, "method", LUA_TSTRING)) {
        o->act_method = check_method(L, idx, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    if (opt_field(L, idx, "percentile", LUA_TNUMBER)) {
        o->percentile = lua_tonumber(L, -1);
        if (!(o->percentile > 0 && o->percentile <= 100))
            luaL_argerror(L, idx, "option 'percentile' must be in (0, 100]");
        lua_pop(L, 1);
    }
    if (opt_field(L, idx, "zero_bin", LUA_TSTRING)) {
        const char *s = lua_tostring(L, -1);
        if (strcmp(s, "keep") && strcmp(s, "as_next"))
            luaL_argerror(L, idx, "option 'zero_bin' must be \"keep\" or \"as_next\"");
        o->zero_bin = s[0] == 'a' ? CQ_CALIB_ZERO_AS_NEXT : CQ_CALIB_ZERO_KEEP;
        lua_pop(L, 1);
    }
    if (opt_field(L, idx, "weights", LUA_TSTRING)) {
        cq_calib_method m = check_method(L, idx, lua_tostring(L, -1));
        if (m != CQ_CALIB_MINMAX && m != CQ_CALIB_MSE)
            luaL_argerror(L, idx, "option 'weights' must be \"minmax\" or \"mse\"");
        o->weight_method = m;
        lua_pop(L, 1);
    }
    if (opt_field(L, idx, "per_channel", LUA_TBOOLEAN)) {
        o->per_channel = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    if (opt_field(L, idx, "precision", LUA_TTABLE)) {
        int list = lua_gettop(L);
        lua_Integer n = luaL_len(L, list);
        for (lua_Integer k = 1; k <= n; k++) {
            if (lua_geti(L, list, k) != LUA_TTABLE)
                luaL_argerror(L, idx, "option 'precision' holds {pattern, precision} pairs");
            lua_geti(L, -1, 1);
            lua_geti(L, -2, 2);
            if (!lua_isstring(L, -2) || lua_type(L, -1) != LUA_TSTRING)
                luaL_argerror(L, idx, "option 'precision' holds {pattern, precision} pairs");
            cq_dtype p = check_precision(L, idx, lua_tostring(L, -1));
            if (lua_isinteger(L, -2)) {
                /* a node index (1-based) of the planned graph */
                lua_Integer i = lua_tointeger(L, -2);
                if (i < 1 || i > g->n_nodes)
                    luaL_argerror(L, idx, lua_pushfstring(L, "option 'precision': no node %d",
                                                          (int)i));
                map[i - 1] = p;
                lua_pop(L, 3);
                continue;
            }
            const char *pat = lua_tostring(L, -2);
            memset(hit, 0, (size_t)g->n_nodes + 1);
            int c = cq_quant_match(g, pat, hit, err);
            if (c < 0)
                luaL_argerror(L, idx, err->msg);
            if (c == 0) {
                cq_errf(err, CQ_EINVAL, "precision pattern '%s' names no node", pat);
                lua_pop(L, 4);
                return -1;
            }
            for (int i = 0; i < g->n_nodes; i++)
                if (hit[i])
                    map[i] = p;
            lua_pop(L, 3);
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* ---- calq.quant ---------------------------------------------------------------- */

/* calq.quant.new(model, stats [, opts]) -> Quantizer | nil, msg, code */
static int l_new(lua_State *L)
{
    lua_settop(L, 3); /* the options' slot, nil when absent */
    cq_graph *g = cq__lua_check_idle_model(L, 1);
    cq_calib_stats *stats = cq__lua_check_stats(L, 2);
    cq_err err;
    qbox *b = lua_newuserdatauv(L, sizeof *b, 2);
    memset(b, 0, sizeof *b);
    luaL_setmetatable(L, CQ_LUA_QUANTIZER);
    int box = lua_gettop(L);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, box, 1);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, box, 2);
    if (cq_quant_plan(g, &err) != CQ_OK)
        return cq__lua_fail(L, &err);
    cq_quant_opts o = CQ_QUANT_OPTS_DEFAULT;
    cq_dtype *map = lua_newuserdatauv(L, ((size_t)g->n_nodes + 1) * sizeof *map, 0);
    unsigned char *hit = lua_newuserdatauv(L, (size_t)g->n_nodes + 1, 0);
    if (read_opts(L, 3, g, &o, map, hit, &err) < 0)
        return cq__lua_fail(L, &err);
    o.precision = map;
    o.n_precision = g->n_nodes;
    b->q = cq_quant_new(g, stats, &o, &err);
    if (!b->q)
        return cq__lua_fail(L, &err);
    b->g = g;
    b->stats = stats;
    lua_settop(L, box);
    return 1;
}

/* The report table of *r (a light userdata at 1), run protected so that a
 * memory error cannot leak r's strings. */
static int push_lower_report(lua_State *L)
{
    const cq_quant_lower_result *r = lua_touserdata(L, 1);
    lua_createtable(L, 0, 4);
    lua_createtable(L, r->n_kept, 0);
    for (int i = 0; i < r->n_kept; i++) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, r->kept[i].node);
        lua_setfield(L, -2, "node");
        lua_pushstring(L, r->kept[i].op_type);
        lua_setfield(L, -2, "op_type");
        lua_pushstring(L, r->kept[i].reason);
        lua_setfield(L, -2, "reason");
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "kept");
    lua_pushinteger(L, r->lowered);
    lua_setfield(L, -2, "lowered");
    lua_pushinteger(L, r->folded);
    lua_setfield(L, -2, "folded");
    lua_pushinteger(L, r->casts);
    lua_setfield(L, -2, "casts");
    return 1;
}

/* calq.quant.lower(model) -> count, report | nil, msg, code (rewrites the
 * model in place). report: {lowered, folded, casts, kept = {{node, op_type,
 * reason}, ...}} (cq_quant_lower_result). */
static int l_lower(lua_State *L)
{
    cq_graph *g = cq__lua_check_idle_model(L, 1);
    cq_err err;
    cq_quant_lower_result r;
    luaL_checkstack(L, 4, NULL);
    if (cq__lua_model_planned(L, 1)) {
        /* the plan folded each weight's DequantizeLinear into floats: what
         * is left has no integer weights to lower */
        cq_errf(&err, CQ_ESTATE, "calq.quant.lower: the model is planned already (planning folds "
                "the DequantizeLinear of its weights into floats); lower it before "
                "model:plan(), run(), set_threads() or any other method that plans it");
        return cq__lua_fail(L, &err);
    }
    if (cq_quant_lower_report(g, &r, &err) != CQ_OK)
        return cq__lua_fail(L, &err);
    lua_pushinteger(L, r.lowered);
    lua_pushcfunction(L, push_lower_report);
    lua_pushlightuserdata(L, &r);
    int rc = lua_pcall(L, 1, 1, 0);
    cq_quant_lower_result_clear(&r);
    if (rc != LUA_OK)
        return lua_error(L);
    return 2;
}

/* calq.quant.match(model, pattern) -> {node index, ...} (1-based, planned graph) */
static int l_match(lua_State *L)
{
    cq_graph *g = cq__lua_check_idle_model(L, 1);
    const char *pat = luaL_checkstring(L, 2);
    cq_err err;
    if (cq_quant_plan(g, &err) != CQ_OK)
        return cq__lua_fail(L, &err);
    unsigned char *hit = lua_newuserdatauv(L, (size_t)g->n_nodes + 1, 0);
    memset(hit, 0, (size_t)g->n_nodes + 1);
    if (cq_quant_match(g, pat, hit, &err) < 0)
        return luaL_argerror(L, 2, err.msg);
    lua_newtable(L);
    lua_Integer k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (hit[i]) {
            lua_pushinteger(L, i + 1);
            lua_rawseti(L, -2, ++k);
        }
    return 1;
}

/* ---- Quantizer ---------------------------------------------------------------- */

/* q:model() -> Model (the QDQ graph) | nil, msg, code */
static int m_model(lua_State *L)
{
    qbox *b = check_q(L, 1);
    cq_graph **slot = cq__lua_new_model(L);
    cq_err err;
    *slot = cq_quant_graph(b->q, &err);
    if (!*slot)
        return cq__lua_fail(L, &err);
    return 1;
}

static const char *prec_name(cq_dtype d)
{
    return d == CQ_F32 ? "fp32" : d == CQ_BF16 ? "bf16" : "int8";
}

/* q:nodes() -> {{index, name, op_type, kind, precision, int8, reason, folded_into,
 * removed, bias_clamped, dtype, scale, zero_point, value}, ...} */
static int m_nodes(lua_State *L)
{
    qbox *b = check_q(L, 1);
    const cq_graph *g = cq_quant_source(b->q);
    lua_createtable(L, g->n_nodes, 0);
    for (int i = 0; i < g->n_nodes; i++) {
        cq_quant_node_info in;
        cq_err err;
        if (cq_quant_node(b->q, i, &in, &err) != CQ_OK)
            return luaL_error(L, "%s", err.msg);
        const cq_node *n = &g->nodes[i];
        lua_createtable(L, 0, 14);
        lua_pushinteger(L, i + 1);
        lua_setfield(L, -2, "index");
        lua_pushstring(L, n->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, n->op_type);
        lua_setfield(L, -2, "op_type");
        lua_pushstring(L, cq_quant_kind_name(in.kind));
        lua_setfield(L, -2, "kind");
        lua_pushstring(L, prec_name(in.precision));
        lua_setfield(L, -2, "precision");
        lua_pushboolean(L, in.int8);
        lua_setfield(L, -2, "int8");
        lua_pushboolean(L, cq_quant_quantizable(b->q, i));
        lua_setfield(L, -2, "quantizable");
        if (in.reason) {
            lua_pushstring(L, in.reason);
            lua_setfield(L, -2, "reason");
        }
        if (in.folded_into >= 0) {
            lua_pushinteger(L, in.folded_into + 1);
            lua_setfield(L, -2, "folded_into");
        }
        lua_pushboolean(L, in.removed);
        lua_setfield(L, -2, "removed");
        lua_pushinteger(L, in.bias_clamped);
        lua_setfield(L, -2, "bias_clamped");
        if (in.out_value >= 0) {
            lua_pushstring(L, cq_dtype_info(in.out_dtype)->name);
            lua_setfield(L, -2, "dtype");
            lua_pushnumber(L, in.out_scale);
            lua_setfield(L, -2, "scale");
            lua_pushinteger(L, in.out_zero_point);
            lua_setfield(L, -2, "zero_point");
            lua_pushstring(L, g->values[in.out_value].name);
            lua_setfield(L, -2, "value");
        }
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* q:measure(inputs [, threads [, integer]]) -> true | nil, msg, code: feeds
 * the sensitivity runs (items along the first dimension); the first call
 * decides threads and whether the nodes run on the integer kernels */
static int m_measure(lua_State *L)
{
    qbox *b = check_q(L, 1);
    const cq_graph *g = cq_quant_source(b->q);
    cq_tensor *in[CQ_LUA_MAX_INPUTS];
    cq__lua_check_inputs(L, 2, g, in);
    lua_Integer threads = luaL_optinteger(L, 3, 0);
    luaL_argcheck(L, threads >= 0 && threads <= 1024, 3, "threads must be 0..1024");
    cq_err err;
    if (!b->sens) {
        b->sens = cq_quant_sens_new(b->q, (int)threads, lua_toboolean(L, 4), &err);
        if (!b->sens)
            return cq__lua_fail(L, &err);
    }
    lua_getiuservalue(L, 1, 1);
    cq__lua_model_set_busy(L, -1, 1);
    cq_status st = cq_quant_sens_feed(b->sens, g->n_inputs, in, &err);
    cq__lua_model_set_busy(L, -1, 0);
    lua_pop(L, 1);
    if (st != CQ_OK)
        return cq__lua_fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* q:sensitivity() -> {{index, name, op_type, sqnr, items}, ...}: every
 * quantizable node, in graph order (sqnr nil before any measure) */
static int m_sensitivity(lua_State *L)
{
    qbox *b = check_q(L, 1);
    const cq_graph *g = cq_quant_source(b->q);
    lua_newtable(L);
    lua_Integer k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!cq_quant_quantizable(b->q, i))
            continue;
        double db = NAN;
        int64_t items = 0;
        if (b->sens)
            cq_quant_sens_get(b->sens, i, &db, &items);
        lua_createtable(L, 0, 5);
        lua_pushinteger(L, i + 1);
        lua_setfield(L, -2, "index");
        lua_pushstring(L, g->nodes[i].name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, g->nodes[i].op_type);
        lua_setfield(L, -2, "op_type");
        if (!isnan(db)) {
            lua_pushnumber(L, db);
            lua_setfield(L, -2, "sqnr");
        }
        lua_pushinteger(L, items);
        lua_setfield(L, -2, "items");
        lua_rawseti(L, -2, ++k);
    }
    return 1;
}

/* __gc, __close and close: idempotent */
static int m_close(lua_State *L)
{
    qbox *b = luaL_checkudata(L, 1, CQ_LUA_QUANTIZER);
    cq_quant_sens_free(b->sens);
    cq_quant_free(b->q);
    b->sens = NULL;
    b->q = NULL;
    return 0;
}

static int m_tostring(lua_State *L)
{
    qbox *b = luaL_checkudata(L, 1, CQ_LUA_QUANTIZER);
    if (!b->q) {
        lua_pushliteral(L, "calq.Quantizer (closed)");
        return 1;
    }
    const cq_graph *g = cq_quant_source(b->q);
    int int8 = 0, quantizable = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        cq_quant_node_info in;
        cq_err err;
        cq_quant_node(b->q, i, &in, &err);
        quantizable += cq_quant_quantizable(b->q, i);
        int8 += in.int8 && cq_quant_quantizable(b->q, i);
    }
    lua_pushfstring(L, "calq.Quantizer (%d of %d quantizable nodes int8)", int8, quantizable);
    return 1;
}

static const luaL_Reg q_methods[] = {
    {"model", m_model}, {"nodes", m_nodes}, {"measure", m_measure},
    {"sensitivity", m_sensitivity}, {"close", m_close}, {NULL, NULL},
};

static const luaL_Reg q_meta[] = {
    {"__gc", m_close}, {"__close", m_close}, {"__tostring", m_tostring}, {NULL, NULL},
};

static const luaL_Reg functions[] = {
    {"new", l_new}, {"lower", l_lower}, {"match", l_match}, {NULL, NULL},
};

int cq__lua_open_quant(lua_State *L)
{
    cq__lua_new_class(L, CQ_LUA_QUANTIZER, q_meta, q_methods);
    luaL_getmetatable(L, CQ_LUA_QUANTIZER);
    lua_getfield(L, -1, "__index");
    lua_setfield(L, -2, "__methods");
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    return 1;
}

/* l_cost.c - the cost estimators from Lua (core/cost/cost.h): core.cost.
 * scripts/calq/cost.lua builds on it (loading profiles by name, preparing a
 * model at a precision, the table and JSON of `calq cost`).
 *
 *   core.cost.model(model, profile [, {threads =, memory =, warm =, overlap =}])
 *       -> {total_ms =, threads =, nodes = {{name, op, precision,
 *           predicted_ms, bound, macs, bytes, class, level, compute_ms,
 *           memory_ms, memory_far_ms, memory_stream_ms, cvt_ms, overhead_ms,
 *           tile_eff, fused, index}, ...}}
 *          | nil, msg, code
 *   core.cost.convert(profile, kind, elements [, threads]) -> ms
 *   core.cost.edge_cvt(from, to) -> kind | nil
 * profile: a table in the format of docs/cost-model.md (lcalq_tohw checks
 * it); precisions "int8" | "bf16" | "fp32"; kinds "quant", "dequant",
 * "requant", "f32_bf16", "bf16_f32". */
#include "lcalq.h"

#include <string.h>

#include "cost/cost.h"
#include "exec/exec.h"

static const char *const cvt_names[] = {"quant", "dequant", "requant", "f32_bf16", "bf16_f32",
                                        NULL};
static const char *const bound_names[] = {"compute", "memory", "overhead"};

static const char *precision_name(cq_dtype d)
{
    return d == CQ_BF16 ? "bf16" : d == CQ_U8 || d == CQ_S8 ? "int8" : "fp32";
}

static cq_dtype check_precision(lua_State *L, int arg)
{
    static const char *const names[] = {"int8", "bf16", "fp32", NULL};
    static const cq_dtype dts[] = {CQ_U8, CQ_BF16, CQ_F32};
    return dts[luaL_checkoption(L, arg, NULL, names)];
}

static int opt_field_int(lua_State *L, int idx, const char *k, int def)
{
    int t = lua_getfield(L, idx, k);
    int v = def;
    if (t == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    else if (t != LUA_TNIL) {
        if (!lua_isinteger(L, -1))
            luaL_error(L, "cost options: %s must be an integer or a boolean", k);
        v = (int)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, int64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void push_level(lua_State *L, const cq_hw *hw, int level)
{
    if (level >= hw->n_cache)
        lua_pushliteral(L, "DRAM");
    else
        lua_pushfstring(L, "L%d", level + 1);
}

/* core.cost.model(model, profile [, opts]) */
static int l_model(lua_State *L)
{
    cq_hw hw;
    luaL_checktype(L, 2, LUA_TTABLE);
    lcalq_tohw(L, 2, &hw);
    cq_cost_opts o = CQ_COST_OPTS_DEFAULT;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        o.threads = opt_field_int(L, 3, "threads", 1);
        o.memory = opt_field_int(L, 3, "memory", 1);
        o.warm = opt_field_int(L, 3, "warm", 1);
        lua_getfield(L, 3, "overlap");
        o.overlap = luaL_optnumber(L, -1, 0.0);
        luaL_argcheck(L, o.overlap >= 0 && o.overlap <= 1, 3, "overlap must be in [0, 1]");
        lua_pop(L, 1);
        luaL_argcheck(L, o.threads >= 1 && o.threads <= 1024, 3, "threads must be 1..1024");
    }
    cq_err err;
    cq_exec *e = cq__lua_model_exec(L, 1, &err);
    if (!e)
        return cq__lua_fail(L, &err);
    cq_cost c;
    if (cq_cost_exec(e, &hw, &o, &c, &err) != CQ_OK)
        return cq__lua_fail(L, &err);
    /* the rows are copied into Lua strings before c is freed; nothing below
     * raises except out of memory, which leaks the rows once */
    lua_createtable(L, 0, 4);
    set_num(L, "total_ms", c.total_ns / 1e6);
    set_int(L, "threads", o.threads < hw.cores ? o.threads : hw.cores);
    set_str(L, "profile", hw.name);
    lua_createtable(L, c.n, 0);
    for (int k = 0; k < c.n; k++) {
        const cq_cost_row *r = &c.rows[k];
        lua_createtable(L, 0, 16);
        set_str(L, "name", r->name);
        set_str(L, "op", r->op);
        set_str(L, "precision", precision_name(r->precision));
        set_num(L, "predicted_ms", r->ns / 1e6);
        set_str(L, "bound", bound_names[r->bound]);
        set_int(L, "macs", r->macs);
        set_int(L, "bytes", r->bytes);
        set_str(L, "class", r->kclass);
        push_level(L, &hw, r->level);
        lua_setfield(L, -2, "level");
        set_num(L, "compute_ms", r->compute_ns / 1e6);
        set_num(L, "memory_ms", r->memory_ns / 1e6);
        set_num(L, "memory_far_ms", r->memory_far_ns / 1e6);
        set_num(L, "memory_stream_ms", r->memory_stream_ns / 1e6);
        set_num(L, "cvt_ms", r->cvt_ns / 1e6);
        set_num(L, "overhead_ms", r->overhead_ns / 1e6);
        set_num(L, "tile_eff", r->tile_eff);
        set_int(L, "fused", r->n_fused);
        set_int(L, "index", r->node + 1);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "nodes");
    cq_cost_free(&c);
    return 1;
}

/* core.cost.convert(profile, kind, elements [, threads]) -> ms */
static int l_convert(lua_State *L)
{
    cq_hw hw;
    luaL_checktype(L, 1, LUA_TTABLE);
    int kind = luaL_checkoption(L, 2, NULL, cvt_names);
    lua_Integer n = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_optinteger(L, 4, 1);
    luaL_argcheck(L, n >= 0, 3, "elements must be >= 0");
    luaL_argcheck(L, t >= 1 && t <= 1024, 4, "threads must be 1..1024");
    lcalq_tohw(L, 1, &hw);
    lua_pushnumber(L, cq_cost_convert_ns(&hw, (cq_hw_cvt)kind, (int64_t)n, (int)t) / 1e6);
    return 1;
}

/* core.cost.edge_cvt(from, to) -> kind | nil */
static int l_edge_cvt(lua_State *L)
{
    int k = cq_cost_edge_cvt(check_precision(L, 1), check_precision(L, 2));
    if (k < 0)
        lua_pushnil(L);
    else
        lua_pushstring(L, cvt_names[k]);
    return 1;
}

int cq__lua_open_cost(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"model", l_model}, {"convert", l_convert}, {"edge_cvt", l_edge_cvt}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}

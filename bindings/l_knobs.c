/* l_knobs.c - calq.core.knobs: the knob solvers of cost/knobs.h on a problem
 * given as a Lua table (scripts/calq/knobs.lua builds it from a model).
 *
 *   knobs.solve(problem [, "exact" | "greedy"]) -> {prec, ...}, result | nil, msg, code
 *     problem = {time = {{int8, bf16, fp32}, ...}  (per node; false/nil or
 *                         math.huge: that precision not allowed),
 *                noise = {{int8, bf16, fp32}, ...}, budget = x,
 *                edges = {{from, to, cost = {{3 x 3}}}, ...} (1-based nodes;
 *                         cost[a][b]: from at a, to at b), max_labels = n}
 *     prec: 1 int8, 2 bf16, 3 fp32 per node; result = {time, noise, labels,
 *     width, exact}. A malformed table raises; values the solver refuses (a
 *     negative cost, a budget no choice meets) return nil, msg, "EINVAL".
 *   knobs.sqnr_terms(ref, x) -> sum ref^2, sum (x - ref)^2 (f32 tensors of
 *     the same element count, any layout: both read in logical order) */
#include "lcalq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cost/knobs.h"

/* t[k][1..3] of the table at idx into out[3*(k-1)..]; nil, false and absent
 * entries become def. */
static void read_rows(lua_State *L, int idx, const char *field, int n, double *out, double def)
{
    lua_getfield(L, idx, field);
    if (lua_type(L, -1) != LUA_TTABLE)
        luaL_argerror(L, 1, lua_pushfstring(L, "problem.%s must be a table", field));
    for (int k = 0; k < n; k++) {
        if (lua_geti(L, -1, k + 1) != LUA_TTABLE)
            luaL_argerror(L, 1, lua_pushfstring(L, "problem.%s[%d] must be a table of 3", field, k + 1));
        for (int q = 0; q < CQ_KNOB_COUNT; q++) {
            int ty = lua_geti(L, -1, q + 1);
            if (ty == LUA_TNUMBER)
                out[(size_t)k * CQ_KNOB_COUNT + q] = lua_tonumber(L, -1);
            else if (ty == LUA_TNIL || (ty == LUA_TBOOLEAN && !lua_toboolean(L, -1)))
                out[(size_t)k * CQ_KNOB_COUNT + q] = def;
            else
                luaL_argerror(L, 1, lua_pushfstring(L, "problem.%s[%d][%d] must be a number", field,
                                                    k + 1, q + 1));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void read_edges(lua_State *L, int idx, int m, cq_knobs_edge *e)
{
    lua_getfield(L, idx, "edges");
    for (int k = 0; k < m; k++) {
        if (lua_geti(L, -1, k + 1) != LUA_TTABLE)
            luaL_argerror(L, 1, lua_pushfstring(L, "problem.edges[%d] must be a table", k + 1));
        for (int s = 0; s < 2; s++) {
            lua_geti(L, -1, s + 1);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (!ok)
                luaL_argerror(L, 1, lua_pushfstring(L, "problem.edges[%d][%d] must be a node index",
                                                    k + 1, s + 1));
            /* out of range is the solver's to name; keep it representable */
            int node = v < -1 ? -1 : v > 0x7fffffff ? 0x7fffffff : (int)v;
            if (s == 0)
                e[k].from = node - 1;
            else
                e[k].to = node - 1;
            lua_pop(L, 1);
        }
        if (lua_getfield(L, -1, "cost") != LUA_TTABLE)
            luaL_argerror(L, 1, lua_pushfstring(L, "problem.edges[%d].cost must be a 3 x 3 table", k + 1));
        for (int a = 0; a < CQ_KNOB_COUNT; a++) {
            if (lua_geti(L, -1, a + 1) != LUA_TTABLE)
                luaL_argerror(L, 1, lua_pushfstring(L, "problem.edges[%d].cost must be a 3 x 3 table", k + 1));
            for (int b = 0; b < CQ_KNOB_COUNT; b++) {
                lua_geti(L, -1, b + 1);
                if (lua_type(L, -1) != LUA_TNUMBER)
                    luaL_argerror(L, 1, lua_pushfstring(L, "problem.edges[%d].cost[%d][%d] must be a number",
                                                        k + 1, a + 1, b + 1));
                e[k].cost[a][b] = lua_tonumber(L, -1);
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

static int l_solve(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const methods[] = {"exact", "greedy", NULL};
    int greedy = luaL_checkoption(L, 2, "exact", methods) == 1;
    lua_getfield(L, 1, "time");
    if (lua_type(L, -1) != LUA_TTABLE)
        luaL_argerror(L, 1, "problem.time must be a table");
    lua_Integer n = luaL_len(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 1, "edges");
    lua_Integer m = lua_isnil(L, -1) ? 0 : (lua_type(L, -1) == LUA_TTABLE ? luaL_len(L, -1) : -1);
    lua_pop(L, 1);
    if (m < 0)
        luaL_argerror(L, 1, "problem.edges must be a table");
    if (n > 1000000 || m > 10000000)
        luaL_argerror(L, 1, "problem too large");
    lua_getfield(L, 1, "budget");
    if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_argerror(L, 1, "problem.budget must be a number");
    double budget = lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 1, "max_labels");
    lua_Integer maxl = lua_isnil(L, -1) ? 0 : luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    /* userdata for the buffers: the checks below may raise */
    double *time = lua_newuserdatauv(L, ((size_t)n * CQ_KNOB_COUNT + 1) * sizeof *time, 0);
    double *noise = lua_newuserdatauv(L, ((size_t)n * CQ_KNOB_COUNT + 1) * sizeof *noise, 0);
    cq_knobs_edge *edges = lua_newuserdatauv(L, ((size_t)m + 1) * sizeof *edges, 0);
    unsigned char *prec = lua_newuserdatauv(L, (size_t)n + 1, 0);
    read_rows(L, 1, "time", (int)n, time, INFINITY);
    read_rows(L, 1, "noise", (int)n, noise, 0);
    read_edges(L, 1, (int)m, edges);
    cq_knobs_problem p = {.n = (int)n, .time = time, .noise = noise, .n_edges = (int)m,
                          .edges = edges, .budget = budget, .max_labels = maxl};
    cq_knobs_result r;
    cq_err err;
    cq_status st = greedy ? cq_knobs_greedy(&p, prec, &r, &err) : cq_knobs_solve(&p, prec, &r, &err);
    if (st != CQ_OK)
        return cq__lua_fail(L, &err);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_pushinteger(L, prec[i] + 1);
        lua_rawseti(L, -2, i + 1);
    }
    lua_createtable(L, 0, 5);
    lua_pushnumber(L, r.time);
    lua_setfield(L, -2, "time");
    lua_pushnumber(L, r.noise);
    lua_setfield(L, -2, "noise");
    lua_pushinteger(L, r.labels);
    lua_setfield(L, -2, "labels");
    lua_pushinteger(L, r.width);
    lua_setfield(L, -2, "width");
    lua_pushboolean(L, r.exact);
    lua_setfield(L, -2, "exact");
    return 2;
}

static int l_sqnr_terms(lua_State *L)
{
    cq_tensor *y = cq__lua_check_tensor(L, 1), *x = cq__lua_check_tensor(L, 2);
    luaL_argcheck(L, y->dtype == CQ_F32 && x->dtype == CQ_F32, 2, "f32 tensors expected");
    luaL_argcheck(L, cq_tensor_numel(y) == cq_tensor_numel(x), 2, "element counts differ");
    cq_err err;
    cq_tensor *yc = cq_tensor_contiguous(y, &err);
    if (!yc)
        return cq__lua_fail(L, &err);
    cq_tensor *xc = cq_tensor_contiguous(x, &err);
    if (!xc) {
        cq_tensor_release(yc);
        return cq__lua_fail(L, &err);
    }
    const float *a = cq_tensor_data(yc), *b = cq_tensor_data(xc);
    double s = 0, e = 0;
    for (int64_t i = 0, n = cq_tensor_numel(yc); i < n; i++) {
        double d = (double)b[i] - a[i];
        s += (double)a[i] * a[i];
        e += d * d;
    }
    cq_tensor_release(yc);
    cq_tensor_release(xc);
    lua_pushnumber(L, s);
    lua_pushnumber(L, e);
    return 2;
}

int cq__lua_open_knobs(lua_State *L)
{
    static const luaL_Reg fns[] = {{"solve", l_solve}, {"sqnr_terms", l_sqnr_terms}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}

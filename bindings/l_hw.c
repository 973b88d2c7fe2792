/* l_hw.c - hardware profiles between Lua and C (core/cost/hw.h).
 *
 * lcalq_tohw converts a profile table (the format of docs/cost-model.md,
 * "Hardware profiles") into a cq_hw, raising a Lua error that names the key
 * ("caches[2].bw: expected a number, got string") on a missing, mistyped or
 * unknown field, then runs cq_hw_check, whose ranges are the only ones. The
 * Lua loader (scripts/calq/profile.lua) calls check below and puts the file
 * name in front.
 *
 *   core.hw.check(tbl)            -> true | nil, msg, code
 *   core.hw.efficiency(tbl, cls)  -> cq_hw_efficiency's value
 *   core.hw.probe_*               -> the measurements of core/cost/probe.h, for
 *                                    `calq probe` (scripts/calq/cmd/probe.lua)
 */
#include "lcalq.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/tensor.h"
#include "cost/hw.h"
#include "cost/probe.h"
#include "kern/kern.h"

/* The keys a profile may have at the top level. description is free text the
 * loader keeps and the estimators ignore. */
static const char *const top_keys[] = {"name",    "description", "cores",  "ghz",
                                       "vector_bits", "amx", "amx_macs", "macs",   "caches",
                                       "mem_bw",  "mem_bw_core", "cvt",    "node_ns",
                                       "efficiency", "call_ns", NULL};
static const char *const cache_keys[] = {"size", "bw", "latency", "shared", NULL};

static int is_one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

/* Raise "<where>: unknown key 'k' (known: ...)" for the first key of the table
 * at idx that is not a string in list (list NULL: any string key is fine,
 * other key types are not). */
static void check_keys(lua_State *L, int idx, const char *where, const char *const *list)
{
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: a key of type %s (keys are names)", where, luaL_typename(L, -1));
        const char *k = lua_tostring(L, -1);
        if (list && !is_one_of(k, list))
            luaL_error(L, "%s%sunknown key '%s'", where, *where ? ": " : "", k);
    }
}

/* The number at field k of the table at idx; named where.k in errors.
 * optional: absent -> def. */
static double get_num(lua_State *L, int idx, const char *where, const char *k, int optional,
                      double def)
{
    int t = lua_getfield(L, idx, k);
    double v = def;
    if (t == LUA_TNIL) {
        if (!optional)
            luaL_error(L, "%s%s%s: missing (a number)", where, *where ? "." : "", k);
    } else if (t != LUA_TNUMBER) {
        luaL_error(L, "%s%s%s: expected a number, got %s", where, *where ? "." : "", k,
                   luaL_typename(L, -1));
    } else {
        v = lua_tonumber(L, -1);
        if (isnan(v) || isinf(v))
            luaL_error(L, "%s%s%s: %s is not a finite number", where, *where ? "." : "", k,
                       isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf");
    }
    lua_pop(L, 1);
    return v;
}

/* A whole number in lo..hi (an integral float such as 2.0e6 is fine). */
static int64_t get_int(lua_State *L, int idx, const char *where, const char *k, int optional,
                       int64_t def, int64_t lo, int64_t hi)
{
    const char *dot = *where ? "." : "";
    int t = lua_getfield(L, idx, k);
    int64_t v = def;
    if (t == LUA_TNIL) {
        if (!optional)
            luaL_error(L, "%s%s%s: missing (a whole number)", where, dot, k);
    } else if (t != LUA_TNUMBER) {
        luaL_error(L, "%s%s%s: expected a whole number, got %s", where, dot, k,
                   luaL_typename(L, -1));
    } else if (lua_isinteger(L, -1)) {
        lua_Integer i = lua_tointeger(L, -1);
        if (i < lo || i > hi)
            luaL_error(L, "%s%s%s: %I is not in %I..%I", where, dot, k, i, (lua_Integer)lo,
                       (lua_Integer)hi);
        v = (int64_t)i;
    } else {
        double d = lua_tonumber(L, -1);
        if (!(d >= (double)lo && d <= (double)hi))
            luaL_error(L, "%s%s%s: %f is not in %I..%I", where, dot, k, d, (lua_Integer)lo,
                       (lua_Integer)hi);
        if (d != floor(d))
            luaL_error(L, "%s%s%s: %f is not a whole number", where, dot, k, d);
        v = (int64_t)d;
    }
    lua_pop(L, 1);
    return v;
}

static int get_bool(lua_State *L, int idx, const char *where, const char *k)
{
    int t = lua_getfield(L, idx, k);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        luaL_error(L, "%s%s%s: expected a boolean, got %s", where, *where ? "." : "", k,
                   luaL_typename(L, -1));
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Push field k of the table at idx, which must be a table (or absent when
 * optional: then pushes nothing and returns 0). */
static int push_table(lua_State *L, int idx, const char *k, int optional)
{
    int t = lua_getfield(L, idx, k);
    if (t == LUA_TNIL && optional) {
        lua_pop(L, 1);
        return 0;
    }
    if (t == LUA_TNIL)
        luaL_error(L, "%s: missing (a table)", k);
    if (t != LUA_TTABLE)
        luaL_error(L, "%s: expected a table, got %s", k, luaL_typename(L, -1));
    return 1;
}

static void read_caches(lua_State *L, int idx, cq_hw *out)
{
    push_table(L, idx, "caches", 0);
    int ct = lua_gettop(L);
    /* a list 1..n and nothing else */
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, ct)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
            lua_tointeger(L, -1) > CQ_HW_MAX_CACHE)
            luaL_error(L, "caches: keys must be levels 1..%d (a list, L1 first), got %s",
                       CQ_HW_MAX_CACHE, luaL_tolstring(L, -1, NULL));
        n = lua_tointeger(L, -1) > n ? lua_tointeger(L, -1) : n;
    }
    if (n == 0)
        luaL_error(L, "caches: empty (give L1 first, up to %d levels)", CQ_HW_MAX_CACHE);
    out->n_cache = (int)n;
    for (int i = 1; i <= n; i++) {
        char where[32];
        snprintf(where, sizeof where, "caches[%d]", i);
        int t = lua_rawgeti(L, ct, i);
        if (t == LUA_TNIL)
            luaL_error(L, "%s: missing (levels are a list without holes)", where);
        if (t != LUA_TTABLE)
            luaL_error(L, "%s: expected a table, got %s", where, luaL_typename(L, -1));
        check_keys(L, -1, where, cache_keys);
        cq_hw_cache *c = &out->cache[i - 1];
        c->size = get_int(L, -1, where, "size", 0, 0, 0, (int64_t)1 << 50);
        c->bw = get_num(L, -1, where, "bw", 0, 0);
        c->latency = get_num(L, -1, where, "latency", 0, 0);
        c->shared = get_bool(L, -1, where, "shared");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* An optional table of kernel class -> number (efficiency, call_ns). */
static void read_classes(lua_State *L, int idx, const char *key, int *n, cq_hw_eff *out)
{
    if (!push_table(L, idx, key, 1))
        return;
    int et = lua_gettop(L);
    check_keys(L, et, key, NULL);
    lua_pushnil(L);
    while (lua_next(L, et)) {
        const char *k = lua_tostring(L, -2); /* a string: check_keys said so */
        lua_pop(L, 1);
        if (*n == CQ_HW_MAX_EFF)
            luaL_error(L, "%s: more than %d classes", key, CQ_HW_MAX_EFF);
        if (strlen(k) >= sizeof out[0].name)
            luaL_error(L, "%s: class name '%s' longer than %d characters", key, k,
                       (int)sizeof out[0].name - 1);
        cq_hw_eff *e = &out[(*n)++];
        snprintf(e->name, sizeof e->name, "%s", k);
        e->value = get_num(L, et, key, k, 0, 0);
    }
    lua_pop(L, 1);
}

int lcalq_tohw(lua_State *L, int idx, cq_hw *out)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 8, "profile");
    memset(out, 0, sizeof *out);
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "profile: expected a table, got %s", luaL_typename(L, idx));
    check_keys(L, idx, "", top_keys);

    int t = lua_getfield(L, idx, "name");
    if (t != LUA_TSTRING)
        luaL_error(L, "name: %s%s", t == LUA_TNIL ? "missing (a string)" : "expected a string, got ",
                   t == LUA_TNIL ? "" : luaL_typename(L, -1));
    size_t len;
    const char *name = lua_tolstring(L, -1, &len);
    if (len >= sizeof out->name)
        luaL_error(L, "name: longer than %d characters", (int)sizeof out->name - 1);
    memcpy(out->name, name, len + 1);
    lua_pop(L, 1);
    t = lua_getfield(L, idx, "description");
    if (t != LUA_TNIL && t != LUA_TSTRING)
        luaL_error(L, "description: expected a string, got %s", luaL_typename(L, -1));
    lua_pop(L, 1);

    out->cores = (int)get_int(L, idx, "", "cores", 0, 0, 1, CQ_HW_MAX_CORES);
    out->ghz = get_num(L, idx, "", "ghz", 0, 0);
    out->vector_bits = (int)get_int(L, idx, "", "vector_bits", 0, 0, 1, 1 << 16);
    out->amx = get_bool(L, idx, "", "amx");

    push_table(L, idx, "macs", 0);
    static const char *const mac_keys[] = {"f32", "bf16", "s8", "s8_novnni", NULL};
    check_keys(L, -1, "macs", mac_keys);
    for (int k = 0; k < CQ_HW_MAC_COUNT; k++)
        out->macs[k] = get_num(L, -1, "macs", cq_hw_mac_name((cq_hw_mac)k), 0, 0);
    lua_pop(L, 1);

    if (push_table(L, idx, "amx_macs", 1)) {
        static const char *const amx_keys[] = {"bf16", "s8", NULL};
        check_keys(L, -1, "amx_macs", amx_keys);
        out->amx_macs[CQ_HW_MAC_BF16] = get_num(L, -1, "amx_macs", "bf16", 0, 0);
        out->amx_macs[CQ_HW_MAC_S8] = get_num(L, -1, "amx_macs", "s8", 0, 0);
        lua_pop(L, 1);
    }

    read_caches(L, idx, out);
    out->mem_bw = get_num(L, idx, "", "mem_bw", 0, 0);
    out->mem_bw_core = get_num(L, idx, "", "mem_bw_core", 1, 0);

    push_table(L, idx, "cvt", 0);
    static const char *const cvt_keys[] = {"quant", "dequant", "requant", "f32_bf16", "bf16_f32",
                                           NULL};
    check_keys(L, -1, "cvt", cvt_keys);
    for (int k = 0; k < CQ_HW_CVT_COUNT; k++)
        out->cvt[k] = get_num(L, -1, "cvt", cq_hw_cvt_name((cq_hw_cvt)k), 0, 0);
    lua_pop(L, 1);

    out->node_ns = get_num(L, idx, "", "node_ns", 0, 0);
    read_classes(L, idx, "efficiency", &out->n_eff, out->eff);
    read_classes(L, idx, "call_ns", &out->n_call, out->call);

    cq_err err;
    if (cq_hw_check(out, &err) != CQ_OK)
        luaL_error(L, "%s", err.msg);
    return 0;
}

static int tohw_protected(lua_State *L)
{
    cq_hw *hw = lua_touserdata(L, 2);
    lcalq_tohw(L, 1, hw);
    return 0;
}

/* core.hw.check(tbl) -> true | nil, msg, "ERANGE": a profile table that does not
 * convert (a missing or mistyped key, a value out of range). Never raises for a
 * bad table, so the fuzzer and the loader see every problem as a message. */
static int l_check(lua_State *L)
{
    cq_hw hw;
    lua_settop(L, 1);
    lua_pushcfunction(L, tohw_protected);
    lua_pushvalue(L, 1);
    lua_pushlightuserdata(L, &hw);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        lua_pushliteral(L, "ERANGE");
        return 3;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.hw.efficiency(tbl, class) -> the value cq_hw_efficiency reads (1.0 when
 * the profile does not name the class); raises on a bad profile. */
static int l_efficiency(lua_State *L)
{
    cq_hw hw;
    lcalq_tohw(L, 1, &hw);
    lua_pushnumber(L, cq_hw_efficiency(&hw, luaL_checkstring(L, 2)));
    return 1;
}

/* ---- the probe: thin wrappers over core/cost/probe.h ---- */

static double opt_ms(lua_State *L, int idx, double def)
{
    double ms = luaL_optnumber(L, idx, def);
    luaL_argcheck(L, ms > 0 && ms <= 10000, idx, "milliseconds must be in (0, 10000]");
    return ms;
}

static const char *const chain_names[] = {"f32", "bf16", "s8", "s8_novnni", "amx_s8", "amx_bf16",
                                          NULL};

/* probe_chain(kind [, ms = 20 [, reps = 5]]) -> MACs per second | nil when the
 * CPU has no such instructions */
static int l_probe_chain(lua_State *L)
{
    int c = luaL_checkoption(L, 1, NULL, chain_names);
    double ms = opt_ms(L, 2, 20);
    int reps = (int)luaL_optinteger(L, 3, 5);
    luaL_argcheck(L, reps >= 1 && reps <= 100, 3, "reps must be 1..100");
    if (!cq_probe_chain_ok((cq_probe_chain)c)) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushnumber(L, cq_probe_chain_rate((cq_probe_chain)c, ms, reps));
    return 1;
}

/* probe_clock([ms = 20 [, reps = 5]]) -> GHz */
static int l_probe_clock(lua_State *L)
{
    double ms = opt_ms(L, 1, 20);
    int reps = (int)luaL_optinteger(L, 2, 5);
    luaL_argcheck(L, reps >= 1 && reps <= 100, 2, "reps must be 1..100");
    lua_pushnumber(L, cq_probe_clock_ghz(ms, reps));
    return 1;
}

/* probe_set_clock(cpu_time) */
static int l_probe_set_clock(lua_State *L)
{
    cq_probe_set_clock(lua_toboolean(L, 1));
    return 0;
}

/* probe_caches() -> {{level =, size =, shared =}, ...} from sysfs */
static int l_probe_caches(lua_State *L)
{
    cq_probe_cache c[CQ_PROBE_MAX_CACHE];
    int n = cq_probe_caches(c, CQ_PROBE_MAX_CACHE);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, c[i].level);
        lua_setfield(L, -2, "level");
        lua_pushinteger(L, (lua_Integer)c[i].size);
        lua_setfield(L, -2, "size");
        lua_pushboolean(L, c[i].shared);
        lua_setfield(L, -2, "shared");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

#define PROBE_MAX_BYTES ((lua_Integer)4 << 30)

/* A buffer of bytes (4 KiB .. 4 GiB, a multiple of 512), touched, or raise. */
static void *probe_buffer(lua_State *L, int idx, size_t *bytes)
{
    lua_Integer b = luaL_checkinteger(L, idx);
    luaL_argcheck(L, b >= 4096 && b <= PROBE_MAX_BYTES, idx, "bytes must be 4 KiB..4 GiB");
    *bytes = (size_t)b & ~(size_t)511;
    void *p = cq_alloc(*bytes);
    if (!p)
        luaL_error(L, "probe: no memory for %I bytes", b);
    memset(p, 1, *bytes);
    return p;
}

/* probe_read_bw(bytes [, ms = 20 [, reps = 3 [, threads = 1]]]) -> bytes per second */
static int l_probe_read_bw(lua_State *L)
{
    size_t bytes;
    double ms = opt_ms(L, 2, 20);
    int reps = (int)luaL_optinteger(L, 3, 3);
    int threads = (int)luaL_optinteger(L, 4, 1);
    luaL_argcheck(L, reps >= 1 && reps <= 100, 3, "reps must be 1..100");
    luaL_argcheck(L, threads >= 1 && threads <= 1024, 4, "threads must be 1..1024");
    void *p = probe_buffer(L, 1, &bytes);
    double r = threads == 1 ? cq_probe_read_bw(p, bytes, ms, reps)
                            : cq_probe_read_bw_threads(p, bytes, threads, ms);
    cq_free(p);
    lua_pushnumber(L, r);
    return 1;
}

/* probe_latency(bytes [, steps = 1e6]) -> ns per dependent load */
static int l_probe_latency(lua_State *L)
{
    size_t bytes;
    lua_Integer steps = luaL_optinteger(L, 2, 1000000);
    luaL_argcheck(L, steps >= 1 && steps <= 1000000000, 2, "steps must be 1..1e9");
    void *p = probe_buffer(L, 1, &bytes);
    double ns = cq_probe_latency_ns(p, bytes, (long)steps);
    cq_free(p);
    lua_pushnumber(L, ns);
    return 1;
}

/* probe_kernels([ms = 100]) -> {{name, shape, macs, seconds, peak, call_seconds
 * [, unit, unit_seconds [, unit2, unit2_seconds [, unit3, unit3_seconds]]]}, ...}
 * | nil, msg, code */
static int l_probe_kernels(lua_State *L)
{
    cq_probe_kern k[CQ_PROBE_MAX_KERN];
    cq_err err;
    int n = cq_probe_kernels(k, CQ_PROBE_MAX_KERN, opt_ms(L, 1, 100), &err);
    if (n < 0)
        return cq__lua_fail(L, &err);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 5);
        lua_pushstring(L, k[i].name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, k[i].shape);
        lua_setfield(L, -2, "shape");
        lua_pushnumber(L, k[i].macs);
        lua_setfield(L, -2, "macs");
        lua_pushnumber(L, k[i].seconds);
        lua_setfield(L, -2, "seconds");
        lua_pushstring(L, k[i].peak);
        lua_setfield(L, -2, "peak");
        lua_pushnumber(L, k[i].call_s);
        lua_setfield(L, -2, "call_seconds");
        if (k[i].unit) {
            lua_pushstring(L, k[i].unit);
            lua_setfield(L, -2, "unit");
            lua_pushnumber(L, k[i].unit_s);
            lua_setfield(L, -2, "unit_seconds");
        }
        if (k[i].unit2) {
            lua_pushstring(L, k[i].unit2);
            lua_setfield(L, -2, "unit2");
            lua_pushnumber(L, k[i].unit2_s);
            lua_setfield(L, -2, "unit2_seconds");
        }
        if (k[i].unit3) {
            lua_pushstring(L, k[i].unit3);
            lua_setfield(L, -2, "unit3");
            lua_pushnumber(L, k[i].unit3_s);
            lua_setfield(L, -2, "unit3_seconds");
        }
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* probe_cvt(kind [, ms = 20]) -> elements per second | nil, msg, code */
static int l_probe_cvt(lua_State *L)
{
    static const char *const kinds[] = {"quant", "dequant", "requant", "f32_bf16", "bf16_f32",
                                        NULL};
    int which = luaL_checkoption(L, 1, NULL, kinds);
    cq_err err;
    double r = cq_probe_cvt_rate(which, opt_ms(L, 2, 20), &err);
    if (r < 0)
        return cq__lua_fail(L, &err);
    lua_pushnumber(L, r);
    return 1;
}

/* probe_node_ns([nodes = 64 [, ms = 50]]) -> ns per executor node | nil, msg, code */
static int l_probe_node_ns(lua_State *L)
{
    lua_Integer nodes = luaL_optinteger(L, 1, 64);
    luaL_argcheck(L, nodes >= 1 && nodes <= 4096, 1, "nodes must be 1..4096");
    cq_err err;
    double ns = cq_probe_node_ns((int)nodes, opt_ms(L, 2, 50), &err);
    if (ns < 0)
        return cq__lua_fail(L, &err);
    lua_pushnumber(L, ns);
    return 1;
}

/* probe_wline_ns(which [, ms = 50]) -> ns a 64-byte line of weights from
 * memory costs the kernel (which 0: fp32 pixel-major conv, 1: AVX-512 int8
 * GEMM; 0: that kernel does not run here) | nil, msg, code */
static int l_probe_wline_ns(lua_State *L)
{
    cq_err err;
    int which = (int)luaL_checkinteger(L, 1);
    double ns = cq_probe_wline_ns(which, opt_ms(L, 2, 50), &err);
    if (ns < 0)
        return cq__lua_fail(L, &err);
    lua_pushnumber(L, ns);
    return 1;
}

/* probe_page_ns([ms = 50]) -> ns the first write to a fresh 4 KiB page costs | nil, msg, code */
static int l_probe_page_ns(lua_State *L)
{
    cq_err err;
    double ns = cq_probe_page_ns(opt_ms(L, 1, 50), &err);
    if (ns < 0)
        return cq__lua_fail(L, &err);
    lua_pushnumber(L, ns);
    return 1;
}

/* blas_core() -> the name of the kernels OpenBLAS runs ("SkylakeX", ...) */
static int l_blas_core(lua_State *L)
{
    lua_pushstring(L, cq_kern_blas_core());
    return 1;
}

int cq__lua_open_hw(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"blas_core", l_blas_core},
        {"check", l_check},
        {"efficiency", l_efficiency},
        {"probe_chain", l_probe_chain},
        {"probe_clock", l_probe_clock},
        {"probe_set_clock", l_probe_set_clock},
        {"probe_caches", l_probe_caches},
        {"probe_read_bw", l_probe_read_bw},
        {"probe_latency", l_probe_latency},
        {"probe_kernels", l_probe_kernels},
        {"probe_cvt", l_probe_cvt},
        {"probe_node_ns", l_probe_node_ns},
        {"probe_page_ns", l_probe_page_ns},
        {"probe_wline_ns", l_probe_wline_ns},
        {NULL, NULL},
    };
    luaL_newlib(L, fns);
    return 1;
}

/* l_calib.c - calibration from Lua: calq.calib.new(model [, opts]) ->
 * calq.Calibrator (calib/calibrate.h), calq.calib.load(path) and
 * calq.calib.merge{stats, ...} -> calq.Stats (calib/stats.h).
 *
 *   local c = assert(calq.calib.new(model, {bins = 2048}))
 *   for _, x in ipairs(batches) do assert(c:feed(x)) end   -- as model:run takes them
 *   local s = c:stats()                                      -- a copy
 *   assert(s:save("shard0.calq"))
 *   local scale, zp = s:qparams("conv1", {method = "entropy", dtype = "u8"})
 *   local all = assert(calq.calib.merge{s, assert(calq.calib.load("shard1.calq"))})
 *
 * A Calibrator keeps its model alive (user value 1) and borrows its graph;
 * closing the model first makes the calibrator's methods raise "model is
 * closed". Stats are independent sets: c:stats() copies, merge makes a new
 * one. */
#include "lcalq.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "calib/calibrate.h"
#include "graph/graph.h"

#define CQ_LUA_CALIBRATOR "calq.Calibrator"

typedef struct {
    cq_calib *c;
    cq_graph *g;    /* the model's graph when made (borrowed) */
    double seconds; /* wall time spent in feed */
} cbox;

typedef struct {
    cq_calib_stats *s;
} sbox;

/* ---- Stats ------------------------------------------------------------------ */

cq_calib_stats *cq__lua_check_stats(lua_State *L, int idx)
{
    sbox *b = luaL_checkudata(L, idx, CQ_LUA_STATS);
    if (!b->s)
        luaL_argerror(L, idx, "statistics are closed");
    return b->s;
}

/* A new Stats box with no set yet (the box first, so that a Lua memory
 * error leaks nothing). */
static sbox *new_stats_box(lua_State *L)
{
    sbox *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->s = NULL;
    luaL_setmetatable(L, CQ_LUA_STATS);
    return b;
}

static int make_stats_box(lua_State *L)
{
    new_stats_box(L);
    return 1;
}

void cq__lua_push_stats(lua_State *L, cq_calib_stats *s)
{
    if (!lua_checkstack(L, 2)) {
        cq_calib_stats_free(s);
        luaL_error(L, "Lua stack overflow");
    }
    lua_pushcfunction(L, make_stats_box);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        cq_calib_stats_free(s);
        lua_error(L);
    }
    ((sbox *)lua_touserdata(L, -1))->s = s;
}

static int stats_gc(lua_State *L)
{
    sbox *b = luaL_checkudata(L, 1, CQ_LUA_STATS);
    cq_calib_stats_free(b->s);
    b->s = NULL;
    return 0;
}

static int stats_tostring(lua_State *L)
{
    sbox *b = luaL_checkudata(L, 1, CQ_LUA_STATS);
    if (!b->s)
        lua_pushliteral(L, "calq.Stats (closed)");
    else
        lua_pushfstring(L, "calq.Stats (%d tensors)", cq_calib_stats_count(b->s));
    return 1;
}

static int stats_len(lua_State *L)
{
    lua_pushinteger(L, cq_calib_stats_count(cq__lua_check_stats(L, 1)));
    return 1;
}

/* The observer called by the string at arg, or nil, msg, "ERANGE" pushed
 * (returns NULL then). */
static cq_observer *find_obs(lua_State *L, cq_calib_stats *s, int arg)
{
    const char *name = luaL_checkstring(L, arg);
    cq_observer *o = cq_calib_stats_find(s, name);
    if (!o) {
        lua_pushnil(L);
        lua_pushfstring(L, "no statistics for '%s'", name);
        lua_pushliteral(L, "ERANGE");
    }
    return o;
}

/* stats:save(path) -> true | nil, msg, code (written to path.tmp, renamed) */
static int stats_save(lua_State *L)
{
    cq_calib_stats *s = cq__lua_check_stats(L, 1);
    const char *path = luaL_checkstring(L, 2);
    cq_err err;
    if (cq_calib_stats_save(s, path, &err))
        return cq__lua_fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* stats:names() -> {name, ...} in the set's order */
static int stats_names(lua_State *L)
{
    cq_calib_stats *s = cq__lua_check_stats(L, 1);
    int n = cq_calib_stats_count(s);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, cq_calib_stats_name(s, i));
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static void set_int(lua_State *L, const char *k, int64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

/* stats:info(name) -> {kind, channels, bins, exp, batches, finite, nan, pinf,
 * ninf, min, max} | nil, msg, code */
static int stats_info(lua_State *L)
{
    cq_observer *o = find_obs(L, cq__lua_check_stats(L, 1), 2);
    if (!o)
        return 3;
    cq_observer_info in;
    cq_observer_get_info(o, &in);
    lua_createtable(L, 0, 12);
    lua_pushstring(L, cq_obs_kind_name(in.kind));
    lua_setfield(L, -2, "kind");
    set_int(L, "channels", in.channels);
    set_int(L, "bins", in.bins);
    set_int(L, "exp", in.exp);
    set_int(L, "batches", in.batches);
    set_int(L, "finite", in.finite);
    set_int(L, "nan", in.nan);
    set_int(L, "pinf", in.pinf);
    set_int(L, "ninf", in.ninf);
    lua_pushnumber(L, in.min);
    lua_setfield(L, -2, "min");
    lua_pushnumber(L, in.max);
    lua_setfield(L, -2, "max");
    return 1;
}

/* stats:histogram(name) -> {lo, width, counts = {n, ...}} | nil, msg, code:
 * the histogram observer's bins from the first to the last non-empty one;
 * counts[k] covers [lo + (k - 1) width, lo + k width) (observer.h's grid:
 * bin j of 2 bins holds [(j - bins) width, (j - bins + 1) width)). An empty
 * table's counts are {}; EINVAL for an observer that keeps no histogram. */
static int stats_histogram(lua_State *L)
{
    cq_observer *o = find_obs(L, cq__lua_check_stats(L, 1), 2);
    if (!o)
        return 3;
    cq_observer_info in;
    cq_observer_get_info(o, &in);
    const uint64_t *h = cq_observer_hist(o);
    if (!h) {
        lua_pushnil(L);
        lua_pushfstring(L, "'%s': a %s observer keeps no histogram", lua_tostring(L, 2),
                        cq_obs_kind_name(in.kind));
        lua_pushliteral(L, "EINVAL");
        return 3;
    }
    int64_t nb = in.bins, first = 2 * nb, last = -1;
    for (int64_t j = 0; j < 2 * nb; j++) {
        if (h[j]) {
            first = j < first ? j : first;
            last = j;
        }
    }
    double width = ldexp(1.0, in.exp) / (double)nb;
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, last < 0 ? 0.0 : (double)(first - nb) * width);
    lua_setfield(L, -2, "lo");
    lua_pushnumber(L, width);
    lua_setfield(L, -2, "width");
    lua_createtable(L, last < 0 ? 0 : (int)(last - first + 1), 0);
    for (int64_t j = first; j <= last; j++) {
        lua_pushinteger(L, (lua_Integer)h[j]);
        lua_rawseti(L, -2, j - first + 1);
    }
    lua_setfield(L, -2, "counts");
    return 1;
}

/* Field key of the table at arg, one of two strings: 0 when absent or a, 1
 * when b; anything else raises "bad argument" naming both. */
static int opt_pair(lua_State *L, int arg, const char *key, const char *a, const char *b)
{
    int r = 0;
    if (lua_getfield(L, arg, key) != LUA_TNIL) {
        const char *v = lua_tostring(L, -1);
        if (v && strcmp(v, b) == 0)
            r = 1;
        else if (!v || strcmp(v, a) != 0)
            luaL_argerror(L, arg, lua_pushfstring(L, "%s must be '%s' or '%s'", key, a, b));
    }
    lua_pop(L, 1);
    return r;
}

/* The spec table at arg (optional): {method = "minmax", dtype = "u8",
 * symmetric = false, percentile = 99.99, zero_bin = "as_next"}. */
static void check_spec(lua_State *L, int arg, cq_calib_spec *spec)
{
    spec->dtype = CQ_U8;
    spec->symmetric = 0;
    spec->method = CQ_CALIB_MINMAX;
    spec->percentile = 99.99;
    spec->zero_bin = CQ_CALIB_ZERO_AS_NEXT;
    if (lua_isnoneornil(L, arg))
        return;
    luaL_checktype(L, arg, LUA_TTABLE);
    if (lua_getfield(L, arg, "method") != LUA_TNIL) {
        const char *m = lua_tostring(L, -1);
        int found = 0;
        for (int k = 0; m && k < CQ_CALIB_METHOD_COUNT && !found; k++)
            if (strcmp(m, cq_calib_method_name((cq_calib_method)k)) == 0) {
                spec->method = (cq_calib_method)k;
                found = 1;
            }
        if (!found)
            luaL_argerror(L, arg, lua_pushfstring(L, "unknown method '%s' (minmax, percentile, "
                                                  "entropy, entropy_asym, mse)",
                                                  m ? m : luaL_typename(L, -1)));
    }
    lua_pop(L, 1);
    if (opt_pair(L, arg, "dtype", "u8", "s8"))
        spec->dtype = CQ_S8;
    lua_getfield(L, arg, "symmetric");
    spec->symmetric = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, arg, "percentile") != LUA_TNIL) {
        int ok;
        double p = lua_tonumberx(L, -1, &ok);
        if (!ok || !(p > 0 && p <= 100))
            luaL_argerror(L, arg, "percentile must be a number in (0, 100]");
        spec->percentile = p;
    }
    lua_pop(L, 1);
    if (opt_pair(L, arg, "zero_bin", "keep", "as_next"))
        spec->zero_bin = CQ_CALIB_ZERO_AS_NEXT;
}

/* For stats:range and stats:qparams: the spec at 3 and the observer the name
 * at 2 names in the Stats at 1, or NULL with nil, msg, code pushed. */
static cq_observer *spec_obs(lua_State *L, cq_calib_spec *spec)
{
    cq_calib_stats *s = cq__lua_check_stats(L, 1);
    check_spec(L, 3, spec);
    return find_obs(L, s, 2);
}

/* stats:range(name [, spec]) -> lo, hi (the clipping range of spec's method)
 * | nil, msg, code. Per-tensor observers only. */
static int stats_range(lua_State *L)
{
    cq_calib_spec spec;
    cq_observer *o = spec_obs(L, &spec);
    if (!o)
        return 3;
    cq_observer_info in;
    cq_observer_get_info(o, &in);
    if (in.channels > 1)
        return luaL_argerror(L, 2, "a per-channel observer: ask for its qparams");
    float lo, hi;
    cq_err err;
    if (cq_observer_range(o, &spec, &lo, &hi, &err))
        return cq__lua_fail(L, &err);
    lua_pushnumber(L, lo);
    lua_pushnumber(L, hi);
    return 2;
}

/* Under lua_pcall: the scale and zero point tensors of the cq_qparams at 1
 * as Tensors, each field set to NULL once a box owns it. */
static int push_qparams(lua_State *L)
{
    cq_qparams *qp = lua_touserdata(L, 1);
    cq_tensor *t = qp->scale;
    qp->scale = NULL;
    cq__lua_push_tensor(L, t);
    t = qp->zero_point;
    qp->zero_point = NULL;
    cq__lua_push_tensor(L, t);
    return 2;
}

/* stats:qparams(name [, spec]) -> scale, zero_point (numbers for a per-tensor
 * observer, f32 and s32 Tensors per channel) | nil, msg, code */
static int stats_qparams(lua_State *L)
{
    cq_calib_spec spec;
    cq_observer *o = spec_obs(L, &spec);
    if (!o)
        return 3;
    cq_qparams qp;
    cq_err err;
    if (cq_observer_qparams(o, &spec, &qp, &err))
        return cq__lua_fail(L, &err);
    if (cq_tensor_numel(qp.scale) == 1) {
        float sc = ((const float *)cq_tensor_data(qp.scale))[0];
        int32_t zp = ((const int32_t *)cq_tensor_data(qp.zero_point))[0];
        cq_qparams_clear(&qp);
        lua_pushnumber(L, sc);
        lua_pushinteger(L, zp);
        return 2;
    }
    lua_pushcfunction(L, push_qparams);
    lua_pushlightuserdata(L, &qp);
    int ok = lua_pcall(L, 1, 2, 0) == LUA_OK;
    cq_qparams_clear(&qp); /* what the boxes did not take */
    return ok ? 2 : lua_error(L);
}

/* ---- calq.calib.load / merge -------------------------------------------------- */

/* calq.calib.load(path) -> Stats | nil, msg, code */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    sbox *b = new_stats_box(L);
    cq_err err;
    b->s = cq_calib_stats_load(path, &err);
    if (!b->s)
        return cq__lua_fail(L, &err);
    return 1;
}

/* calq.calib.merge{stats, ...} -> a new Stats: the first set's tensors in
 * its order, the others merged in (exact for min-max and histograms) |
 * nil, msg, code (sets that do not merge) */
static int l_merge(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 1, 1, "an empty list of statistics");
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        sbox *b = luaL_testudata(L, -1, CQ_LUA_STATS);
        if (!b || !b->s)
            luaL_argerror(L, 1, lua_pushfstring(L, "item %d is no open calq.Stats", (int)i));
        lua_pop(L, 1);
    }
    sbox *out = new_stats_box(L);
    cq_err err;
    out->s = cq_calib_stats_new(&err);
    if (!out->s)
        return cq__lua_fail(L, &err);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        sbox *b = lua_touserdata(L, -1);
        cq_status st = cq_calib_stats_merge(out->s, b->s, &err);
        lua_pop(L, 1);
        if (st) {
            cq_err_prefix(&err, st, "statistics %d: ", (int)i);
            return cq__lua_fail(L, &err);
        }
    }
    return 1;
}

/* ---- Calibrator ----------------------------------------------------------------- */

static int cal_gc(lua_State *L)
{
    cbox *b = luaL_checkudata(L, 1, CQ_LUA_CALIBRATOR);
    cq_calib_free(b->c);
    b->c = NULL;
    return 0;
}

/* The open calibrator at 1 whose model is still open and idle. */
static cbox *check_cal(lua_State *L)
{
    cbox *b = luaL_checkudata(L, 1, CQ_LUA_CALIBRATOR);
    if (!b->c)
        luaL_argerror(L, 1, "calibrator is closed");
    lua_getiuservalue(L, 1, 1);
    int busy;
    cq_graph *g = cq__lua_test_model(L, -1, &busy);
    lua_pop(L, 1);
    if (g != b->g)
        luaL_argerror(L, 1, "its model is closed");
    if (busy)
        luaL_argerror(L, 1, "its model is running");
    return b;
}

static int cal_tostring(lua_State *L)
{
    cbox *b = luaL_checkudata(L, 1, CQ_LUA_CALIBRATOR);
    if (!b->c)
        lua_pushliteral(L, "calq.Calibrator (closed)");
    else
        lua_pushfstring(L, "calq.Calibrator (%d tensors, %d items)",
                        cq_calib_stats_count(cq_calib_get_stats(b->c)),
                        (int)cq_calib_items(b->c));
    return 1;
}

static const char *const kind_names[] = {"minmax", "moving_avg", "hist", NULL};

/* calq.calib.new(model [, {observer = "hist", bins = 0, averaging_constant,
 * threads = 0}]) -> Calibrator | nil, msg, code (planning failed) */
static int l_new(lua_State *L)
{
    cq_graph *g = cq__lua_check_idle_model(L, 1);
    cq_calib_opts o = CQ_CALIB_OPTS_DEFAULT;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        if (lua_getfield(L, 2, "observer") != LUA_TNIL) {
            const char *k = lua_tostring(L, -1);
            int found = 0;
            for (int i = 0; k && kind_names[i] && !found; i++)
                if (strcmp(k, kind_names[i]) == 0) {
                    o.kind = (cq_obs_kind)i;
                    found = 1;
                }
            if (!found)
                luaL_argerror(L, 2, "observer must be 'hist', 'minmax' or 'moving_avg'");
        }
        lua_pop(L, 1);
        if (lua_getfield(L, 2, "bins") != LUA_TNIL) {
            int ok;
            lua_Integer bins = lua_tointegerx(L, -1, &ok);
            if (!ok || (bins != 0 && (bins < CQ_HIST_BINS_MIN || bins > CQ_HIST_BINS_MAX ||
                                      (bins & (bins - 1)) != 0)))
                luaL_argerror(L, 2, lua_pushfstring(L, "bins must be a power of two in %d..%d",
                                                    CQ_HIST_BINS_MIN, CQ_HIST_BINS_MAX));
            o.bins = (int32_t)bins;
        }
        lua_pop(L, 1);
        if (lua_getfield(L, 2, "averaging_constant") != LUA_TNIL) {
            int ok;
            double c = lua_tonumberx(L, -1, &ok);
            if (!ok || !(c > 0 && c <= 1))
                luaL_argerror(L, 2, "averaging_constant must be a number in (0, 1]");
            o.averaging_constant = (float)c;
        }
        lua_pop(L, 1);
        if (lua_getfield(L, 2, "threads") != LUA_TNIL) {
            int ok;
            lua_Integer t = lua_tointegerx(L, -1, &ok);
            if (!ok || t < 0 || t > 1024)
                luaL_argerror(L, 2, "threads must be an integer in 0..1024");
            o.threads = (int)t;
        }
        lua_pop(L, 1);
    }
    cbox *b = lua_newuserdatauv(L, sizeof *b, 1);
    b->c = NULL;
    b->g = g;
    b->seconds = 0;
    luaL_setmetatable(L, CQ_LUA_CALIBRATOR);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    cq_err err;
    b->c = cq_calib_new(g, &o, &err);
    if (!b->c)
        return cq__lua_fail(L, &err);
    return 1;
}

/* calibrator:feed(inputs) -> true | nil, msg, code. inputs: a Tensor
 * (one-input models) or {name = Tensor}; the first dimension counts items. */
static int cal_feed(lua_State *L)
{
    cbox *b = check_cal(L);
    const cq_graph *g = b->g;
    cq_tensor *in[CQ_LUA_MAX_INPUTS];
    cq__lua_check_inputs(L, 2, g, in);
    cq_err err;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cq_status st = cq_calib_feed(b->c, g->n_inputs, in, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    b->seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (st)
        return cq__lua_fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* calibrator:seconds() -> wall seconds spent in feed so far */
static int cal_seconds(lua_State *L)
{
    lua_pushnumber(L, check_cal(L)->seconds);
    return 1;
}

/* calibrator:items() -> items observed so far */
static int cal_items(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)cq_calib_items(check_cal(L)->c));
    return 1;
}

/* calibrator:stats() -> a copy of the statistics so far (Stats) */
static int cal_stats(lua_State *L)
{
    cbox *b = check_cal(L);
    sbox *out = new_stats_box(L);
    cq_err err;
    out->s = cq_calib_stats_new(&err);
    if (!out->s || cq_calib_stats_merge(out->s, cq_calib_get_stats(b->c), &err))
        return luaL_error(L, "calibrator:stats: %s", err.msg);
    return 1;
}

static const luaL_Reg cal_methods[] = {
    {"feed", cal_feed}, {"items", cal_items}, {"seconds", cal_seconds}, {"stats", cal_stats},
    {"close", cal_gc},
    {NULL, NULL},
};

static const luaL_Reg cal_meta[] = {
    {"__gc", cal_gc}, {"__close", cal_gc}, {"__tostring", cal_tostring}, {NULL, NULL},
};

static const luaL_Reg stats_methods[] = {
    {"save", stats_save}, {"names", stats_names}, {"info", stats_info},
    {"range", stats_range}, {"qparams", stats_qparams}, {"histogram", stats_histogram},
    {"close", stats_gc},
    {NULL, NULL},
};

static const luaL_Reg stats_meta[] = {
    {"__gc", stats_gc}, {"__close", stats_gc}, {"__tostring", stats_tostring},
    {"__len", stats_len}, {NULL, NULL},
};

static const luaL_Reg functions[] = {
    {"new", l_new}, {"load", l_load}, {"merge", l_merge}, {NULL, NULL},
};

int cq__lua_open_calib(lua_State *L)
{
    cq__lua_new_class(L, CQ_LUA_CALIBRATOR, cal_meta, cal_methods);
    cq__lua_new_class(L, CQ_LUA_STATS, stats_meta, stats_methods);
    luaL_newlib(L, functions);
    return 1;
}

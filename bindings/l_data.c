/* l_data.c - calq.Dataset (annotated image sets) and calq.Index (lists of
 * record numbers), with the C sampler policies as Dataset methods.
 *
 *   local ds = assert(calq.data.open("faces/training.xml", "dlib"))
 *   print(#ds, ds:record(1).path, ds:record(1).count)
 *   local single = ds:filter(function(r) return r.count == 1 end)   -- calq.Index
 *   local idx, rep = ds:sample("balanced", {size = 3, threshold = 1, seed = 7})
 *
 * Record numbers are 1-based in Lua (0-based in C). Records live in C; a
 * record table is built only when asked for. Index lists are userdata
 * holding int64 record numbers, so a million of them cost 8 MB, not a table. */
#include "lcalq.h"

#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/idx.h"
#include "data/sampler.h"

#define CQ_LUA_DATASET "calq.Dataset"
#define CQ_LUA_INDEX "calq.Index"

/* busy: Lua callbacks (filter and pool predicates) running over the dataset;
 * while set, close/add/append raise "dataset is in use". */
typedef struct { cq_dataset *ds; int busy; } dsbox;
typedef struct { int64_t n; int64_t v[1]; } ixbox; /* v holds 0-based record numbers */

/* ---- Index ---------------------------------------------------------------- */

static ixbox *new_index(lua_State *L, int64_t cap)
{
    if (cap < 1)
        cap = 1;
    if ((uint64_t)cap > (SIZE_MAX - sizeof(ixbox)) / sizeof(int64_t))
        luaL_error(L, "index list too long");
    ixbox *x = lua_newuserdatauv(L, sizeof(ixbox) + (size_t)(cap - 1) * sizeof(int64_t), 0);
    x->n = 0;
    luaL_setmetatable(L, CQ_LUA_INDEX);
    return x;
}

static ixbox *check_index(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, CQ_LUA_INDEX);
}

/* calq.data.index{3, 1, 2}: record numbers (1-based) into an Index. */
static int l_index(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    ixbox *x = new_index(L, n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        int ok;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok || v < 1)
            return luaL_argerror(L, 1, lua_pushfstring(L, "entry %d is not a record number >= 1", (int)i));
        x->v[x->n++] = v - 1;
    }
    return 1;
}

static int ix_len(lua_State *L)
{
    lua_pushinteger(L, check_index(L, 1)->n);
    return 1;
}

static int ix_get(lua_State *L)
{
    ixbox *x = check_index(L, 1);
    if (!lua_isinteger(L, 2)) { /* methods */
        luaL_getmetatable(L, CQ_LUA_INDEX);
        lua_getfield(L, -1, "__methods");
        lua_pushvalue(L, 2);
        lua_rawget(L, -2);
        return 1;
    }
    lua_Integer i = lua_tointeger(L, 2);
    if (i < 1 || i > x->n)
        lua_pushnil(L);
    else
        lua_pushinteger(L, x->v[i - 1] + 1);
    return 1;
}

static int ix_totable(lua_State *L)
{
    ixbox *x = check_index(L, 1);
    lua_createtable(L, (int)(x->n < 1 << 30 ? x->n : 0), 0);
    for (int64_t i = 0; i < x->n; i++) {
        lua_pushinteger(L, x->v[i] + 1);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int ix_tostring(lua_State *L)
{
    lua_pushfstring(L, "calq.Index (%I records)", (lua_Integer)check_index(L, 1)->n);
    return 1;
}

/* ---- Dataset: boxes and access -------------------------------------------------- */

static dsbox *new_dsbox(lua_State *L)
{
    dsbox *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->ds = NULL;
    b->busy = 0;
    luaL_setmetatable(L, CQ_LUA_DATASET);
    return b;
}

static cq_dataset *check_ds(lua_State *L, int idx)
{
    dsbox *b = luaL_checkudata(L, idx, CQ_LUA_DATASET);
    if (!b->ds)
        luaL_argerror(L, idx, "dataset is closed");
    return b->ds;
}

/* The dataset at idx for a change: raise while a callback runs over it. */
static cq_dataset *check_idle_ds(lua_State *L, int idx)
{
    dsbox *b = luaL_checkudata(L, idx, CQ_LUA_DATASET);
    if (b->busy)
        luaL_argerror(L, idx, "dataset is in use");
    return check_ds(L, idx);
}

/* Call the function below its nargs arguments (1 result), with the dataset
 * at 1 marked busy so the callback cannot close or grow it under our feet. */
static void call_busy(lua_State *L, int nargs)
{
    dsbox *b = luaL_checkudata(L, 1, CQ_LUA_DATASET);
    b->busy++;
    int st = lua_pcall(L, nargs, 1, 0);
    b->busy--;
    if (st != LUA_OK)
        lua_error(L);
}

/* Candidates at idx: nil = all (returns NULL, *n = ds->n), else an Index
 * whose entries are checked against the dataset. */
static const int64_t *opt_cand(lua_State *L, int idx, const cq_dataset *ds, int64_t *n)
{
    if (lua_isnoneornil(L, idx)) {
        *n = ds->n;
        return NULL;
    }
    ixbox *x = check_index(L, idx);
    for (int64_t i = 0; i < x->n; i++)
        if (x->v[i] < 0 || x->v[i] >= ds->n)
            luaL_argerror(L, idx, lua_pushfstring(L, "record %I out of range (dataset has %I)",
                                                  (lua_Integer)x->v[i] + 1, (lua_Integer)ds->n));
    *n = x->n;
    return x->v;
}

static int64_t check_record(lua_State *L, int idx, const cq_dataset *ds)
{
    lua_Integer i = luaL_checkinteger(L, idx);
    if (i < 1 || i > ds->n)
        luaL_argerror(L, idx, lua_pushfstring(L, "record %I out of range (dataset has %I)", i,
                                              (lua_Integer)ds->n));
    return i - 1;
}

static void setint(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

/* Push record r (0-based) as a table. */
static void push_record(lua_State *L, const cq_dataset *ds, int64_t r)
{
    lua_createtable(L, 0, 9);
    setint(L, "index", r + 1);
    setint(L, "id", ds->id[r]);
    lua_pushstring(L, cq_dataset_path(ds, r));
    lua_setfield(L, -2, "path");
    setint(L, "width", ds->width[r]);
    setint(L, "height", ds->height[r]);
    setint(L, "count", ds->count[r]);
    lua_createtable(L, ds->box_n[r], 0); /* boxes */
    lua_createtable(L, 0, 0);            /* labels (unique, in order) */
    int nl = 0;
    for (int32_t k = 0; k < ds->box_n[r]; k++) {
        int64_t b = ds->box_first[r] + k;
        const float *p = ds->box + 4 * b;
        lua_createtable(L, 4, 3);
        for (int j = 0; j < 4; j++) {
            lua_pushnumber(L, p[j]);
            lua_rawseti(L, -2, j + 1);
        }
        if (ds->box_label[b] >= 0) {
            const char *name = cq_dataset_cat_name(ds, ds->box_label[b]);
            lua_pushstring(L, name);
            lua_setfield(L, -2, "label");
            int seen = 0;
            for (int j = 1; j <= nl && !seen; j++) {
                lua_rawgeti(L, -2, j);
                seen = strcmp(lua_tostring(L, -1), name) == 0;
                lua_pop(L, 1);
            }
            if (!seen) {
                lua_pushstring(L, name);
                lua_rawseti(L, -3, ++nl);
            }
        }
        lua_pushboolean(L, (ds->box_flags[b] & CQ_BOX_IGNORE) != 0);
        lua_setfield(L, -2, "ignore");
        lua_pushboolean(L, (ds->box_flags[b] & CQ_BOX_OUTSIDE) != 0);
        lua_setfield(L, -2, "outside");
        if (ds->box_flags[b] & CQ_BOX_LABEL_ONLY) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "label_only");
        }
        lua_rawseti(L, -3, k + 1);
    }
    lua_setfield(L, -3, "labels");
    lua_setfield(L, -2, "boxes");
}

/* ---- module functions ------------------------------------------------------ */

/* The formats cq_dataset_read knows, in the order messages list them. */
static const char *const formats[] = {"coco", "voc", "yolo", "dlib", "csv", "tsv", NULL};

/* calq.data.open(path, format [, {image_root = DIR, read_headers = bool}]) */
static int l_open_dataset(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *format = luaL_checkstring(L, 2);
    cq_ds_opts o = {NULL, 1};
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "image_root");
        if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
            return luaL_argerror(L, 3, "field 'image_root' must be a string");
        o.image_root = lua_tostring(L, -1);
        lua_getfield(L, 3, "read_headers");
        if (!lua_isnil(L, -1))
            o.read_headers = lua_toboolean(L, -1);
        lua_pop(L, 1); /* image_root stays on the stack: it anchors the string */
    }
    luaL_checkoption(L, 2, NULL, formats);
    dsbox *b = new_dsbox(L);
    cq_err err;
    b->ds = cq_dataset_read(path, format, &o, &err);
    if (!b->ds)
        return cq__lua_fail(L, &err);
    return 1;
}

/* calq.data.new(): an empty dataset to fill with ds:add{...} */
static int l_dataset(lua_State *L)
{
    dsbox *b = new_dsbox(L);
    cq_err err;
    if (!(b->ds = cq_dataset_new(&err)))
        return luaL_error(L, "%s", err.msg);
    return 1;
}

/* ---- Dataset methods ---------------------------------------------------------- */

static int m_len(lua_State *L)
{
    lua_pushinteger(L, check_ds(L, 1)->n);
    return 1;
}

static int m_record(lua_State *L)
{
    cq_dataset *ds = check_ds(L, 1);
    push_record(L, ds, check_record(L, 2, ds));
    return 1;
}

static int records_next(lua_State *L)
{
    dsbox *b = lua_touserdata(L, lua_upvalueindex(1));
    if (!b->ds)
        return luaL_error(L, "dataset is closed");
    cq_dataset *ds = b->ds;
    lua_Integer k = lua_tointeger(L, lua_upvalueindex(3));
    int64_t n, r;
    if (lua_isnil(L, lua_upvalueindex(2))) {
        n = ds->n;
        r = k;
    } else {
        ixbox *x = lua_touserdata(L, lua_upvalueindex(2));
        n = x->n;
        r = k < n ? x->v[k] : 0;
    }
    if (k >= n || r >= ds->n)
        return 0;
    lua_pushinteger(L, k + 1);
    lua_replace(L, lua_upvalueindex(3));
    lua_pushinteger(L, r + 1);
    push_record(L, ds, r);
    return 2;
}

/* for i, rec in ds:records([index]) do ... end  (i = record number) */
static int m_records(lua_State *L)
{
    cq_dataset *ds = check_ds(L, 1);
    int64_t n;
    opt_cand(L, 2, ds, &n);
    lua_settop(L, 2);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, records_next, 3);
    return 1;
}

/* ds:counts([index]) -> {count, ...} */
static int m_counts(lua_State *L)
{
    cq_dataset *ds = check_ds(L, 1);
    int64_t n;
    const int64_t *c = opt_cand(L, 2, ds, &n);
    lua_createtable(L, (int)(n < 1 << 30 ? n : 0), 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushinteger(L, ds->count[c ? c[i] : i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static void push_hist(lua_State *L, const int64_t *h, int nb)
{
    lua_createtable(L, nb, 1);
    for (int i = 0; i < nb; i++) {
        lua_pushinteger(L, h[i]);
        lua_rawseti(L, -2, i);
    }
}

/* ds:histogram([index]) -> {[0] = n0, [1] = n1, ..., [16] = "16 or more"} */
static int m_histogram(lua_State *L)
{
    cq_dataset *ds = check_ds(L, 1);
    int64_t n, h[CQ_HIST_BINS];
    const int64_t *c = opt_cand(L, 2, ds, &n);
    cq_dataset_histogram(ds, c, n, h, CQ_HIST_BINS);
    push_hist(L, h, CQ_HIST_BINS);
    return 1;
}

/* ds:filter(function(rec, i) -> bool [, index]) -> Index */
static int m_filter(lua_State *L)
{
    cq_dataset *ds = check_ds(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    int64_t n;
    const int64_t *c = opt_cand(L, 3, ds, &n);
    ixbox *x = new_index(L, n); /* owned by Lua: a raising predicate leaks nothing */
    for (int64_t i = 0; i < n; i++) {
        int64_t r = c ? c[i] : i;
        lua_pushvalue(L, 2);
        push_record(L, ds, r);
        lua_pushinteger(L, r + 1);
        call_busy(L, 2);
        if (lua_toboolean(L, -1))
            x->v[x->n++] = r;
        lua_pop(L, 1);
    }
    return 1;
}

/* Integer field k of the table at t in lo..hi, def when absent; else raise
 * "bad argument #t (field 'k' must be an integer in lo..hi)". */
static lua_Integer range_field(lua_State *L, int t, const char *k, lua_Integer def,
                               lua_Integer lo, lua_Integer hi)
{
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return def;
    }
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < lo || v > hi)
        luaL_argerror(L, t, lua_pushfstring(L, "field '%s' must be an integer in %I..%I", k, lo, hi));
    lua_pop(L, 1);
    return v;
}

typedef struct {
    float p[4];
    unsigned flags;
} box_in;

/* ds:add{path=, id=, width=, height=, count=, boxes={{x,y,w,h,label=,ignore=}}} -> record number.
 * count absent: the number of non-ignored boxes. Everything is checked
 * before the dataset changes: a bad box adds nothing. */
static int m_add(lua_State *L)
{
    check_idle_ds(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_getfield(L, 2, "path"); /* 3 */
    if (lua_type(L, 3) != LUA_TSTRING)
        return luaL_argerror(L, 2, "field 'path' must be a string");
    lua_Integer count = range_field(L, 2, "count", -1, 0, 1 << 30);
    lua_Integer w = range_field(L, 2, "width", 0, 0, INT32_MAX);
    lua_Integer h = range_field(L, 2, "height", 0, 0, INT32_MAX);
    lua_getfield(L, 2, "id"); /* 4 */
    int has_id = !lua_isnil(L, 4);
    int ok = 1;
    lua_Integer id = has_id ? lua_tointegerx(L, 4, &ok) : 0;
    if (!ok)
        return luaL_argerror(L, 2, "field 'id' must be an integer");
    lua_getfield(L, 2, "boxes"); /* 5 */
    if (!lua_isnil(L, 5) && !lua_istable(L, 5))
        return luaL_argerror(L, 2, "field 'boxes' must be a table of {x, y, w, h}");
    lua_Integer nb = lua_istable(L, 5) ? luaL_len(L, 5) : 0;
    if (nb < 0 || nb > 1 << 28)
        return luaL_argerror(L, 2, "field 'boxes' has too many entries");
    /* scratch, owned by Lua: 6 = boxes, 7 = their labels (strings or false) */
    box_in *in = lua_newuserdatauv(L, (size_t)(nb ? nb : 1) * sizeof *in, 0);
    lua_createtable(L, (int)nb, 0);
    for (lua_Integer k = 1; k <= nb; k++) {
        lua_geti(L, 5, k);
        if (!lua_istable(L, -1))
            return luaL_argerror(L, 2, lua_pushfstring(L, "box %I must be a table {x, y, w, h}", k));
        for (int j = 0; j < 4; j++) {
            lua_geti(L, -1, j + 1);
            if (!lua_isnumber(L, -1))
                return luaL_argerror(L, 2, lua_pushfstring(L, "box %I must be a table {x, y, w, h}", k));
            in[k - 1].p[j] = (float)lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        lua_getfield(L, -1, "label");
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushboolean(L, 0);
        } else if (lua_isstring(L, -1)) {
            lua_tostring(L, -1); /* numbers become strings, anchored in the labels table */
        } else {
            return luaL_argerror(L, 2, lua_pushfstring(L, "box %I: field 'label' must be a string", k));
        }
        lua_rawseti(L, 7, k);
        lua_getfield(L, -1, "ignore");
        in[k - 1].flags = lua_toboolean(L, -1) ? CQ_BOX_IGNORE : 0;
        lua_pop(L, 2);
    }
    /* the reads above may run metamethods: take the dataset pointer after them,
     * and from here on nothing calls Lua until the record is complete */
    cq_dataset *ds = check_idle_ds(L, 1);
    const char *path = lua_tostring(L, 3);
    int64_t n0 = ds->n, nboxes0 = ds->nboxes;
    int64_t outside0 = ds->boxes_outside, ignored0 = ds->boxes_ignored;
    cq_err err;
    int64_t r = cq_dataset_add(ds, path, has_id ? id : ds->n + 1, (int32_t)w, (int32_t)h,
                               (int32_t)count, &err);
    int failed = r < 0;
    for (lua_Integer k = 1; k <= nb && !failed; k++) {
        int32_t c = -1;
        if (lua_rawgeti(L, 7, k) == LUA_TSTRING)
            failed = (c = cq_dataset_category(ds, lua_tostring(L, -1), -1, &err)) < 0;
        lua_pop(L, 1);
        const float *p = in[k - 1].p;
        failed = failed || cq_dataset_add_box(ds, p[0], p[1], p[2], p[3], c, in[k - 1].flags, &err);
    }
    if (failed) {
        /* out of memory midway: take the partial record back out */
        ds->n = n0;
        ds->nboxes = nboxes0;
        ds->boxes_outside = outside0;
        ds->boxes_ignored = ignored0;
        return luaL_error(L, "%s", err.msg);
    }
    lua_pushinteger(L, r + 1);
    return 1;
}

/* ds:append(other) -> ds: other's records added at the end */
static int m_append(lua_State *L)
{
    cq_dataset *ds = check_idle_ds(L, 1), *src = check_ds(L, 2);
    cq_err err;
    if (cq_dataset_append(ds, src, &err))
        return luaL_error(L, "%s", err.msg);
    lua_settop(L, 1);
    return 1;
}

static int m_categories(lua_State *L)
{
    cq_dataset *ds = check_ds(L, 1);
    lua_createtable(L, ds->ncat, 0);
    for (int32_t c = 0; c < ds->ncat; c++) {
        lua_pushstring(L, cq_dataset_cat_name(ds, c));
        lua_rawseti(L, -2, c + 1);
    }
    return 1;
}

typedef struct {
    const cq_dataset *ds;
    const int64_t *m;
    int64_t n;
} missing_args;

/* Under lua_pcall: the two result tables of ds:missing(). */
static int push_missing(lua_State *L)
{
    const missing_args *a = lua_touserdata(L, 1);
    lua_createtable(L, (int)(a->n < 1 << 30 ? a->n : 0), 0);
    lua_createtable(L, (int)(a->n < 1 << 30 ? a->n : 0), 0);
    for (int64_t i = 0; i < a->n; i++) {
        lua_pushstring(L, cq_dataset_path(a->ds, a->m[i]));
        lua_rawseti(L, -3, i + 1);
        lua_pushinteger(L, a->m[i] + 1);
        lua_rawseti(L, -2, i + 1);
    }
    return 2;
}

/* ds:missing() -> {path, ...}, {record number, ...}: every image file that cannot be opened */
static int m_missing(lua_State *L)
{
    cq_dataset *ds = check_ds(L, 1);
    int64_t *m;
    cq_err err;
    int64_t n = cq_dataset_check_files(ds, &m, &err);
    if (n < 0)
        return cq__lua_fail(L, &err);
    /* m is C memory: the tables are built under pcall, m freed before any raise */
    missing_args a = {ds, m, n};
    lua_pushcfunction(L, push_missing);
    lua_pushlightuserdata(L, &a);
    int st = lua_pcall(L, 1, 2, 0);
    free(m);
    return st == LUA_OK ? 2 : lua_error(L);
}

static int m_issues(lua_State *L)
{
    cq_dataset *ds = check_ds(L, 1);
    lua_createtable(L, 0, 4);
    setint(L, "boxes", ds->nboxes);
    setint(L, "boxes_outside", ds->boxes_outside);
    setint(L, "boxes_ignored", ds->boxes_ignored);
    setint(L, "boxes_dropped", ds->boxes_dropped);
    return 1;
}

/* ---- sampling ------------------------------------------------------------------ */

/* Integer field k of the table at t, >= lo and <= hi (checked before any
 * narrowing cast by the caller), def when absent. */
static lua_Integer opt_field(lua_State *L, int t, const char *k, lua_Integer def, lua_Integer lo,
                             lua_Integer hi)
{
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return def;
    }
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < lo)
        luaL_argerror(L, t, lua_pushfstring(L, "field '%s' must be an integer >= %I", k, lo));
    if (v > hi)
        luaL_argerror(L, t, lua_pushfstring(L, "field '%s' must be an integer <= %I", k, hi));
    lua_pop(L, 1);
    return v;
}

typedef cq_status (*policy_fn)(const cq_dataset *, const int64_t *, int64_t, const cq_sample_opts *,
                               int64_t *, int64_t, int64_t *, cq_sample_report *, cq_err *);

/* ds:sample(policy, opts [, index]) -> Index, report
 * policy: "balanced", "first", "uniform", "class_balanced", "stratified".
 * opts: size, threshold, seed, pool_min, pool_max, per_class,
 *       pool = function(rec, i) -> bool  or  an Index of pool members. */
static int m_sample(lua_State *L)
{
    static const char *const names[] = {"balanced", "first", "uniform", "class_balanced",
                                        "stratified", NULL};
    static const policy_fn fns[] = {cq_sample_balanced, cq_sample_first, cq_sample_uniform,
                                    cq_sample_class_balanced, cq_sample_stratified};
    check_ds(L, 1);
    int p = luaL_checkoption(L, 2, NULL, names);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 4); /* the pool goes to 5 */
    cq_sample_opts o = cq_sample_defaults();
    o.size = opt_field(L, 3, "size", p == 3 ? 0 : -1, 0, LUA_MAXINTEGER);
    if (o.size < 0)
        return luaL_argerror(L, 3, "field 'size' is required");
    o.threshold = (int32_t)opt_field(L, 3, "threshold", 1, 0, INT32_MAX);
    o.seed = (uint64_t)opt_field(L, 3, "seed", 0, LUA_MININTEGER, LUA_MAXINTEGER);
    o.pool_min = (int32_t)opt_field(L, 3, "pool_min", 1, 0, INT32_MAX);
    o.pool_max = (int32_t)opt_field(L, 3, "pool_max", o.pool_min, 0, INT32_MAX);
    o.per_class = opt_field(L, 3, "per_class", 1, 0, LUA_MAXINTEGER);
    lua_getfield(L, 3, "pool");
    int pool = lua_gettop(L);
    /* the reads above may run metamethods: take the dataset pointer after them */
    cq_dataset *ds = check_ds(L, 1);
    int64_t n;
    const int64_t *cand = opt_cand(L, 4, ds, &n);
    if (!lua_isnil(L, pool)) {
        uint8_t *mask = lua_newuserdatauv(L, (size_t)(ds->n ? ds->n : 1), 0); /* Lua owns it */
        memset(mask, 0, (size_t)(ds->n ? ds->n : 1));
        if (lua_isfunction(L, pool)) {
            for (int64_t i = 0; i < n; i++) {
                int64_t r = cand ? cand[i] : i;
                lua_pushvalue(L, pool);
                push_record(L, ds, r);
                lua_pushinteger(L, r + 1);
                call_busy(L, 2);
                mask[r] = (uint8_t)lua_toboolean(L, -1);
                lua_pop(L, 1);
            }
        } else {
            ixbox *x = luaL_testudata(L, pool, CQ_LUA_INDEX);
            if (!x)
                return luaL_argerror(L, 3, "field 'pool' must be a function or a calq.Index");
            for (int64_t i = 0; i < x->n; i++)
                if (x->v[i] >= 0 && x->v[i] < ds->n)
                    mask[x->v[i]] = 1;
        }
        o.pool_mask = mask;
    }
    int64_t cap = cq_sample_bound(ds, cand, n, &o), nout;
    ixbox *x = new_index(L, cap);
    cq_sample_report rep;
    cq_err err;
    if (fns[p](ds, cand, n, &o, x->v, cap, &nout, &rep, &err))
        return cq__lua_fail(L, &err);
    x->n = nout;
    lua_createtable(L, 0, 12);
    lua_pushstring(L, names[p]);
    lua_setfield(L, -2, "policy");
    setint(L, "candidates", rep.candidates);
    setint(L, "requested", rep.requested);
    setint(L, "chosen", rep.chosen);
    push_hist(L, rep.hist_before, CQ_HIST_BINS);
    lua_setfield(L, -2, "hist_before");
    push_hist(L, rep.hist_after, CQ_HIST_BINS);
    lua_setfield(L, -2, "hist_after");
    if (p == 0) {
        setint(L, "threshold", o.threshold);
        setint(L, "pool_start", rep.pool_start);
        setint(L, "pool_left", rep.pool_left);
        setint(L, "replaced", rep.replaced);
        lua_pushboolean(L, rep.pool_dry);
        lua_setfield(L, -2, "pool_dry");
        setint(L, "above_left", rep.above_left);
    }
    return 2;
}

/* ---- metamethods --------------------------------------------------------------- */

static int mm_tostring(lua_State *L)
{
    dsbox *b = luaL_checkudata(L, 1, CQ_LUA_DATASET);
    if (!b->ds)
        lua_pushliteral(L, "calq.Dataset (closed)");
    else
        lua_pushfstring(L, "calq.Dataset (%I images, %I boxes, %d categories)",
                        (lua_Integer)b->ds->n, (lua_Integer)b->ds->nboxes, (int)b->ds->ncat);
    return 1;
}

/* __gc: idempotent (a dataset in use is on the stack, never collected). */
static int mm_gc(lua_State *L)
{
    dsbox *b = luaL_checkudata(L, 1, CQ_LUA_DATASET);
    cq_dataset_free(b->ds);
    b->ds = NULL;
    return 0;
}

/* close and __close: idempotent; raise while a callback runs over the dataset. */
static int mm_close(lua_State *L)
{
    dsbox *b = luaL_checkudata(L, 1, CQ_LUA_DATASET);
    if (b->busy)
        luaL_argerror(L, 1, "dataset is in use");
    return mm_gc(L);
}

static const luaL_Reg ds_methods[] = {
    {"record", m_record}, {"records", m_records}, {"counts", m_counts},
    {"histogram", m_histogram}, {"filter", m_filter}, {"add", m_add}, {"append", m_append},
    {"categories", m_categories}, {"missing", m_missing}, {"issues", m_issues},
    {"sample", m_sample}, {"close", mm_close}, {NULL, NULL},
};

static const luaL_Reg ds_meta[] = {
    {"__len", m_len}, {"__tostring", mm_tostring}, {"__gc", mm_gc}, {"__close", mm_close},
    {NULL, NULL},
};

static const luaL_Reg ix_methods[] = {{"totable", ix_totable}, {NULL, NULL}};

static const luaL_Reg ix_meta[] = {
    {"__len", ix_len}, {"__index", ix_get}, {"__tostring", ix_tostring}, {NULL, NULL},
};

/* calq.data.read_idx(path [, first = 1 [, count = to the end]]): items of an
 * idx(.gz) file (data/idx.h) as one tensor [count, ...]. */
static int l_read_idx(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Integer first = luaL_optinteger(L, 2, 1);
    lua_Integer count = luaL_optinteger(L, 3, -1);
    luaL_argcheck(L, first >= 1, 2, "first item must be >= 1");
    luaL_argcheck(L, count >= 1 || lua_isnoneornil(L, 3), 3, "count must be >= 1");
    cq_err err;
    cq_tensor *t = cq_idx_read_file(path, (int64_t)first - 1, (int64_t)count, &err);
    if (!t)
        return cq__lua_fail(L, &err);
    cq__lua_push_tensor(L, t);
    return 1;
}

static const luaL_Reg functions[] = {
    {"open", l_open_dataset}, {"new", l_dataset}, {"index", l_index}, {"read_idx", l_read_idx},
    {NULL, NULL},
};

int cq__lua_open_data(lua_State *L)
{
    cq__lua_new_class(L, CQ_LUA_DATASET, ds_meta, ds_methods);
    if (luaL_newmetatable(L, CQ_LUA_INDEX)) {
        luaL_setfuncs(L, ix_meta, 0);
        luaL_newlib(L, ix_methods);
        lua_setfield(L, -2, "__methods");
    }
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    /* data.formats: the format names open() takes, for callers' messages */
    lua_createtable(L, (int)(sizeof formats / sizeof *formats) - 1, 0);
    for (int i = 0; formats[i]; i++) {
        lua_pushstring(L, formats[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "formats");
    return 1;
}

/* l_tensor.c - calq.Tensor: tensors as Lua userdata (indices are 1-based, as Lua). */
#include "lcalq.h"
#include "kern/kern.h" /* cq_quantize, cq_dequantize */

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct { cq_tensor *t; } tbox;

/* ---- boxes ------------------------------------------------------------- */

/* A box with a NULL payload first, so an error before the tensor exists
 * leaks nothing (liolib's newprefile). */
static tbox *new_box(lua_State *L)
{
    tbox *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->t = NULL;
    luaL_setmetatable(L, CQ_LUA_TENSOR);
    return b;
}

/* The collector counts a box's few bytes, not its tensor's data: a loop
 * that makes large tensors (a model's outputs run after run) would keep
 * every one until Lua's own garbage started a cycle, hundreds of MB, each in
 * pages new from the system. A step sized by the data of a new storage (a
 * view adds none) lets the old ones go as fast as new ones come, and
 * cq_free keeps their blocks for the next ones (core/base/alloc.c). */
static void gc_account(lua_State *L, const cq_tensor *t)
{
    if (t && t->storage && t->storage->refcount == 1 && t->storage->nbytes >= ((size_t)1 << 20))
        lua_gc(L, LUA_GCSTEP, (int)(t->storage->nbytes >> 10));
}

static int push_box(lua_State *L)
{
    cq_tensor *t = lua_touserdata(L, 1);
    new_box(L)->t = t;
    return 1;
}

/* The box is made under lua_pcall: if Lua runs out of memory making it, the
 * reference is released before the error goes on, so nothing leaks. */
void cq__lua_push_tensor(lua_State *L, cq_tensor *t)
{
    lua_pushcfunction(L, push_box);
    lua_pushlightuserdata(L, t);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        cq_tensor_release(t);
        lua_error(L);
    }
    gc_account(L, t);
}

cq_tensor *cq__lua_test_tensor(lua_State *L, int idx)
{
    tbox *b = luaL_testudata(L, idx, CQ_LUA_TENSOR);
    return b ? b->t : NULL;
}

cq_tensor *cq__lua_check_tensor(lua_State *L, int idx)
{
    tbox *b = luaL_checkudata(L, idx, CQ_LUA_TENSOR);
    if (!b->t)
        luaL_argerror(L, idx, "tensor is closed");
    return b->t;
}

/* Raise err as a Lua error. Callers have released what C owned. */
static int raise(lua_State *L, const cq_err *err)
{
    return luaL_error(L, "%s", err->msg);
}

/* Push t (a new reference) or raise err when t is NULL. */
static int push_or_raise(lua_State *L, tbox *b, cq_tensor *t, const cq_err *err)
{
    if (!t)
        return raise(L, err);
    b->t = t;
    gc_account(L, t);
    return 1;
}

static cq_dtype check_dtype(lua_State *L, int idx, cq_dtype def)
{
    if (lua_isnoneornil(L, idx))
        return def;
    const char *name = luaL_checkstring(L, idx);
    cq_dtype dt;
    if (cq_dtype_from_name(name, &dt) != 0)
        luaL_argerror(L, idx, lua_pushfstring(L, "unknown dtype '%s'", name));
    return dt;
}

/* A shape from a table {2, 3} or from integers at idx.. . Returns ndim. */
static int check_shape(lua_State *L, int idx, int64_t *shape, int allow_infer)
{
    int n = 0;
    if (lua_istable(L, idx)) {
        n = (int)luaL_len(L, idx);
        if (n > CQ_MAX_DIMS)
            luaL_argerror(L, idx, "too many dimensions");
        for (int i = 0; i < n; i++) {
            lua_geti(L, idx, i + 1);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            lua_pop(L, 1);
            if (!ok || v < (allow_infer ? -1 : 0))
                luaL_argerror(L, idx, "shape entries must be integers >= 0");
            shape[i] = v;
        }
        return n;
    }
    int top = lua_gettop(L);
    for (int i = idx; i <= top && lua_isinteger(L, i); i++) {
        if (n == CQ_MAX_DIMS)
            luaL_argerror(L, i, "too many dimensions");
        lua_Integer v = lua_tointeger(L, i);
        if (v < (allow_infer ? -1 : 0))
            luaL_argerror(L, i, "shape entries must be integers >= 0");
        shape[n++] = v;
    }
    return n;
}

/* ---- constructors ------------------------------------------------------ */

/* Shape of a nested table: walk first elements. */
static int nested_shape(lua_State *L, int idx, int64_t *shape)
{
    int n = 0;
    lua_pushvalue(L, idx);
    while (lua_istable(L, -1)) {
        if (n == CQ_MAX_DIMS)
            luaL_argerror(L, 1, lua_pushfstring(L, "more than %d levels of nesting", CQ_MAX_DIMS));
        shape[n++] = (int64_t)luaL_len(L, -1);
        if (shape[n - 1] == 0)
            break;
        lua_geti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return n;
}

/* Fill from a nested table, checking that it is rectangular. */
static void nested_fill(lua_State *L, int idx, cq_tensor *t, int dim, int64_t *pos)
{
    const cq_dtype_traits *tr = cq_dtype_info(t->dtype);
    if (dim == t->ndim) {
        if (!lua_isnumber(L, idx) && !lua_isboolean(L, idx))
            luaL_argerror(L, 1, lua_pushfstring(L, "element %d is a %s, not a number",
                                                (int)(*pos + 1), luaL_typename(L, idx)));
        double v = lua_isboolean(L, idx) ? lua_toboolean(L, idx) : lua_tonumber(L, idx);
        tr->set((char *)cq_tensor_data(t) + (size_t)*pos * tr->size, v);
        (*pos)++;
        return;
    }
    if (!lua_istable(L, idx) || luaL_len(L, idx) != t->shape[dim])
        luaL_argerror(L, 1, lua_pushfstring(L, "ragged nested table at depth %d", dim + 1));
    for (int64_t i = 0; i < t->shape[dim]; i++) {
        lua_geti(L, idx, i + 1);
        nested_fill(L, lua_gettop(L), t, dim + 1, pos);
        lua_pop(L, 1);
    }
}

/* calq.tensor.new(nested_table [, dtype]) */
static int l_tensor(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    cq_dtype dt = check_dtype(L, 2, CQ_F32);
    int64_t shape[CQ_MAX_DIMS];
    int n = nested_shape(L, 1, shape);
    tbox *b = new_box(L);
    cq_err err;
    b->t = cq_tensor_new(dt, n, shape, &err);
    if (!b->t)
        return raise(L, &err);
    int64_t pos = 0;
    nested_fill(L, 1, b->t, 0, &pos); /* may raise: the box owns the tensor */
    return 1;
}

/* calq.tensor.zeros(shape [, dtype]), calq.tensor.full(shape, value [, dtype]) */
static int l_zeros(lua_State *L)
{
    int64_t shape[CQ_MAX_DIMS];
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = check_shape(L, 1, shape, 0);
    cq_dtype dt = check_dtype(L, 2, CQ_F32);
    cq_err err;
    tbox *b = new_box(L);
    return push_or_raise(L, b, cq_tensor_new(dt, n, shape, &err), &err);
}

static int l_full(lua_State *L)
{
    int64_t shape[CQ_MAX_DIMS];
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = check_shape(L, 1, shape, 0);
    double v = luaL_checknumber(L, 2);
    cq_dtype dt = check_dtype(L, 3, CQ_F32);
    cq_err err;
    tbox *b = new_box(L);
    if (!push_or_raise(L, b, cq_tensor_empty(dt, n, shape, &err), &err))
        return 0;
    cq_tensor_fill(b->t, v);
    return 1;
}

/* calq.tensor.arange(n [, dtype]): 0 .. n-1 */
static int l_arange(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0, 1, "must be >= 0");
    cq_dtype dt = check_dtype(L, 2, CQ_F32);
    int64_t shape[1] = {n};
    cq_err err;
    tbox *b = new_box(L);
    if (!push_or_raise(L, b, cq_tensor_empty(dt, 1, shape, &err), &err))
        return 0;
    const cq_dtype_traits *tr = cq_dtype_info(dt);
    for (int64_t i = 0; i < n; i++)
        tr->set((char *)cq_tensor_data(b->t) + (size_t)i * tr->size, (double)i);
    return 1;
}

/* ---- methods ----------------------------------------------------------- */

static int m_shape(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
        lua_pushinteger(L, t->shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int m_dtype(lua_State *L)
{
    lua_pushstring(L, cq_dtype_info(cq__lua_check_tensor(L, 1)->dtype)->name);
    return 1;
}

static int m_numel(lua_State *L)
{
    lua_pushinteger(L, cq_tensor_numel(cq__lua_check_tensor(L, 1)));
    return 1;
}

static int m_dim(lua_State *L)
{
    lua_pushinteger(L, cq__lua_check_tensor(L, 1)->ndim);
    return 1;
}

static int m_is_contiguous(lua_State *L)
{
    lua_pushboolean(L, cq_tensor_is_contiguous(cq__lua_check_tensor(L, 1)));
    return 1;
}

/* Read a full 1-based index from args start.. into idx (0-based). */
static void check_index(lua_State *L, cq_tensor *t, int start, int64_t *idx, const char *fname)
{
    if (lua_istable(L, start)) {
        if ((int)luaL_len(L, start) != t->ndim)
            luaL_argerror(L, start, lua_pushfstring(L, "expected %d indices", t->ndim));
        for (int i = 0; i < t->ndim; i++) {
            lua_geti(L, start, i + 1);
            idx[i] = (int64_t)luaL_checkinteger(L, -1) - 1;
            lua_pop(L, 1);
        }
    } else {
        for (int i = 0; i < t->ndim; i++)
            idx[i] = (int64_t)luaL_checkinteger(L, start + i) - 1;
    }
    for (int i = 0; i < t->ndim; i++)
        if (idx[i] < 0 || idx[i] >= t->shape[i])
            luaL_error(L, "bad argument #%d to '%s' (index %d is %d, dimension %d has size %d)",
                       start + (lua_istable(L, start) ? 0 : i), fname, i + 1, (int)(idx[i] + 1), i + 1,
                       (int)t->shape[i]);
}

static void push_number(lua_State *L, cq_dtype dt, double v)
{
    if (dt == CQ_BOOL)
        lua_pushboolean(L, v != 0.0);
    else if (!cq_dtype_info(dt)->is_float)
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnumber(L, v);
}

/* t:get(i, j, ...) or t:get{i, j} */
static int m_get(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    int64_t idx[CQ_MAX_DIMS];
    double v;
    check_index(L, t, 2, idx, "get");
    cq_err err;
    if (cq_tensor_get(t, idx, &v, &err))
        return luaL_error(L, "%s", err.msg);
    push_number(L, t->dtype, v);
    return 1;
}

/* t:set(i, j, ..., value) or t:set({i, j}, value) */
static int m_set(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    int64_t idx[CQ_MAX_DIMS];
    int vpos = lua_istable(L, 2) ? 3 : 2 + t->ndim;
    double v = lua_isboolean(L, vpos) ? lua_toboolean(L, vpos) : luaL_checknumber(L, vpos);
    check_index(L, t, 2, idx, "set");
    cq_err err;
    if (cq_tensor_set(t, idx, v, &err))
        return luaL_error(L, "%s", err.msg);
    lua_settop(L, 1);
    return 1;
}

static int m_fill(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    cq_tensor_fill(t, luaL_checknumber(L, 2));
    lua_settop(L, 1);
    return 1;
}

/* t:view(shape...) / t:reshape(shape...): one entry may be -1 */
static int reshape_impl(lua_State *L, int copy)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    int64_t shape[CQ_MAX_DIMS];
    int n = check_shape(L, 2, shape, 1);
    cq_err err;
    tbox *b = new_box(L);
    return push_or_raise(L, b, copy ? cq_tensor_reshape(t, n, shape, &err)
                                    : cq_tensor_view(t, n, shape, &err), &err);
}
static int m_view(lua_State *L) { return reshape_impl(L, 0); }
static int m_reshape(lua_State *L) { return reshape_impl(L, 1); }

static int check_dim(lua_State *L, cq_tensor *t, int arg)
{
    lua_Integer d = luaL_checkinteger(L, arg);
    if (d < 0)
        d += t->ndim + 1;
    luaL_argcheck(L, d >= 1 && d <= t->ndim, arg, "dimension out of range");
    return (int)d - 1;
}

/* t:slice(dim, first [, last [, step]]): 1-based, inclusive, as string.sub */
static int m_slice(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    int d = check_dim(L, t, 2);
    int64_t n = t->shape[d];
    lua_Integer first = luaL_checkinteger(L, 3);
    lua_Integer last = luaL_optinteger(L, 4, n);
    lua_Integer step = luaL_optinteger(L, 5, 1);
    luaL_argcheck(L, step >= 1, 5, "step must be >= 1");
    if (first < 0)
        first += n + 1;
    if (last < 0)
        last += n + 1;
    if (first < 1)
        first = 1;
    cq_err err;
    tbox *b = new_box(L);
    return push_or_raise(L, b, cq_tensor_slice(t, d, first - 1, last < first ? first - 1 : last, step, &err), &err);
}

static int m_transpose(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    int d0 = t->ndim >= 2 ? check_dim(L, t, 2) : 0;
    int d1 = t->ndim >= 2 ? check_dim(L, t, 3) : 0;
    cq_err err;
    tbox *b = new_box(L);
    return push_or_raise(L, b, cq_tensor_transpose(t, d0, d1, &err), &err);
}

/* t:permute{2, 1, 3} or t:permute(2, 1, 3) */
static int m_permute(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    int64_t p[CQ_MAX_DIMS];
    int perm[CQ_MAX_DIMS];
    int n = check_shape(L, 2, p, 0);
    luaL_argcheck(L, n == t->ndim, 2, "permutation must name every dimension once");
    for (int i = 0; i < n; i++)
        perm[i] = (int)p[i] - 1;
    cq_err err;
    tbox *b = new_box(L);
    return push_or_raise(L, b, cq_tensor_permute(t, perm, &err), &err);
}

static int m_contiguous(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    cq_err err;
    tbox *b = new_box(L);
    return push_or_raise(L, b, cq_tensor_contiguous(t, &err), &err);
}

static int m_clone(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    cq_err err;
    tbox *b = new_box(L);
    return push_or_raise(L, b, cq_tensor_clone(t, &err), &err);
}

/* One zero point: an integer that fits s32 (cq_quantize checks the dtype's range). */
static int32_t check_zp(lua_State *L, int idx, int arg)
{
    lua_Integer v = luaL_checkinteger(L, idx);
    if (v < INT32_MIN || v > INT32_MAX)
        luaL_argerror(L, arg, "zero point out of range");
    return (int32_t)v;
}

/* Quantization parameters: a number or a table of numbers. Returns count. */
static int64_t check_qparam(lua_State *L, int idx, float *fs, int32_t *is, int64_t max)
{
    if (lua_isnumber(L, idx)) {
        if (fs)
            fs[0] = (float)lua_tonumber(L, idx);
        else
            is[0] = check_zp(L, idx, idx);
        return 1;
    }
    luaL_checktype(L, idx, LUA_TTABLE);
    int64_t n = (int64_t)luaL_len(L, idx);
    luaL_argcheck(L, n >= 1 && n <= max, idx, "wrong number of quantization parameters");
    for (int64_t i = 0; i < n; i++) {
        lua_geti(L, idx, i + 1);
        if (fs)
            fs[i] = (float)luaL_checknumber(L, -1);
        else
            is[i] = check_zp(L, -1, idx);
        lua_pop(L, 1);
    }
    return n;
}

/* Shared by quantize / dequantize: parse scale, zp, axis; allocate in a
 * userdata so a later raise frees them. */
typedef struct { float *scale; int32_t *zp; int axis; } qparams;

static void check_qparams(lua_State *L, cq_tensor *t, int sarg, qparams *q)
{
    int axis = -1, has_zp = !lua_isnoneornil(L, sarg + 1);
    if (!lua_isnoneornil(L, sarg + 2))
        axis = check_dim(L, t, sarg + 2);
    int64_t groups = axis < 0 ? 1 : t->shape[axis];
    q->axis = axis;
    q->scale = lua_newuserdatauv(L, (size_t)groups * sizeof(float), 0);
    q->zp = lua_newuserdatauv(L, (size_t)groups * sizeof(int32_t), 0);
    int64_t ns = check_qparam(L, sarg, q->scale, NULL, groups);
    luaL_argcheck(L, ns == groups, sarg, "one scale per channel of the axis");
    if (!has_zp) {
        memset(q->zp, 0, (size_t)groups * sizeof(int32_t));
    } else {
        int64_t nz = check_qparam(L, sarg + 1, NULL, q->zp, groups);
        luaL_argcheck(L, nz == groups, sarg + 1, "one zero point per channel of the axis");
    }
}

/* t:to(dtype) or t:to("s8", scale [, zero_point [, axis]]) */
static int m_to(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    cq_dtype dt = check_dtype(L, 2, CQ_F32);
    cq_err err;
    if (!lua_isnoneornil(L, 3)) {
        qparams q;
        if (dt != CQ_S8 && dt != CQ_U8)
            luaL_argerror(L, 2, "a scale goes with s8 or u8 only");
        check_qparams(L, t, 3, &q);
        tbox *b = new_box(L);
        return push_or_raise(L, b, cq_quantize(t, dt, q.scale, q.zp, q.axis, &err), &err);
    }
    tbox *b = new_box(L);
    return push_or_raise(L, b, cq_tensor_to(t, dt, &err), &err);
}

/* q:dequantize(scale [, zero_point [, axis]]) -> f32 */
static int m_dequantize(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    qparams q;
    cq_err err;
    check_qparams(L, t, 2, &q);
    tbox *b = new_box(L);
    return push_or_raise(L, b, cq_dequantize(t, q.scale, q.zp, q.axis, &err), &err);
}

static void push_nested(lua_State *L, cq_tensor *t, int dim, int64_t *idx)
{
    if (dim == t->ndim) {
        double v;
        cq_err err;
        if (cq_tensor_get(t, idx, &v, &err))
            luaL_error(L, "%s", err.msg);
        push_number(L, t->dtype, v);
        return;
    }
    lua_createtable(L, (int)t->shape[dim], 0);
    for (int64_t i = 0; i < t->shape[dim]; i++) {
        idx[dim] = i;
        push_nested(L, t, dim + 1, idx);
        lua_rawseti(L, -2, i + 1);
    }
}

static int m_totable(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    int64_t idx[CQ_MAX_DIMS] = {0};
    luaL_checkstack(L, t->ndim + 4, "tensor too deep");
    push_nested(L, t, 0, idx);
    return 1;
}

/* Reductions over all elements, in double: handy in tests and recipes. */
static int m_stats(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    cq_err err;
    cq_tensor *f = cq_tensor_to(t, CQ_F32, &err);
    if (!f)
        return raise(L, &err);
    int64_t n = cq_tensor_numel(f);
    const float *x = cq_tensor_data(f);
    double sum = 0, mn = HUGE_VAL, mx = -HUGE_VAL;
    for (int64_t i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] < mn) mn = x[i];
        if (x[i] > mx) mx = x[i];
    }
    cq_tensor_release(f);
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, n ? mn : 0); lua_setfield(L, -2, "min");
    lua_pushnumber(L, n ? mx : 0); lua_setfield(L, -2, "max");
    lua_pushnumber(L, sum); lua_setfield(L, -2, "sum");
    lua_pushnumber(L, n ? sum / (double)n : 0); lua_setfield(L, -2, "mean");
    return 1;
}

/* Largest |a - b| (both converted to f32); shapes must match. */
static int m_maxdiff(lua_State *L)
{
    cq_tensor *a = cq__lua_check_tensor(L, 1), *b = cq__lua_check_tensor(L, 2);
    luaL_argcheck(L, a->ndim == b->ndim && cq_tensor_numel(a) == cq_tensor_numel(b), 2,
                  "shapes differ");
    for (int i = 0; i < a->ndim; i++)
        luaL_argcheck(L, a->shape[i] == b->shape[i], 2, "shapes differ");
    cq_err err;
    cq_tensor *fa = cq_tensor_to(a, CQ_F32, &err);
    cq_tensor *fb = fa ? cq_tensor_to(b, CQ_F32, &err) : NULL;
    if (!fb) {
        cq_tensor_release(fa);
        return raise(L, &err);
    }
    const float *x = cq_tensor_data(fa), *y = cq_tensor_data(fb);
    double m = 0;
    for (int64_t i = 0, n = cq_tensor_numel(fa); i < n; i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        if (d > m || d != d)
            m = d;
    }
    cq_tensor_release(fa);
    cq_tensor_release(fb);
    lua_pushnumber(L, m);
    return 1;
}

/* ---- metamethods ------------------------------------------------------- */

/* t[i]: a number for 1-D, a view of row i otherwise. Method names otherwise. */
static int mm_index(lua_State *L)
{
    if (lua_isinteger(L, 2)) {
        cq_tensor *t = cq__lua_check_tensor(L, 1);
        lua_Integer i = lua_tointeger(L, 2);
        if (t->ndim == 0)
            return luaL_error(L, "cannot index a scalar tensor (use t:get())");
        if (i < 1 || i > t->shape[0])
            return luaL_error(L, "index %d out of range (dimension 1 has size %d)", (int)i,
                              (int)t->shape[0]);
        if (t->ndim == 1) {
            int64_t idx[1] = {i - 1};
            double v;
            cq_err e;
            if (cq_tensor_get(t, idx, &v, &e))
                return luaL_error(L, "%s", e.msg);
            push_number(L, t->dtype, v);
            return 1;
        }
        cq_err err;
        tbox *b = new_box(L);
        cq_tensor *s = cq_tensor_slice(t, 0, i - 1, i, 1, &err);
        if (!s)
            return raise(L, &err);
        b->t = cq_tensor_view(s, t->ndim - 1, t->shape + 1, &err);
        cq_tensor_release(s);
        if (!b->t)
            return raise(L, &err);
        return 1;
    }
    luaL_getmetatable(L, CQ_LUA_TENSOR);
    lua_getfield(L, -1, "__methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int mm_newindex(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (t->ndim != 1)
        return luaL_error(L, "t[i] = v needs a 1-D tensor (use t:set())");
    if (i < 1 || i > t->shape[0])
        return luaL_error(L, "index %d out of range (dimension 1 has size %d)", (int)i,
                          (int)t->shape[0]);
    int64_t idx[1] = {i - 1};
    double v = lua_isboolean(L, 3) ? lua_toboolean(L, 3) : luaL_checknumber(L, 3);
    cq_err err;
    if (cq_tensor_set(t, idx, v, &err))
        return luaL_error(L, "%s", err.msg);
    return 0;
}

static int mm_len(lua_State *L)
{
    cq_tensor *t = cq__lua_check_tensor(L, 1);
    lua_pushinteger(L, t->ndim ? t->shape[0] : 1);
    return 1;
}

static int mm_tostring(lua_State *L)
{
    tbox *b = luaL_checkudata(L, 1, CQ_LUA_TENSOR);
    if (!b->t) {
        lua_pushliteral(L, "calq.Tensor (closed)");
        return 1;
    }
    char desc[160];
    cq_tensor_describe(b->t, desc, sizeof desc);
    luaL_Buffer buf;
    luaL_buffinit(L, &buf);
    luaL_addstring(&buf, "calq.Tensor ");
    luaL_addstring(&buf, desc);
    int64_t n = cq_tensor_numel(b->t);
    if (n <= 16) {
        const cq_dtype_traits *tr = cq_dtype_info(b->t->dtype);
        cq_err err;
        cq_tensor *c = cq_tensor_contiguous(b->t, &err);
        if (c) {
            luaL_addstring(&buf, " {");
            for (int64_t i = 0; i < n; i++) {
                char num[40];
                snprintf(num, sizeof num, i ? ", %.6g" : "%.6g",
                         tr->get((char *)cq_tensor_data(c) + (size_t)i * tr->size));
                luaL_addstring(&buf, num);
            }
            luaL_addstring(&buf, "}");
            cq_tensor_release(c);
        }
    }
    luaL_pushresult(&buf);
    return 1;
}

/* __gc and __close: idempotent. */
static int mm_gc(lua_State *L)
{
    tbox *b = luaL_checkudata(L, 1, CQ_LUA_TENSOR);
    cq_tensor_release(b->t);
    b->t = NULL;
    return 0;
}

static const luaL_Reg methods[] = {
    {"shape", m_shape}, {"dtype", m_dtype}, {"numel", m_numel}, {"dim", m_dim},
    {"is_contiguous", m_is_contiguous}, {"get", m_get}, {"set", m_set}, {"fill", m_fill},
    {"view", m_view}, {"reshape", m_reshape}, {"slice", m_slice}, {"transpose", m_transpose},
    {"permute", m_permute}, {"contiguous", m_contiguous}, {"clone", m_clone}, {"to", m_to},
    {"dequantize", m_dequantize}, {"totable", m_totable}, {"stats", m_stats},
    {"maxdiff", m_maxdiff}, {"close", mm_gc}, {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__index", mm_index}, {"__newindex", mm_newindex}, {"__len", mm_len},
    {"__tostring", mm_tostring}, {"__gc", mm_gc}, {"__close", mm_gc}, {NULL, NULL},
};

static const luaL_Reg functions[] = {
    {"new", l_tensor}, {"zeros", l_zeros}, {"full", l_full}, {"arange", l_arange},
    {NULL, NULL},
};

int cq__lua_open_tensor(lua_State *L)
{
    if (luaL_newmetatable(L, CQ_LUA_TENSOR)) {
        luaL_setfuncs(L, metamethods, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__methods");
        lua_pushliteral(L, "calq.Tensor");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    return 1;
}

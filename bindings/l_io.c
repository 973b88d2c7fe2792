/* l_io.c - calq.io: save / load (calq tensor files) and npy_read /
 * npy_write. Misuse raises; failures of the world return nil, msg, code.
 *
 *   calq.io.save(path, tensors [, meta]) -> true | nil, msg, code
 *       tensors: name -> calq.Tensor; array entries are stored as "1", "2", ...
 *       meta: string key -> string (or number) value
 *   calq.io.load(path) -> tensors, meta | nil, msg, code
 *       names that are positive decimal integers ("1", "12") come back as
 *       integer keys, so an array of tensors round-trips as an array.
 *   calq.io.npy_open(path) -> NpyReader | nil, msg, code: r:shape() ->
 *       {dims}, dtype; r:read(first, count [, step]) -> rows (1-based) of a
 *       file too large to load whole; r:close().
 *   calq.io.isatty(file) -> boolean: whether a Lua file handle is a terminal;
 *   calq.io.clock() -> seconds of a monotonic clock (calq.progress's rates);
 *   calq.io.write_atomic(path, text) -> true | nil, msg, code: path.tmp,
 *       fsync, rename (base/fileio.h; calq.fs.write_atomic uses it).
 */
#include "lcalq.h"
#include "base/fileio.h"
#include "io/npy.h"
#include "io/tfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READER_BOX "calq.TFileReader"

typedef struct { const char *name; cq_tensor *t; } named_tensor;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named_tensor *)a)->name, ((const named_tensor *)b)->name);
}

static const char *check_cstring(lua_State *L, int idx, int arg, const char *what)
{
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    if (!s || strlen(s) != n)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a string without NUL bytes", what));
    return s;
}

/* Collect (name, tensor) pairs from the table at 2 into a userdata (so a raise
 * frees it) left on the stack; integer keys 1..n get names "1".."n". Names
 * pushed for integer keys are anchored in a table at the top - 1. */
static named_tensor *collect_tensors(lua_State *L, int *count)
{
    lua_Integer len = luaL_len(L, 2), n = 0;
    lua_newtable(L); /* anchors for generated names */
    int anchors = lua_gettop(L);
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1))
        n++;
    if (n > 0x7fffffff)
        luaL_argerror(L, 2, "too many tensors");
    named_tensor *v = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *v, 0);
    int k = 0;
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
        cq_tensor *t = cq__lua_test_tensor(L, -1);
        const char *name;
        if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2)) {
            lua_Integer i = lua_tointeger(L, -2);
            if (i < 1 || i > len)
                luaL_argerror(L, 2, lua_pushfstring(L, "integer key %I is outside the array part",
                                                    i));
            lua_pushfstring(L, "%I", i);
            lua_rawseti(L, anchors, (lua_Integer)k + 1);
            lua_rawgeti(L, anchors, (lua_Integer)k + 1);
            name = lua_tostring(L, -1);
            lua_pop(L, 1);
        } else if (lua_type(L, -2) == LUA_TSTRING) {
            name = check_cstring(L, -2, 2, "a tensor name");
            if (!*name)
                luaL_argerror(L, 2, "a tensor name is empty");
        } else {
            return luaL_argerror(L, 2, lua_pushfstring(L, "keys must be names or array indices, "
                                                       "not %s", luaL_typename(L, -2))), NULL;
        }
        if (!t && luaL_testudata(L, -1, CQ_LUA_TENSOR))
            luaL_argerror(L, 2, lua_pushfstring(L, "tensors['%s'] is closed", name));
        if (!t)
            luaL_argerror(L, 2, lua_pushfstring(L, "tensors['%s'] is a %s, not a calq.Tensor",
                                                name, luaL_typename(L, -1)));
        v[k].name = name;
        v[k++].t = t;
    }
    qsort(v, (size_t)k, sizeof *v, cmp_named);
    *count = k;
    return v;
}

static void check_meta(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, idx, "metadata keys must be strings");
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            luaL_argerror(L, idx, lua_pushfstring(L, "metadata '%s' is a %s, not a string",
                                                  lua_tostring(L, -2), luaL_typename(L, -1)));
        check_cstring(L, -2, idx, "a metadata key");
        lua_pushvalue(L, -1); /* tolstring would turn a number key into a string in place */
        check_cstring(L, -1, idx, "a metadata value");
        lua_pop(L, 1);
    }
}

/* calq.io.save(path, tensors [, meta]) */
static int l_save(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    check_meta(L, 3);
    int n = 0;
    named_tensor *v = collect_tensors(L, &n);
    /* Everything is checked: from here on nothing raises while C owns w. */
    cq_err err;
    cq_tfile_writer *w = cq_tfile_create(path, &err);
    if (!w)
        return cq__lua_fail(L, &err);
    for (int i = 0; i < n; i++)
        if (cq_tfile_add(w, v[i].name, v[i].t, &err) != CQ_OK) {
            cq_tfile_abort(w);
            return cq__lua_fail(L, &err);
        }
    if (!lua_isnoneornil(L, 3))
        for (lua_pushnil(L); lua_next(L, 3); lua_pop(L, 1)) {
            lua_pushvalue(L, -1);
            const char *val = lua_tostring(L, -1);
            cq_status st = cq_tfile_set_meta(w, lua_tostring(L, -3), val, &err);
            lua_pop(L, 1);
            if (st != CQ_OK) {
                cq_tfile_abort(w);
                return cq__lua_fail(L, &err);
            }
        }
    if (cq_tfile_close(w, &err) != CQ_OK)
        return cq__lua_fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

static int reader_gc(lua_State *L)
{
    cq_tfile **box = luaL_checkudata(L, 1, READER_BOX);
    cq_tfile_free(*box);
    *box = NULL;
    return 0;
}

/* "12" -> 12; 0 for anything that is not a canonical positive integer. */
static lua_Integer array_index(const char *s)
{
    lua_Integer v = 0;
    if (*s < '1' || *s > '9' || strlen(s) > 15)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* calq.io.load(path) */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    cq_tfile **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    if (luaL_newmetatable(L, READER_BOX)) {
        lua_pushcfunction(L, reader_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    cq_err err;
    cq_tfile *r = *box = cq_tfile_open(path, &err);
    if (!r)
        return cq__lua_fail(L, &err);
    int n = cq_tfile_count(r);
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        cq_tensor *t = cq_tfile_read(r, i, &err);
        if (!t) {
            cq_tfile_free(r);
            *box = NULL;
            return cq__lua_fail(L, &err);
        }
        const char *name = cq_tfile_entry_at(r, i)->name;
        lua_Integer ai = array_index(name);
        cq__lua_push_tensor(L, t);
        if (ai > 0)
            lua_rawseti(L, -2, ai);
        else
            lua_setfield(L, -2, name);
    }
    lua_createtable(L, 0, cq_tfile_meta_count(r));
    for (int i = 0; i < cq_tfile_meta_count(r); i++) {
        const char *k, *v;
        cq_tfile_meta_at(r, i, &k, &v);
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
    cq_tfile_free(r);
    *box = NULL;
    return 2;
}

/* calq.io.npy_read(path) */
static int l_npy_read(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    cq_err err;
    cq_tensor *t = cq_npy_read(path, &err);
    if (!t)
        return cq__lua_fail(L, &err);
    cq__lua_push_tensor(L, t);
    return 1;
}

/* calq.io.npy_write(path, t) */
static int l_npy_write(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    cq_tensor *t = cq__lua_check_tensor(L, 2);
    cq_err err;
    if (cq_npy_write(path, t, &err) != CQ_OK)
        return cq__lua_fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- calq.io.npy_open(path) -> NpyReader: rows a few at a time ---------- */

#define NPY_BOX "calq.NpyReader"

static cq_npy_reader *check_npy(lua_State *L)
{
    cq_npy_reader **box = luaL_checkudata(L, 1, NPY_BOX);
    if (!*box)
        luaL_argerror(L, 1, "reader is closed");
    return *box;
}

static int npy_gc(lua_State *L)
{
    cq_npy_reader **box = luaL_checkudata(L, 1, NPY_BOX);
    cq_npy_close(*box);
    *box = NULL;
    return 0;
}

/* calq.io.npy_open(path) -> NpyReader | nil, msg, code */
static int l_npy_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    cq_npy_reader **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, NPY_BOX);
    cq_err err;
    if (!(*box = cq_npy_open(path, &err)))
        return cq__lua_fail(L, &err);
    return 1;
}

/* reader:shape() -> {d1, d2, ...}, dtype name */
static int npy_shape(lua_State *L)
{
    int64_t shape[CQ_MAX_DIMS];
    cq_dtype dt;
    int nd = cq_npy_shape(check_npy(L), &dt, shape);
    lua_createtable(L, nd, 0);
    for (int i = 0; i < nd; i++) {
        lua_pushinteger(L, (lua_Integer)shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushstring(L, cq_dtype_info(dt)->name);
    return 2;
}

/* reader:read(first, count [, step = 1]) -> Tensor of rows first, first +
 * step, ... (count of them; 1-based, along the first dimension) | nil, msg, code */
static int npy_rows(lua_State *L)
{
    cq_npy_reader *r = check_npy(L);
    lua_Integer first = luaL_checkinteger(L, 2), count = luaL_checkinteger(L, 3);
    lua_Integer step = luaL_optinteger(L, 4, 1);
    luaL_argcheck(L, first >= 1, 2, "rows count from 1");
    luaL_argcheck(L, count >= 1, 3, "count must be >= 1");
    luaL_argcheck(L, step >= 1, 4, "step must be >= 1");
    cq_err err;
    cq_tensor *t = cq_npy_read_rows(r, (int64_t)first - 1, (int64_t)count, (int64_t)step, &err);
    if (!t)
        return cq__lua_fail(L, &err);
    cq__lua_push_tensor(L, t);
    return 1;
}

static const luaL_Reg npy_methods[] = {
    {"shape", npy_shape}, {"read", npy_rows}, {"close", npy_gc}, {NULL, NULL},
};

/* calq.io.isatty(file) -> whether the Lua file handle (io.stderr, ...) is a
 * terminal: calq.progress draws a bar there and prints plain lines elsewhere. */
static int l_isatty(lua_State *L)
{
    luaL_Stream *f = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    lua_pushboolean(L, f->closef != NULL && f->f != NULL && isatty(fileno(f->f)));
    return 1;
}

/* calq.io.clock() -> seconds of a monotonic clock (CLOCK_MONOTONIC), for
 * rates and time left: os.clock counts CPU time, os.time whole seconds. */
static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* calq.io.write_atomic(path, text) -> true | nil, msg, code */
static int l_write_atomic(lua_State *L)
{
    const char *path = check_cstring(L, 1, 1, "path");
    size_t n;
    const char *text = luaL_checklstring(L, 2, &n);
    cq_err err;
    if (cq_write_atomic(path, text, n, &err) != CQ_OK)
        return cq__lua_fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg functions[] = {
    {"save", l_save}, {"load", l_load}, {"npy_read", l_npy_read}, {"npy_write", l_npy_write},
    {"npy_open", l_npy_open}, {"isatty", l_isatty},
    {"clock", l_clock}, {"write_atomic", l_write_atomic}, {NULL, NULL},
};

int cq__lua_open_io(lua_State *L)
{
    if (luaL_newmetatable(L, NPY_BOX)) {
        lua_pushcfunction(L, npy_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, npy_gc);
        lua_setfield(L, -2, "__close");
        luaL_newlib(L, npy_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    return 1;
}

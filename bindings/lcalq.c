/* lcalq.c - luaopen_calq_core: the C half of the calq Lua module, one
 * function table per concern (lcalq.h; the public names are in docs/lua-api.md). */
#include "lcalq.h"

#include <malloc.h>
#include <stdlib.h>

int cq__lua_fail(lua_State *L, const cq_err *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err->msg);
    lua_pushstring(L, cq_status_name(err->code));
    return 3;
}

void cq__lua_new_class(lua_State *L, const char *name, const luaL_Reg *meta,
                       const luaL_Reg *methods)
{
    if (luaL_newmetatable(L, name)) {
        luaL_setfuncs(L, meta, 0);
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

__attribute__((visibility("default"))) int luaopen_calq_core(lua_State *L);

/* Blocks of 1 MiB and more (batches of inputs, tensors read from files) come
 * from mmap and go back to the system when freed. glibc otherwise raises its
 * mmap threshold to the size of the last such block freed and serves the next
 * ones from the heap, where small blocks made in between pin them: a
 * calibration over batches of 25 MB BlazeFace inputs grew by a batch every
 * batch (bench/calib_memory.sh, bench/NOTES.md). Set when the module loads, so
 * every Lua host gets it, not only the calq command; a threshold the user set
 * in the environment (MALLOC_MMAP_THRESHOLD_) is left alone. */
static void set_mmap_threshold(void)
{
    if (!getenv("MALLOC_MMAP_THRESHOLD_"))
        mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

int luaopen_calq_core(lua_State *L)
{
    set_mmap_threshold();
    /* onnx before exec: exec adds its methods to onnx's calq.Model */
    static const luaL_Reg groups[] = {
        {"tensor", cq__lua_open_tensor}, {"io", cq__lua_open_io}, {"onnx", cq__lua_open_onnx},
        {"exec", cq__lua_open_exec}, {"data", cq__lua_open_data}, {"image", cq__lua_open_image},
        {"rng", cq__lua_open_rng}, {"calib", cq__lua_open_calib}, {"quant", cq__lua_open_quant},
        {"hw", cq__lua_open_hw}, {"knobs", cq__lua_open_knobs},
        {"cost", cq__lua_open_cost}, {NULL, NULL},
    };
    lua_createtable(L, 0, 10);
    for (const luaL_Reg *g = groups; g->name; g++) {
        g->func(L);
        lua_setfield(L, -2, g->name);
    }
    lua_pushliteral(L, "0.1.0");
    lua_setfield(L, -2, "version");
    return 1;
}

/* lcalq.c - luaopen_calq_core: the C half of the calq Lua module, one
 * function table per concern (lcalq.h; the public names are in docs/lua-api.md). */
#include "lcalq.h"

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

int luaopen_calq_core(lua_State *L)
{
    /* onnx before exec: exec adds its methods to onnx's calq.Model */
    static const luaL_Reg groups[] = {
        {"tensor", cq__lua_open_tensor}, {"io", cq__lua_open_io}, {"onnx", cq__lua_open_onnx},
        {"exec", cq__lua_open_exec}, {"data", cq__lua_open_data}, {"image", cq__lua_open_image},
        {"rng", cq__lua_open_rng}, {"calib", cq__lua_open_calib}, {"quant", cq__lua_open_quant},
        {NULL, NULL},
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

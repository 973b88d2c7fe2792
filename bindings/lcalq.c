/* lcalq.c - luaopen_calq_core: the C half of the calq Lua module. */
#include "lcalq.h"

int cq__lua_fail(lua_State *L, const cq_err *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err->msg);
    lua_pushstring(L, cq_status_name(err->code));
    return 3;
}

__attribute__((visibility("default"))) int luaopen_calq_core(lua_State *L);

int luaopen_calq_core(lua_State *L)
{
    lua_newtable(L);
    cq__lua_open_tensor(L);
    cq__lua_open_onnx(L);
    cq__lua_open_exec(L);
    cq__lua_open_data(L);
    cq__lua_open_image(L);
    cq__lua_open_io(L);
    lua_pushliteral(L, "0.1.0");
    lua_setfield(L, -2, "version");
    return 1;
}

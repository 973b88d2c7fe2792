/*
 * lcalq.h - internal interface of the Lua binding (calq.core).
 *
 * Each binding file owns one concern and exports one opener that adds its
 * functions (and metatables) to the module table at the top of the stack:
 *     void cq__lua_open_tensor(lua_State *L);
void cq__lua_open_io(lua_State *L);
 * luaopen_calq_core() calls them in order. Errors: misuse raises with
 * luaL_argerror / luaL_typeerror; failures of the world return nil, message,
 * code (see cq__lua_fail).
 */
#ifndef CQ_LCALQ_H
#define CQ_LCALQ_H

#include <lua.h>
#include <lauxlib.h>
#include "status.h"
#include "tensor.h"

#define CQ_LUA_TENSOR "calq.Tensor"

/* Push nil, err->msg, status name; returns 3 (for `return cq__lua_fail(L, &err)`). */
int cq__lua_fail(lua_State *L, const cq_err *err);

/* Tensors: push a new userdata that takes over the reference t (t may be NULL:
 * then pushes nothing and returns 0 -- callers check first). */
void cq__lua_push_tensor(lua_State *L, cq_tensor *t);
/* The tensor at idx, or raise a "bad argument" error. Borrowed reference. */
cq_tensor *cq__lua_check_tensor(lua_State *L, int idx);
cq_tensor *cq__lua_test_tensor(lua_State *L, int idx);

void cq__lua_open_tensor(lua_State *L);
void cq__lua_open_io(lua_State *L);

#endif

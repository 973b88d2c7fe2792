/*
 * host.c - embedding calq in a program of one's own (docs/embedding.md).
 *
 *     host [-L LUADIR] RECIPE.lua [ARG...]
 *
 * The host owns its lua_State: it opens the standard libraries, registers
 * calq's C module (luaopen_calq_core, linked into this program) as
 * "calq.core" in package.loaded, puts LUADIR (where calq/init.lua is: the
 * repo's scripts/ or an installed share/lua/5.4) in front of package.path,
 * and runs RECIPE.lua with arg = {[0] = RECIPE.lua, ARG...}, as `calq run`
 * and lua5.4 do. `require "calq"` in the recipe then finds the Lua part by
 * package.path and the C part already loaded.
 *
 * Exit status: what the recipe returns if it returns an integer (0 if it
 * returns nothing or true, 1 for false), 1 when it raises an error (the
 * message, with a traceback, on stderr), 2 for bad usage or a recipe that
 * cannot be read or compiled.
 *
 * Build (from an installed calq: the module's objects are not in libcalq, so
 * a host that links calq.core in builds it from bindings/; the Makefile's
 * `make examples` does that), or leave luaopen_calq_core out and let
 * `require "calq"` load calq/core.so by package.cpath.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_calq_core(lua_State *L); /* bindings/lcalq.c */

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* package.path = DIR/?.lua;DIR/?/init.lua;<what it was> */
static void prepend_path(lua_State *L, const char *dir)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

static int usage(void)
{
    fprintf(stderr, "usage: host [-L LUADIR] RECIPE.lua [ARG...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *luadir = NULL;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "-L") == 0) {
        luadir = argv[2];
        first = 3;
    }
    if (first >= argc || argv[first][0] == '-')
        return usage();
    const char *recipe = argv[first];

    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "host: cannot create a Lua state (out of memory)\n");
        return 1;
    }
    luaL_openlibs(L);
    /* calq.core into package.loaded, as require would put it */
    luaL_requiref(L, "calq.core", luaopen_calq_core, 0);
    lua_pop(L, 1);
    if (luadir)
        prepend_path(L, luadir);

    /* arg: the recipe at 0, its arguments from 1 */
    lua_createtable(L, argc - first, 1);
    for (int i = first; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - first);
    }
    lua_setglobal(L, "arg");

    int code;
    lua_pushcfunction(L, traceback);
    if (luaL_loadfile(L, recipe) != LUA_OK) {
        /* the message names the file, and the line for a syntax error */
        fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
        code = 2;
    } else {
        for (int i = first + 1; i < argc; i++)
            lua_pushstring(L, argv[i]);
        if (lua_pcall(L, argc - first - 1, 1, 1) != LUA_OK) {
            fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
            code = 1;
        } else if (lua_isinteger(L, -1)) {
            code = (int)lua_tointeger(L, -1);
        } else if (lua_isboolean(L, -1)) {
            code = lua_toboolean(L, -1) ? 0 : 1;
        } else {
            code = 0;
        }
    }
    lua_close(L); /* collects the recipe's models and tensors */
    return code;
}

/*
 * main.c - the calq command: a small C host that embeds Lua 5.4.
 *
 * It opens its own lua_State, preloads the C module (calq.core) and every Lua
 * module under scripts/calq/ (compiled into the binary by tools/embed.lua, so
 * the command runs from anywhere), then hands argv to calq.cli.main. Setting
 * CALQ_SCRIPTS=DIR loads the Lua modules from DIR instead, for development.
 *
 * Ctrl-C (SIGINT) stops the work cleanly, as lua.c does: the handler only
 * sets a hook, and the hook raises the error "interrupted" at the next Lua
 * instruction, which unwinds like any error (files are written to NAME.tmp
 * and renamed when complete, and calq.fs.write_atomic removes its .tmp when
 * interrupted). The command then exits 130 with "calq: interrupted". A
 * second Ctrl-C before the hook runs kills the process (the default).
 * SIGTERM (kill, a batch system's time limit) does the same and exits 143.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_calq_core(lua_State *L);

struct cq_script { const char *name; const char *chunkname; const char *src; size_t len; };
extern const struct cq_script cq_scripts[];
extern const size_t cq_nscripts;

static lua_State *main_state;
static volatile sig_atomic_t interrupted;

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    lua_pushliteral(L, "interrupted");
    lua_error(L);
}

static void on_sigint(int sig)
{
    signal(sig, SIG_DFL); /* a second Ctrl-C kills */
    interrupted = sig;
    lua_sethook(main_state, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static int load_embedded(lua_State *L)
{
    const struct cq_script *s = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbuffer(L, s->src, s->len, s->chunkname) != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, s->name);
    lua_call(L, 1, 1);
    return 1;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = luaL_tolstring(L, 1, NULL);
    /* errors raised on purpose by the CLI carry no traceback */
    if (getenv("CALQ_TRACEBACK"))
        luaL_traceback(L, L, msg, 1);
    else
        lua_pushstring(L, msg);
    return 1;
}

static int run(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_calq_core);
    lua_setfield(L, -2, "calq.core");
    if (!getenv("CALQ_SCRIPTS")) {
        for (size_t i = 0; i < cq_nscripts; i++) {
            lua_pushlightuserdata(L, (void *)&cq_scripts[i]);
            lua_pushcclosure(L, load_embedded, 1);
            lua_setfield(L, -2, cq_scripts[i].name);
        }
    } else {
        lua_getglobal(L, "package");
        lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", getenv("CALQ_SCRIPTS"), getenv("CALQ_SCRIPTS"));
        lua_setfield(L, -2, "path");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_createtable(L, argc, 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    lua_setglobal(L, "arg");
    lua_getglobal(L, "require");
    lua_pushliteral(L, "calq.cli");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "main");
    lua_getglobal(L, "arg");
    lua_call(L, 1, 1);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "calq: cannot create a Lua state (out of memory)\n");
        return 2;
    }
    main_state = L;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    lua_pushcfunction(L, traceback);
    lua_pushcfunction(L, run);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 1);
    int code = 0;
    if (interrupted) {
        /* whatever the error became on its way up (or none, if a pcall ate it) */
        fprintf(stderr, "%scalq: interrupted\n", isatty(2) ? "\r\033[K" : "");
        code = 128 + interrupted;
    } else if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (!msg)
            msg = "(error object is not a string)";
        /* messages of the subcommands already start with "calq NAME: " */
        fprintf(stderr, strncmp(msg, "calq", 4) == 0 ? "%s\n" : "calq: %s\n", msg);
        code = 1;
    } else if (lua_isinteger(L, -1)) {
        code = (int)lua_tointeger(L, -1);
    }
    lua_close(L);
    return code;
}

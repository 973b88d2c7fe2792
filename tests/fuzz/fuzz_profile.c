/* fuzz_profile: the hardware-profile loader. Any bytes as a profile file
 * through scripts/calq/profile.lua's load (its sandbox, then core.hw.check)
 * in one lua_State with calq's bindings; a profile that loads goes through
 * bindings/l_hw.c's lcalq_tohw and cq_hw_check again (both must accept it),
 * the estimators' lookups, and profile.write -> profile.load, which must
 * give the same cq_hw. profile.load must never raise: a bad file is nil,
 * a message naming the file, and a code. */
#include "fuzz_util.h"
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include "cost/hw.h"

int luaopen_calq_core(lua_State *L);
int lcalq_tohw(lua_State *L, int idx, cq_hw *out);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#ifndef CALQ_SRC_DIR
#define CALQ_SRC_DIR "."
#endif

static lua_State *L;
static int profile_ref = LUA_NOREF;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_calq_core);
    lua_setfield(L, -2, "calq.core");
    lua_pop(L, 1);
    const char *src = getenv("CALQ_SRC") ? getenv("CALQ_SRC") : CALQ_SRC_DIR;
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/scripts/?.lua;%s/scripts/?/init.lua", src, src);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "calq.profile");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fprintf(stderr, "fuzz_profile: require calq.profile: %s\n", lua_tostring(L, -1));
        abort();
    }
    profile_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static int tohw(lua_State *l)
{
    lcalq_tohw(l, 1, lua_touserdata(l, 2));
    return 0;
}

/* profile.FN(args at the top of the stack): its results (nargs replaced by
 * them); a raise is a crash */
static int call(const char *fn, int nargs, int nres)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, profile_ref);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    lua_insert(L, -nargs - 1);
    if (lua_pcall(L, nargs, nres, 0) != LUA_OK) {
        fprintf(stderr, "profile.%s raised: %s\n", fn, lua_tostring(L, -1));
        abort();
    }
    return lua_gettop(L);
}

/* the table at idx as a cq_hw (must convert and check) */
static void to_hw(int idx, cq_hw *hw)
{
    lua_pushcfunction(L, tohw);
    lua_pushvalue(L, idx);
    lua_pushlightuserdata(L, hw);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        fprintf(stderr, "a profile that loaded fails lcalq_tohw: %s\n", lua_tostring(L, -1));
        abort();
    }
    cq_err err;
    if (cq_hw_check(hw, &err) != CQ_OK) abort();
}

/* the same profile: every field, the efficiencies in any order */
static int same_hw(const cq_hw *a, const cq_hw *b)
{
    if (a->n_eff != b->n_eff) return 0;
    for (int i = 0; i < a->n_eff; i++)
        if (cq_hw_efficiency(b, a->eff[i].name) != a->eff[i].value) return 0;
    cq_hw x, y; /* memcpy keeps the padding lcalq_tohw zeroed */
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    memset(x.eff, 0, sizeof x.eff);
    memset(y.eff, 0, sizeof y.eff);
    return memcmp(&x, &y, sizeof x) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L) LLVMFuzzerInitialize(NULL, NULL);
    const char *path = fuzz_file("p.lua", data, size);
    char copy[512];
    snprintf(copy, sizeof copy, "%s/copy.lua", fuzz_dir());
    lua_settop(L, 0);
    lua_pushstring(L, path);
    call("load", 1, 3);
    if (lua_isnil(L, 1)) {
        const char *msg = lua_tostring(L, 2), *code = lua_tostring(L, 3);
        if (!msg || !code || strncmp(msg, path, strlen(path)) != 0) {
            fprintf(stderr, "profile.load failed without naming the file: %s (%s)\n",
                    msg ? msg : "(no message)", code ? code : "no code");
            abort();
        }
    } else {
        if (!lua_istable(L, 1)) abort();
        cq_hw hw, back;
        to_hw(1, &hw);
        (void)cq_hw_efficiency(&hw, "f32_conv");
        (void)cq_hw_efficiency(&hw, "s8_dw");
        for (double b = 1024; b < 1e10; b *= 8) (void)cq_hw_cache_level(&hw, b);
        for (int k = 0; k < CQ_HW_MAC_COUNT; k++) {
            double p = cq_hw_peak_gmacs(&hw, (cq_hw_mac)k);
            if (!(p >= 0) || !isfinite(p)) abort();
        }
        lua_settop(L, 1);
        lua_pushvalue(L, 1);
        lua_pushstring(L, copy);
        call("write", 2, 3);
        if (!lua_toboolean(L, 2)) {
            fprintf(stderr, "profile.write failed: %s\n", lua_tostring(L, 3));
            abort();
        }
        lua_settop(L, 1);
        lua_pushstring(L, copy);
        call("load", 1, 3);
        if (!lua_istable(L, 2)) {
            fprintf(stderr, "a written profile does not load: %s\n", lua_tostring(L, 3));
            abort();
        }
        to_hw(2, &back);
        if (!same_hw(&hw, &back)) {
            fprintf(stderr, "profile.write -> load changed the profile\n");
            abort();
        }
    }
    lua_settop(L, 0);
    static unsigned runs;
    if (++runs % 64 == 0) lua_gc(L, LUA_GCCOLLECT);
    return 0;
}

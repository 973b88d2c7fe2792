/* l_rng.c - calq.rng: the core's PRNG (base/rng.h, xoshiro256** seeded by
 * SplitMix64) as calq.Rng userdata, so Lua code draws the same numbers the C
 * sampler does for a seed instead of keeping a generator of its own.
 *
 *   local r = calq.rng.new(7)
 *   r:below(6)        -- 0..5, cq_rng_below
 *   r:int(1, 6)       -- 1..6, lo + below(hi - lo + 1)
 *   r:float()         -- [0, 1): the top 53 bits of next() times 2^-53
 *   r:shuffle(list)   -- in place, cq_rng_shuffle's order: calq.rng.new(s):shuffle(
 *                     -- {1..n}, k) lists what the "uniform" policy picks with seed s
 */
#include "lcalq.h"

#include <stdint.h>

#include "base/rng.h"

#define CQ_LUA_RNG "calq.Rng"

static cq_rng *check_rng(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, CQ_LUA_RNG);
}

/* calq.rng.new([seed = 0]): any integer; the C sampler reads its seed the same
 * way (the integer's 64 bits). */
static int l_new(lua_State *L)
{
    lua_Integer seed = luaL_optinteger(L, 1, 0);
    cq_rng *r = lua_newuserdatauv(L, sizeof *r, 0);
    luaL_setmetatable(L, CQ_LUA_RNG);
    cq_rng_seed(r, (uint64_t)seed);
    return 1;
}

/* r:next() -> the next 64 bits as a Lua integer (wrapping, so it may be negative) */
static int m_next(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)cq_rng_next(check_rng(L, 1)));
    return 1;
}

/* r:below(n) -> uniform integer in 0..n-1, n >= 1 */
static int m_below(lua_State *L)
{
    cq_rng *r = check_rng(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 1, 2, "n must be >= 1");
    lua_pushinteger(L, (lua_Integer)cq_rng_below(r, (uint64_t)n));
    return 1;
}

/* r:int(lo, hi) -> uniform integer in lo..hi */
static int m_int(lua_State *L)
{
    cq_rng *r = check_rng(L, 1);
    lua_Integer lo = luaL_checkinteger(L, 2), hi = luaL_checkinteger(L, 3);
    luaL_argcheck(L, hi >= lo, 3, "hi must be >= lo");
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1; /* 0: the whole 64-bit range */
    uint64_t x = span ? cq_rng_below(r, span) : cq_rng_next(r);
    lua_pushinteger(L, (lua_Integer)((uint64_t)lo + x));
    return 1;
}

/* r:float() -> uniform in [0, 1) with 53 random bits */
static int m_float(lua_State *L)
{
    uint64_t x = cq_rng_next(check_rng(L, 1)) >> 11;
    lua_pushnumber(L, (lua_Number)x * (1.0 / 9007199254740992.0));
    return 1;
}

/* r:shuffle(list [, k]) -> list, shuffled in place by cq_rng_shuffle (only the
 * first k positions settled when k < #list). The permutation is drawn on
 * record positions, so the draws are exactly the C sampler's. */
static int m_shuffle(lua_State *L)
{
    cq_rng *r = check_rng(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    lua_Integer k = luaL_optinteger(L, 3, n);
    luaL_argcheck(L, k >= 0, 3, "k must be >= 0");
    luaL_argcheck(L, n <= (1 << 28), 2, "list too long");
    lua_settop(L, 2);
    int64_t *perm = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *perm, 0); /* 3 */
    for (lua_Integer i = 0; i < n; i++)
        perm[i] = i;
    cq_rng_shuffle(r, perm, n, k);
    lua_createtable(L, (int)n, 0); /* 4: the entries in their old order */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        lua_rawseti(L, 4, i);
    }
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, 4, perm[i] + 1);
        lua_rawseti(L, 2, i + 1);
    }
    lua_settop(L, 2);
    return 1;
}

static int mm_tostring(lua_State *L)
{
    check_rng(L, 1);
    lua_pushliteral(L, "calq.Rng (xoshiro256**)");
    return 1;
}

static const luaL_Reg methods[] = {
    {"next", m_next}, {"below", m_below}, {"int", m_int}, {"float", m_float},
    {"shuffle", m_shuffle}, {NULL, NULL},
};

static const luaL_Reg metamethods[] = {{"__tostring", mm_tostring}, {NULL, NULL}};

static const luaL_Reg functions[] = {{"new", l_new}, {NULL, NULL}};

int cq__lua_open_rng(lua_State *L)
{
    cq__lua_new_class(L, CQ_LUA_RNG, metamethods, methods);
    luaL_newlib(L, functions);
    return 1;
}

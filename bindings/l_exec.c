/* l_exec.c - running models from Lua: Model:plan(), :run{}, :time(),
 * :profile(), :reset_profile(), :profile_clock(), :set_threads(),
 * :set_precision(), :memory(), :set_observer();
 * calq.exec.ops(), calq.exec.conform_case(), calq.exec.conform_dirs().
 *
 *   local m = assert(calq.onnx.load("model.onnx"))
 *   local out = assert(m:run{input = x})      -- {name = Tensor, ...}
 *   for _, p in ipairs(m:profile()) do print(p.op_type, p.name, p.ms) end
 *
 * The executor of a model is kept in a weak-keyed registry table (model ->
 * calq.Exec userdata), so it lives as long as the model. Every method here
 * needs it, so each one plans the model when it has no plan yet (or the graph
 * was edited since): model:plan() does only that, the others say so in their
 * comments and in docs/lua-api.md, and all return nil, msg, code when planning
 * fails. Planning rewrites the model's graph (constant folding, BN folding);
 * model:save() afterwards writes the optimized graph. Loading does not plan,
 * so a model loaded to be read or saved stays as its file has it. */
#include "lcalq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/exec.h"
#include "ops/ops.h"
#include "quant/quant.h"

#define CQ_LUA_EXEC "calq.Exec"
#define EXEC_REGISTRY "calq.execs"

/* The observer function is the user value 1 of the box, not a registry
 * reference: an observer closure that captures its model then forms a cycle
 * through the weak-keyed registry, which the collector can free. */
typedef struct {
    cq_exec *e;
    cq_graph *g;
    lua_State *L;  /* set during run/time, for the observer */
    int obs_idx;   /* stack index of the observer function during run/time */
    int has_observer;
    int obs_error;
    int threads;   /* model:set_threads(), kept across a re-plan; 0: the process's */
    int clock;     /* model:reset_profile(clock) + 1, kept across a re-plan; 0: none */
    cq_dtype *prec; /* model:set_precision()'s map (n_prec entries, malloc'd); NULL: f32.
                     * Indexed like the planned graph's nodes: a re-plan drops it */
    int n_prec;
} ebox;

/* A re-planned executor keeps the profile clock model:reset_profile(clock)
 * chose (else cq_exec_new's, from CALQ_PROFILE_CLOCK). */
static void keep_clock(ebox *b)
{
    if (b->e && b->clock)
        cq_exec_set_profile_clock(b->e, (cq_exec_clock)(b->clock - 1));
}

static int exec_gc(lua_State *L)
{
    ebox *b = luaL_checkudata(L, 1, CQ_LUA_EXEC);
    cq_exec_free(b->e);
    b->e = NULL;
    free(b->prec);
    b->prec = NULL;
    return 0;
}

/* Push the registry table model -> exec (weak keys). */
static void push_registry(lua_State *L)
{
    if (luaL_getsubtable(L, LUA_REGISTRYINDEX, EXEC_REGISTRY) == 0) {
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
    }
}

/* Push the calq.Exec box of the model at idx (nil when none). */
static void push_exec_box(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    push_registry(L);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    lua_remove(L, -2);
}

static int observer_cb(void *ud, const cq_graph *g, int node, int output, const cq_tensor *t);

int cq__lua_model_planned(lua_State *L, int idx)
{
    int busy;
    cq_graph *g = cq__lua_test_model(L, idx, &busy);
    push_exec_box(L, idx);
    ebox *b = luaL_testudata(L, -1, CQ_LUA_EXEC);
    lua_pop(L, 1);
    return g && b && b->e && b->g == g;
}

/* The executor of the model at idx (planned on first use, planned again when
 * the graph was edited since); NULL with err filled when planning fails (an
 * operator calq lacks...): callers return nil, msg, code. Raises "model is
 * running" when called from the model's own observer. */
static ebox *get_exec(lua_State *L, int idx, cq_err *err)
{
    cq_graph *g = cq__lua_check_idle_model(L, idx);
    const cq_limits *lim = cq__lua_model_limits(L, idx);
    push_registry(L);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    ebox *b = luaL_testudata(L, -1, CQ_LUA_EXEC);
    if (b && b->e && b->g == g && !cq_exec_is_stale(b->e)) {
        lua_pop(L, 2);
        return b;
    }
    if (b && b->e && b->g == g) {
        /* the graph was edited: drop the old plan, keep the observer */
        cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
        o.threads = b->threads;
        o.limits = lim;
        free(b->prec); /* its indices were the old graph's */
        b->prec = NULL;
        cq_exec_free(b->e);
        b->e = cq_exec_new(g, &o, err);
        if (!b->e) {
            lua_pop(L, 2);
            return NULL;
        }
        keep_clock(b);
        if (b->has_observer)
            cq_exec_set_observer(b->e, observer_cb, b);
        lua_pop(L, 2);
        return b;
    }
    lua_pop(L, 1);
    b = lua_newuserdatauv(L, sizeof *b, 1);
    memset(b, 0, sizeof *b);
    if (luaL_newmetatable(L, CQ_LUA_EXEC)) {
        lua_pushcfunction(L, exec_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, exec_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
    cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
    o.limits = lim;
    b->e = cq_exec_new(g, &o, err);
    if (!b->e) {
        lua_pop(L, 2);
        return NULL;
    }
    b->g = g;
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_pop(L, 2);
    return b;
}

typedef struct {
    const cq_graph *g;
    int node, output;
    const cq_tensor *t;
} obs_args;

/* Under lua_pcall: fn, args -> fn's result. Everything that can raise (the
 * info table, the copy of the tensor) happens here, never in cq_exec_run's
 * frame. */
static int observer_call(lua_State *L)
{
    const obs_args *a = lua_touserdata(L, 2);
    const cq_node *n = &a->g->nodes[a->node];
    lua_settop(L, 1);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, a->node + 1);
    lua_setfield(L, -2, "index");
    lua_pushstring(L, n->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, n->op_type);
    lua_setfield(L, -2, "op_type");
    lua_pushstring(L, a->g->values[n->outputs[a->output]].name);
    lua_setfield(L, -2, "output");
    cq_err err;
    cq_tensor *copy = cq_tensor_clone(a->t, &err);
    if (!copy)
        return luaL_error(L, "observer: %s", err.msg);
    cq__lua_push_tensor(L, copy);
    lua_call(L, 2, 1);
    return 1;
}

static int observer_cb(void *ud, const cq_graph *g, int node, int output, const cq_tensor *t)
{
    ebox *b = ud;
    lua_State *L = b->L;
    if (!L || !lua_checkstack(L, 4)) {
        b->obs_error = 2;
        return 1;
    }
    obs_args a = {g, node, output, t};
    lua_pushcfunction(L, observer_call);
    lua_pushvalue(L, b->obs_idx);
    lua_pushlightuserdata(L, &a);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        b->obs_error = 1;
        return 1; /* the message stays on the stack */
    }
    /* Returning false stops the run. */
    int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    return stop;
}

/* Around cq_exec_run: the model at 1 is busy, the observer (or nil) is pushed
 * and its index kept for observer_cb. */
static void begin_run(lua_State *L, ebox *b)
{
    push_exec_box(L, 1);
    lua_getiuservalue(L, -1, 1);
    lua_remove(L, -2);
    b->obs_idx = lua_gettop(L);
    b->L = L;
    b->obs_error = 0;
    cq__lua_model_set_busy(L, 1, 1);
}

static void end_run(lua_State *L, ebox *b)
{
    cq__lua_model_set_busy(L, 1, 0);
    b->L = NULL;
}

/* After a run the observer failed: the error to raise is on the stack top. */
static int observer_error(lua_State *L, ebox *b)
{
    if (b->obs_error == 2)
        return luaL_error(L, "observer: Lua stack overflow");
    return lua_error(L);
}

void cq__lua_check_inputs(lua_State *L, int arg, const cq_graph *g, cq_tensor **in)
{
    if (g->n_inputs > CQ_LUA_MAX_INPUTS)
        luaL_error(L, "model has more than %d inputs", CQ_LUA_MAX_INPUTS);
    if (cq__lua_test_tensor(L, arg)) {
        if (g->n_inputs != 1)
            luaL_argerror(L, arg, "the model takes several inputs: pass {name = tensor}");
        in[0] = cq__lua_check_tensor(L, arg);
        return;
    }
    luaL_checktype(L, arg, LUA_TTABLE);
    for (int i = 0; i < g->n_inputs; i++) {
        const char *name = g->values[g->inputs[i]].name;
        lua_getfield(L, arg, name);
        in[i] = cq__lua_test_tensor(L, -1);
        lua_pop(L, 1);
        if (!in[i])
            luaL_argerror(L, arg, lua_pushfstring(L, "no tensor for input '%s'", name));
    }
}

/* Under lua_pcall: moves the outputs out[0..n) into a new table {name =
 * Tensor}, setting each out[i] to NULL once a box owns it, so the caller can
 * release the rest if Lua runs out of memory. */
static int push_outputs(lua_State *L)
{
    const cq_graph *g = lua_touserdata(L, 1);
    cq_tensor **out = lua_touserdata(L, 2);
    lua_createtable(L, 0, g->n_outputs);
    for (int i = 0; i < g->n_outputs; i++) {
        cq_tensor *t = out[i];
        out[i] = NULL; /* cq__lua_push_tensor owns it from here, even if it raises */
        cq__lua_push_tensor(L, t);
        lua_setfield(L, -2, g->values[g->outputs[i]].name);
    }
    return 1;
}

/* model:run{name = tensor, ...} or model:run(tensor) -> {name = tensor} | nil, msg, code
 * (plans the model on its first run) */
static int m_run(lua_State *L)
{
    cq_err gerr;
    ebox *b = get_exec(L, 1, &gerr);
    if (!b)
        return cq__lua_fail(L, &gerr);
    cq_graph *g = b->g;
    cq_tensor *in[CQ_LUA_MAX_INPUTS];
    cq__lua_check_inputs(L, 2, g, in);
    lua_settop(L, 2);
    if (!lua_checkstack(L, 8))
        return luaL_error(L, "Lua stack overflow");
    begin_run(L, b);
    int top = lua_gettop(L);
    cq_tensor **out = calloc((size_t)g->n_outputs + 1, sizeof *out);
    if (!out) {
        end_run(L, b);
        return luaL_error(L, "out of memory");
    }
    cq_err err;
    cq_status st = cq_exec_run(b->e, g->n_inputs, in, out, &err);
    end_run(L, b);
    if (b->obs_error) {
        for (int i = 0; i < g->n_outputs; i++)
            cq_tensor_release(out[i]);
        free(out);
        return observer_error(L, b);
    }
    lua_settop(L, top);
    if (st) {
        free(out);
        return cq__lua_fail(L, &err);
    }
    lua_pushcfunction(L, push_outputs);
    lua_pushlightuserdata(L, g);
    lua_pushlightuserdata(L, out);
    int ok = lua_pcall(L, 2, 1, 0) == LUA_OK;
    for (int i = 0; i < g->n_outputs; i++)
        cq_tensor_release(out[i]);
    free(out);
    return ok ? 1 : lua_error(L);
}

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* model:time(inputs [, repeat=20 [, warmup=3]]) -> median_ms, min_ms, p90_ms (plans first)
 * (wall clock of whole runs, outputs dropped) | nil, msg, code */
static int m_time(lua_State *L)
{
    cq_err gerr;
    ebox *b = get_exec(L, 1, &gerr);
    if (!b)
        return cq__lua_fail(L, &gerr);
    cq_graph *g = b->g;
    cq_tensor *in[CQ_LUA_MAX_INPUTS];
    cq__lua_check_inputs(L, 2, g, in);
    lua_Integer rep = luaL_optinteger(L, 3, 20), warm = luaL_optinteger(L, 4, 3);
    luaL_argcheck(L, rep >= 1 && rep <= 100000, 3, "repeat must be 1..100000");
    luaL_argcheck(L, warm >= 0 && warm <= 100000, 4, "warmup must be 0..100000");
    lua_settop(L, 4);
    begin_run(L, b);
    int top = lua_gettop(L);
    cq_tensor **out = calloc((size_t)g->n_outputs + 1, sizeof *out);
    double *t = malloc((size_t)rep * sizeof *t);
    if (!out || !t) {
        end_run(L, b);
        free(out), free(t);
        return luaL_error(L, "out of memory");
    }
    cq_err err;
    for (lua_Integer i = -warm; i < rep; i++) {
        double t0 = wall_ms();
        cq_status st = cq_exec_run(b->e, g->n_inputs, in, out, &err);
        double dt = wall_ms() - t0;
        for (int k = 0; k < g->n_outputs; k++) {
            cq_tensor_release(out[k]);
            out[k] = NULL;
        }
        if (st || b->obs_error) {
            end_run(L, b);
            free(out), free(t);
            if (b->obs_error)
                return observer_error(L, b);
            lua_settop(L, top);
            return cq__lua_fail(L, &err);
        }
        if (i >= 0)
            t[i] = dt;
    }
    end_run(L, b);
    lua_settop(L, 4);
    qsort(t, (size_t)rep, sizeof *t, cmp_double);
    lua_pushnumber(L, rep % 2 ? t[rep / 2] : (t[rep / 2 - 1] + t[rep / 2]) / 2);
    lua_pushnumber(L, t[0]);
    lua_Integer p = rep * 9 / 10;
    lua_pushnumber(L, t[p < rep ? p : rep - 1]);
    free(out), free(t);
    return 3;
}

/* model:set_observer(fn | nil) -> true | nil, msg, code (plans the model
 * first): fn(info, tensor) after every node output, info = {index, name,
 * op_type, output}; the tensor is a copy. */
static int m_set_observer(lua_State *L)
{
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    cq_err gerr;
    ebox *b = get_exec(L, 1, &gerr);
    if (!b)
        return cq__lua_fail(L, &gerr);
    lua_settop(L, 2);
    push_exec_box(L, 1);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, 1);
    b->has_observer = !lua_isnil(L, 2);
    if (b->has_observer)
        cq_exec_set_observer(b->e, observer_cb, b);
    else
        cq_exec_set_observer(b->e, NULL, NULL);
    lua_pushboolean(L, 1);
    return 1;
}

/* model:plan() -> true | nil, msg, code: plan the model now (no-op when planned). */
static int m_plan(lua_State *L)
{
    cq_err gerr;
    if (!get_exec(L, 1, &gerr))
        return cq__lua_fail(L, &gerr);
    lua_pushboolean(L, 1);
    return 1;
}

/* model:set_threads(n) -> true | nil, msg, code (plans the model first). */
static int m_set_threads(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 1 && n <= 1024, 2, "threads must be 1..1024");
    cq_err gerr;
    ebox *b = get_exec(L, 1, &gerr);
    if (!b)
        return cq__lua_fail(L, &gerr);
    cq_exec_set_threads(b->e, (int)n);
    b->threads = (int)n;
    lua_pushboolean(L, 1);
    return 1;
}

/* A precision name of model:set_precision(): f32 or bf16 (int8 comes from
 * calq.quant, as a quantized model). */
static cq_dtype check_run_precision(lua_State *L, int arg, const char *s)
{
    if (!strcmp(s, "bf16"))
        return CQ_BF16;
    if (!strcmp(s, "fp32") || !strcmp(s, "f32"))
        return CQ_F32;
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown precision '%s' (fp32, bf16)", s));
    return CQ_F32;
}

/* model:set_precision(spec) -> true | nil, msg, code. spec "bf16": every
 * Conv, Gemm and MatMul in bf16; "fp32": all f32; or a list of {pattern or
 * node index, precision} pairs (cq_quant_match's patterns: "op:Conv",
 * "first:Conv", names and globs), later pairs winning, the rest f32. Plans
 * the model first (the node indices are the planned graph's), then plans it
 * again with the map; a pattern that names no node fails (nil, msg). */
static int m_set_precision(lua_State *L)
{
    int is_str = lua_type(L, 2) == LUA_TSTRING;
    if (!is_str)
        luaL_checktype(L, 2, LUA_TTABLE);
    cq_err err;
    ebox *b = get_exec(L, 1, &err);
    if (!b)
        return cq__lua_fail(L, &err);
    cq_graph *g = b->g;
    int nn = g->n_nodes;
    /* userdata, not malloc: the checks below may raise */
    cq_dtype *map = lua_newuserdatauv(L, ((size_t)nn + 1) * sizeof *map, 0);
    unsigned char *hit = lua_newuserdatauv(L, (size_t)nn + 1, 0);
    for (int i = 0; i < nn; i++)
        map[i] = CQ_F32;
    if (is_str) {
        cq_dtype p = check_run_precision(L, 2, lua_tostring(L, 2));
        for (int i = 0; i < nn; i++) {
            const char *op = g->nodes[i].op_type;
            if (!strcmp(op, "Conv") || !strcmp(op, "Gemm") || !strcmp(op, "MatMul"))
                map[i] = p;
        }
    } else {
        lua_Integer n = luaL_len(L, 2);
        for (lua_Integer k = 1; k <= n; k++) {
            if (lua_geti(L, 2, k) != LUA_TTABLE)
                luaL_argerror(L, 2, "a precision list holds {pattern, precision} pairs");
            lua_geti(L, -1, 1);
            lua_geti(L, -2, 2);
            if (!lua_isstring(L, -2) || lua_type(L, -1) != LUA_TSTRING)
                luaL_argerror(L, 2, "a precision list holds {pattern, precision} pairs");
            cq_dtype p = check_run_precision(L, 2, lua_tostring(L, -1));
            if (lua_isinteger(L, -2)) {
                lua_Integer i = lua_tointeger(L, -2);
                if (i < 1 || i > nn)
                    luaL_argerror(L, 2, lua_pushfstring(L, "no node %d", (int)i));
                map[i - 1] = p;
            } else {
                const char *pat = lua_tostring(L, -2);
                memset(hit, 0, (size_t)nn + 1);
                int c = cq_quant_match(g, pat, hit, &err);
                if (c < 0)
                    luaL_argerror(L, 2, err.msg);
                if (c == 0) {
                    cq_errf(&err, CQ_EINVAL, "precision pattern '%s' names no node", pat);
                    return cq__lua_fail(L, &err);
                }
                for (int i = 0; i < nn; i++)
                    if (hit[i])
                        map[i] = p;
            }
            lua_pop(L, 3);
        }
    }
    cq_dtype *keep = malloc(((size_t)nn + 1) * sizeof *keep);
    if (!keep) {
        cq_errf(&err, CQ_ENOMEM, "set_precision: out of memory");
        return cq__lua_fail(L, &err);
    }
    memcpy(keep, map, (size_t)nn * sizeof *keep);
    cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
    o.threads = b->threads;
    o.limits = cq__lua_model_limits(L, 1);
    o.precision = keep;
    o.n_precision = nn;
    cq_exec *e = cq_exec_new(g, &o, &err);
    if (!e) {
        free(keep);
        return cq__lua_fail(L, &err);
    }
    cq_exec_free(b->e);
    b->e = e;
    keep_clock(b);
    if (b->has_observer)
        cq_exec_set_observer(b->e, observer_cb, b);
    free(b->prec);
    b->prec = keep;
    b->n_prec = nn;
    lua_pushboolean(L, 1);
    return 1;
}

struct cq_exec *cq__lua_model_exec(lua_State *L, int idx, cq_err *err)
{
    ebox *b = get_exec(L, idx, err);
    return b ? b->e : NULL;
}

/* model:memory() -> peak pool bytes, bytes without reuse | nil, msg, code
 * (plans the model first; both are 0 until the first run). */
static int m_memory(lua_State *L)
{
    cq_err gerr;
    ebox *b = get_exec(L, 1, &gerr);
    if (!b)
        return cq__lua_fail(L, &gerr);
    lua_pushinteger(L, (lua_Integer)cq_exec_peak_bytes(b->e));
    lua_pushinteger(L, (lua_Integer)cq_exec_naive_bytes(b->e));
    return 2;
}

/* Shapes of the values v[0..n): as in the last run, else as inferred
 * statically (-1 for unknown dims); false for omitted ones. */
static void push_shape_list(lua_State *L, const cq_exec *e, const cq_graph *g, const int *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        if (v[i] < 0) {
            lua_pushboolean(L, 0);
        } else {
            int64_t sh[CQ_MAX_DIMS];
            int nd = cq_exec_value_shape(e, v[i], sh);
            if (nd < 0) {
                nd = g->values[v[i]].ndim;
                for (int d = 0; d < nd; d++)
                    sh[d] = g->values[v[i]].shape[d];
            }
            lua_createtable(L, nd > 0 ? nd : 0, 0);
            for (int d = 0; d < nd; d++) {
                lua_pushinteger(L, sh[d]);
                lua_rawseti(L, -2, d + 1);
            }
        }
        lua_rawseti(L, -2, i + 1);
    }
}

/* model:reset_profile([clock]) -> true | nil, msg, code: zero the times and
 * run counts model:profile() reports (plans the model first). clock "wall"
 * or "cpu" chooses the clock of the times from now on, kept across re-plans:
 * the wall clock, or the CPU time of the thread running the node (the
 * time other processes held the CPU left out; the kernel threads' share
 * too, with set_threads > 1); without it the clock stays (at first "cpu"
 * when the environment variable CALQ_PROFILE_CLOCK is "cpu", else "wall"). */
static int m_reset_profile(lua_State *L)
{
    static const char *const clocks[] = {"wall", "cpu", NULL};
    int clock = lua_isnoneornil(L, 2) ? -1 : luaL_checkoption(L, 2, NULL, clocks);
    cq_err gerr;
    ebox *b = get_exec(L, 1, &gerr);
    if (!b)
        return cq__lua_fail(L, &gerr);
    if (clock >= 0) {
        b->clock = clock + 1;
        keep_clock(b);
    }
    cq_exec_reset_profile(b->e);
    lua_pushboolean(L, 1);
    return 1;
}

/* model:profile_clock() -> "wall" | "cpu" | nil, msg, code: the clock of
 * model:profile()'s times (plans the model first). */
static int m_profile_clock(lua_State *L)
{
    cq_err gerr;
    ebox *b = get_exec(L, 1, &gerr);
    if (!b)
        return cq__lua_fail(L, &gerr);
    lua_pushstring(L, cq_exec_profile_clock(b->e) == CQ_EXEC_CLOCK_CPU ? "cpu" : "wall");
    return 1;
}

/* model:profile() -> {{op_type, name, inputs = {shapes}, outputs = {shapes},
 * ms (mean per run), runs, fused, blocked, flops, bytes, bound, gflops,
 * gbs}, ...} in run order (blocked: the first output is kept in NCHW16c
 * between convolutions; flops, bytes: cq_exec_node_work's counts, with the
 * nodes fused into this one; bound: "compute" for a contraction, whose
 * rate is gflops, "memory" for the rest, whose rate is gbs; gflops and gbs
 * only once the node ran; the work fields absent for a fused node or an
 * unknown shape) | nil, msg, code.
 * Plans the model first: before any run, every node has runs = 0. */
static int m_profile(lua_State *L)
{
    luaL_argcheck(L, lua_isnone(L, 2), 2, "no argument expected (model:reset_profile() resets)");
    cq_err gerr;
    ebox *b = get_exec(L, 1, &gerr);
    if (!b)
        return cq__lua_fail(L, &gerr);
    cq_graph *g = b->g;
    lua_newtable(L);
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        lua_createtable(L, 0, 8);
        lua_pushstring(L, n->op_type);
        lua_setfield(L, -2, "op_type");
        lua_pushstring(L, n->name);
        lua_setfield(L, -2, "name");
        push_shape_list(L, b->e, g, n->inputs, n->n_inputs);
        lua_setfield(L, -2, "inputs");
        push_shape_list(L, b->e, g, n->outputs, n->n_outputs);
        lua_setfield(L, -2, "outputs");
        double ns;
        int64_t runs;
        cq_exec_node_time(b->e, i, &ns, &runs);
        lua_pushnumber(L, runs ? ns / (double)runs / 1e6 : 0.0);
        lua_setfield(L, -2, "ms");
        lua_pushinteger(L, (lua_Integer)runs);
        lua_setfield(L, -2, "runs");
        lua_pushboolean(L, cq_exec_is_fused(b->e, i));
        lua_setfield(L, -2, "fused");
        /* the value the node writes (a fused chain's last one) */
        lua_pushboolean(L, cq_exec_value_blocked(b->e, cq_exec_node_output(b->e, i)));
        lua_setfield(L, -2, "blocked");
        int64_t flops, bytes;
        int kind = cq_exec_node_work(b->e, i, &flops, &bytes);
        if (kind >= 0) {
            double sec = runs ? ns / (double)runs / 1e9 : 0.0;
            lua_pushinteger(L, (lua_Integer)flops);
            lua_setfield(L, -2, "flops");
            lua_pushinteger(L, (lua_Integer)bytes);
            lua_setfield(L, -2, "bytes");
            lua_pushstring(L, kind ? "compute" : "memory");
            lua_setfield(L, -2, "bound");
            if (sec > 0) {
                lua_pushnumber(L, (double)flops / sec / 1e9);
                lua_setfield(L, -2, "gflops");
                lua_pushnumber(L, (double)bytes / sec / 1e9);
                lua_setfield(L, -2, "gbs");
            }
        }
        lua_rawseti(L, -2, ++k);
    }
    return 1;
}

/* calq.exec.ops() -> sorted list of the operator names calq runs */
static int l_ops(lua_State *L)
{
    lua_createtable(L, cq_op_count(), 0);
    for (int i = 0; i < cq_op_count(); i++) {
        lua_pushstring(L, cq_op_at(i)->name);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static const luaL_Reg methods[] = {
    {"plan", m_plan}, {"run", m_run}, {"time", m_time}, {"profile", m_profile},
    {"reset_profile", m_reset_profile}, {"profile_clock", m_profile_clock},
    {"set_threads", m_set_threads}, {"memory", m_memory},
    {"set_precision", m_set_precision},
    {"set_observer", m_set_observer}, {NULL, NULL},
};

static const luaL_Reg functions[] = {
    {"conform_case", cq__lua_conform_case}, {"conform_dirs", cq__lua_conform_dirs}, {"ops", l_ops},
    {NULL, NULL},
};

int cq__lua_open_exec(lua_State *L)
{
    cq__lua_model_methods(L);
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    return 1;
}

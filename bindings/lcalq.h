/*
 * lcalq.h - internal interface of the Lua binding (calq.core).
 *
 * Each binding file owns one concern and exports one opener that registers
 * its metatables and pushes its function table, made with luaL_newlib from a
 * static luaL_Reg (lfs, cjson):
 *     int cq__lua_open_tensor(lua_State *L)   -- pushes {new=, zeros=, ...}
 * luaopen_calq_core() returns {tensor = ..., io = ..., onnx = ..., exec = ...,
 * data = ..., image = ..., rng = ..., calib = ..., version = "..."}; scripts/calq/ gives
 * each group its public name (calq.tensor, calq.io, ...; docs/lua-api.md), so
 * every function has exactly one. Errors: misuse raises with luaL_argerror /
 * luaL_typeerror; failures of the world return nil, message, code (see
 * cq__lua_fail).
 */
#ifndef CQ_LCALQ_H
#define CQ_LCALQ_H

#include <lua.h>
#include <lauxlib.h>
#include "base/status.h"
#include "base/tensor.h"

#define CQ_LUA_TENSOR "calq.Tensor"
#define CQ_LUA_MODEL "calq.Model"

/* Push nil, err->msg, status name; returns 3 (for `return cq__lua_fail(L, &err)`). */
int cq__lua_fail(lua_State *L, const cq_err *err);

/* Make the metatable name (once): the metamethods meta and __index = a new
 * table of methods. Leaves the stack as it was. */
void cq__lua_new_class(lua_State *L, const char *name, const luaL_Reg *meta,
                       const luaL_Reg *methods);

/* Tensors: push a new userdata that takes over the reference t (not NULL).
 * If Lua cannot make the box (out of memory), t is released and the error raised. */
void cq__lua_push_tensor(lua_State *L, cq_tensor *t);
/* The tensor at idx, or raise a "bad argument" error. Borrowed reference. */
cq_tensor *cq__lua_check_tensor(lua_State *L, int idx);
cq_tensor *cq__lua_test_tensor(lua_State *L, int idx);

int cq__lua_open_tensor(lua_State *L);
int cq__lua_open_data(lua_State *L);
int cq__lua_open_rng(lua_State *L);

/* Models (l_onnx.c): calq.Model wraps a cq_graph. */
struct cq_graph;
/* Push a new Model with no graph yet and return its slot: the box first, so
 * that a Lua memory error leaks nothing; the caller stores the graph (which
 * the Model then owns) or leaves NULL (a closed Model) on failure. */
struct cq_graph **cq__lua_new_model(lua_State *L);
/* The graph of the Model at idx, or raise "bad argument". Borrowed. */
struct cq_graph *cq__lua_check_model(lua_State *L, int idx);
/* The limits model idx was loaded with (calq.onnx.load's options), which
 * its executors plan with. */
struct cq_limits;
const struct cq_limits *cq__lua_model_limits(lua_State *L, int idx);
/* Same, and raise "model is running" while a run of it is in progress (its
 * observer calling back into it). */
struct cq_graph *cq__lua_check_idle_model(lua_State *L, int idx);
/* The graph of the Model at idx, never raising: NULL when it is no Model or
 * is closed; *busy tells whether a run of it is in progress. */
struct cq_graph *cq__lua_test_model(lua_State *L, int idx, int *busy);
/* Mark the Model at idx as running (busy != 0) or done; calls nest. */
void cq__lua_model_set_busy(lua_State *L, int idx, int busy);
/* Push the Model method table (the metatable's __index), creating the
 * metatable if needed, so another binding file can add methods:
 *     cq__lua_model_methods(L); lua_pushcfunction(L, m_run);
 *     lua_setfield(L, -2, "run"); lua_pop(L, 1); */
void cq__lua_model_methods(lua_State *L);
int cq__lua_open_onnx(lua_State *L);
int cq__lua_open_image(lua_State *L);
int cq__lua_open_io(lua_State *L);
/* Whether the Model at idx has been planned by one of its executor methods
 * (l_exec.c): its graph then holds the passes' rewrites (folded constants). */
int cq__lua_model_planned(lua_State *L, int idx);
/* The executor of the Model at idx, planned on first use (l_exec.c; what
 * its methods run); NULL with err filled when planning fails. */
struct cq_exec *cq__lua_model_exec(lua_State *L, int idx, cq_err *err);
/* Adds the running methods to calq.Model: call after cq__lua_open_onnx. */
int cq__lua_open_exec(lua_State *L);
/* calq.exec.conform_case and conform_dirs (l_conform.c) */
int cq__lua_conform_case(lua_State *L);
int cq__lua_conform_dirs(lua_State *L);
/* The inputs of g at arg (l_exec.c): a Tensor (one-input models) or
 * {name = Tensor}, into in[0..g->n_inputs) in the graph's input order, or
 * raise "bad argument". Borrowed references; in holds CQ_LUA_MAX_INPUTS. */
#define CQ_LUA_MAX_INPUTS 64
void cq__lua_check_inputs(lua_State *L, int arg, const struct cq_graph *g, cq_tensor **in);

/* Calibration (l_calib.c): calq.Calibrator and calq.Stats (a cq_calib_stats
 * set). The set of the Stats at idx, or raise "bad argument". Borrowed. */
#define CQ_LUA_STATS "calq.Stats"
struct cq_calib_stats;
struct cq_calib_stats *cq__lua_check_stats(lua_State *L, int idx);
/* Push a new Stats that takes over s (not NULL); if Lua cannot make the box,
 * s is freed and the error raised. */
void cq__lua_push_stats(lua_State *L, struct cq_calib_stats *s);
int cq__lua_open_calib(lua_State *L);
/* The quantizer (l_quant.c): calq.Quantizer, calq.quant.lower, calq.quant.match. */
int cq__lua_open_quant(lua_State *L);

/* Hardware profiles (l_hw.c): core.hw. Convert the profile table at idx
 * (docs/cost-model.md) into *out, raising a Lua error that names the key and
 * the problem on a missing, mistyped, unknown or out-of-range field
 * (cq_hw_check's ranges). Returns 0. */
struct cq_hw;
int lcalq_tohw(lua_State *L, int idx, struct cq_hw *out);
int cq__lua_open_hw(lua_State *L);
/* The knob solvers (l_knobs.c): core.knobs. */
int cq__lua_open_knobs(lua_State *L);
/* The cost estimators (l_cost.c): core.cost. */
int cq__lua_open_cost(lua_State *L);

#endif

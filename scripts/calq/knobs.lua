--- calq.knobs: per-node precision (int8, bf16, fp32) from the cost model under
-- an accuracy budget, and the accuracy-driven loop as a schedule.
--   local knobs = require "calq.knobs"
--   local st = assert(knobs.run(knobs.schedule{ max_trials = 8 }, {
--     model = "back256.onnx", calib = "crops.txt", preprocess = "blazeface",
--     costs = knobs.estimated(profile), convert = knobs.profile_convert(profile),
--     metric = knobs.metric_evaluate{ task = "blazeface" }, tolerance = 0.01,
--     output = "bf.onnx" }))
--   print(st.best.metric, st.best.predicted_ms, st.met)
--
-- The problem (docs/cost-model.md, "Knobs"): nodes of the planned fp32 graph
-- are grouped (an activation folded into its producer, a pass-through op
-- such as MaxPool or Reshape with the node whose value it passes: it runs
-- int8 exactly when that one does); a group of a quantizable node chooses
-- int8, bf16 (Conv, Gemm, MatMul the executor runs in bf16) or fp32, every
-- other group is fp32. A group's time at a precision is the sum of its
-- nodes' times from a cost source (the cost model on a profile, or measured);
-- an edge between groups costs the conversion its ends need (a
-- QuantizeLinear into int8, a DequantizeLinear out of it; calq's bf16
-- kernels take and give f32). The noise of a group at int8 is
-- 10^(-SQNR/10) of its node quantized alone (the quantizer's sensitivity), at
-- bf16 the same measured with the node alone in bf16; the budget bounds
-- their sum (cost/knobs.h solves it).
--
-- A schedule is a list of steps, each {step = NAME, ...} or a function(state)
-- returning true or nil, msg; {step = "repeat", times = N, body = {...}}
-- runs its body until a {step = "stop"} in it fires. Steps (knobs.steps,
-- which a recipe may extend): observe, costs, solve, quantize, evaluate,
-- stop, move_up, save. knobs.schedule{...} is calq's accuracy-driven loop.
local core = require("calq.core").knobs
local onnx = require "calq.onnx"
local quant = require "calq.quant"
local quantize = require "calq.quantize"
local inputs = require "calq.inputs"
local fs = require "calq.fs"
local json = require "calq.json"

-- calq.knobs is the C group (solve, sqnr_terms) with the Lua half added, as
-- calq.cost is: one table, each function under one name.
local M = core

M.PRECISIONS = { "int8", "bf16", "fp32" }
local PIDX = { int8 = 1, bf16 = 2, fp32 = 3 }
local HUGE = math.huge

local function fail(fmt, ...) error({ msg = fmt:format(...) }, 0) end
local fixed_groups

local function numel(shape)
  if not shape then return nil end
  local n = 1
  for _, d in ipairs(shape) do
    if type(d) ~= "number" or d < 0 then return nil end
    n = n * d
  end
  return n
end

--- The groups of the planned model m (q:nodes() of its quantizer as qn):
-- {groups = {{index, members = {node index...}, decide = bool, node}, ...},
--  of = {[node index] = group index}, nodes = {m:nodes() rows by index}}.
function M.groups(m, qn)
  local rows, producer = {}, {}
  for n in m:nodes() do
    rows[n.index] = n
    for k, v in ipairs(n.outputs) do producer[v] = { node = n.index, k = k } end
  end
  local of, groups = {}, {}
  local function new_group(i, decide)
    groups[#groups + 1] = { index = #groups + 1, members = { i }, decide = decide, node = i }
    of[i] = #groups
  end
  for i = 1, #rows do
    local q = qn[i]
    local kind = q and q.kind or "float"
    if q and q.quantizable then
      new_group(i, true)
    elseif kind == "act" and q.folded_into and of[q.folded_into] then
      local g = of[q.folded_into]
      of[i] = g
      table.insert(groups[g].members, i)
    elseif kind == "pass" then
      local src = rows[i].inputs[1] and producer[rows[i].inputs[1]]
      local g = src and of[src.node]
      if g and groups[g].decide then
        of[i] = g
        table.insert(groups[g].members, i)
      else
        new_group(i, false)
      end
    else
      new_group(i, false)
    end
  end
  return { groups = groups, of = of, nodes = rows, producer = producer }
end

--- The knob problem (the table calq.knobs.solve takes) from:
--   gs       M.groups(...)
--   costs    {fp32 = {[name] = ms}, bf16 = {...}, int8 = {...}}: per-node times
--   noise    {[node index] = {int8 = x, bf16 = x or false (no bf16 kernel)}}
--   convert  function(kind, elements) -> ms ("quant" | "dequant")
--   budget   the noise sum's bound; floor {[group] = 1..3}: lowest precision
--   fixed    {[group] = 1..3}: the one precision allowed (--keep-fp32, --precision)
-- Returns the problem (one entry per group, in the model's order), or raises
-- when a fixed precision is one the group cannot run in.
function M.problem(gs, costs, noise, convert, budget, floor, fixed)
  local time, nz, edges = {}, {}, {}
  local model_in, model_out = {}, {}
  for _, v in ipairs(gs.inputs or {}) do model_in[v] = true end
  for _, v in ipairs(gs.outputs or {}) do model_out[v] = true end
  for gi, g in ipairs(gs.groups) do
    local t = { 0, 0, 0 }
    for _, i in ipairs(g.members) do
      local name = gs.nodes[i].name
      local f = costs.fp32[name] or 0
      t[3] = t[3] + f
      t[2] = t[2] + (costs.bf16[name] or f)
      t[1] = t[1] + (costs.int8[name] or 0)
    end
    local z = { 0, 0, 0 }
    if g.decide then
      local s = noise[g.node] or {}
      z[1] = s.int8 or 0
      if s.bf16 == false or s.bf16 == nil then t[2] = HUGE else z[2] = s.bf16 end
      -- bf16 no faster than fp32 is never worth its noise: calq's bf16 kernels
      -- take and give f32, so its edges cost what fp32's do (a tie on a profile
      -- without bf16 hardware, where calq runs fp32 on rounded operands)
      if t[2] >= t[3] and not (fixed and fixed[gi]) then t[2] = HUGE end
      -- int8 at the model's edges: the input quantized, an output dequantized
      local head = gs.nodes[g.node]
      for _, v in ipairs(head.inputs) do
        if model_in[v] then t[1] = t[1] + convert("quant", numel(gs.shapes[v]) or 0) end
      end
      for _, i in ipairs(g.members) do
        for _, v in ipairs(gs.nodes[i].outputs) do
          if model_out[v] then t[1] = t[1] + convert("dequant", numel(gs.shapes[v]) or 0) end
        end
      end
    else
      t[1], t[2] = HUGE, HUGE
    end
    local fl = floor and floor[gi] or 1
    for p = 1, fl - 1 do t[p] = HUGE end
    local fx = fixed and fixed[gi]
    if fx then
      if t[fx] == HUGE then
        local n = gs.nodes[g.node]
        fail("node %d '%s' (%s) cannot run %s in calq's executor", g.node, n.name or "", n.op_type or "?",
          M.PRECISIONS[fx])
      end
      for p = 1, 3 do if p ~= fx then t[p] = HUGE end end
    end
    time[gi], nz[gi] = t, z
  end
  -- edges: a value one group writes and another reads, once per reader group
  local seen = {}
  for i, n in ipairs(gs.nodes) do
    local gb = gs.of[i]
    for _, v in ipairs(n.inputs) do
      local src = gs.producer[v]
      local ga = src and gs.of[src.node]
      if ga and ga ~= gb and not seen[v .. "\0" .. gb] then
        seen[v .. "\0" .. gb] = true
        local e = numel(gs.shapes[v]) or 0
        local q, d = convert("quant", e), convert("dequant", e)
        -- [from][to]: int8 -> other a DequantizeLinear, other -> int8 a QuantizeLinear
        edges[#edges + 1] = { ga, gb, value = v, cost = {
          { 0, d, d }, { q, 0, 0 }, { q, 0, 0 } } }
      end
    end
  end
  return { time = time, noise = nz, edges = edges, budget = budget }
end

--- The precision list calq.quantize takes for a choice (one entry per group).
function M.precision_list(gs, choice)
  local list = {}
  for gi, g in ipairs(gs.groups) do
    if g.decide then list[#list + 1] = { g.node, M.PRECISIONS[choice[gi]] } end
  end
  return list
end

-- the cost sources (measured, estimated, their conversions) and the metrics
-- (metric_sqnr, metric_evaluate): scripts/calq/knobs_sources.lua
for k, v in pairs(require "calq.knobs_sources") do M[k] = v end

-- ---- realising a choice

local function close(m) if m then m:close() end end

-- The QDQ model of a precision list and the model calq runs (lowered, its
-- bf16 nodes set): qdq, run | nil, msg.
local function realize(st, list)
  local r, err = quantize{ model = st.model, stats = st.stats, defaults = false, auto = false,
                           precision = list, activations = st.opts.activations,
                           observer = st.opts.observer }
  if not r then return nil, err end
  local qdq = r.model
  local run = r.quantizer:model()
  r.quantizer:close()
  local ok, lerr = quant.lower(run)
  if not ok then close(qdq) close(run) return nil, lerr end
  local bf = {}
  for _, e in ipairs(list) do
    if e[2] == "bf16" then bf[#bf + 1] = { st.gs.nodes[e[1]].name, "bf16" } end
  end
  if st.opts.threads then run:set_threads(st.opts.threads) end
  if #bf > 0 then
    local sok, serr = run:set_precision(bf)
    if not sok then close(qdq) close(run) return nil, serr end
  else
    local pok, perr = run:plan()
    if not pok then close(qdq) close(run) return nil, perr end
  end
  return qdq, run
end
M.realize = realize

-- The first n items of the calibration data, one Tensor an item (a model
-- with a fixed batch of 1 runs them).
local function first_items(o, n)
  local src, err = inputs.open{ path = o.calib, preprocess = o.preprocess, batch = n,
                                skip_missing = o.skip_missing }
  if not src then return nil, err end
  local ok, x = pcall(src:batches())
  src:close()
  if not ok then return nil, x end
  local items = {}
  for k = 1, x:shape()[1] do items[k] = x:slice(1, k, k) end
  return items
end

-- The model's outputs on each item of x: {{name = Tensor}, ...}.
local function outputs_of(m, x)
  local out = {}
  for k, xi in ipairs(x) do
    local o, err = m:run(xi)
    if not o then return nil, err end
    out[k] = o
  end
  return out
end

-- Relative noise power of m's outputs against ref (outputs_of the fp32
-- model) on the items of x: sum (out - ref)^2 / sum ref^2 over every output
-- and item.
local function output_noise_of(m, x, ref)
  local sig, err = 0, 0
  for k, xi in ipairs(x) do
    local out, e = m:run(xi)
    if not out then return nil, e end
    for name, r in pairs(ref[k]) do
      local s, d = core.sqnr_terms(r, out[name])
      sig, err = sig + s, err + d
    end
  end
  if sig == 0 then return err == 0 and 0 or HUGE end
  return err / sig
end
M.output_noise_of = output_noise_of

local function bf16_capable(st, g)
  local op = st.gs.nodes[g.node].op_type
  return g.decide and (op == "Conv" or op == "Gemm" or op == "MatMul")
end

-- The precision list with every deciding group fp32 but those of `set`
-- ({[group] = "int8" | "bf16"}).
local function only(st, set)
  local list = {}
  for gi, g in ipairs(st.gs.groups) do
    if g.decide then list[#list + 1] = { g.node, set[gi] or "fp32" } end
  end
  return list
end

-- Sensitivity at the model's output: for each deciding group, the model's
-- relative output noise with that group alone int8 (every other node fp32,
-- the QDQ model calq runs, lowered) and alone bf16 (where the executor has a
-- bf16 kernel), on the items of x. Then the all-int8 model once, to see how
-- well the terms add up. Returns {[node] = {int8 =, bf16 = or false}},
-- {measured = all-int8 noise, sum = the sum of its terms, groups = n}.
local function output_noise(st, x)
  local ref, err = outputs_of(st.model, x)
  if not ref then return nil, err end
  local out, sum = {}, 0
  local fixed = st.fixedg or {}
  -- the knob search's long part: a bar (or plain lines) when the caller
  -- shows progress (calq quantize --knobs auto does), nothing otherwise
  local deciding = 0
  for _, g in ipairs(st.gs.groups) do if g.decide then deciding = deciding + 1 end end
  local progress = require "calq.progress"
  local bar = st.opts.progress and progress.new{ label = "knobs: sensitivity", total = deciding + 1,
    unit = "groups" } or progress.none()
  for gi, g in ipairs(st.gs.groups) do
    if g.decide then
      bar:add(1)
      local z = { int8 = false, bf16 = false }
      if not fixed[gi] or fixed[gi] == 1 then
        local qdq, run = realize(st, only(st, { [gi] = "int8" }))
        if not qdq then return nil, run end
        qdq:close()
        local v, verr = output_noise_of(run, x, ref)
        run:close()
        if not v then return nil, verr end
        z.int8 = v
        sum = sum + v
      end
      if bf16_capable(st, g) and (not fixed[gi] or fixed[gi] == 2) then
        local ok, perr = st.model:set_precision({ { g.node, "bf16" } })
        if not ok then return nil, perr end
        local v, verr = output_noise_of(st.model, x, ref)
        if not v then return nil, verr end
        -- 0: the executor kept it f32 (no bf16 kernel for it): not offered
        z.bf16 = v > 0 and v or false
      end
      out[g.node] = z
    end
  end
  assert(st.model:set_precision("fp32"))
  local all = {}
  for gi, g in ipairs(st.gs.groups) do if g.decide then all[gi] = "int8" end end
  local qdq, run = realize(st, only(st, all))
  if not qdq then return nil, run end
  qdq:close()
  local v, verr = output_noise_of(run, x, ref)
  run:close()
  bar:add(1)
  bar:finish()
  if not v then return nil, verr end
  return out, { measured = v, sum = sum, items = #x }
end

-- Noise of each bf16-capable compute node run alone in bf16 at its own
-- output (the node-local proxy): its output's relative error power against
-- fp32 on the items of x (false: the executor keeps it f32, the output
-- equal bit for bit).
local function bf16_noise(st, x)
  local m = st.model
  local want = {}
  for _, g in ipairs(st.gs.groups) do
    if bf16_capable(st, g) then want[g.node] = true end
  end
  local ref = {}
  assert(m:set_precision("fp32"))
  for k, xi in ipairs(x) do
    ref[k] = {}
    m:set_observer(function(info, t)
      if want[info.index] and not ref[k][info.index] then ref[k][info.index] = t end
    end)
    local ok, err = m:run(xi)
    m:set_observer(nil)
    if not ok then return nil, err end
  end
  local out = {}
  for i in pairs(want) do
    local sok, serr = m:set_precision({ { i, "bf16" } })
    if not sok then return nil, serr end
    local ssum, esum = 0, 0
    for k, xi in ipairs(x) do
      local got
      m:set_observer(function(info, t)
        if info.index == i then got = t return false end
      end)
      local rok, rerr = m:run(xi)
      m:set_observer(nil)
      if not rok and not got then return nil, rerr end
      -- a node the observer never sees (fused away) is not measured
      if got and ref[k][i] then
        local s, e = M.sqnr_terms(ref[k][i], got)
        ssum, esum = ssum + s, esum + e
      end
    end
    if esum == 0 then out[i] = false else out[i] = esum / ssum end
  end
  assert(m:set_precision("fp32"))
  return out
end

-- M.sqnr_terms (C): sum y^2, sum (x - y)^2 of two f32 tensors (y the reference).

-- The groups a list of constraints fixes ({{pattern or node index, "int8" |
-- "bf16" | "fp32"}, ...}, applied in order, a later one winning): {[group]
-- = precision index} | nil, msg. A node that is not quantizable can only be
-- fp32; int8 or bf16 asked of it is an error naming it.
fixed_groups = function(st, list)
  local out = {}
  for k, e in ipairs(list or {}) do
    local pat, prec = e[1], e[2]
    local p = PIDX[prec]
    if not p then return nil, ("fixed[%d]: precision must be int8, bf16 or fp32, not '%s'"):format(k, tostring(prec)) end
    local hits = { pat }
    if type(pat) ~= "number" then
      local ok, h, merr = pcall(quant.match, st.model, pat)
      if not ok then return nil, tostring(h) end
      if not h then return nil, merr end
      hits = h
    end
    for _, i in ipairs(hits) do
      local gi = st.gs.of[i]
      if not gi then return nil, ("fixed[%d]: node %s is not in the model"):format(k, tostring(i)) end
      local g = st.gs.groups[gi]
      if g.decide then
        out[gi] = p
      elseif p ~= 3 then
        local n = st.gs.nodes[i]
        return nil, ("node %d '%s' (%s) is not quantizable: it runs fp32, not %s"):format(i, n.name or "",
          n.op_type or "?", prec)
      end
    end
  end
  return out
end

-- ---- the steps

M.steps = {}

--- observe: statistics, the int8 sensitivity (calq.quantize on state's
-- model and calib), the bf16 noise, the sample the cost sources time on.
function M.steps.observe(st, s)
  local o = st.opts
  local model = st.model
  if type(model) == "string" then
    local m, err = onnx.load(model)
    if not m then return nil, err end
    st.model, st.owns_model = m, true
  end
  st.seconds = st.seconds or {}
  local c0 = os.clock()
  local r, err = quantize{ model = st.model, calib = o.calib, preprocess = o.preprocess,
                           stats = o.stats, defaults = false, auto = false,
                           sensitivity = s.items or o.sens_items or 32, observer = o.observer,
                           activations = o.activations, threads = o.threads, batch = o.batch,
                           skip_missing = o.skip_missing }
  if not r then return nil, err end
  st.stats, st.items = r.stats, r.items
  st.qnodes = r.nodes
  st.sensitivity = r.sensitivity
  r.model:close()
  r.quantizer:close()
  st.gs = M.groups(st.model, st.qnodes)
  st.gs.shapes = {}
  for n in st.model:nodes() do
    for k, v in ipairs(n.outputs) do st.gs.shapes[v] = n.output_shapes and n.output_shapes[k] end
  end
  st.gs.inputs, st.gs.outputs = {}, {}
  for _, v in ipairs(st.model:inputs()) do st.gs.inputs[#st.gs.inputs + 1] = v.name; st.gs.shapes[v.name] = v.shape end
  for _, v in ipairs(st.model:outputs()) do st.gs.outputs[#st.gs.outputs + 1] = v.name end
  local fg, ferr = fixed_groups(st, o.fixed)
  if not fg then return nil, ferr end
  st.fixedg = fg
  local x, xerr = first_items(o, s.out_items or o.out_items or s.bf16_items or 4)
  if not x then return nil, xerr end
  st.sample = x[1]
  if o.eval_sqnr and not st.eval_inputs then
    local ex, eerr = first_items(o, o.eval_items or 16)
    if not ex then return nil, eerr end
    st.eval_inputs = ex
  end
  st.proxy = s.proxy or o.proxy or "output"
  st.noise = {}
  local c1 = os.clock()
  st.seconds.calibrate = (st.seconds.calibrate or 0) + c1 - c0
  if st.proxy == "output" then
    local z, add = output_noise(st, x)
    if not z then return nil, add end
    st.seconds.output_noise = (st.seconds.output_noise or 0) + os.clock() - c1
    -- the one measured all-int8 run: the terms' sum scaled to what the model
    -- really gives (docs/cost-model.md, "Knobs", says why and how well)
    add.scale = (add.sum > 0 and add.measured > 0 and (s.scale or o.scale) ~= false)
      and add.measured / add.sum or 1
    st.additivity = add
    for _, sn in ipairs(st.sensitivity) do
      local t = z[sn.index]
      if t then
        st.noise[sn.index] = { int8 = t.int8 and t.int8 * add.scale or 0,
                               bf16 = t.bf16 and t.bf16 * add.scale or false,
                               out_int8 = t.int8 or nil, out_bf16 = t.bf16 or nil, sqnr = sn.sqnr }
      end
    end
  elseif st.proxy == "local" then
    local bn, berr = bf16_noise(st, x)
    if not bn then return nil, berr end
    for _, sn in ipairs(st.sensitivity) do
      st.noise[sn.index] = { int8 = sn.sqnr and 10 ^ (-sn.sqnr / 10) or 0, bf16 = bn[sn.index] or false,
                             sqnr = sn.sqnr }
    end
  else
    return nil, ("observe: proxy must be 'output' or 'local', not '%s'"):format(tostring(st.proxy))
  end
  return true
end

--- costs: per-node times in fp32, bf16 and int8 from state.costs (a cost
-- source), on the model as each precision plans it.
function M.steps.costs(st)
  local src = st.opts.costs or M.measured()
  st.costs = {}
  local m = st.model
  assert(m:set_precision("fp32"))
  local t, err = src(st, m, "fp32")
  if not t then return nil, err end
  st.costs.fp32 = t
  assert(m:set_precision("bf16"))
  t, err = src(st, m, "bf16")
  assert(m:set_precision("fp32"))
  if not t then return nil, err end
  st.costs.bf16 = t
  local all = {}
  for _, g in ipairs(st.gs.groups) do if g.decide then all[#all + 1] = { g.node, "int8" } end end
  local qdq, run = realize(st, all)
  if not qdq then return nil, run end
  qdq:close()
  t, err = src(st, run, "int8")
  -- this host's conversion rates, from the int8 model's own Q/DQ nodes
  local prof = t and run:profile()
  if prof then
    local acc = { quant = { 0, 0 }, dequant = { 0, 0 } }
    for _, r in ipairs(prof) do
      local k = r.op_type == "QuantizeLinear" and "quant" or r.op_type == "DequantizeLinear" and "dequant"
      if k and r.bytes and r.ms and r.ms > 0 then
        acc[k][1], acc[k][2] = acc[k][1] + r.ms * 1e6, acc[k][2] + r.bytes / 5
      end
    end
    st.cvt_ns = {}
    for k, a in pairs(acc) do if a[2] > 0 then st.cvt_ns[k] = a[1] / a[2] end end
  end
  run:close()
  if not t then return nil, err end
  st.costs.int8 = t
  return true
end

--- solve: the knobs at the budget (state.budget; first time: s.budget, or
-- the noise of calq's default choice, every node int8 but those under 18 dB
-- SQNR alone) with the floors moved up so far.
function M.steps.solve(st, s)
  if not st.budget then
    if s.budget then
      st.budget = s.budget
    else
      -- the noise of that choice (a fixed group at its fixed precision)
      local z = 0
      for gi, g in ipairs(st.gs.groups) do
        local n, fx = st.noise[g.node], st.fixedg and st.fixedg[gi]
        if n and fx then
          z = z + (fx == 1 and n.int8 or fx == 2 and (n.bf16 or 0) or 0)
        elseif n and n.sqnr and n.sqnr >= (s.default_sqnr or 18) then
          z = z + n.int8
        end
      end
      st.budget = z
    end
  end
  st.floor = st.floor or {}
  local cv = st.opts.convert or M.measured_convert()
  local function convert(kind, e) return cv(kind, e, st) end
  local okp, p = pcall(M.problem, st.gs, st.costs, st.noise, convert, st.budget, st.floor, st.fixedg)
  if not okp then return nil, type(p) == "table" and p.msg or tostring(p) end
  local t0 = os.clock()
  local method = s.method or st.opts.method or "exact"
  local choice, res = core.solve(p, method)
  if not choice then return nil, res end
  -- free: the same budget without the floors too, the faster kept. Both meet
  -- the budget move_up lowered (below the noise of the choice that missed),
  -- so either makes progress; the floors only say which group to move.
  if s.free and next(st.floor) then
    local q = M.problem(st.gs, st.costs, st.noise, convert, st.budget, nil, st.fixedg)
    local c2, r2 = core.solve(q, method)
    if c2 and r2.time < res.time then
      p, choice, res = q, c2, r2
      res.free = true
    end
  end
  res.seconds = os.clock() - t0
  st.problem, st.choice, st.solution = p, choice, res
  return true
end

--- quantize: the QDQ model of the current choice, and the model calq runs.
function M.steps.quantize(st)
  close(st.qdq) close(st.run)
  local list = M.precision_list(st.gs, st.choice)
  local qdq, run = realize(st, list)
  if not qdq then return nil, run end
  st.qdq, st.run, st.list = qdq, run, list
  return true
end

local function counts(st)
  local c = { int8 = 0, bf16 = 0, fp32 = 0 }
  for gi, g in ipairs(st.gs.groups) do
    if g.decide then local p = M.PRECISIONS[st.choice[gi]] c[p] = c[p] + 1 end
  end
  return c
end

--- evaluate: the metric of the current model (and, once, of fp32); the trial
-- is recorded, the best one kept (meeting the goal and fastest predicted, else
-- the best metric).
function M.steps.evaluate(st)
  local metric = st.opts.metric
  if st.reference == nil then
    local v, err = metric(st, st.model)
    if not v then return nil, err end
    st.reference = v
  end
  local v, err = metric(st, st.run)
  if not v then return nil, err end
  local trial = { n = #st.trials + 1, metric = v, predicted_ms = st.solution.time,
                  noise = st.solution.noise, budget = st.budget, exact = st.solution.exact,
                  solve_seconds = st.solution.seconds, counts = counts(st), free = st.solution.free or false,
                  precision = {}, met = st.opts.goal(v, st.reference) }
  for _, e in ipairs(st.list) do trial.precision[st.gs.nodes[e[1]].name] = e[2] end
  st.trials[#st.trials + 1] = trial
  local b = st.best
  local better = not b or (trial.met and (not b.trial.met or trial.predicted_ms < b.trial.predicted_ms))
    or (not trial.met and not b.trial.met and v > b.trial.metric)
  if better then
    close(b and b.qdq)
    local choice = {}
    for gi, v in ipairs(st.choice) do choice[gi] = v end
    st.best = { trial = trial, qdq = st.qdq, choice = choice, list = st.list }
    st.qdq = nil
  end
  if st.opts.progress then st.opts.progress(trial, st) end
  return true
end

--- stop: ends the repeat it is in when the last trial met the goal (when =
-- "met", the default) or always (when = "always").
function M.steps.stop(st, s)
  local last = st.trials[#st.trials]
  if (s.when or "met") == "always" or (last and last.met) then st.stop = true end
  return true
end

--- move_up: the `count` (1) noisiest groups of the current choice go up
-- one precision (their floor), and the budget down to the noise left, so the
-- solver cannot spend what was removed elsewhere.
function M.steps.move_up(st, s)
  local cand = {}
  for gi, g in ipairs(st.gs.groups) do
    local p = st.choice[gi]
    local z = st.problem.noise[gi][p]
    if g.decide and p < 3 and z > 0 and not (st.fixedg and st.fixedg[gi]) then cand[#cand + 1] = { gi = gi, z = z, p = p } end
  end
  table.sort(cand, function(a, b) return a.z > b.z or (a.z == b.z and a.gi < b.gi) end)
  if #cand == 0 then st.stop = true return true end
  local removed = 0
  for k = 1, math.min(s.count or 1, #cand) do
    local c = cand[k]
    local up = c.p + 1
    if st.problem.time[c.gi][up] == HUGE then up = 3 end
    st.floor[c.gi] = up
    removed = removed + c.z - st.problem.noise[c.gi][up]
  end
  st.budget = math.max(0, math.min(st.budget, st.solution.noise - removed))
  return true
end

--- save: the best model found and its figures (OUT and OUT.knobs.json),
-- whether or not it met the goal.
function M.steps.save(st)
  local b = st.best
  if not b then return nil, "no trial ran" end
  local out = st.opts.output
  if out then
    local ok, err = b.qdq:save(out)
    if not ok then return nil, err end
    local fig = { model = type(st.opts.model) == "string" and st.opts.model or json.null,
                  output = out, met = b.trial.met, reference = st.reference,
                  goal = st.opts.goal_text or json.null, best = b.trial, trials = st.trials }
    local wok, werr = fs.write_atomic(out .. ".knobs.json", json.encode(fig) .. "\n")
    if not wok then return nil, werr end
    st.figures = out .. ".knobs.json"
  end
  st.met = b.trial.met
  return true
end

--- calq's accuracy-driven loop: observe, costs, solve, then up to max_trials
-- rounds of quantize, evaluate, stop when met, move the most sensitive up,
-- solve again (free: also without the floors at the lowered budget, the
-- faster predicted kept; o.free = false: the floored choice only); save the best.
function M.schedule(o)
  o = o or {}
  return {
    { step = "observe", items = o.sens_items },
    { step = "costs" },
    { step = "solve", budget = o.budget, method = o.method },
    { step = "repeat", times = o.max_trials or 10, body = {
      { step = "quantize" },
      { step = "evaluate" },
      { step = "stop", when = "met" },
      { step = "move_up", count = o.move_count or 1 },
      { step = "solve", method = o.method, free = o.free ~= false },
    } },
    { step = "save" },
  }
end

local function run_steps(st, steps)
  for _, s in ipairs(steps) do
    if st.stop then return true end
    local ok, err
    if type(s) == "function" then
      ok, err = s(st)
    elseif s.step == "repeat" then
      for _ = 1, s.times or 1 do
        ok, err = run_steps(st, s.body)
        if not ok then return nil, err end
        if st.stop then break end
      end
      st.stop = false
      ok = true
    else
      local fn = M.steps[s.step]
      if not fn then return nil, ("schedule: unknown step '%s'"):format(tostring(s.step)) end
      local c0 = os.clock()
      ok, err = fn(st, s)
      st.seconds[s.step] = (st.seconds[s.step] or 0) + os.clock() - c0
    end
    if not ok then return nil, err end
  end
  return true
end

--- Run a schedule. opts: model (path or Model), calib, preprocess, stats,
-- observer, activations, threads, costs (a cost source), convert, metric,
-- tolerance (0.01: the metric within 1 % relative of fp32's) or goal =
-- function(value, reference) -> bool, output, progress = function(trial, st).
-- Returns the state ({best, trials, met, reference, figures, seconds = {[step]
-- = CPU s, calibrate = statistics and sensitivity alone, output_noise = the
-- output proxy's runs}, ...}) or nil, msg.
function M.run(schedule, opts)
  local tol = opts.tolerance or 0.01
  local st = { opts = setmetatable({}, { __index = opts }), trials = {}, model = opts.model, seconds = {} }
  st.opts.goal = opts.goal or function(v, ref) return v >= ref * (1 - tol) end
  st.opts.goal_text = opts.goal_text or ("within %g relative of fp32"):format(tol)
  local ok, r1, r2 = pcall(run_steps, st, schedule)
  local err
  if not ok then err = r1 elseif not r1 then ok, err = false, r2 end
  close(st.qdq) close(st.run)
  st.qdq, st.run = nil, nil
  if not ok then
    if type(err) == "table" and err.msg then err = err.msg end
    return nil, tostring(err), st
  end
  return st
end

function M.close(st)
  if st.best then close(st.best.qdq) st.best.qdq = nil end
  if st.owns_model then close(st.model) end
end

return M

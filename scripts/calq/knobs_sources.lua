--- calq.knobs' cost sources and metrics (part of calq.knobs, which takes
-- every function here under the same name; see knobs.lua for the schedule).
-- A cost source: function(state, variant Model, precision) -> {[name] = ms};
-- a metric: function(state, run Model) -> value (higher is better).
local core = require("calq.core").knobs
local HUGE = math.huge
local M = {}

-- ---- cost sources: function(state, variant Model, precision) -> {[name] = ms}

--- Measured on this host: the model's own per-node profile (model:profile()
-- after `repeat` runs on state.sample).
function M.measured(rep)
  rep = rep or 10
  return function(st, m)
    m:reset_profile()
    local ok, err = m:time(st.sample, rep, 2)
    if not ok then return nil, err end
    m:reset_profile()
    ok, err = m:time(st.sample, rep, 0)
    if not ok then return nil, err end
    local t = {}
    for _, r in ipairs(assert(m:profile())) do
      if r.name then t[r.name] = (t[r.name] or 0) + (r.ms or 0) end
    end
    return t
  end, "measured"
end

--- The cost model on a profile (calq.cost.model: the estimators of
-- cost/cost.h) on each variant as the executor plans it.
function M.estimated(profile, opts)
  opts = opts or {}
  return function(_, m)
    local cost = require "calq.cost"
    local copts = { threads = opts.threads or 1, memory = opts.memory }
    local r, err = cost.model(m, profile, copts)
    if not r and tostring(err):find("shape is unknown", 1, true) then
      -- a free dimension (the batch): run the variant once on one item of
      -- zeros so every shape is known, then cost that run
      local feeds = {}
      for _, v in ipairs(m:inputs()) do
        local shape = {}
        for d, n in ipairs(v.shape) do shape[d] = (math.type(n) == "integer" and n > 0) and n or 1 end
        feeds[v.name] = require("calq.tensor").full(shape, 0)
      end
      local ok, rerr = m:run(feeds)
      if not ok then return nil, rerr end
      r, err = cost.model(m, profile, copts)
    end
    if not r then return nil, err end
    local t = {}
    for _, row in ipairs(r.nodes) do t[row.name] = (t[row.name] or 0) + row.predicted_ms end
    return t
  end, "estimated"
end

--- Conversions as measured on this host: the QuantizeLinear and
-- DequantizeLinear nodes of the all-int8 model the costs step timed
-- (state.cvt_ns: ns per element), 1 ns an element before it.
function M.measured_convert()
  return function(kind, elements, st)
    local r = st and st.cvt_ns and st.cvt_ns[kind] or 1
    return elements * r / 1e6
  end
end

--- Conversions on a profile (calq.cost.convert: cost.h's cq_cost_convert_ns).
function M.profile_convert(profile, threads)
  return function(kind, elements)
    return require("calq.cost").convert(profile, kind, elements, threads or 1)
  end
end

-- ---- metrics: function(state, run Model) -> value (higher is better)

--- SQNR in dB of the model's outputs against fp32's on state.eval_inputs
-- (a list of inputs; their fp32 outputs are computed once, by the model).
function M.metric_sqnr()
  return function(st, m)
    if not st.eval_ref then
      st.eval_ref = {}
      for k, x in ipairs(st.eval_inputs) do
        local out, e = st.model:run(x)
        if not out then return nil, e end
        st.eval_ref[k] = out
      end
    end
    local sig, err = 0, 0
    for k, x in ipairs(st.eval_inputs) do
      local out, e = m:run(x)
      if not out then return nil, e end
      for name, ref in pairs(st.eval_ref[k]) do
        local s, d = core.sqnr_terms(ref, out[name])
        sig, err = sig + s, err + d
      end
    end
    if err == 0 then return HUGE end
    return 10 * math.log(sig / err, 10)
  end, "sqnr"
end

--- calq.evaluate's figure (task "classify": top-1, "blazeface": AP) on a
-- model; opts as calq.evaluate takes them (task, data, labels, limit...).
function M.metric_evaluate(opts)
  local evaluate = require "calq.evaluate"
  local key = opts.task == "classify" and "top1" or "ap"
  return function(_, m)
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    o.model = m
    local r, err = evaluate(o)
    if not r then return nil, err end
    return r.models[1][key]
  end, key
end

return M

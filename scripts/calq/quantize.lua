--- calq.quantize{...}: a fp32 ONNX model and calibration data (or saved
-- statistics) in, a quantized QDQ model out, with what was decided and,
-- on request, each node's sensitivity. `calq quantize` is its command.
--   local r = assert(calq.quantize{ model = "m.onnx", calib = "crops.txt",
--                                   preprocess = "blazeface", output = "m.int8.onnx" })
--   print(r.int8, r.quantizable, #r.exceptions)
--   local r2 = assert(calq.quantize{ model = "m.onnx", stats = "m.stats",
--                                    keep_fp32 = {"first:Conv"}, output = "m2.onnx" })
--
-- Options (only model and one of calib / stats are needed; docs/quantize.md):
--   model       a path or a calq.Model (planned in place: constant and BatchNorm folding)
--   calib       calibration data: a list of image paths (with preprocess), an
--               .npy or calq tensor file of preprocessed inputs along the first
--               dimension, or a Tensor (calq.inputs)
--   preprocess  a calq.image preset or spec, for a list
--   stats       saved statistics (a path or a calq.Stats) instead of observing
--               calib (which, when given too, serves the sensitivity only)
--   observer    minmax | movavg | percentile | entropy | entropy-asym | mse
--               (default: DEFAULTS.observer); percentile = 99.99; bins (2048);
--               zero_bin = "as_next" (default) | "keep": the entropy searches' bin 0
--   activations "u8" (asymmetric) | "s8" (symmetric); symmetric = true/false overrides
--   weights     "minmax" | "mse", per output channel (per_channel = false: per tensor)
--   defaults    false: none of calq's default exceptions (DEFAULTS.keep_fp32)
--   keep_fp32   patterns (a list, or one string with commas) of nodes kept fp32
--   precision   {{pattern or node index, "int8" | "fp32" | "bf16"}, ...}, after keep_fp32
--   auto        automatic fp32 exceptions: {sqnr = dB, max = N} keeps fp32 the
--               nodes (worst first, at most max) whose SQNR quantized alone is
--               below sqnr; false: none (default: DEFAULTS.auto, and none when
--               there are only statistics and no calib data to measure on)
--   sensitivity true, or the number of items to measure it on (default
--               DEFAULTS.sensitivity_items when true or when auto needs it);
--               sensitivity_integer: measure on the integer kernels (slower,
--               the same figures within rounding ties)
--   output      where to write the QDQ model; output_qlinear: calq's integer
--               form (cq_quant_lower) as well
--   batch (32), threads, skip_missing: as calq.inputs and calq.calib
--   progress    true: show the calibration's and the sensitivity's progress
--               on stderr (calq.progress: a bar on a terminal, plain lines
--               elsewhere); default false
-- Returns a result table, or nil and a message when a file, the model or the
-- data fail (misuse raises):
--   {model = QDQ calq.Model, quantizer = calq.Quantizer, stats = calq.Stats,
--    nodes = q:nodes(), exceptions = {{index, name, op_type, precision, reason,
--    auto, source = "default" | "user" | "auto" | "calq"}, ...}, int8, quantizable, bias_clamped = {{index, name, count}, ...},
--    sensitivity = q:sensitivity() or nil, items (calibration items, nil with
--    stats), options = {observer, method, activations, symmetric, weights,
--    per_channel, percentile, zero_bin}, output, output_qlinear}
local calib = require "calq.calib"
local check = require "calq.check"
local inputs = require "calq.inputs"
local onnx = require "calq.onnx"
local quant = require "calq.quant"

-- calq's first choice; docs/quantize.md says why and docs/experiments.md how
-- it was measured.
local DEFAULTS = {
  observer = "mse",
  activations = "u8",
  weights = "minmax",
  per_channel = true,
  percentile = 99.99,
  -- the model's output layers stay fp32 (applied before keep_fp32 and
  -- precision, which may set them back to int8; defaults = false drops it)
  keep_fp32 = { "last:*" },
  -- and the nodes whose SQNR quantized alone is below 18 dB
  auto = { sqnr = 18 },
  sensitivity_items = 32,
}

local function fail(fmt, ...) error({ msg = fmt:format(...) }, 0) end

-- Misuse is checked before any work, blaming quantize's caller (level 4:
-- the helper, check_opts, the exported function, its caller).
local LEVEL = 3

local function typeerr(name, want, v)
  check.argerror(1, "quantize", ("option '%s' must be %s, not %s"):format(name, want,
    check.typename(v)), LEVEL)
end

local function patterns_of(v)
  if v == nil then return {} end
  if type(v) == "string" then
    local out = {}
    for p in v:gmatch("[^,]+") do
      p = p:match("^%s*(.-)%s*$")
      if p ~= "" then out[#out + 1] = p end
    end
    return out
  end
  return v
end

-- A Source over the calibration data: calq.inputs for a path, or a Tensor.
local function open_data(o, batch)
  if type(o.calib) == "string" then
    local src, err = inputs.open{ path = o.calib, preprocess = o.preprocess, batch = batch,
                                  skip_missing = o.skip_missing }
    if not src then fail("%s", err) end
    return src
  end
  local t = o.calib
  local n = t:shape()[1]
  return {
    count = n, missing = {},
    batches = function()
      local done = 0
      return function()
        if done >= n then return nil end
        local k = math.min(batch, n - done)
        local x = t:slice(1, done + 1, done + k)
        done = done + k
        return x, k, done - k + 1
      end
    end,
    close = function() end,
  }
end

-- Feed up to limit items of the data to fn(x); returns the items fed.
local function each_batch(o, batch, limit, fn, what)
  local src = open_data(o, batch)
  local next_batch = src:batches()
  local fed = 0
  local bar = o.progress and require("calq.progress").new{ label = what,
    total = math.min(limit or src.count, src.count) } or nil
  while not limit or fed < limit do
    local ok, x, n, first = pcall(next_batch)
    if not ok then src:close() fail("%s", x) end
    if not x then break end
    if limit and fed + n > limit then
      n = limit - fed
      x = x:slice(1, 1, n)
    end
    local fok, ferr = fn(x)
    if not fok then
      src:close()
      fail("%s: %s items %d..%d: %s", tostring(o.calib), what, first, first + n - 1, ferr)
    end
    fed = fed + n
    if bar then bar:set(fed) end
  end
  src:close()
  if bar then bar:finish() end
  return fed
end

local function check_opts(o)
  if type(o) ~= "table" then check.typeerror(1, "quantize", "table", o, LEVEL) end
  if type(o.model) ~= "string" and not (type(o.model) == "userdata" and o.model.nodes) then
    typeerr("model", "a path or a calq.Model", o.model)
  end
  if o.calib == nil and o.stats == nil then
    check.argerror(1, "quantize", "give calib (calibration data) or stats (saved statistics)", LEVEL)
  end
  if o.calib ~= nil and type(o.calib) ~= "string" and not (type(o.calib) == "userdata" and o.calib.shape) then
    typeerr("calib", "a path or a Tensor", o.calib)
  end
  for _, k in ipairs{ "observer", "activations", "weights", "output", "output_qlinear", "zero_bin" } do
    if o[k] ~= nil and type(o[k]) ~= "string" then typeerr(k, "a string", o[k]) end
  end
  if o.auto ~= nil and o.auto ~= false and type(o.auto) ~= "table" then
    typeerr("auto", "a table or false", o.auto)
  end
  local s = o.sensitivity
  if s ~= nil and type(s) ~= "boolean" and not (math.type(s) == "integer" and s >= 1) then
    typeerr("sensitivity", "a boolean or an integer >= 1", s)
  end
  if o.zero_bin ~= nil and o.zero_bin ~= "keep" and o.zero_bin ~= "as_next" then
    check.argerror(1, "quantize", "option 'zero_bin' must be \"keep\" or \"as_next\"", LEVEL)
  end
  local _, oerr = quant.observer(o.observer or DEFAULTS.observer)
  if oerr then check.argerror(1, "quantize", oerr, LEVEL) end
  for _, k in ipairs{ "keep_fp32", "precision" } do
    if o[k] ~= nil and type(o[k]) ~= "table" and not (k == "keep_fp32" and type(o[k]) == "string") then
      typeerr(k, k == "keep_fp32" and "a string or a list" or "a list", o[k])
    end
  end
end

-- The options of quant.new from o, with the precision list.
local function qopts(o, obs, precision)
  return {
    activations = o.activations or DEFAULTS.activations,
    symmetric = o.symmetric,
    method = obs.method,
    percentile = o.percentile or DEFAULTS.percentile,
    zero_bin = o.zero_bin,
    weights = o.weights or DEFAULTS.weights,
    per_channel = o.per_channel == nil and DEFAULTS.per_channel or o.per_channel,
    precision = precision,
  }
end

local function run(o)
  local obs = quant.observer(o.observer or DEFAULTS.observer)
  local batch = o.batch or 32
  local model = o.model
  if type(model) == "string" then
    local m, msg = onnx.load(model)
    if not m then fail("%s", msg) end
    model = m
  end
  -- statistics: saved, or observed now
  local stats, items = o.stats, nil
  if type(stats) == "string" then
    local s, msg = calib.load(stats)
    if not s then fail("%s", msg) end
    stats = s
  elseif stats == nil then
    local c, cerr = calib.new(model, { observer = obs.kind, bins = o.bins, threads = o.threads })
    if not c then fail("%s", cerr) end
    items = each_batch(o, batch, nil, function(x) return c:feed(x) end, "calibration")
    stats = c:stats()
    c:close()
  end
  -- the precision list: calq's default exceptions, keep_fp32, then precision
  local precision, source = {}, {}
  local function add(p, prec, from)
    precision[#precision + 1] = { p, prec }
    local hits = type(p) == "number" and { p } or quant.match(model, p)
    if not hits then fail("pattern '%s': cannot plan %s", p, tostring(o.model)) end
    for _, i in ipairs(hits) do source[i] = prec ~= "int8" and from or nil end
  end
  if o.defaults ~= false then
    for _, p in ipairs(DEFAULTS.keep_fp32) do add(p, "fp32", "default") end
  end
  for _, p in ipairs(patterns_of(o.keep_fp32)) do add(p, "fp32", "user") end
  for _, e in ipairs(o.precision or {}) do add(e[1], e[2], "user") end
  local q, qerr = quant.new(model, stats, qopts(o, obs, precision))
  if not q then fail("%s", qerr) end
  -- sensitivity, and the automatic exceptions drawn from it
  local auto = o.auto
  if auto == nil then auto = DEFAULTS.auto end
  if o.calib == nil then
    if o.sensitivity then fail("sensitivity needs calibration data (calib), not only statistics") end
    auto = false -- nothing to measure on: reported as such
  end
  local want = o.sensitivity or (auto and true)
  local sens
  if want then
    local limit = math.type(want) == "integer" and want or DEFAULTS.sensitivity_items
    each_batch(o, batch, limit, function(x) return q:measure(x, o.threads, o.sensitivity_integer) end,
      "sensitivity")
    sens = q:sensitivity()
  end
  local auto_set = {}
  if auto and sens then
    local nodes = q:nodes()
    local cand = {}
    for _, s in ipairs(sens) do
      if nodes[s.index].int8 and s.sqnr and auto.sqnr and s.sqnr < auto.sqnr then cand[#cand + 1] = s end
    end
    table.sort(cand, function(a, b) return a.sqnr < b.sqnr or (a.sqnr == b.sqnr and a.index < b.index) end)
    local max = auto.max or #cand
    for k = 1, math.min(max, #cand) do
      auto_set[cand[k].index] = ("SQNR %.2f dB quantized alone, below %g"):format(cand[k].sqnr, auto.sqnr)
      precision[#precision + 1] = { cand[k].index, "fp32" }
      source[cand[k].index] = "auto"
    end
    if next(auto_set) then
      local q2, qerr2 = quant.new(model, stats, qopts(o, obs, precision))
      if not q2 then fail("%s", qerr2) end
      q:close()
      q = q2
    end
  end
  local qdq, merr = q:model()
  if not qdq then fail("%s", merr) end
  local nodes = q:nodes()
  local r = { model = qdq, quantizer = q, stats = stats, nodes = nodes, sensitivity = sens,
              items = items, exceptions = {}, bias_clamped = {}, int8 = 0, quantizable = 0,
              auto = auto and { sqnr = auto.sqnr, max = auto.max } or false,
              options = { observer = obs.name, method = obs.method, activations = o.activations or
                DEFAULTS.activations, symmetric = o.symmetric, weights = o.weights or DEFAULTS.weights,
                per_channel = o.per_channel == nil and DEFAULTS.per_channel or o.per_channel,
                percentile = obs.method == "percentile" and (o.percentile or DEFAULTS.percentile) or nil,
                zero_bin = obs.method:match("^entropy") and (o.zero_bin or "as_next") or nil } }
  for _, n in ipairs(nodes) do
    if n.quantizable then
      r.quantizable = r.quantizable + 1
      if n.int8 then
        r.int8 = r.int8 + 1
      else
        local from = source[n.index] or "calq"
        local why = n.reason
        if from == "auto" then
          why = auto_set[n.index]
        elseif from == "default" then
          why = "calq's default: the model's output layers (" .. table.concat(DEFAULTS.keep_fp32, ", ") .. ")"
        end
        r.exceptions[#r.exceptions + 1] = { index = n.index, name = n.name, op_type = n.op_type,
          precision = n.precision, reason = why, auto = from == "auto" or from == "default",
          source = from }
      end
    end
    if n.bias_clamped > 0 then
      r.bias_clamped[#r.bias_clamped + 1] = { index = n.index, name = n.name, count = n.bias_clamped }
    end
  end
  if o.output then
    local ok, werr = qdq:save(o.output)
    if not ok then fail("%s", werr) end
    r.output = o.output
  end
  if o.output_qlinear then
    local low = q:model()
    local ok, lerr = quant.lower(low)
    if ok then ok, lerr = low:save(o.output_qlinear) end
    low:close()
    if not ok then fail("%s", lerr) end
    r.output_qlinear = o.output_qlinear
  end
  if type(o.model) == "string" then r.source = model end
  return r
end

return function(o)
  check_opts(o)
  local ok, r = pcall(run, o)
  if ok then return r end
  if type(r) == "table" and r.msg then return nil, r.msg end
  error(r, 0)
end

--- calq.rundir: the run folder `calq quantize` and `calq eval` write and
-- `calq report` reads (docs/report.md describes every file).
--   local rundir = require "calq.rundir"
--   local dir = assert(rundir.create(nil, "quantize"))  -- runs/quantize-YYYYmmdd-HHMMSS-N
--   local r = assert(calq.quantize{ model = "m.onnx", calib = "calib.txt", preprocess = "blazeface" })
--   assert(rundir.quantize(dir, r, { model = "m.onnx", calib = "calib.txt", preprocess = "blazeface" }))
--   assert(rundir.step(dir, "quantize", arg))           -- the command and versions (run.json)
--   local acc = rundir.read(dir, "accuracy")             -- nil, msg when absent
-- Every file is JSON, written atomically (NAME.json.tmp, renamed), so an
-- interrupted run leaves whole files or none. A folder may hold the files of
-- several steps: `calq quantize --run-dir R` then `calq eval --run-dir R`.
local check = require "calq.check"
local fs = require "calq.fs"
local inputs = require "calq.inputs"
local json = require "calq.json"
local lfs = require "lfs"
local onnx = require "calq.onnx"
local quant = require "calq.quant"
local tensor = require "calq.tensor"

local rundir = {}

--- The files a run folder may hold (NAME.json), in the report's order.
rundir.files = { "run", "calib_counts", "activations", "layers", "latency", "accuracy" }

-- At most this many bins per activation histogram in activations.json
-- (adjacent grid bins are summed a power of two at a time to get there).
local HIST_BINS = 96
-- Timed runs per model for latency.json, after LATENCY_WARM untimed ones.
local LATENCY_RUNS, LATENCY_WARM = 20, 3

local function fail(fmt, ...) error({ msg = fmt:format(...) }, 0) end

-- Run fn(...) turning fail() into nil, msg.
local function guarded(fn, ...)
  local ok, r, extra = pcall(fn, ...)
  if ok then return r, extra end
  if type(r) == "table" and r.msg then return nil, r.msg end
  error(r, 0)
end

--- Make the run folder: dir itself (created with its parents when missing;
-- an existing folder is reused, its files of other steps kept), or when dir
-- is nil a new folder runs/KIND-YYYYmmdd-HHMMSS-N under the current one (N
-- from 1: the first that did not exist). Returns the path, or nil, msg.
function rundir.create(dir, kind)
  if dir ~= nil and type(dir) ~= "string" then check.typeerror(1, "create", "string or nil", dir) end
  if type(kind) ~= "string" then check.typeerror(2, "create", "string", kind) end
  if dir then
    local ok, err = fs.mkdirs(dir)
    if not ok then return nil, err end
    return dir
  end
  local ok, err = fs.mkdirs("runs")
  if not ok then return nil, err end
  local stamp = os.date("%Y%m%d-%H%M%S")
  for n = 1, 1000 do
    local path = ("runs/%s-%s-%d"):format(kind, stamp, n)
    -- lfs.mkdir fails on an existing folder: two runs never share one
    if lfs.mkdir(path) then return path end
  end
  return nil, ("runs/%s-%s-N: could not make a new folder"):format(kind, stamp)
end

--- Write value as dir/NAME.json (atomically; dir made when missing).
-- true | nil, msg.
function rundir.write(dir, name, value)
  if type(dir) ~= "string" then check.typeerror(1, "write", "string", dir) end
  if type(name) ~= "string" then check.typeerror(2, "write", "string", name) end
  local ok, err = fs.mkdirs(dir)
  if not ok then return nil, err end
  return fs.write_atomic(dir .. "/" .. name .. ".json", json.encode(value) .. "\n")
end

--- Read dir/NAME.json: value, or nil, msg (and true as a third result when
-- the file is absent rather than unreadable or damaged).
function rundir.read(dir, name)
  if type(dir) ~= "string" then check.typeerror(1, "read", "string", dir) end
  if type(name) ~= "string" then check.typeerror(2, "read", "string", name) end
  local path = dir .. "/" .. name .. ".json"
  local f, err = io.open(path, "rb")
  if not f then
    return nil, err, lfs.attributes(path, "mode") == nil
  end
  local text = f:read("a")
  f:close()
  local v, derr = json.decode(text)
  if v == nil then return nil, ("%s: %s"):format(path, derr) end
  return v
end

--- Add a step to dir/run.json: {calq = version, lua = _VERSION, steps =
-- {{kind, argv, command, started, seconds, cwd}, ...}}. argv: the words
-- after "calq" (argv[0] may hold the program); started: os.time() at the
-- start. true | nil, msg.
function rundir.step(dir, kind, argv, started)
  if type(argv) ~= "table" then check.typeerror(3, "step", "table", argv) end
  local run = rundir.read(dir, "run")
  if type(run) ~= "table" or type(run.steps) ~= "table" then run = { steps = {} } end
  run.calq = require("calq.core").version
  run.lua = _VERSION
  local words = { "calq", kind }
  for i = 1, #argv do words[#words + 1] = argv[i] end
  local shown = {}
  for i, w in ipairs(words) do
    shown[i] = w:match("^[%w%./_:=,+-]+$") and w or ("'" .. w:gsub("'", "'\\''") .. "'")
  end
  run.steps[#run.steps + 1] = {
    kind = kind, argv = words, command = table.concat(shown, " "),
    started = os.date("!%Y-%m-%dT%H:%M:%SZ", started or os.time()),
    seconds = started and os.time() - started or json.null, cwd = lfs.currentdir(),
  }
  return rundir.write(dir, "run", run)
end

-- ---- the calibration set's ground-truth counts --------------------------------

--- The sample report `calq sample --output LIST` writes next to LIST, or nil
-- when there is none (a list written otherwise, an .npy of inputs).
function rundir.sample_report_path(list)
  return list .. ".sample.json"
end

-- ---- activations ---------------------------------------------------------------

-- The histogram {lo, width, counts} with adjacent bins summed g at a time (a
-- power of two) so that at most max bins remain, aligned on the grid.
local function coarsen(h, max)
  local n = #h.counts
  if n == 0 then return { lo = 0, width = h.width, counts = {} } end
  local g = 1
  while (n + g - 1) // g + 1 > max do g = g * 2 end
  local k0 = math.floor(h.lo / h.width + 0.5) -- signed index of the first bin
  local first = k0 // g
  local out = {}
  for i = 1, n do
    local j = (k0 + i - 1) // g - first + 1
    out[j] = (out[j] or 0) + h.counts[i]
  end
  for j = 1, #out do out[j] = out[j] or 0 end
  return { lo = first * g * h.width, width = h.width * g, counts = out }
end


local QRANGE = { u8 = { 0, 255 }, s8 = { -128, 127 } }

local function activations(r)
  local out, seen = {}, {}
  local names = {}
  for _, v in ipairs(r.stats:names()) do names[v] = true end
  for _, n in ipairs(r.nodes) do
    local v = n.value
    if v and not n.removed and not seen[v] and names[v] and type(n.scale) == "number" then
      seen[v] = true
      local info = r.stats:info(v)
      local h = r.stats:histogram(v)
      local q = QRANGE[n.dtype]
      out[#out + 1] = {
        value = v, node = n.index, name = n.name, op_type = n.op_type, kind = n.kind,
        precision = n.precision, dtype = n.dtype, scale = n.scale, zero_point = n.zero_point,
        clip_lo = q and n.scale * (q[1] - n.zero_point) or json.null,
        clip_hi = q and n.scale * (q[2] - n.zero_point) or json.null,
        min = info and info.min or json.null, max = info and info.max or json.null,
        finite = info and info.finite or json.null,
        hist = h and coarsen(h, HIST_BINS) or json.null,
      }
    end
  end
  local o = r.options
  return { observer = o.observer, method = o.method, activations = o.activations,
           symmetric = o.symmetric == nil and json.null or o.symmetric, tensors = out }
end

-- ---- sensitivity and precision -----------------------------------------------------

local function layers(r)
  local sqnr = {}
  for _, s in ipairs(r.sensitivity or {}) do sqnr[s.index] = s end
  local source = {}
  for _, e in ipairs(r.exceptions) do source[e.index] = e end
  local out = {}
  for _, n in ipairs(r.nodes) do
    if n.quantizable then
      local s, e = sqnr[n.index], source[n.index]
      out[#out + 1] = {
        index = n.index, name = n.name, op_type = n.op_type, precision = n.precision, int8 = n.int8,
        sqnr = s and s.sqnr or json.null, items = s and s.items or json.null,
        source = e and e.source or (n.int8 and "calq" or json.null),
        reason = e and e.reason or n.reason or json.null,
      }
    end
  end
  return { int8 = r.int8, quantizable = r.quantizable, sensitivity = r.sensitivity ~= nil,
           auto = r.auto and { sqnr = r.auto.sqnr, max = r.auto.max or json.null } or false,
           layers = out }
end

-- ---- latency -------------------------------------------------------------------------

-- One input item to time the models on: the first of the calibration data,
-- or zeros of the model's input shape when there is none.
local function one_item(o, model)
  if type(o.calib) == "string" then
    local src, err = inputs.open{ path = o.calib, preprocess = o.preprocess, batch = 1, skip_missing = true }
    if not src then fail("%s", err) end
    local it = src:batches()
    local ok, x = pcall(it)
    src:close()
    if not ok or not x then fail("%s: no item to time the models on", o.calib) end
    return x, "the first item of " .. o.calib
  elseif o.calib then
    return o.calib:slice(1, 1, 1), "the first item of the calibration tensor"
  end
  local ins = model:inputs()
  if #ins ~= 1 then fail("no calibration data, and %d model inputs to make up", #ins) end
  local shape = {}
  for i, d in ipairs(ins[1].shape or {}) do
    if math.type(d) ~= "integer" then
      if i == 1 then d = 1 else fail("no calibration data, and input %s has a free dimension", ins[1].name) end
    end
    shape[i] = i == 1 and 1 or d
  end
  return tensor.zeros(shape, ins[1].dtype), "zeros (no calibration data)"
end

-- Time model on x; per node {name -> {ms, op_type}} in run order and the median.
local function measure(model, x, threads)
  local ok, err = model:set_threads(threads or 1)
  if not ok then fail("%s", err) end
  local med, merr = model:time(x, LATENCY_WARM, 0)
  if not med then fail("%s", merr) end
  model:reset_profile()
  med, merr = model:time(x, LATENCY_RUNS, 0)
  if not med then fail("%s", merr) end
  local rows, perr = model:profile()
  if not rows then fail("%s", perr) end
  return rows, med
end

-- The cost model's estimate of each node of a planned model that has run
-- (calq.cost.model), when calq.cost is there and a hardware profile was
-- given (o.profile, else $CALQ_PROFILE): {name -> ms}, total ms; or nil and
-- why not.
local function predict(model, prof, threads)
  local ok, cost = pcall(require, "calq.cost")
  if not ok or type(cost) ~= "table" or type(cost.model) ~= "function" then
    return nil, "no cost model in this calq (calq.cost.model)"
  end
  if prof == nil then
    return nil, "no hardware profile given (calq.rundir.quantize's profile option, or CALQ_PROFILE=NAME|FILE)"
  end
  local res, err = cost.model(model, prof, { threads = threads or 1 })
  if not res then return nil, tostring(err) end
  local by = {}
  for _, row in ipairs(res.nodes or {}) do
    if row.name and row.predicted_ms then by[row.name] = (by[row.name] or 0) + row.predicted_ms end
  end
  return by, res.total_ms
end

local function latency(r, o)
  local fp32
  if type(o.model) == "string" then
    local m, msg = onnx.load(o.model)
    if not m then fail("%s", msg) end
    fp32 = m
  else
    fail("the fp32 model's path is needed to time it")
  end
  local int8, qerr = r.quantizer:model()
  if not int8 then fp32:close() fail("%s", qerr) end
  local low, lerr = quant.lower(int8)
  if not low then fp32:close() int8:close() fail("%s", lerr) end
  local x, what = one_item(o, fp32)
  local res, rerr = guarded(function()
    local f_rows, f_med = measure(fp32, x, o.threads)
    local q_rows, q_med = measure(int8, x, o.threads)
    local prof = o.profile or os.getenv("CALQ_PROFILE")
    local pf, pf_total = predict(fp32, prof, o.threads)
    local pq, pq_total = predict(int8, prof, o.threads)
    local by, order = {}, {}
    local function row(name, op)
      if not by[name] then
        by[name] = { name = name, op_type = op, fp32_ms = json.null, int8_ms = json.null,
                     predicted_fp32_ms = json.null, predicted_int8_ms = json.null }
        order[#order + 1] = by[name]
      end
      return by[name]
    end
    for _, p in ipairs(f_rows) do
      if (p.runs or 0) > 0 then row(p.name, p.op_type).fp32_ms = p.ms end
    end
    for _, p in ipairs(q_rows) do
      if (p.runs or 0) > 0 then
        local e = row(p.name, p.op_type)
        e.int8_ms = p.ms
        e.int8_op_type = p.op_type
      end
    end
    if pf then for name, ms in pairs(pf) do row(name, "?").predicted_fp32_ms = ms end end
    if pq then for name, ms in pairs(pq) do row(name, "?").predicted_int8_ms = ms end end
    local pq_missing = not pq and pf and pq_total or nil
    local function sum(key)
      local s = 0
      for _, e in ipairs(order) do if type(e[key]) == "number" then s = s + e[key] end end
      return s
    end
    return {
      input = what, runs = LATENCY_RUNS, warmup = LATENCY_WARM, threads = o.threads or 1,
      fp32_median_ms = f_med, int8_median_ms = q_med,
      fp32_total_ms = sum("fp32_ms"), int8_total_ms = sum("int8_ms"),
      predicted = pf and { profile = type(prof) == "table" and (prof.name or "table") or prof,
                           fp32_total_ms = pf_total, int8_total_ms = pq and pq_total or json.null,
                           int8_missing = pq_missing }
        or { missing = pf_total },
      layers = order,
    }
  end)
  fp32:close()
  int8:close()
  if not res then fail("%s", rerr) end
  return res
end

--- Write the files of a quantize step: calib_counts.json (when the list has
-- a sample report), activations.json, layers.json, latency.json. r is
-- calq.quantize's result; o = {model = path, calib, preprocess, threads,
-- profile = NAME | path | table (for the predicted latency)}. A part that
-- cannot be made is left out and its reason returned: {name = message, ...}
-- (empty when all were written); nil, msg when a file cannot be written.
function rundir.quantize(dir, r, o)
  if type(dir) ~= "string" then check.typeerror(1, "quantize", "string", dir) end
  if type(r) ~= "table" or not r.nodes then check.typeerror(2, "quantize", "calq.quantize result", r) end
  if type(o) ~= "table" then check.typeerror(3, "quantize", "table", o) end
  local skipped = {}
  local function put(name, make)
    local ok, v, why = pcall(make)
    if not ok then
      if type(v) == "table" and v.msg then skipped[name] = v.msg return true end
      error(v, 0)
    end
    if v == nil then skipped[name] = why return true end
    return rundir.write(dir, name, v)
  end
  local steps = {
    { "calib_counts", function()
      if type(o.calib) ~= "string" then return nil, "the calibration data is not a list of images" end
      local side = rundir.sample_report_path(o.calib)
      local f = io.open(side, "rb")
      if not f then return nil, side .. ": no sample report (calq sample writes it)" end
      local v, err = json.decode(f:read("a"))
      f:close()
      if not v then fail("%s: %s", side, err) end
      v.source = side
      return v
    end },
    { "activations", function() return activations(r) end },
    { "layers", function() return layers(r) end },
    { "latency", function() return latency(r, o) end },
  }
  for _, s in ipairs(steps) do
    local ok, err = put(s[1], s[2])
    if not ok then return nil, err end
  end
  return skipped
end

--- Write accuracy.json from calq.evaluate's result. true | nil, msg.
function rundir.eval(dir, r)
  if type(r) ~= "table" or not r.models then check.typeerror(2, "eval", "calq.evaluate result", r) end
  return rundir.write(dir, "accuracy", r)
end

-- ---- for the commands ----------------------------------------------------------------

-- The folder of a command's run: opts.run_dir, none with opts.no_run_dir, or
-- a new one. Raises "PROG: message" when it cannot be made.
local function command_dir(prog, kind, opts)
  if opts.no_run_dir then return nil end
  local dir, err = rundir.create(opts.run_dir, kind)
  if not dir then error(prog .. ": run folder: " .. err, 0) end
  return dir
end

--- calq quantize's run folder (after the work): the folder, its files, the
-- step in run.json. opts: the command's options (run_dir, no_run_dir, model,
-- calib, preprocess, threads, profile); argv: its words; started: os.time()
-- at its start. Returns the folder (nil with --no-run-dir) and the parts
-- left out {name = why}; raises "calq quantize: ..." when a file cannot be
-- written.
function rundir.after_quantize(opts, r, argv, started)
  local dir = command_dir("calq quantize", "quantize", opts)
  if not dir then return nil, {} end
  local skipped, err = rundir.quantize(dir, r, { model = opts.model, calib = opts.calib,
    preprocess = opts.preprocess, threads = opts.threads, profile = opts.profile })
  if not skipped then error("calq quantize: run folder: " .. err, 0) end
  local ok, serr = rundir.step(dir, "quantize", argv, started)
  if not ok then error("calq quantize: run folder: " .. serr, 0) end
  return dir, skipped
end

--- calq eval's run folder: accuracy.json and the step. Returns the folder
-- (nil with --no-run-dir); raises "calq eval: ..." when it cannot be written.
function rundir.after_eval(opts, r, argv, started)
  local dir = command_dir("calq eval", "eval", opts)
  if not dir then return nil end
  local ok, err = rundir.eval(dir, r)
  if ok then ok, err = rundir.step(dir, "eval", argv, started) end
  if not ok then error("calq eval: run folder: " .. err, 0) end
  return dir
end

return rundir

--- calq.cost: the cost model, per-node latency predicted on a hardware profile
-- (core/cost/cost.h; docs/cost-model.md, "Estimators"). `calq cost` is its command.
--   local cost = require "calq.cost"
--   local r = assert(cost.estimate{ model = "m.onnx", profile = "intel_skylake_sp",
--                                   precision = "int8" })   -- or "bf16", "fp32", a knobs table
--   print(r.total_ms); for _, n in ipairs(r.nodes) do print(n.name, n.predicted_ms, n.bound) end
--   local m = assert(cost.prepare("m.onnx", { precision = "bf16" }))  -- a Model ready to cost
--   local r2 = assert(cost.model(m, "host.lua", { threads = 1 }))
--   cost.convert(profile, "quant", 802816)      -- ms of one QuantizeLinear node
--   cost.edge_cvt("int8", "fp32")               -- "dequant": what that edge needs
--
-- Rows (r.nodes, in execution order; the nodes fused into another count in it,
-- as model:profile() gives them): name, op, precision ("int8" | "bf16" |
-- "fp32"), predicted_ms, bound ("compute" | "memory" | "overhead"), macs, bytes,
-- then class (the kernel's efficiency class), level ("L1".. | "DRAM": where most
-- bytes came from), compute_ms, memory_ms, memory_far_ms (its part from the shared
-- levels and DRAM that adds to the arithmetic), memory_stream_ms (its part the
-- kernel prefetches under the arithmetic: weights from DRAM at call_ns.f32_wline /
-- s8_wline a line), cvt_ms, overhead_ms, tile_eff, fused
-- (how many nodes it absorbed), index (the planned graph's node index).
local calib = require "calq.calib"
local json = require "calq.json"
local onnx = require "calq.onnx"
local profile = require "calq.profile"
local quant = require "calq.quant"
local rng = require "calq.rng"
local tensor = require "calq.tensor"

-- The C half (core.cost: model, convert, edge_cvt) is this table; model and
-- convert are wrapped here to take a profile name or path too.
local cost = require("calq.core").cost
local core = { model = cost.model, convert = cost.convert }

local function get_profile(p)
  if type(p) == "table" then return p end
  if type(p) ~= "string" then
    error(("bad profile (a name, a path or a table expected, got %s)"):format(type(p)), 3)
  end
  return profile.load(p)
end

--- cost.model(model, profile [, opts]) -> result | nil, msg, code. model: a
-- calq.Model whose shapes are known (run once, or fixed input shapes);
-- profile: a table, a shipped name or a path; opts: threads (1), memory
-- (true: false is the ablation without the memory/cache estimator), warm
-- (true: a steady state run after run), overlap (0: the far memory traffic
-- adds to the arithmetic; 1: the roofline maximum).
function cost.model(model, prof, opts)
  local p, msg, code = get_profile(prof)
  if not p then return nil, msg, code end
  return core.model(model, p, opts)
end

--- cost.convert(profile, kind, elements [, threads]) -> ms: a conversion
-- node (kind "quant", "dequant", "requant", "f32_bf16", "bf16_f32").
function cost.convert(prof, kind, elements, threads)
  local p, msg, code = get_profile(prof)
  if not p then return nil, msg, code end
  return core.convert(p, kind, elements, threads)
end

-- cost.edge_cvt(from, to) (C) -> the conversion kind an edge from a node at
-- precision `from` to one at `to` needs in calq's executor, or nil.

-- A uniform [-1, 1) tensor of shape (bench/zoo_profile.lua's pattern).
local function synthetic(shape, seed)
  local k = 1
  for _, n in ipairs(shape) do k = k * n end
  local r, vals = rng.new(seed or 1), {}
  for i = 1, k do vals[i] = r:float() * 2 - 1 end
  return tensor.new(vals):reshape(shape)
end

-- The feeds of model: input_shape[name] where given, else the declared
-- shape with unknown dimensions 1.
local function feeds_for(model, input_shape)
  local feeds = {}
  for _, v in ipairs(model:inputs()) do
    local shape = input_shape and input_shape[v.name]
    if not shape then
      shape = {}
      for d, n in ipairs(v.shape) do shape[d] = (math.type(n) == "integer" and n > 0) and n or 1 end
    end
    feeds[v.name] = synthetic(shape)
  end
  return feeds
end

local PRECISIONS = { int8 = true, bf16 = true, fp32 = true }

-- Quantize model for costing: synthetic statistics (one batch of uniform
-- inputs, min-max: the scales do not change the cost), the nodes of `int8`
-- (indices; nil: every node the quantizer can take) int8, the rest fp32.
local function quantize_for_cost(model, feeds, int8)
  local c, err = calib.new(model, { observer = "hist" })
  if not c then return nil, err end
  local ok, ferr = c:feed(feeds)
  if not ok then c:close(); return nil, ferr end
  local stats = c:stats()
  c:close()
  local plist = {}
  if int8 then
    local want = {}
    for _, i in ipairs(int8) do want[i] = true end
    for n in model:nodes() do plist[#plist + 1] = { n.index, want[n.index] and "int8" or "fp32" } end
  end
  local q, qerr = quant.new(model, stats, { method = "minmax", precision = plist })
  if not q then return nil, qerr end
  local qdq, merr = q:model()
  q:close()
  if not qdq then return nil, merr end
  local n, lerr = quant.lower(qdq)
  if not n then qdq:close(); return nil, lerr end
  return qdq
end

-- Node name -> index of model's graph (planned first: the indices the
-- precision maps use).
local function node_index(model)
  quant.match(model, "op:*") -- plans the model
  local idx = {}
  for n in model:nodes() do
    if n.name ~= "" then idx[n.name] = n.index end
  end
  return idx
end

-- The nodes named in knobs, by precision: names (they survive quantizing
-- and lowering) and the planned graph's indices.
local function knob_nodes(model, knobs)
  local idx = node_index(model)
  local by = { int8 = {}, bf16 = {}, fp32 = {} }
  for name, prec in pairs(knobs) do
    if type(name) ~= "string" or not PRECISIONS[prec] then
      return nil, ("knobs: entry %s = %s: expected [\"node name\"] = \"int8\" | \"bf16\" | \"fp32\"")
        :format(tostring(name), tostring(prec))
    end
    if not idx[name] then return nil, ("knobs: no node named '%s'"):format(name) end
    table.insert(by[prec], { index = idx[name], name = name })
  end
  return by
end

-- set_precision's list for the nodes of list ({name =}) found in model by name.
local function bf16_list(model, list)
  local idx, out = node_index(model), {}
  for _, n in ipairs(list) do
    if idx[n.name] then out[#out + 1] = { idx[n.name], "bf16" } end
  end
  return out
end

--- cost.prepare(model, opts) -> Model ready for cost.model, info | nil, msg.
-- model: a path or a calq.Model (used in place). opts: precision ("int8" |
-- "bf16" | "fp32" | {["node name"] = precision, ...}; nil: as the model is),
-- input_shape ({name = {dims}}), threads. A QDQ model is lowered to calq's
-- integer form as `calq infer` runs it and costed at its own precisions (a
-- precision is then an error). int8 on a float model quantizes it for costing
-- only, on synthetic statistics. The model is run once on synthetic inputs, so
-- every shape is known. info = {qdq = bool, quantized = bool}.
function cost.prepare(model, opts)
  opts = opts or {}
  if type(model) == "string" then
    local m, msg = onnx.load(model)
    if not m then return nil, msg end
    model = m
  end
  local prec = opts.precision
  if prec ~= nil and not (PRECISIONS[prec] or type(prec) == "table") then
    return nil, ("precision '%s': int8, bf16, fp32 or a knobs table"):format(tostring(prec))
  end
  local info = { qdq = false, quantized = false }
  local feeds = feeds_for(model, opts.input_shape)
  -- a QDQ model: calq's integer form (planning first would fold its weights)
  local count, rep = quant.lower(model)
  if not count then return nil, rep end
  if count > 0 or #rep.kept > 0 then
    info.qdq = true
    if prec ~= nil then
      return nil, "the model is quantized (QDQ): it is costed at its own precisions, without --precision"
    end
  end
  local by
  if type(prec) == "table" then
    local b, err = knob_nodes(model, prec)
    if not b then return nil, err end
    by = b
  end
  if prec == "int8" or (by and #by.int8 > 0) then
    local int8
    if by then
      int8 = {}
      for _, n in ipairs(by.int8) do int8[#int8 + 1] = n.index end
    end
    local q, err = quantize_for_cost(model, feeds, int8)
    if not q then return nil, err end
    model, info.quantized = q, true
  elseif prec == "bf16" then
    local ok, err = model:set_precision("bf16")
    if not ok then return nil, err end
  end
  if by and #by.bf16 > 0 then
    local ok, err = model:set_precision(bf16_list(model, by.bf16))
    if not ok then return nil, err end
  end
  if opts.threads then
    local ok, err = model:set_threads(opts.threads)
    if not ok then return nil, err end
  end
  local out, err = model:run(feeds)
  if not out then return nil, err end
  return model, info
end

--- cost.estimate{model =, profile =, precision =, input_shape =, threads =,
-- memory =, warm =, overlap =} -> result (cost.model's, plus qdq and quantized) | nil, msg.
function cost.estimate(o)
  local p, perr = get_profile(o.profile)
  if not p then return nil, perr end
  local m, info = cost.prepare(o.model, o)
  if not m then return nil, info end
  local r, err = core.model(m, p, { threads = o.threads or 1, memory = o.memory ~= false,
                                    warm = o.warm ~= false, overlap = o.overlap })
  if not r then return nil, err end
  r.qdq, r.quantized = info.qdq, info.quantized
  r.model = m
  return r
end

--- cost.json(result) -> `calq cost --json` text: {"total_ms": T, "nodes": [{"name",
-- "op", "precision", "predicted_ms", "bound", "macs", "bytes", then the rest}]}.
function cost.json(r)
  local first = { "name", "op", "precision", "predicted_ms", "bound", "macs", "bytes" }
  local rest = { "class", "level", "compute_ms", "memory_ms", "memory_far_ms", "memory_stream_ms", "cvt_ms",
                 "overhead_ms", "tile_eff", "fused", "index" }
  local nodes = {}
  for _, n in ipairs(r.nodes) do
    local parts = {}
    for _, keys in ipairs{ first, rest } do
      for _, k in ipairs(keys) do
        if n[k] ~= nil then parts[#parts + 1] = json.encode(k) .. ": " .. json.encode(n[k]) end
      end
    end
    nodes[#nodes + 1] = "{" .. table.concat(parts, ", ") .. "}"
  end
  return ('{"total_ms": %s, "nodes": [%s]}'):format(json.encode(r.total_ms),
    table.concat(nodes, ",\n  "))
end

--- cost.format(result) -> the per-node table as text, then the total.
function cost.format(r)
  local lines = { ("%-40s %-16s %-5s %9s %-8s %-5s %12s %11s %-10s"):format("node", "op", "prec",
    "ms", "bound", "level", "MACs", "bytes", "class") }
  for _, n in ipairs(r.nodes) do
    local name = #n.name > 40 and "..." .. n.name:sub(-37) or n.name
    lines[#lines + 1] = ("%-40s %-16s %-5s %9.4f %-8s %-5s %12d %11d %-10s"):format(name, n.op,
      n.precision, n.predicted_ms, n.bound, n.level, n.macs, n.bytes, n.class)
  end
  lines[#lines + 1] = ("total %.3f ms (%d nodes, profile %s, %d thread%s)"):format(r.total_ms,
    #r.nodes, r.profile or "?", r.threads or 1, (r.threads or 1) == 1 and "" or "s")
  return table.concat(lines, "\n")
end

return cost

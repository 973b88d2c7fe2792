--- calq's per-node times (model:profile()), single thread (THREADS=N in the
--- environment: N threads): the counterpart of bench/ort_nodes.js.
--   calq run bench/calq_nodes.lua MODEL.onnx [RUNS] [TOP]
-- Prints the sum of per-node median times (STAT=min: the fastest run's; ms per run,
-- over RUNS runs after 5 warm-up runs), the time per operator type (Conv split by kernel size and
-- depthwise), then the TOP slowest nodes with their shapes. Inputs: the pattern
-- bench/ort_nodes.js feeds, (i % 97) / 97 - 0.5, so both engines compute the same
-- values (arange drove SiLUs to denormals). Nodes fused into the one before (Relu
-- after Conv) show 0. A QDQ model is lowered first (LOWER=0: not).
local calq = require "calq"
local path, runs, top = ...
if not path then
  io.stderr:write("usage: calq run bench/calq_nodes.lua MODEL.onnx [RUNS] [TOP]\n")
  os.exit(2)
end
runs = math.tointeger(tonumber(runs or 50)) or 50
top = math.tointeger(tonumber(top or 25)) or 25
local m = assert(calq.onnx.load(path))
-- a QDQ model runs in calq's integer form, as `calq infer` runs it (LOWER=0: as
-- written, float ops between QuantizeLinear and DequantizeLinear)
if os.getenv("LOWER") ~= "0" then
  local n, rep = calq.quant.lower(m)
  if not n then error(path .. ": " .. tostring(rep)) end
end
local feeds = {}
for _, v in ipairs(m:inputs()) do
  local shape = {}
  for d, n in ipairs(v.shape) do shape[d] = (math.type(n) == "integer" and n > 0) and n or 1 end
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  local vals = {}
  for i = 0, n - 1 do vals[i + 1] = (i % 97) / 97 - 0.5 end
  feeds[v.name] = calq.tensor.new(vals):reshape(shape)
end
local threads = math.tointeger(tonumber(os.getenv("THREADS") or 1)) or 1
local by_min = os.getenv("STAT") == "min"
m:set_threads(threads)
for _ = 1, 5 do assert(m:run(feeds)) end
-- one profiled run at a time: per-node medians, as bench/ort_nodes.js reports
local samples, prof = {}, nil
for _ = 1, runs do
  m:reset_profile()
  assert(m:run(feeds))
  prof = m:profile()
  for i, r in ipairs(prof) do
    samples[i] = samples[i] or {}
    samples[i][#samples[i] + 1] = r.ms
  end
end
for i, r in ipairs(prof) do
  local xs = samples[i]
  table.sort(xs)
  local h = #xs // 2
  r.ms = by_min and xs[1] or #xs % 2 == 1 and xs[h + 1] or (xs[h] + xs[h + 1]) / 2
end

local function sh(s)
  if not s then return "" end
  local t = {}
  for i, v in ipairs(s) do t[i] = tostring(v) end
  return table.concat(t, "x")
end
local byop, order, total = {}, {}, 0
for _, r in ipairs(prof) do
  local k = r.op_type
  if k == "Conv" and r.inputs[2] then
    local w = r.inputs[2]
    k = ("Conv %dx%d%s"):format(w[3] or 1, w[4] or 1, w[2] == 1 and " dw" or "")
  end
  if not byop[k] then order[#order + 1] = k; byop[k] = 0 end
  byop[k] = byop[k] + r.ms
  total = total + r.ms
end
table.sort(order, function(a, b) return byop[a] > byop[b] end)
print(("%s: calq per-node %s over %d runs, %d thread(s); sum %.3f ms"):format(
  path:match("[^/]*$"), by_min and "minima" or "medians", runs, threads, total))
for _, k in ipairs(order) do print(("  %-24s %.3f"):format(k, byop[k])) end
table.sort(prof, function(a, b) return a.ms > b.ms end)
for i = 1, math.min(top, #prof) do
  local r = prof[i]
  local ins = {}
  for j, s in ipairs(r.inputs) do ins[j] = sh(s) end
  print(("%8.3f %-14s %-40s %s -> %s"):format(r.ms, r.op_type, r.name:sub(1, 40), table.concat(ins, " "),
                                               sh(r.outputs[1])))
end

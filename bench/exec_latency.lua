--- calq latency of models on constant-pattern inputs, single thread (QDQ files
-- lowered to calq's integer form first, as `calq infer` runs them).
--   calq run bench/exec_latency.lua MODEL.onnx ... [--repeat N] [--warmup N] [--threads N]
-- One line per model: "calq MODEL median_ms min_ms p90_ms peak_bytes".
local calq = require "calq"
local bench_feeds = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "feeds.lua")
local argv, models = {...}, {}
local rep, warm, threads = 20, 3, 1
local i = 1
while i <= #argv do
  if argv[i] == "--repeat" then rep = math.tointeger(tonumber(argv[i + 1])); i = i + 1
  elseif argv[i] == "--warmup" then warm = math.tointeger(tonumber(argv[i + 1])); i = i + 1
  elseif argv[i] == "--threads" then threads = math.tointeger(tonumber(argv[i + 1])); i = i + 1
  else models[#models + 1] = argv[i] end
  i = i + 1
end
for _, path in ipairs(models) do
  local m = assert(calq.onnx.load(path))
  local feeds = bench_feeds.uniform(calq, m) -- uniform in [-1, 1), as ORT is fed
  -- a QDQ file runs as calq's integer form (what `calq infer` runs by default)
  local qdq = false
  for n in m:nodes() do if n.op_type == "QuantizeLinear" then qdq = true break end end
  if qdq then assert(calq.quant.lower(m)) end
  m:set_threads(threads)
  local med, mn, p90 = assert(m:time(feeds, rep, warm))
  local peak = m:memory()
  print(("calq %s %.3f %.3f %.3f %d"):format(path, med, mn, p90, peak))
end

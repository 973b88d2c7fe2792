--- calq's profile of a model, summed by operator type: where the time goes and at what
-- rate (GFLOP/s for contractions, GB/s for the memory-bound rest; model:profile()).
--   calq run bench/zoo_profile.lua MODEL.onnx ... [--repeat N] [--warmup N] [--threads N] [--top K]
-- One line per operator type, slowest first (K of them; all without --top):
-- "profile MODEL OP_TYPE ms_per_run share_% rate unit nodes". A type's rate is its summed
-- work over its summed time; nodes fused into another (a Relu into its Conv) count in
-- that node's type.
local calq = require "calq"
local bench_feeds = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "feeds.lua")
local argv, models = {...}, {}
local rep, warm, threads, top = 20, 3, 1, math.huge
local i = 1
while i <= #argv do
  local a, v = argv[i], math.tointeger(tonumber(argv[i + 1]))
  if a == "--repeat" then rep = v elseif a == "--warmup" then warm = v
  elseif a == "--threads" then threads = v elseif a == "--top" then top = v
  else models[#models + 1] = a; i = i - 1 end
  i = i + 2
end
for _, path in ipairs(models) do
  local m = assert(calq.onnx.load(path))
  local feeds = bench_feeds.uniform(calq, m) -- as bench/exec_latency.lua
  assert(m:set_threads(threads))
  assert(m:time(feeds, warm, 1))
  assert(m:reset_profile())
  assert(m:time(feeds, rep, 0))
  local by, total = {}, 0
  for _, p in ipairs(m:profile()) do
    if p.runs > 0 then
      local t = by[p.op_type] or {op = p.op_type, ms = 0, flops = 0, bytes = 0, n = 0, bound = p.bound}
      by[p.op_type] = t
      t.ms, t.n = t.ms + p.ms, t.n + 1
      t.flops, t.bytes = t.flops + (p.flops or 0), t.bytes + (p.bytes or 0)
      total = total + p.ms
    end
  end
  local list = {}
  for _, t in pairs(by) do list[#list + 1] = t end
  table.sort(list, function(a, b) return a.ms > b.ms end)
  for k = 1, math.min(top, #list) do
    local t = list[k]
    local compute = t.bound == "compute"
    local rate = (compute and t.flops or t.bytes) / (t.ms / 1e3) / 1e9
    print(("profile %s %s %.3f %.1f %.1f %s %d"):format(path:match("[^/]+$"), t.op, t.ms,
      100 * t.ms / total, rate, compute and "GFLOP/s" or "GB/s", t.n))
  end
end

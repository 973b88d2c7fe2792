--- bench/nodes_min.lua - the fastest round of chosen nodes, for per-node A/B runs of two
--- builds: each node whose op type or name matches PATTERN (a Lua pattern), its best
--- per-run time over ROUNDS rounds of 2 runs (model:profile(); with
--- CALQ_PROFILE_CLOCK=cpu the thread's CPU time), and the best round's sum of all nodes.
--   calq run bench/nodes_min.lua MODEL.onnx PATTERN [ROUNDS]
-- The model as bench/cost_validate.lua runs it (calq.cost.prepare: a QDQ file lowered as
-- `calq infer` runs it), one thread, inputs from a seeded generator.
local calq = require "calq"
local bench_feeds = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "feeds.lua")
local path, pat, rounds = ...
if not (path and pat) then
  io.stderr:write("usage: calq run bench/nodes_min.lua MODEL.onnx PATTERN [ROUNDS]\n")
  os.exit(2)
end
rounds = math.tointeger(tonumber(rounds or 15)) or 15
local m = assert(calq.cost.prepare(path, { threads = 1 }))
local feeds = bench_feeds.uniform(calq, m)
assert(m:time(feeds, 3, 1))
local best, order, total = {}, {}, math.huge
for _ = 1, rounds do
  assert(m:reset_profile())
  assert(m:time(feeds, 2, 0))
  local s = 0
  for _, p in ipairs(m:profile()) do
    s = s + p.ms
    if p.op_type:match(pat) or p.name:match(pat) then
      if not best[p.name] then order[#order + 1] = p.name end
      best[p.name] = math.min(best[p.name] or math.huge, p.ms)
    end
  end
  total = math.min(total, s)
end
local sum = 0
for _, name in ipairs(order) do
  print(("%-70s %.4f"):format(name, best[name]))
  sum = sum + best[name]
end
print(("%d nodes, sum of their bests %.4f ms; best round's sum of all nodes %.3f ms"):format(
  #order, sum, total))

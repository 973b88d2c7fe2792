-- bench/cost_validate.lua - the cost model against measurement: for each model and
-- precision, calq's executor's per-node latency (model:profile(), medians of ROUNDS
-- rounds of REPEAT runs) against calq.cost's prediction on a profile, node by node.
--   calq run bench/cost_validate.lua --profile P [--rounds N] [--repeat N] [--warmup N]
--            [--threads N] [--stat median|min] [--turn N] [--contiguous] [--nodes] SPEC ...
-- SPEC is MODEL.onnx[@fp32|@bf16|@int8]: fp32 as the file is, bf16 with
-- Model:set_precision("bf16"), int8 only for a QDQ file (costed at its own
-- precisions, lowered as `calq infer` runs it). bench/cost.sh runs it on the zoo.
-- --stat min takes each node's fastest round instead of the median (on a host
-- other jobs load, the round they left alone).
-- Prints one line per SPEC:
--   "cost MODEL PREC nodes spearman measured_ms predicted_ms err_% predicted_nomem_ms
--    err_nomem_% spearman_nomem predicted_max_ms err_max_% spearman_max predicted_sum_ms
--    err_sum_% spearman_sum top_miss"
-- where err = predicted / measured - 1 over the sum of the nodes' medians, the
-- _nomem columns are the ablation without the memory/cache estimator, the _max ones
-- the roofline rule (overlap = 1: the larger of compute and memory), the _sum ones
-- compute + memory (no overlap at all, from the rows' terms), and top_miss
-- the node with the largest |predicted - measured| (name:measured/predicted ms).
-- --nodes adds "node MODEL PREC NAME OP measured_ms predicted_ms bound class level".
-- First prints "clock wall|cpu": model:profile()'s clock (CALQ_PROFILE_CLOCK=cpu: the
-- thread's CPU time).
local calq = require "calq"
local bench_feeds = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "feeds.lua")

local argv, specs = { ... }, {}
local o = { rounds = 7, ["repeat"] = 10, warmup = 3, threads = 1, turn = 4 }
local i = 1
while i <= #argv do
  local a = argv[i]
  if a == "--profile" then o.profile = argv[i + 1]; i = i + 2
  elseif a == "--nodes" then o.nodes = true; i = i + 1
  elseif a == "--contiguous" then o.contiguous = true; i = i + 1
  elseif a == "--stat" then o.stat = argv[i + 1]; i = i + 2
  elseif a:match("^%-%-") then
    local k = a:sub(3)
    o[k] = math.tointeger(tonumber(argv[i + 1])) or error("bad value for " .. a)
    i = i + 2
  else specs[#specs + 1] = a; i = i + 1 end
end
assert(o.profile, "--profile P is required")
local prof = assert(calq.profile.load(o.profile))

local function median(t)
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  local n = #s
  if n == 0 then return 0 end
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

local rank = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "rank.lua")
local spearman = rank.spearman

-- Every model is loaded first, then the rounds go round the models: each model's
-- rounds spread over the whole run, so a spell of the host's load (seconds long
-- here) takes a round or two of each rather than all of one (--contiguous: a
-- model's rounds one after another, as before). In turn, a round starts with --turn
-- unprofiled runs (4): the model before it left the caches cold, and one run does not
-- warm them here. After ResNet-50 fp32, MobileNetV3's two classifier Gemms (10 MB of
-- weights, in L3 when the model runs in a loop) took 0.68, 0.64, 0.47, 0.38 ms in its
-- first four runs, 0.35-0.36 from then on: the L3 keeps a model's lines only once it
-- has seen them reused (bench/NOTES.md, session 18). With one such run MobileNetV3 fp32
-- read 12 % over its steady time.
local jobs, clock_said = {}, false
for _, spec in ipairs(specs) do
  local path, prec = spec:match("^(.-)@(%w+)$")
  path, prec = path or spec, prec or "fp32"
  local m = assert(calq.cost.prepare(path, { precision = prec == "bf16" and "bf16" or nil,
                                             threads = o.threads }))
  local feeds = bench_feeds.uniform(calq, m)
  assert(m:time(feeds, o.warmup, 1))
  if not clock_said then
    print("clock " .. assert(m:profile_clock()))
    clock_said = true
  end
  -- per node (by position among the nodes that run), one mean per round
  jobs[#jobs + 1] = { spec = spec, path = path, prec = prec, m = m, feeds = feeds, per = {} }
end

local function round(j, turn)
  local m, feeds = j.m, j.feeds
  if turn and o.turn > 0 then assert(m:time(feeds, o.turn, 0)) end
  assert(m:reset_profile())
  assert(m:time(feeds, o["repeat"], 0))
  local k = 0
  j.order = {}
  for _, p in ipairs(m:profile()) do
    if p.runs > 0 then
      k = k + 1
      j.order[k] = p
      j.per[k] = j.per[k] or {}
      table.insert(j.per[k], p.ms)
    end
  end
end

if o.contiguous then
  for _, j in ipairs(jobs) do for _ = 1, o.rounds do round(j, false) end end
else
  for _ = 1, o.rounds do for _, j in ipairs(jobs) do round(j, #jobs > 1) end end
end

for _, j in ipairs(jobs) do
  local spec, path, prec, m, per, order = j.spec, j.path, j.prec, j.m, j.per, j.order
  local pred = assert(calq.cost.model(m, prof, { threads = o.threads }))
  local nomem = assert(calq.cost.model(m, prof, { threads = o.threads, memory = false }))
  local sum = assert(calq.cost.model(m, prof, { threads = o.threads, overlap = 1 }))
  assert(#pred.nodes == #order, ("%s: %d predicted rows, %d measured nodes"):format(spec,
    #pred.nodes, #order))
  local meas, pv, nv, sv, av = {}, {}, {}, {}, {}
  local mt, pt, nt, st, at = 0, 0, 0, 0, 0
  local worst, wd = "", -1
  for k, p in ipairs(order) do
    local row = pred.nodes[k]
    assert(row.name == p.name and row.op == p.op_type,
      ("%s: row %d is %s %s, measured %s %s"):format(spec, k, row.op, row.name, p.op_type, p.name))
    meas[k], pv[k], nv[k] = o.stat == "min" and math.min(table.unpack(per[k])) or median(per[k]),
      row.predicted_ms, nomem.nodes[k].predicted_ms
    sv[k] = sum.nodes[k].predicted_ms
    -- the rule without overlap, from the row's terms: compute + cvt + memory
    av[k] = row.compute_ms + row.cvt_ms + row.memory_ms + row.overhead_ms
    mt, pt, nt, st, at = mt + meas[k], pt + pv[k], nt + nv[k], st + sv[k], at + av[k]
    local d = math.abs(pv[k] - meas[k])
    if d > wd then
      wd = d
      worst = ("%s:%.3f/%.3f"):format(row.name ~= "" and row.name or row.op, meas[k], pv[k])
    end
    if o.nodes then
      print(("node %s %s %s %s %.4f %.4f %s %s %s"):format(path:match("[^/]+$"), prec,
        row.name ~= "" and row.name or "-", row.op, meas[k], pv[k], row.bound, row.class, row.level))
    end
  end
  print(("cost %s %s %d %.3f %.3f %.3f %+.1f %.3f %+.1f %.3f %.3f %+.1f %.3f %.3f %+.1f %.3f %s")
    :format(path:match("[^/]+$"), prec, #order, spearman(meas, pv), mt, pt, 100 * (pt / mt - 1),
      nt, 100 * (nt / mt - 1), spearman(meas, nv), st, 100 * (st / mt - 1), spearman(meas, sv),
      at, 100 * (at / mt - 1), spearman(meas, av), worst))
  m:close()
end

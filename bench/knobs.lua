-- bench/knobs.lua MODEL.onnx CALIB.npy SQNR_DB [N] [measured|PROFILE]
-- The knobs' must-show (issue 15) on an SQNR budget: calq's choice (observe,
-- costs, exact solve at the budget) against 2N measured configurations:
-- calq's, the greedy one, all int8 / bf16 / fp32, the exact choice at other
-- budgets, and random moves of calq's choice (up to 3 nodes set to a random
-- precision). Each configuration's latency is model:time (median of 20) on
-- calq's executor, 1 thread (run it under taskset: bench/knobs.sh), its output
-- SQNR against fp32 on 16 calibration items (calq.knobs.metric_sqnr). Prints
-- a line a configuration, then calq's measured time / the fastest that met
-- the budget, and calq's decision time (CPU s) against the sum of the search's
-- (quantize + evaluate + time of every configuration).
local knobs = require "calq.knobs"
local ksolve = require("calq.core").knobs.solve
local model, calib = arg[1], arg[2]
local db, n_cfg, src = tonumber(arg[3] or 30), tonumber(arg[4] or 12), arg[5] or "measured"
local clock = os.clock
local costs, convert = knobs.measured(10), nil
if src ~= "measured" then
  local prof = assert(require("calq.profile").load(src))
  costs, convert = knobs.estimated(prof), knobs.profile_convert(prof)
end
local st = { opts = { model = model, calib = calib, costs = costs, convert = convert, eval_sqnr = true,
                      eval_items = 16, batch = 1 }, trials = {}, model = model }
local t0 = clock()
assert(knobs.steps.observe(st, { items = 16 }))
assert(knobs.steps.costs(st))
assert(knobs.steps.solve(st, { budget = 10 ^ (-db / 10) }))
local decide_s = clock() - t0
local metric = knobs.metric_sqnr()
local cv = convert or knobs.measured_convert()
local function conv(k, e) return cv(k, e, st) end

local function measure(choice)
  local c0 = clock()
  local qdq, run = knobs.realize(st, knobs.precision_list(st.gs, choice))
  assert(qdq, run)
  local v = assert(metric(st, run))
  local ms = assert(run:time(st.sample, 20, 3))
  qdq:close()
  run:close()
  return v, ms, clock() - c0
end

local G = st.gs.groups
local function copy(c) local o = {} for i, v in ipairs(c) do o[i] = v end return o end
local gp = knobs.problem(st.gs, st.costs, st.noise, conv, st.budget, {})
local configs = { { "calq exact", copy(st.choice) }, { "greedy", (ksolve(gp, "greedy")) } }
local function all(p)
  local c = {}
  for gi, g in ipairs(G) do
    c[gi] = 3
    if g.decide and gp.time[gi][p] ~= math.huge then c[gi] = p end
  end
  return c
end
configs[#configs + 1] = { "all int8", all(1) }
configs[#configs + 1] = { "all bf16", all(2) }
configs[#configs + 1] = { "all fp32", all(3) }
for _, f in ipairs{ 10, 4, 0.25, 0.1 } do
  local c = ksolve(knobs.problem(st.gs, st.costs, st.noise, conv, st.budget * f, {}))
  if c then configs[#configs + 1] = { ("exact budget x%g"):format(f), c } end
end
local seed = 7
local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648 return seed % n + 1 end
while #configs < n_cfg * 2 do
  local c = copy(st.choice)
  for _ = 1, rnd(3) do
    local gi = rnd(#G)
    local p = rnd(3)
    if G[gi].decide and gp.time[gi][p] ~= math.huge then c[gi] = p end
  end
  configs[#configs + 1] = { "random move", c }
end

local search_s, met, best, calq_ms = 0, 0, nil, nil
for k, cf in ipairs(configs) do
  local v, ms, s = measure(cf[2])
  search_s = search_s + s
  local ok = v >= db
  if ok then
    met = met + 1
    if not best or ms < best.ms then best = { ms = ms, name = cf[1], k = k } end
  end
  if k == 1 then calq_ms = ms end
  local cnt = { 0, 0, 0 }
  for gi, g in ipairs(G) do if g.decide then cnt[cf[2][gi]] = cnt[cf[2][gi]] + 1 end end
  print(("%2d %-18s sqnr %6.2f dB %s %7.3f ms  int8 %d bf16 %d fp32 %d"):format(k, cf[1], v,
    ok and "met" or "   ", ms, cnt[1], cnt[2], cnt[3]))
  io.stdout:flush()
end
print(("budget %g dB (%s costs): %d configurations measured, %d met it; calq %.3f ms, fastest met %.3f ms (#%d %s): calq / fastest %.3f"):format(
  db, src, #configs, met, calq_ms, best and best.ms or 0 / 0, best and best.k or 0, best and best.name or "-",
  calq_ms / (best and best.ms or 0 / 0)))
print(("calq's decision %.2f s CPU (observe + costs + solve; the solve %.3f s, exact %s) against the measured search's %.1f s"):format(
  decide_s, st.solution.seconds, tostring(st.solution.exact), search_s))

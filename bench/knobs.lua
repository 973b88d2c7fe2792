-- bench/knobs.lua: the knobs' must-show (issue 15): calq's choice against at least N
-- distinct measured configurations that meet the same accuracy budget.
--
--   lua5.4 bench/knobs.lua MODEL.onnx CALIB TASK BUDGET [key=value ...]   (bench/knobs.sh runs it)
--
-- TASK sqnr: the budget is an output SQNR in dB against fp32 on the first 16 calibration
-- items (calq.knobs.metric_sqnr); TASK blazeface: AP@0.5 on data= (dlib's testing.xml)
-- within BUDGET relative of fp32's (calq.evaluate).
-- calq's choice is what `calq quantize --knobs auto` does: observe (statistics, each
-- group's noise at the model's output), costs (the cost model on profile=, or
-- measured), solve, then the accuracy-driven loop (quantize, evaluate, move up) until
-- the budget is met. Its decision time is that whole run's CPU time.
-- The measured search: distinct configurations (one key a precision vector): calq's,
-- the greedy and exact solutions at other budgets, all int8 / bf16 / fp32, all int8
-- with the k groups of most output noise in fp32 or bf16, and random ones (a random
-- subset of groups moved to fp32 or bf16 from all int8, or a few groups of calq's choice
-- or of a tighter exact solution moved); each is quantized and evaluated until at least n= of them meet the budget
-- (at most max= tried). Those that meet it are timed on calq's executor, 1 thread:
-- rounds= rounds, each timing every configuration in turn (model:time, reps= runs
-- after 1 warm one; the order rotates a round), the figure being the median over the
-- rounds, so slow spells of a shared machine fall on all configurations alike. The
-- clock (clock=cpu, the default) is the process's CPU time over the runs (1 thread:
-- time others take on the core is not counted); clock=wall: model:time's median.
-- Prints a line a configuration (predicted ms, predicted and measured accuracy, the
-- measured ms and its spread), then calq's rank, calq / fastest, and calq's decision
-- time against the measured search's (quantize + evaluate + timing of every one).
-- Options: profile=intel_sapphire_rapids (or a .lua, or "measured"), n=20, max=100,
-- rounds=9, reps=5, clock=cpu|wall, preprocess=, data=, out_items=4, proxy=output|local,
-- seed=7.
local knobs = require "calq.knobs"
local ksolve = require("calq.core").knobs.solve

local model, calib, task, budget_arg = arg[1], arg[2], arg[3], tonumber(arg[4])
if not (model and calib and (task == "sqnr" or task == "blazeface") and budget_arg) then
  io.stderr:write("usage: bench/knobs.lua MODEL CALIB sqnr|blazeface BUDGET [key=value ...]\n")
  os.exit(2)
end
local opt = { profile = "intel_sapphire_rapids", n = "20", max = "100", rounds = "9", reps = "5",
              out_items = "4", proxy = "output", seed = "7", clock = "cpu" }
for i = 5, #arg do
  local k, v = arg[i]:match("^([%w_]+)=(.*)$")
  if not k then io.stderr:write("bad option " .. arg[i] .. "\n") os.exit(2) end
  opt[k] = v
end
local clock = os.clock
local function loadavg()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("l") or "?"
  if f then f:close() end
  return s
end

local costs, convert = knobs.measured(10), nil
if opt.profile ~= "measured" then
  local prof = assert(require("calq.profile").load(opt.profile))
  costs, convert = knobs.estimated(prof), knobs.profile_convert(prof)
end
local metric, goal
if task == "sqnr" then
  metric = knobs.metric_sqnr()
  goal = function(v) return v >= budget_arg end
else
  metric = knobs.metric_evaluate{ task = "blazeface", data = opt.data }
  goal = function(v, ref) return v >= ref * (1 - budget_arg) end
end

print(("knobs bench: %s, %s budget %g, costs %s, proxy %s; load %s"):format(model, task, budget_arg,
  opt.profile, opt.proxy, loadavg()))
-- calq's choice: the loop as calq quantize --knobs auto runs it
local t0 = clock()
local sched = knobs.schedule{ max_trials = 10, sens_items = 16,
                              budget = task == "sqnr" and 10 ^ (-budget_arg / 10) or nil }
local st = assert(knobs.run(sched, {
  model = model, calib = calib, preprocess = opt.preprocess, costs = costs, convert = convert,
  metric = metric, goal = goal, eval_sqnr = task == "sqnr", eval_items = 16, batch = 1,
  out_items = tonumber(opt.out_items), proxy = opt.proxy, tolerance = budget_arg }))
local decide_s = clock() - t0
local ref = st.reference
local add = st.additivity
if add then
  local nd = 0
  for _, g in ipairs(st.gs.groups) do if g.decide then nd = nd + 1 end end
  print(("additivity: all-int8 output noise measured %.3g (%.2f dB), the sum of the %d groups' terms %.3g (%.2f dB): scale %.3f"):format(
    add.measured, -10 * math.log(add.measured, 10), nd, add.sum, -10 * math.log(add.sum, 10), add.scale))
end
for _, t in ipairs(st.trials) do
  print(("calq trial %d: metric %.4f, predicted %.3f ms, predicted noise %.3g, int8 %d bf16 %d fp32 %d%s"):format(
    t.n, t.metric, t.predicted_ms, t.noise, t.counts.int8, t.counts.bf16, t.counts.fp32, t.met and ", met" or ""))
end
local parts = {}
for _, k in ipairs{ "observe", "calibrate", "output_noise", "costs", "solve", "quantize", "evaluate", "move_up" } do
  if st.seconds[k] then parts[#parts + 1] = ("%s %.1f"):format(k, st.seconds[k]) end
end
print(("calq's decision: %.1f s CPU (%d trials; by step, s: %s)"):format(decide_s, #st.trials,
  table.concat(parts, ", ")))

-- ---- the configurations
local G = st.gs.groups
local cv = convert or knobs.measured_convert()
local function conv(k, e) return cv(k, e, st) end
local gp = knobs.problem(st.gs, st.costs, st.noise, conv, st.budget, {}, st.fixedg)
local function key(c) return table.concat(c, "") end
local configs, seen = {}, {}
local function add_cfg(name, c)
  if not c then return end
  for gi = 1, #G do if gp.time[gi][c[gi]] == math.huge then return end end
  local k = key(c)
  if seen[k] then return end
  seen[k] = true
  configs[#configs + 1] = { name = name, c = c }
end
local function copy(c) local o = {} for i, v in ipairs(c) do o[i] = v end return o end
local function all(p)
  local c = {}
  for gi, g in ipairs(G) do
    c[gi] = 3
    if g.decide and gp.time[gi][p] ~= math.huge then c[gi] = p end
  end
  return c
end
add_cfg("calq", copy(st.best.choice))
add_cfg("greedy", (ksolve(gp, "greedy")))
add_cfg("exact (no loop)", (ksolve(gp)))
add_cfg("all int8", all(1))
add_cfg("all bf16", all(2))
add_cfg("all fp32", all(3))
-- groups by their int8 noise, most first
local order = {}
for gi, g in ipairs(G) do if g.decide and gp.time[gi][1] ~= math.huge then order[#order + 1] = gi end end
table.sort(order, function(a, b) return gp.noise[a][1] > gp.noise[b][1] end)
for _, k in ipairs{ 1, 2, 3, 4, 6, 8, 12, 16 } do
  for _, p in ipairs{ 3, 2 } do
    if k <= #order then
      local c = all(1)
      for j = 1, k do
        local gi = order[j]
        c[gi] = gp.time[gi][p] ~= math.huge and p or 3
      end
      add_cfg(("int8, top %d %s"):format(k, p == 3 and "fp32" or "bf16"), c)
    end
  end
end
for _, f in ipairs{ 4, 2, 0.5, 0.25, 0.1 } do
  local p2 = knobs.problem(st.gs, st.costs, st.noise, conv, st.budget * f, {}, st.fixedg)
  add_cfg(("exact, budget x%g"):format(f), (ksolve(p2)))
end
local seed = tonumber(opt.seed)
local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648 return (seed >> 8) % n + 1 end
local max = tonumber(opt.max)
-- random ones: half from all int8 (a random few of the noisiest 16 groups moved to
-- fp32 or bf16), half from calq's choice or one of the exact solutions at a tighter
-- budget (1 to 4 random groups moved to a random precision)
local bases = { st.best.choice }
for _, cf in ipairs(configs) do if cf.name:match("^exact, budget x0") then bases[#bases + 1] = cf.c end end
local tries = 0
while #configs < max and tries < 20 * max do
  tries = tries + 1
  local c
  if tries % 2 == 0 then
    c = all(1)
    for _ = 1, rnd(math.min(8, #order)) do c[order[rnd(math.min(#order, 16))]] = rnd(2) + 1 end
    add_cfg("random from int8", c)
  else
    c = copy(bases[rnd(#bases)])
    for _ = 1, rnd(4) do c[order[rnd(#order)]] = rnd(3) end
    add_cfg("random move", c)
  end
end

-- ---- accuracy of each, until n meet the budget
local search_s, met = 0, {}
local n_want = tonumber(opt.n)
local tried = 0
for k, cf in ipairs(configs) do
  if #met >= n_want and k > 6 and cf.name:match("^random") then break end
  local c0 = clock()
  local qdq, run = knobs.realize(st, knobs.precision_list(st.gs, cf.c))
  assert(qdq, run)
  qdq:close()
  cf.metric = assert(metric(st, run))
  cf.met = goal(cf.metric, ref)
  local z = 0
  for gi = 1, #G do z = z + gp.noise[gi][cf.c[gi]] end
  cf.noise = z
  cf.eval_s = clock() - c0
  search_s = search_s + cf.eval_s
  tried = tried + 1
  if cf.met then
    cf.run = run
    met[#met + 1] = cf
  else
    run:close()
  end
end

-- predicted time of a configuration: the solver's objective
local function predicted(c)
  local t = 0
  for gi = 1, #G do t = t + gp.time[gi][c[gi]] end
  for _, e in ipairs(gp.edges) do t = t + e.cost[c[e[1]]][c[e[2]]] end
  return t
end

-- ---- timing: rounds over the configurations that met the budget
local rounds, reps = tonumber(opt.rounds), tonumber(opt.reps)
for _, cf in ipairs(met) do
  cf.ms, cf.wall = {}, {}
  assert(cf.run:set_threads(1))
end
print(("timing %d configurations, %d rounds of %d runs each, clock %s; load %s"):format(#met, rounds, reps,
  opt.clock, loadavg()))
for r = 1, rounds do
  for j = 1, #met do
    local cf = met[(j + r - 2) % #met + 1]
    local c0 = clock()
    assert(cf.run:time(st.sample, 1, 0))
    local c1 = clock()
    local wall = assert(cf.run:time(st.sample, reps, 0))
    local cpu = (clock() - c1) * 1000 / reps
    cf.ms[#cf.ms + 1] = opt.clock == "wall" and wall or cpu
    cf.wall[#cf.wall + 1] = wall
    search_s = search_s + clock() - c0
  end
end
local function median(t)
  local s = copy(t)
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end
local G_dec = 0
for _, g in ipairs(G) do if g.decide then G_dec = G_dec + 1 end end
local fastest, calq
for _, cf in ipairs(met) do
  cf.med = median(cf.ms)
  cf.wmed = median(cf.wall)
  local s = copy(cf.ms)
  table.sort(s)
  cf.lo, cf.hi = s[1], s[#s]
  if not fastest or cf.med < fastest.med then fastest = cf end
  if cf.name == "calq" then calq = cf end
end
table.sort(met, function(a, b) return a.med < b.med end)
print(("%-3s %-24s %10s %12s %10s %10s %17s %9s  %s"):format("#", "configuration", "pred ms", "pred " .. (task == "sqnr" and "dB" or "noise"),
  task == "sqnr" and "SQNR dB" or "AP", "ms", "(min-max rounds)", "wall ms", "int8/bf16/fp32"))
for k, cf in ipairs(met) do
  local cnt = { 0, 0, 0 }
  for gi, g in ipairs(G) do if g.decide then cnt[cf.c[gi]] = cnt[cf.c[gi]] + 1 end end
  local pz = task == "sqnr" and ("%.2f"):format(-10 * math.log(cf.noise, 10)) or ("%.3g"):format(cf.noise)
  print(("%-3d %-24s %10.3f %12s %10.4f %10.3f %8.3f-%-8.3f %9.3f  %d/%d/%d"):format(k, cf.name, predicted(cf.c), pz,
    cf.metric, cf.med, cf.lo, cf.hi, cf.wmed, cnt[1], cnt[2], cnt[3]))
end
-- rank agreement of predicted and measured time over the configurations
local function ranks(vals)
  local idx = {}
  for i = 1, #vals do idx[i] = i end
  table.sort(idx, function(a, b) return vals[a] < vals[b] end)
  local r = {}
  for pos, i in ipairs(idx) do r[i] = pos end
  return r
end
local pv, mv = {}, {}
for i, cf in ipairs(met) do pv[i], mv[i] = predicted(cf.c), cf.med end
local rp, rm = ranks(pv), ranks(mv)
local d2 = 0
for i = 1, #met do d2 = d2 + (rp[i] - rm[i]) ^ 2 end
local n = #met
local rho = n > 1 and 1 - 6 * d2 / (n * (n * n - 1)) or 0 / 0
local rank
for k, cf in ipairs(met) do if cf == calq then rank = k end end
print(("%d configurations tried, %d met the budget (%d deciding groups); load %s"):format(tried, #met, G_dec, loadavg()))
print(("calq %.3f ms (rank %s of %d), fastest %.3f ms (%s): calq / fastest %.3f; Spearman(predicted, measured ms) %.2f"):format(
  calq and calq.med or 0 / 0, tostring(rank), #met, fastest.med, fastest.name, (calq and calq.med or 0 / 0) / fastest.med, rho))
print(("calq's decision %.1f s CPU against the measured search's %.1f s CPU (quantize + evaluate + timing of %d configurations)"):format(
  decide_s, search_s, tried))
for _, cf in ipairs(met) do cf.run:close() end
knobs.close(st)

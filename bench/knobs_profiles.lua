-- bench/knobs_profiles.lua: the knobs' "two profiles" must-show (issue 15): one model,
-- one accuracy budget, the cost model on two hardware profiles; which groups change
-- precision between them and why (each one's predicted ms per precision on both).
--
--   lua5.4 bench/knobs_profiles.lua MODEL CALIB PROFILE_A PROFILE_B [SQNR_DB|default] [key=value]
--
-- The sensitivity is observed once (each group's noise at the model's output, as calq
-- quantize --knobs auto does); the costs come from calq.cost on each profile (the
-- model planned as this host's executor plans it); the exact solver runs at the same
-- budget: SQNR_DB as an output SQNR, or "default" (the noise of calq's default choice:
-- every node int8 but those under 18 dB alone). Options: preprocess=, out_items=4.
local knobs = require "calq.knobs"
local profile = require "calq.profile"
local model, calib, pa, pb, bud = arg[1], arg[2], arg[3], arg[4], arg[5] or "default"
if not (model and calib and pa and pb) then
  io.stderr:write("usage: bench/knobs_profiles.lua MODEL CALIB PROFILE_A PROFILE_B [SQNR_DB|default]\n")
  os.exit(2)
end
local opt = { out_items = "4" }
for i = 6, #arg do
  local k, v = arg[i]:match("^([%w_]+)=(.*)$")
  opt[k] = v
end
local st = { opts = setmetatable({ model = model, calib = calib, preprocess = opt.preprocess, batch = 1,
                                   out_items = tonumber(opt.out_items) }, {}), trials = {}, model = model }
assert(knobs.steps.observe(st, { items = 16 }))
local res = {}
for k, name in ipairs{ pa, pb } do
  local prof = assert(profile.load(name))
  st.opts.costs, st.opts.convert = knobs.estimated(prof), knobs.profile_convert(prof)
  assert(knobs.steps.costs(st))
  st.budget = nil
  assert(knobs.steps.solve(st, { budget = bud ~= "default" and 10 ^ (-tonumber(bud) / 10) or nil }))
  res[k] = { name = prof.name or name, choice = st.choice, problem = st.problem, sol = st.solution }
end
local G = st.gs.groups
local function counts(c)
  local n = { 0, 0, 0 }
  for gi, g in ipairs(G) do if g.decide then n[c[gi]] = n[c[gi]] + 1 end end
  return ("int8 %d bf16 %d fp32 %d"):format(n[1], n[2], n[3])
end
print(("%s: budget %s (noise %.3g), %d deciding groups"):format(model, bud, st.budget, (function()
  local n = 0 for _, g in ipairs(G) do if g.decide then n = n + 1 end end return n end)()))
for _, r in ipairs(res) do
  print(("  %-24s predicted %.3f ms, noise %.3g, %s, exact %s"):format(r.name, r.sol.time, r.sol.noise,
    counts(r.choice), tostring(r.sol.exact)))
end
local P = { "int8", "bf16", "fp32" }
local function ms(v) return v == math.huge and "-" or ("%.3f"):format(v) end
print(("%-34s %-10s | %-6s %8s %8s %8s | %-6s %8s %8s %8s"):format("group (head node)", "op", res[1].name:sub(1, 6),
  "int8", "bf16", "fp32", res[2].name:sub(1, 6), "int8", "bf16", "fp32"))
local changed = 0
for gi, g in ipairs(G) do
  local a, b = res[1].choice[gi], res[2].choice[gi]
  if g.decide and (a ~= b or opt.all) then
    changed = changed + (a ~= b and 1 or 0)
    local n = st.gs.nodes[g.node]
    local ta, tb = res[1].problem.time[gi], res[2].problem.time[gi]
    local name = n.name or ""
    if #name > 34 then name = ".." .. name:sub(-32) end
    print(("%-34s %-10s | %-6s %8s %8s %8s | %-6s %8s %8s %8s"):format(name, n.op_type,
      P[a], ms(ta[1]), ms(ta[2]), ms(ta[3]), P[b], ms(tb[1]), ms(tb[2]), ms(tb[3])))
  end
end
-- the why in one line a profile: where each precision is the fastest alone
for k, r in ipairs(res) do
  local fast = { 0, 0, 0 }
  for gi, g in ipairs(G) do
    if g.decide then
      local t, b = r.problem.time[gi], 3
      for p = 1, 2 do if t[p] < t[b] then b = p end end
      fast[b] = fast[b] + 1
    end
  end
  print(("%s: the fastest precision alone (conversions aside): int8 for %d groups, bf16 for %d, fp32 for %d"):format(
    res[k].name, fast[1], fast[2], fast[3]))
end
print(("%d groups change precision (ms: each group's predicted time at each precision, conversions on its edges not included)"):format(changed))
knobs.close(st)

-- bench/cost_profiles.lua - one model on two hardware profiles (issue 15, "Two
-- profiles"): each node's predicted time and bound at fp32, bf16 and int8 on each
-- profile, and the precision each profile makes fastest for it (latency only: the
-- knobs add the accuracy budget and the conversions between neighbours).
--   calq run bench/cost_profiles.lua MODEL.onnx PROFILE_A PROFILE_B [--all]
-- Prints "node NAME OP | A: fp32 bf16 int8 ms (bound) best | B: ... best" for the
-- nodes whose fastest precision or fp32 bound differs between the profiles (every
-- node with --all), then per profile the model's totals at each precision.
local calq = require "calq"

local path, pa, pb = arg[1], arg[2], arg[3]
local all = arg[4] == "--all"
assert(path and pa and pb, "usage: calq run bench/cost_profiles.lua MODEL.onnx PROFILE_A PROFILE_B [--all]")
local profs = { assert(calq.profile.load(pa)), assert(calq.profile.load(pb)) }
local precs = { "fp32", "bf16", "int8" }

-- rows[p][prof][name] = row; totals[p][prof]
local rows, totals, order = {}, {}, {}
for _, p in ipairs(precs) do
  local m = assert(calq.cost.prepare(path, { precision = p }))
  rows[p], totals[p] = {}, {}
  for k, prof in ipairs(profs) do
    local r = assert(calq.cost.model(m, prof, { threads = 1 }))
    rows[p][k], totals[p][k] = {}, r.total_ms
    for _, n in ipairs(r.nodes) do
      rows[p][k][n.name] = n
      if p == "fp32" and k == 1 then order[#order + 1] = n end
    end
  end
  m:close()
end

local function cell(k, name)
  local best, bt, parts = nil, math.huge, {}
  for _, p in ipairs(precs) do
    local n = rows[p][k][name]
    if n then
      parts[#parts + 1] = ("%.3f"):format(n.predicted_ms)
      if n.predicted_ms < bt then best, bt = p, n.predicted_ms end
    else
      parts[#parts + 1] = "-"
    end
  end
  local b = rows.fp32[k][name].bound
  return table.concat(parts, " ") .. (" (%s) %s"):format(b, best), best, b
end

for _, n in ipairs(order) do
  if n.macs > 0 then
    local a, besta, ba = cell(1, n.name)
    local b, bestb, bb = cell(2, n.name)
    if all or besta ~= bestb or ba ~= bb then
      print(("node %s %s | %s: %s | %s: %s"):format(n.name, n.op, profs[1].name, a, profs[2].name, b))
    end
  end
end
for k, prof in ipairs(profs) do
  print(("total %s fp32 %.3f bf16 %.3f int8 %.3f ms"):format(prof.name, totals.fp32[k],
    totals.bf16[k], totals.int8[k]))
end

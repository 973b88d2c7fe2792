-- bench/cost_recost.lua - the cost model against per-node times measured before: the
-- "node" lines bench/cost_validate.lua --nodes printed (MODEL PREC NAME OP measured_ms
-- ...), costed again by this build on PROFILE, so two estimators (or two profiles) are
-- compared on one measurement instead of two runs' noise.
--   calq run bench/cost_recost.lua PROFILE NODES_FILE
-- CALQ_CACHE: where the models are (as bench/cost.sh); NODES=PATTERN (Lua, matched
-- against "MODEL@PREC") also prints that run's rows: predicted - measured, measured,
-- predicted, ratio, op, class, compute, memory, far memory, tile fill, level, name.
-- OVERLAP=X (0..1, default 0): calq.cost's overlap (1: the roofline maximum).
-- Prints per run "MODEL PREC sp S meas M pred P ERR%", then the counts.
local calq = require "calq"
local argv = { ... }
local prof = assert(calq.profile.load(argv[1]))
local meas, order = {}, {}
-- "node MODEL PREC NAME OP measured predicted bound class level": the name may hold
-- spaces, so the measured time is the fifth field from the end
for l in io.lines(argv[2]) do
  local model, prec, rest = l:match("^node (%S+) (%S+) (.*)$")
  if model then
    local parts = {}
    for w in rest:gmatch("%S+") do parts[#parts + 1] = w end
    local key = model .. "@" .. prec
    if not meas[key] then meas[key] = {}; order[#order + 1] = key end
    table.insert(meas[key], tonumber(parts[#parts - 4]))
  end
end
local rank = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "rank.lua")
local spearman = rank.spearman
local cache = assert(os.getenv("CALQ_CACHE"), "set CALQ_CACHE")
local ns, ne, se = 0, 0, 0
for _, key in ipairs(order) do
  local file, prec = key:match("^(.-)@(.*)$")
  local path = file:match("barracuda") and cache .. "/blazeface/package/ONNX/" .. file or cache .. "/models/" .. file
  local m = assert(calq.cost.prepare(path, { precision = prec == "bf16" and "bf16" or nil, threads = 1 }))
  local pred = assert(calq.cost.model(m, prof, { threads = 1, overlap = tonumber(os.getenv("OVERLAP") or 0) }))
  local mv, pv, mt, pt = meas[key], {}, 0, 0
  assert(#pred.nodes == #mv, key)
  for k, row in ipairs(pred.nodes) do pv[k] = row.predicted_ms; mt = mt + mv[k]; pt = pt + pv[k] end
  local s, e = spearman(mv, pv), 100 * (pt / mt - 1)
  if os.getenv("NODES") and key:match(os.getenv("NODES")) then
    for k, row in ipairs(pred.nodes) do
      print(("  %+7.3f %7.3f %7.3f %5.2f %-14s %-10s c%6.3f m%6.3f far%6.3f te%5.2f %s %s"):format(pv[k] - mv[k], mv[k], pv[k], pv[k] / mv[k],
        row.op, row.class, row.compute_ms, row.memory_ms, row.memory_far_ms or 0, row.tile_eff, row.level, row.name:sub(-40)))
    end
  end
  ns = ns + (s >= 0.9 and 1 or 0); ne = ne + (math.abs(e) <= 10 and 1 or 0); se = se + math.abs(e)
  print(("%-45s %-5s sp %.3f meas %7.3f pred %7.3f %+6.1f%%"):format(file, prec, s, mt, pt, e))
  m:close()
end
print(("spearman>=0.9 %d, within 10%% %d, mean |err| %.1f%%"):format(ns, ne, se / #order))

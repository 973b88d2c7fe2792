-- recipes/compare_profiles.lua: one model, several hardware profiles: the precision
-- the knobs give each layer on each, and the layers that flip.
--   calq run recipes/compare_profiles.lua [OUTDIR] [--model M.onnx] [--calib N]
--        [--budget-db 25] [--profiles a,b,c]
--
-- The noise of each layer at int8 and bf16 is the model's and the data's, measured
-- once (calq.knobs' observe step); the times are each profile's (calq.cost on the
-- fp32, bf16 and all-int8 variants: the costs step), so only costs and solve run
-- again per profile. The budget is an output SQNR (25 dB: noise 10^-2.5).
local calq = require "calq"
local args = require "calq.args"
local knobs = require "calq.knobs"

local PROG = "compare_profiles"
local cache = os.getenv("CALQ_CACHE") or ".cache"
local o, rest = args.parse(arg or {}, {
  model = { type = "string", default = cache .. "/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx" },
  calib = { type = "integer", default = 8 },
  budget_db = { type = "number", default = 25 },
  profiles = { type = "string", default = "intel_sapphire_rapids,intel_skylake_sp,amd_zen4,arm_neoverse_n1" },
}, PROG)
local out = rest[1] or "build/compare_profiles"
local function check(v, msg, ...)
  if v == nil then error(PROG .. ": " .. tostring(msg), 0) end
  return v, msg, ...
end
local fs = require "calq.fs"
check(fs.mkdirs(out))
local crops = check(calq.mosaic.crops_from_dir(cache .. "/dlib/examples/johns"))
local paths = {}
for k = 1, math.min(o.calib, #crops) do paths[k] = crops[k].source end
check(fs.write_atomic(out .. "/calib.txt", table.concat(paths, "\n") .. "\n"))

local names, profs = {}, {}
for name in o.profiles:gmatch("[^,]+") do
  names[#names + 1] = name
  profs[#profs + 1] = check(calq.profile.load(name))
end

-- observe once; then per profile: its cost source, the costs step, a solve at the budget
local choices, totals = {}, {}
local st = check(knobs.run({
  { step = "observe" },
  function(s)
    for k, p in ipairs(profs) do
      s.opts.costs, s.opts.convert = knobs.estimated(p), knobs.profile_convert(p)
      local ok, err = knobs.steps.costs(s)
      if not ok then return nil, err end
      ok, err = knobs.steps.solve(s, { budget = 10 ^ (-o.budget_db / 10) })
      if not ok then return nil, err end
      choices[k], totals[k] = s.choice, s.solution
      s.budget = nil                                -- solve takes the step's budget again
    end
    return true
  end,
}, { model = o.model, calib = out .. "/calib.txt", preprocess = "blazeface", fixed = { { "last:*", "fp32" } } }))

-- the table: every layer that is not the same precision on every profile
local short = { int8 = "int8", bf16 = "bf16", fp32 = "fp32" }
local head = { ("%-5s %-7s %-34s"):format("node", "op", "name") }
for _, n in ipairs(names) do head[#head + 1] = ("%-10s"):format(n:sub(1, 10)) end
print(("%s, budget %.0f dB output SQNR; layers whose precision differs between profiles:"):format(o.model, o.budget_db))
print(table.concat(head, " "))
local flips, decided = 0, 0
for gi, g in ipairs(st.gs.groups) do
  if g.decide then
    decided = decided + 1
    local row, first, same = {}, nil, true
    for k = 1, #names do
      local p = knobs.PRECISIONS[choices[k][gi]]
      row[k] = ("%-10s"):format(short[p])
      first = first or p
      same = same and p == first
    end
    if not same then
      flips = flips + 1
      local n = st.gs.nodes[g.node]
      local name = n.name or ""
      if #name > 34 then name = "..." .. name:sub(-31) end
      print(("%-5d %-7s %-34s %s"):format(g.node, n.op_type, name, table.concat(row, " ")))
    end
  end
end
print(("%d of %d layers flip"):format(flips, decided))
for k, n in ipairs(names) do
  local c = { int8 = 0, bf16 = 0, fp32 = 0 }
  for gi, g in ipairs(st.gs.groups) do
    if g.decide then local p = knobs.PRECISIONS[choices[k][gi]] c[p] = c[p] + 1 end
  end
  print(("%-24s int8 %3d  bf16 %3d  fp32 %3d  predicted %.3f ms, output SQNR %.1f dB predicted"):format(
    n, c.int8, c.bf16, c.fp32, totals[k].time, -10 * math.log(math.max(totals[k].noise, 1e-30), 10)))
end
knobs.close(st)
return 0

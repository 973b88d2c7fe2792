-- recipes/mixed_precision_latency.lua: meet a latency target on a named hardware
-- profile with the least accuracy loss (BlazeFace back-256, int8 / bf16 / fp32 per layer).
--   calq run recipes/mixed_precision_latency.lua [OUTDIR] [--profile NAME|FILE]
--        [--target 0.7 | --target-ms MS] [--calib N]
--
-- calq's solver (cost/knobs.h) minimises the predicted time under a noise budget.
-- It has no mode for the converse (least noise under a time bound), so this recipe
-- searches for it with the solver: the least time at budget b falls as b grows, so
-- the smallest b whose least time meets the target gives the least-noise choice that
-- meets it (to the bisection's precision: 40 halvings of log b). The search is a
-- step of the schedule, a plain function between calq's observe/costs and
-- quantize/evaluate/save.
local calq = require "calq"
local args = require "calq.args"
local knobs = require "calq.knobs"

local PROG = "mixed_precision_latency"
local o, rest = args.parse(arg or {}, {
  profile = { type = "string", default = "intel_sapphire_rapids" },
  target = { type = "number", default = 0.7 },      -- the target as a fraction of fp32's predicted time
  target_ms = { type = "number" },                  -- or in ms
  calib = { type = "integer", default = 16 },
}, PROG)
local out = rest[1] or "build/mixed_precision_latency"
local cache = os.getenv("CALQ_CACHE") or ".cache"
local function check(v, msg, ...)
  if v == nil then error(PROG .. ": " .. tostring(msg), 0) end
  return v, msg, ...
end
local function db(noise) return noise > 0 and -10 * math.log(noise, 10) or math.huge end
local fs = require "calq.fs"
check(fs.mkdirs(out))

-- calibration: the first N single-face crops of dlib's examples
local crops = check(calq.mosaic.crops_from_dir(cache .. "/dlib/examples/johns"))
local paths = {}
for k = 1, math.min(o.calib, #crops) do paths[k] = crops[k].source end
local list = out .. "/calib.txt"
check(fs.write_atomic(list, table.concat(paths, "\n") .. "\n"))
local prof = check(calq.profile.load(o.profile))

-- the search step: state.problem's pieces come from calq's own steps
local function least_noise_for_target(st)
  local function solve(budget)
    st.budget, st.floor = budget, {}
    local ok, err = knobs.steps.solve(st, {})
    if not ok then return nil, err end
    return st.solution.time, st.solution.noise
  end
  local fp32_ms = check(solve(0))                    -- budget 0: nothing noisy, about all fp32
  local fast_ms, fast_noise = check(solve(1e6))      -- no bound: the fastest choice
  st.target_ms = o.target_ms or o.target * fp32_ms
  print(("predicted on %s: fp32 %.3f ms, fastest %.3f ms (output SQNR %.1f dB); target %.3f ms")
    :format(prof.name, fp32_ms, fast_ms, db(fast_noise), st.target_ms))
  if fast_ms > st.target_ms then
    print("the target is below the fastest choice: that one is taken")
    return true
  end
  local lo, hi = math.log(1e-12), math.log(math.max(fast_noise, 1e-12))
  for _ = 1, 40 do                                   -- bisect log(budget)
    local mid = (lo + hi) / 2
    if check(solve(math.exp(mid))) <= st.target_ms then hi = mid else lo = mid end
  end
  local t, z = check(solve(math.exp(hi)))
  print(("least noise meeting it: %.3f ms predicted, output SQNR %.1f dB predicted"):format(t, db(z)))
  return true
end

local st = check(knobs.run({
  { step = "observe" },
  { step = "costs" },
  least_noise_for_target,
  { step = "quantize" },
  { step = "evaluate" },
  { step = "save" },
}, {
  model = cache .. "/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx",
  calib = list, preprocess = "blazeface", fixed = { { "last:*", "fp32" } },
  costs = knobs.estimated(prof), convert = knobs.profile_convert(prof),
  metric = knobs.metric_evaluate { task = "blazeface" }, output = out .. "/back256.latency.onnx",
}))
local b = st.best.trial
print(("%d int8, %d bf16, %d fp32; AP@0.5 %.3f (fp32 %.3f); %s"):format(b.counts.int8, b.counts.bf16,
  b.counts.fp32, b.metric, st.reference, st.figures))
local met = b.predicted_ms <= st.target_ms
knobs.close(st)
return met and 0 or 1

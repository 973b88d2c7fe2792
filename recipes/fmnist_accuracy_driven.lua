-- recipes/fmnist_accuracy_driven.lua: accuracy-driven tuning of the Fashion-MNIST
-- classifier to within 1 % relative of fp32's top-1 (calq.knobs).
--   calq run recipes/fmnist_accuracy_driven.lua [OUTDIR] [--model M.onnx] [--limit N] [--profile NAME|FILE]
--        [--tolerance 0.01] [--max-trials N]
--
-- The schedule is a Lua value: calq's loop (observe, costs, solve, then rounds of
-- quantize, evaluate, stop when met, move the noisiest layer up a precision, solve
-- again; save), with one step of this recipe's own added before save: it prints
-- where each layer ended up.
local calq = require "calq"
local args = require "calq.args"
local knobs = require "calq.knobs"

local PROG = "fmnist_accuracy_driven"
local o, rest = args.parse(arg or {}, {
  model = { type = "string", default = "models/fashion_mnist/fmnist_cnn.onnx" },
  limit = { type = "integer" },                      -- the first N test images (all 10,000 by default)
  profile = { type = "string", default = "intel_sapphire_rapids" },
  tolerance = { type = "number", default = 0.01 },   -- relative to fp32's top-1
  max_trials = { type = "integer", default = 6 },
}, PROG)
local out = rest[1] or "build/fmnist_accuracy_driven"
local cache = os.getenv("CALQ_CACHE") or ".cache"
local function check(v, msg, ...)
  if v == nil then error(PROG .. ": " .. tostring(msg), 0) end
  return v, msg, ...
end
check(require("calq.fs").mkdirs(out))

local prof = check(calq.profile.load(o.profile))
-- the cost model needs known shapes; this model's batch is free, so each variant
-- runs once on the first calibration item (state.sample) before it is costed
local estimated = knobs.estimated(prof)
local function costs(st, m, precision)
  local ok, err = m:run(st.sample)
  if not ok then return nil, err end
  return estimated(st, m, precision)
end
local sched = knobs.schedule { max_trials = o.max_trials }
-- a step of our own: a function(state) -> true | nil, msg, run before "save"
table.insert(sched, #sched, function(st)
  for gi, g in ipairs(st.gs.groups) do
    if g.decide then
      local n = st.gs.nodes[g.node]
      print(("   %-6s %-28s %s"):format(n.op_type, n.name, knobs.PRECISIONS[st.best.choice[gi]]))
    end
  end
  return true
end)

-- calibration images: the bootstrap's cached set when there is one, else the
-- first 1000 training images of Debian's Fashion-MNIST, written next to the output
local calib = cache .. "/fmnist/calib_uniform1000.npy"
local have = io.open(calib, "rb")
if have then have:close() else
  calib = out .. "/calib.npy"
  local x = check(calq.data.read_idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", 1, 1000))
  check(calq.io.npy_write(calib, x:dequantize(1 / 255):view { 1000, 1, 28, 28 }))
end

local st = check(knobs.run(sched, {
  model = o.model,
  calib = calib,                                                -- 1000 preprocessed training images
  costs = costs, convert = knobs.profile_convert(prof),
  metric = knobs.metric_evaluate { task = "classify", limit = o.limit },
  tolerance = o.tolerance, output = out .. "/fmnist.knobs.onnx",
  progress = function(t)
    print(("trial %d: top-1 %.4f, predicted %.4f ms, int8 %d bf16 %d fp32 %d%s"):format(t.n, t.metric,
      t.predicted_ms, t.counts.int8, t.counts.bf16, t.counts.fp32, t.met and " (met)" or ""))
  end }))
local b = st.best.trial
print(("fp32 top-1 %.4f; best %.4f (%.2f %% relative), trial %d of %d, predicted %.4f ms on %s: %s"):format(
  st.reference, b.metric, 100 * (st.reference - b.metric) / st.reference, b.n, #st.trials, b.predicted_ms,
  prof.name, st.met and "within the tolerance" or "NOT within the tolerance"))
print("written: " .. st.figures)
knobs.close(st)
return st.met and 0 or 1

-- bench/fmnist_grid.lua: Fashion-MNIST int8 top-1, uniform against class-balanced
-- calibration, for every observer and seed (docs/experiments.md, "Fashion-MNIST").
--
--   /usr/bin/python3 bench/fmnist_torch_ptq.py --seeds 5     # writes the calibration sets
--   build/calq run bench/fmnist_grid.lua [SEEDS=5] [ENGINE=ort] [OBSERVERS=all] [EXCEPTIONS=none]
--
-- Each cell: calq.quantize{} with the observer on $CALQ_CACHE/fmnist/calib_<policy>1000
-- [_s<seed>].npy, then calq.evaluate{} of fp32 and int8 on the 10,000 test images.
-- EXCEPTIONS none (default: every quantizable node int8, the observer alone) or
-- defaults (calq's default and automatic fp32 exceptions). ENGINE ort (default: ONNX
-- Runtime on the QDQ file, seconds a cell) or calq (calq's integer form, about 30 s a
-- cell). Prints a line per cell and a Markdown table of mean, spread and range of the
-- top-1 delta against fp32.
local calq = require "calq"

local seeds = tonumber(arg[1]) or 5
local engine = arg[2] or "ort"
local observers = calq.quant.observers()
if arg[3] and arg[3] ~= "all" then
  observers = {}
  for o in arg[3]:gmatch("[^,]+") do observers[#observers + 1] = o end
end
local exceptions = arg[4] or "none"
assert(exceptions == "none" or exceptions == "defaults", "EXCEPTIONS: none or defaults")
local cache = (os.getenv("CALQ_CACHE") or ".cache") .. "/fmnist"
local fp32 = "models/fashion_mnist/fmnist_cnn.onnx"
local tmp = os.tmpname()

local function set_path(policy, seed)
  return ("%s/calib_%s1000%s.npy"):format(cache, policy, seed > 0 and "_s" .. seed or "")
end

local cells = {}
local base
for _, obs in ipairs(observers) do
  for _, policy in ipairs { "uniform", "balanced" } do
    local deltas = {}
    for seed = 0, seeds - 1 do
      local opts = { model = fp32, calib = set_path(policy, seed), observer = obs, output = tmp }
      if exceptions == "none" then opts.defaults, opts.auto = false, false end
      local q = assert(calq.quantize(opts))
      local r = assert(calq.evaluate { task = "classify", model = fp32, compare = tmp, engine = engine })
      base = r.models[1].top1
      deltas[#deltas + 1] = r.delta.top1
      print(("%-13s %-9s seed %d  int8 %d/%d  top-1 %.2f %%  delta %+.2f pt  agreement %.2f %%"):format(
        obs, policy, seed, q.int8, q.quantizable, 100 * r.models[2].top1, 100 * r.delta.top1,
        100 * r.agreement.rate))
      io.stdout:flush()
    end
    cells[obs .. "/" .. policy] = deltas
  end
end
os.remove(tmp)

local function summary(d)
  local n, sum, lo, hi = #d, 0, math.huge, -math.huge
  for _, v in ipairs(d) do sum, lo, hi = sum + v, math.min(lo, v), math.max(hi, v) end
  local mean, ss = sum / n, 0
  for _, v in ipairs(d) do ss = ss + (v - mean) ^ 2 end
  local sd = n > 1 and math.sqrt(ss / (n - 1)) or 0
  return ("%+.2f ± %.2f (%+.2f .. %+.2f)"):format(100 * mean, 100 * sd, 100 * lo, 100 * hi)
end

print(("\nfp32 top-1 %.2f %%; int8 top-1 minus fp32, points: mean ± sd (min .. max) over %d seeds, engine %s, "
  .. "exceptions %s\n"):format(100 * base, seeds, engine, exceptions))
print("| observer | uniform | class-balanced |")
print("|---|---|---|")
for _, obs in ipairs(observers) do
  print(("| %s | %s | %s |"):format(obs, summary(cells[obs .. "/uniform"]), summary(cells[obs .. "/balanced"])))
end
return 0

-- bench/bf16_models.lua - the zoo's models in fp32 and in bf16 (Model:set_precision("bf16")),
-- calq, one thread, in one run: the two models' timings alternate, ROUNDS rounds of
-- Model:time (5 runs, 1 warm-up), each model's fastest run kept (the host's other vCPU
-- halves a core's rate while it is busy: the fastest run is the one it left alone), and
-- the largest |bf16 - fp32| of each output relative to the
-- largest |fp32|. Inputs: a fixed pseudo-random image (calq.rng, uniform in [-1, 1)).
--   lua5.4 bench/bf16_models.lua [ROUNDS=5] MODEL.onnx ...   (bench/bf16_models.sh runs it)
local calq = require "calq"

local rounds = tonumber(arg[1]) or 5
local first = tonumber(arg[1]) and 2 or 1

local function input_for(m)
  local shape = {}
  for i, d in ipairs(m:inputs()[1].shape) do shape[i] = (type(d) == "number" and d > 0) and d or 1 end
  local x = calq.tensor.zeros(shape)
  local n = x:numel()
  local flat = x:view({n})
  local r = calq.rng.new(7)
  for i = 1, n do flat:set(i, r:float() * 2 - 1) end
  return x
end

print(("%-26s %10s %10s %8s %12s"):format("model (1 thread)", "fp32 ms", "bf16 ms", "speedup",
                                         "max rel err"))
for k = first, #arg do
  local path = arg[k]
  local m32 = assert(calq.onnx.load(path))
  local m16 = assert(calq.onnx.load(path))
  assert(m32:set_threads(1))
  assert(m16:set_threads(1))
  assert(m16:set_precision("bf16"))
  local x = input_for(m32)
  local feeds = {[m32:inputs()[1].name] = x}
  local a, b = assert(m32:run(feeds)), assert(m16:run(feeds))
  local err = 0
  for name, t in pairs(a) do
    local st = t:stats()
    local mag = math.max(math.abs(st.min), math.abs(st.max))
    err = math.max(err, t:maxdiff(b[name]) / (mag > 0 and mag or 1))
  end
  local t32, t16 = math.huge, math.huge
  for _ = 1, rounds do
    t32 = math.min(t32, select(2, assert(m32:time(feeds, 5, 1))))
    t16 = math.min(t16, select(2, assert(m16:time(feeds, 5, 1))))
  end
  print(("%-26s %10.2f %10.2f %7.2fx %12.2e"):format(path:match("([^/]+)%.onnx$") or path, t32,
                                                     t16, t32 / t16, err))
end

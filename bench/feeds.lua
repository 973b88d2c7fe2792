-- bench/feeds.lua - the inputs calq's model benches feed (bench/exec_latency.lua,
-- bench/zoo_profile.lua, bench/cost_validate.lua, bench/nodes_min.lua), loaded with
-- dofile:  local feeds = dofile(BENCH_DIR .. "feeds.lua"); feeds.uniform(calq, m)
-- Uniform in [-1, 1) from calq.rng seed 1, as bench/ort_latency.js feeds ONNX
-- Runtime: the arange pattern used before (0 .. 150527 for 3x224x224) drove
-- random-weight nets to huge activations whose sigmoids and products underflowed
-- to denormals, which cost every later FMA a microcode assist (EfficientNet-B0
-- 1.7x slower). Unknown or non-positive dimensions are 1.
local feeds = {}

--- A table input name -> tensor for every input of model m.
function feeds.uniform(calq, m)
  local out = {}
  for _, v in ipairs(m:inputs()) do
    local shape = {}
    for d, n in ipairs(v.shape) do shape[d] = (math.type(n) == "integer" and n > 0) and n or 1 end
    local k = 1
    for _, n in ipairs(shape) do k = k * n end
    local r, vals = calq.rng.new(1), {}
    for i = 1, k do vals[i] = r:float() * 2 - 1 end
    out[v.name] = calq.tensor.new(vals):reshape(shape)
  end
  return out
end

return feeds

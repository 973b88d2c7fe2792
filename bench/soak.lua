-- bench/soak.lua - a long soak in one process: N inferences (default
-- 100,000) of the Fashion-MNIST CNN at batch 1, fp32 then int8 (calq's QDQ
-- model, quantized on 256 training images), with the resident memory
-- (/proc/self/status VmRSS) and the open file descriptors (/proc/self/fd)
-- sampled every N/10 runs. Flat: the last sample's RSS within 2 MB of the
-- one after the first tenth (the warm-up: buffer pools, kernel plans), the
-- fd count unchanged. Prints one line per sample and PASS / FAIL.
--   lua5.4 bench/soak.lua [N [THREADS]]      (LUA_PATH / LUA_CPATH as make sets them)
local calq = require "calq"
local lfs = require "lfs"

local N = tonumber(arg[1]) or 100000
local threads = tonumber(arg[2]) or 1
local model_path = "models/fashion_mnist/fmnist_cnn.onnx"
local dir = "/usr/share/datasets/fashion-mnist/"

local function rss_kb()
  for line in io.lines("/proc/self/status") do
    local v = line:match("^VmRSS:%s+(%d+) kB")
    if v then return tonumber(v) end
  end
end

local function fds()
  local n = 0
  for f in lfs.dir("/proc/self/fd") do
    if f ~= "." and f ~= ".." then n = n + 1 end
  end
  return n
end

local images = assert(calq.data.read_idx(dir .. "t10k-images-idx3-ubyte.gz", 1, 1000))
  :dequantize(1 / 255):view(1000, 1, 28, 28)
local calib = assert(calq.data.read_idx(dir .. "train-images-idx3-ubyte.gz", 1, 256))
  :dequantize(1 / 255):view(256, 1, 28, 28)

local fp32 = assert(calq.onnx.load(model_path))
local q = assert(calq.quantize{ model = model_path, calib = calib, auto = false, threads = threads })
local int8 = q.model
local ok = true
for _, case in ipairs{ { "fp32", fp32 }, { "int8", int8 } } do
  local name, m = case[1], case[2]
  assert(m:set_threads(threads))
  local step = N // 10
  local base_rss, base_fd
  local t0 = os.clock()
  io.write(("%s: %d runs, batch 1, %d thread(s)\n"):format(name, N, threads))
  for i = 1, N do
    local k = (i - 1) % 1000 + 1
    local x = images:slice(1, k, k)
    local out = assert(m:run{ input = x })
    out.logits:close()
    x:close()
    if i % step == 0 then
      collectgarbage()
      local r, f = rss_kb(), fds()
      if i == step then base_rss, base_fd = r, f end
      io.write(("  %7d runs  RSS %6d kB (%+5d)  fds %d  %.1f us a run (CPU)\n"):format(i, r, r - base_rss,
        f, (os.clock() - t0) / i * 1e6))
      io.flush()
      if i == N then
        local flat = math.abs(r - base_rss) <= 2048 and f == base_fd
        ok = ok and flat
        io.write(("  %s: RSS %+d kB from run %d to run %d, fds %d -> %d: %s\n"):format(name, r - base_rss,
          step, N, base_fd, f, flat and "flat" or "GROWS"))
      end
    end
  end
end
print(ok and "PASS" or "FAIL")
return ok and 0 or 1

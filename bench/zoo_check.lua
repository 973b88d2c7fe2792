--- Does calq agree with ONNX Runtime on the zoo? One random input per model (uniform
-- in [-1, 1) from calq.rng seed 1), written as .npy, run by calq and by
-- tools/ort/run.js (onnxruntime-node, one thread).
--   calq run bench/zoo_check.lua MODEL.onnx ... [--tol 1e-3]
-- One line per model: "zoo_check MODEL max_abs_diff max_abs_ort rel ok|FAIL", rel the
-- largest difference over the largest |output|; exit 1 when any rel exceeds --tol.
local calq = require "calq"
local argv, models, tol = {...}, {}, 1e-3
local i = 1
while i <= #argv do
  if argv[i] == "--tol" then tol = assert(tonumber(argv[i + 1]), "--tol wants a number"); i = i + 1
  else models[#models + 1] = argv[i] end
  i = i + 1
end
local repo = (debug.getinfo(1, "S").source:match("^@(.*)/bench/[^/]*$")) or "."
local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p " .. tmp))
local bad = 0
for _, path in ipairs(models) do
  local m = assert(calq.onnx.load(path))
  local v = m:inputs()[1]
  local shape = {}
  for d, n in ipairs(v.shape) do shape[d] = (math.type(n) == "integer" and n > 0) and n or 1 end
  local r, k, flat = calq.rng.new(1), 1, {}
  for _, n in ipairs(shape) do k = k * n end
  for j = 1, k do flat[j] = r:float() * 2 - 1 end
  local x = calq.tensor.new(flat):view(shape)
  assert(calq.io.npy_write(tmp .. "/x.npy", x))
  local y = assert(m:run({[v.name] = x}))
  local oname = m:outputs()[1].name
  local cmd = ("node %q %q --input %s=%q --outdir %q"):format(repo .. "/tools/ort/run.js", path,
    v.name, tmp .. "/x.npy", tmp)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  assert(ok, "zoo_check: ORT failed on " .. path .. ": " .. out)
  local ref = assert(calq.io.npy_read(tmp .. "/" .. oname:gsub("[^%w._-]", "_") .. ".npy"))
  local diff = y[oname]:maxdiff(ref)
  local st = ref:stats()
  local scale = math.max(math.abs(st.min), math.abs(st.max))
  local rel = diff / (scale > 0 and scale or 1)
  if rel > tol then bad = bad + 1 end
  print(("zoo_check %s %.3g %.3g %.3g %s"):format(path:match("[^/]+$"), diff, scale, rel,
    rel <= tol and "ok" or "FAIL"))
end
os.execute("rm -rf " .. tmp)
os.exit(bad == 0 and 0 or 1)

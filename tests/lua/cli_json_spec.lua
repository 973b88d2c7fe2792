-- Every command whose output is data takes --json: its stdout is one JSON value
-- (calq.json.decode reads it back) with the fields its usage names, and exit 0.
local json = require "calq.json"
local lfs = require "lfs"

local build = os.getenv("BUILD") or "build"
local cache = os.getenv("CALQ_CACHE") or ".cache"
local calq_bin = "./" .. build .. "/calq"
local fmnist = "models/fashion_mnist/fmnist_cnn.onnx"
local faces = cache .. "/dlib/examples/faces/training.xml"
local node_tests = "/usr/share/libonnx-testdata/data/node"

local function exists(p) return lfs.attributes(p) ~= nil end

-- run `calq CMD`: the decoded stdout (or fail with what it printed)
local function json_of(cmd)
  local err = os.tmpname()
  local p = io.popen(("%s %s 2>%s"):format(calq_bin, cmd, err))
  local text = p:read("a")
  local ok = p:close()
  local f = io.open(err, "rb")
  local etext = f:read("a")
  f:close()
  os.remove(err)
  assert.is_true(ok, cmd .. "\n" .. text .. etext)
  local v, derr = json.decode(text)
  assert.is_table(v, ("%s: %s\n%s"):format(cmd, tostring(derr), text))
  return v
end

describe("--json", function()
  local dir
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(lfs.mkdir(dir))
    -- 8 Fashion-MNIST-shaped inputs
    local calq = require "calq"
    local r = calq.rng.new(3)
    local vals = {}
    for i = 1, 8 * 28 * 28 do vals[i] = r:float() end
    assert(calq.io.npy_write(dir .. "/x.npy", calq.tensor.new(vals):reshape { 8, 1, 28, 28 }))
    assert(calq.io.npy_write(dir .. "/x1.npy", calq.tensor.new(vals):reshape { 8, 1, 28, 28 }:slice(1, 1, 1):contiguous()))
  end)
  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

  it("calibrate, merge, quantize, report, cost, infer, bench on the Fashion-MNIST model", function()
    local c = json_of(("calibrate %s --calib %s/x.npy --output %s/s.stats --json"):format(fmnist, dir, dir))
    assert.equal(8, c.items)
    local m = json_of(("merge %s/s.stats %s/s.stats --output %s/m.stats --json"):format(dir, dir, dir))
    assert.equal(dir .. "/m.stats", m.output)
    local q = json_of(("quantize %s --calib %s/x.npy --output %s/q.onnx --run-dir %s/run --json")
      :format(fmnist, dir, dir, dir))
    assert.equal(dir .. "/q.onnx", q.output)
    assert.equal(dir .. "/run", q.run_dir)
    local r = json_of(("report %s/run --output %s/r.html --json"):format(dir, dir))
    assert.is_table(r)
    local k = json_of(("cost %s --profile intel_sapphire_rapids --input-shape input=1,1,28,28 --json"):format(fmnist))
    assert.is_true(k.total_ms > 0)
    local i = json_of(("infer %s --input %s/x1.npy --output %s/out --profile --json"):format(fmnist, dir, dir))
    assert.equal(1, #i.outputs)
    assert.same({ 1, 10 }, i.outputs[1].shape)
    assert.truthy(exists(i.outputs[1].file))
    assert.is_true(#i.profile > 0)
    local b = json_of(("bench %s %s/q.onnx --runs 3 --warmup 1 --threads 1,2 --json"):format(fmnist, dir))
    assert.equal(4, #b.rows)
    for _, row in ipairs(b.rows) do
      assert.is_true(row.median_ms > 0 and row.min_ms <= row.median_ms and row.median_ms <= row.p90_ms)
    end
    assert.same({ "fp32", "int8", "fp32", "int8" },
      { b.rows[1].precision, b.rows[2].precision, b.rows[3].precision, b.rows[4].precision })
    assert.equal(1, b.rows[1].ratio)
  end)

  it("eval", function()
    if not exists("/usr/share/datasets/fashion-mnist") then
      pending("needs Debian's dataset-fashion-mnist (make bootstrap)")
      return
    end
    local e = json_of(("eval %s --task classify --limit 50 --no-run-dir --json"):format(fmnist))
    assert.equal(50, e.images)
    assert.is_true(e.models[1].top1 >= 0 and e.models[1].top1 <= 1)
  end)

  it("sample", function()
    if not exists(faces) then pending("needs dlib's examples under " .. cache) return end
    local s = json_of(("sample --annotations %s --format dlib --size 2 --threshold 2 --output %s/l.txt --json")
      :format(faces, dir))
    assert.equal(4, s.images)
    assert.equal(2, s.chosen)
    assert.equal(17, #s.before)
    assert.equal(dir .. "/l.txt", s.output)
  end)

  it("conform", function()
    if not exists(node_tests .. "/test_add") then pending("needs Debian's libonnx-testdata") return end
    local c = json_of(("conform %s/test_add %s/test_relu --json"):format(node_tests, node_tests))
    assert.equal(2, c.passed)
    assert.equal(0, c.failed)
  end)

  it("probe #slow", function()
    local p = json_of("probe --quick --json")
    assert.is_true(p.profile.ghz > 0)
  end)
end)

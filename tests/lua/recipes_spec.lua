-- The recipes (recipes/*.lua), each run by the calq command on the real data at a
-- small size (few calibration images, a shipped profile instead of probing, a
-- limit on the test set), and what each must show checked in its output.
local lfs = require "lfs"
local json = require "calq.json"

local build = os.getenv("BUILD") or "build"
local cache = os.getenv("CALQ_CACHE") or ".cache"
local back256 = cache .. "/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx"
local johns = cache .. "/dlib/examples/johns"

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() end
  return f ~= nil
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  return d
end

-- run a recipe: its output (stdout and stderr) and whether it exited 0
local function recipe(name, argstr)
  local p = io.popen(("./%s/calq run recipes/%s.lua %s 2>&1"):format(build, name, argstr))
  local text = p:read("a")
  return text, p:close()
end

local function read_json(path)
  local f = assert(io.open(path, "rb"))
  local v, err = json.decode(f:read("a"))
  f:close()
  return assert(v, err)
end

local have_faces = exists(back256) and lfs.attributes(johns, "mode") == "directory"

describe("recipes", function()
  if not have_faces then
    pending("needs BlazeFace and dlib's examples under " .. cache .. " (make bootstrap)")
    return
  end

  it("blazeface_balanced: balanced set, best observer, knobs, table against fp32, QDQ, report", function()
    local out = tmpdir()
    local text, ok = recipe("blazeface_balanced", out ..
      " --calib 8 --mosaics 12 --max-trials 2 --profile intel_sapphire_rapids")
    assert.is_true(ok, text)
    -- the set is label-balanced: nothing above 2 faces after
    local after = text:match("\n%s+after%s+([%d ]+)\n")
    assert.is_string(after, text)
    local k = 0
    for n in after:gmatch("%d+") do
      assert.is_true(k <= 2 or n == "0", "an image with " .. k .. " faces in the balanced set")
      k = k + 1
    end
    -- the observer with the highest output SQNR is the one used
    local line = assert(text:match("== 2%. observers[^\n]*"), text)
    local best, best_db = nil, -math.huge
    for obs, db in line:gmatch("(%a+) (%-?%d+%.%d) dB") do
      if tonumber(db) > best_db then best, best_db = obs, tonumber(db) end
    end
    assert.equal(best, line:match("%-> (%a+)$"), line)
    local rows = {}
    for name, ap, found, faces, fp, ms, pred in text:gmatch(
        "\n([%w%-%(%), _]-)%s+(%d%.%d%d%d)%s+(%d+)/(%d+)%s+(%d+)%s+(%d+%.%d+)%s+(%d+%.%d+)") do
      rows[#rows + 1] = { name = name, ap = tonumber(ap), faces = tonumber(faces), ms = tonumber(ms),
                          pred = tonumber(pred) }
    end
    assert.equal(3, #rows, text)
    assert.same({ "fp32", "int8, calq defaults", "knobs (intel_sapphire_rapids)" },
      { rows[1].name, rows[2].name, rows[3].name })
    for _, r in ipairs(rows) do assert.is_true(r.faces == 25 and r.ms > 0 and r.pred > 0, r.name) end
    -- the knobs' choice is predicted faster than fp32 on the profile
    assert.is_true(rows[3].pred < rows[1].pred, text)
    -- the QDQ export loads and has Q/DQ nodes; the run folder has the page
    local m = assert(require("calq.onnx").load(out .. "/back256.knobs.onnx"))
    local q = 0
    for n in m:nodes() do if n.op_type == "QuantizeLinear" then q = q + 1 end end
    m:close()
    assert.is_true(q > 0)
    local fig = read_json(out .. "/back256.knobs.onnx.knobs.json")
    -- the table's knobs row is the model the loop chose, run as calq runs it
    assert.near(fig.best.metric, rows[3].ap, 0.0005)
    for _, f in ipairs { "run", "calib_counts", "layers", "latency", "accuracy", "knobs" } do
      assert.truthy(exists(out .. "/run/" .. f .. ".json"), f)
    end
    assert.truthy(exists(out .. "/run/report.html"))
    assert.truthy(text:find("report " .. out .. "/run/report.html", 1, true), text)
    os.execute("rm -rf '" .. out .. "'")
  end)

  it("mixed_precision_latency: the target met on the named profile", function()
    local out = tmpdir()
    local text, ok = recipe("mixed_precision_latency", out .. " --calib 4 --target 0.75")
    assert.is_true(ok, text)
    local fp32, target = text:match("fp32 (%d+%.%d+) ms, fastest [%d.]+ ms[^\n]*; target (%d+%.%d+) ms")
    assert.is_string(target, text)
    assert.near(0.75 * tonumber(fp32), tonumber(target), 0.002)
    local got = tonumber(text:match("least noise meeting it: (%d+%.%d+) ms"))
    assert.is_true(got <= tonumber(target), text)
    local fig = read_json(out .. "/back256.latency.onnx.knobs.json")
    assert.is_true(fig.best.predicted_ms <= tonumber(target) + 1e-9)
    os.execute("rm -rf '" .. out .. "'")
  end)

  it("custom_policy: a Lua policy composed with filter and balanced", function()
    local out = tmpdir()
    local text, ok = recipe("custom_policy", out .. " --size 6 --mosaics 12")
    assert.is_true(ok, text)
    assert.truthy(text:find("(filter+balanced+face_size): 6 images", 1, true), text)
    assert.truthy(text:find("policy face_size: %d+ candidates"), text)
    local n = 0
    for ap in text:gmatch("AP@0%.5 (%d%.%d%d%d)") do
      n = n + 1
      assert.is_true(tonumber(ap) >= 0 and tonumber(ap) <= 1)
    end
    assert.equal(2, n, text)
    os.execute("rm -rf '" .. out .. "'")
  end)

  it("compare_profiles: the layers that flip between two profiles", function()
    local out = tmpdir()
    local text, ok = recipe("compare_profiles", out .. " --calib 4 --profiles intel_sapphire_rapids,arm_neoverse_n1")
    assert.is_true(ok, text)
    local flips, total = text:match("(%d+) of (%d+) layers flip")
    assert.is_string(flips, text)
    -- each listed row differs between the two profiles; the count is the rows listed
    -- (a node without a name, as BlazeFace has, lists an empty name)
    local rows = 0
    for line in text:gmatch("[^\n]+") do
      local a, b = line:match("^%d+%s+%a+%s+%S*%s*(%l+%d+)%s+(%l+%d+)%s*$")
      if a then
        rows = rows + 1
        assert.are_not.equal(a, b)
      end
    end
    assert.equal(tonumber(flips), rows)
    assert.is_true(tonumber(total) == 102, text)
    for _, p in ipairs { "intel_sapphire_rapids", "arm_neoverse_n1" } do
      assert.truthy(text:find("\n" .. p .. "%s+int8%s+%d+%s+bf16%s+%d+%s+fp32%s+%d+%s+predicted"), p)
    end
    os.execute("rm -rf '" .. out .. "'")
  end)
end)

describe("recipes: fmnist_accuracy_driven", function()
  if not exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") then
    pending("needs Debian's dataset-fashion-mnist (make bootstrap)")
    return
  end
  it("tunes to within 1 % relative of fp32's top-1", function()
    local out = tmpdir()
    local text, ok = recipe("fmnist_accuracy_driven", out .. " --limit 1000")
    assert.is_true(ok, text)
    local ref, best = text:match("fp32 top%-1 (%d%.%d+); best (%d%.%d+)")
    assert.is_string(best, text)
    assert.is_true(tonumber(best) >= 0.99 * tonumber(ref), text)
    local fig = read_json(out .. "/fmnist.knobs.onnx.knobs.json")
    assert.is_true(fig.met)
    assert.near(tonumber(best), fig.best.metric, 1e-4)
    os.execute("rm -rf '" .. out .. "'")
  end)
end)

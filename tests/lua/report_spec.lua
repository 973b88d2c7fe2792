-- Run folders (calq quantize / calq eval --run-dir) and calq report: the
-- files' contents on a real BlazeFace run, the page in headless Chromium
-- (every figure drawn and not empty, no console error), the default folder
-- name, and a folder with parts missing or damaged.
local calq = require "calq"
local json = require "calq.json"
local h = require "tests.lua.helpers"
local lfs = require "lfs"

local rundir, report = calq.rundir, calq.report
local exists, tmpdir, read, run = h.exists, h.tmpdir, h.read, h.run
local cache = os.getenv("CALQ_CACHE") or "./.cache"
local back256 = cache .. "/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx"
local johns = cache .. "/dlib/examples/johns"
local faces = cache .. "/dlib/examples/faces"
local fmnist = "models/fashion_mnist/fmnist_cnn.onnx"
local fmnist_train = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
local have_blazeface = exists(back256) and lfs.attributes(johns, "mode") == "directory"
local have_fmnist = exists(fmnist_train)

local function chromium()
  local p = io.popen("command -v ${CHROMIUM:-chromium} 2>/dev/null")
  local path = p:read("l")
  p:close()
  local n = io.popen("command -v node 2>/dev/null")
  local node = n:read("l")
  n:close()
  return path and node and path or nil
end

-- node tests/lua/report_check.js PAGE [SHOT]: the decoded answer.
local function browse(page, shot)
  local p = io.popen(("node tests/lua/report_check.js %s %s 2>&1"):format(page, shot or ""))
  local out = p:read("a")
  local ok = p:close()
  assert(ok, out)
  return assert(json.decode(out), out)
end

local function fmnist_npy(dir, n)
  local x = assert(calq.data.read_idx(fmnist_train, 1, n)):dequantize(1 / 255)
  local s = x:shape()
  assert(calq.io.npy_write(dir .. "/x.npy", x:view{ s[1], 1, s[2], s[3] }))
  return dir .. "/x.npy"
end

describe("calq report on a BlazeFace run #report", function()
  if not have_blazeface then
    it("needs BlazeFace and dlib's photos", function() pending("needs BlazeFace and dlib's photos under " .. cache) end)
    return
  end
  local dir = tmpdir()
  local R = dir .. "/run"
  -- the whole job from the command line: a mosaic set with a spread of face
  -- counts, a label-balanced sample, quantize, eval, report
  setup(function()
    local steps = {
      ("mosaic --crops %s --photos %s/training.xml --count 40 --size 320x240 --output %s/m"):format(johns, faces, dir),
      ("sample --annotations %s/m/annotations.json --format coco --size 16 --threshold 2 --output %s/list.txt"):format(dir, dir),
      ("quantize %s --calib %s/list.txt --preprocess blazeface --sens-items 8 --output %s/q.onnx --run-dir %s")
        :format(back256, dir, dir, R),
      ("eval %s %s/q.onnx --task blazeface --limit 4 --run-dir %s"):format(back256, dir, R),
      ("report %s --output %s/report.html"):format(R, dir),
    }
    for _, s in ipairs(steps) do
      local code, out, err = run(s)
      assert(code == 0, s .. "\n" .. out .. err)
    end
  end)
  teardown(function() os.execute("rm -rf " .. dir) end)

  it("writes every file of the run folder, with figures that add up", function()
    for _, name in ipairs(rundir.files) do assert.truthy(exists(R .. "/" .. name .. ".json"), name) end
    local run_ = assert(rundir.read(R, "run"))
    assert.are.equal(2, #run_.steps)
    assert.are.same({ "quantize", "eval" }, { run_.steps[1].kind, run_.steps[2].kind })
    assert.truthy(run_.steps[1].command:find("^calq quantize .* %-%-run%-dir " .. R:gsub("%p", "%%%0") .. "$"))
    assert.are.equal(calq.version, run_.calq)
    -- the counts: the sample's report, before (all 40 mosaics + nothing else) and after (16 chosen)
    local c = assert(rundir.read(R, "calib_counts"))
    local side = assert(json.decode(read(dir .. "/list.txt.sample.json")))
    assert.are.same(side.before, c.before)
    local nb, na = 0, 0
    for i = 1, 17 do nb, na = nb + c.before[i], na + c.after[i] end
    assert.are.same({ 40, 16 }, { nb, na })
    -- balancing: images with at most 2 faces make a larger share after than before
    local low_b, low_a = 0, 0
    for i = 1, 3 do low_b, low_a = low_b + c.before[i], low_a + c.after[i] end
    assert.is_true(low_a / 16 > low_b / 40, ("%d/16 after, %d/40 before"):format(low_a, low_b))
    -- activations: every histogram holds all the finite values it saw, the
    -- clipping range is the chosen scale's
    local a = assert(rundir.read(R, "activations"))
    assert.is_true(#a.tensors > 20)
    for _, t in ipairs(a.tensors) do
      local sum = 0
      for _, n in ipairs(t.hist.counts) do sum = sum + n end
      assert.are.equal(t.finite, sum, t.value)
      assert.is_true(#t.hist.counts <= 96)
      assert.is_true(t.clip_lo <= 0 and t.clip_hi > 0, t.value)
      assert.near(t.scale * 255, t.clip_hi - t.clip_lo, 1e-4 * t.clip_hi)
      assert.is_true(t.hist.lo <= t.min + 1e-6 and t.hist.lo + #t.hist.counts * t.hist.width >= t.max - 1e-6)
    end
    -- layers: a precision and a measured SQNR each
    local l = assert(rundir.read(R, "layers"))
    assert.is_true(#l.layers > 20)
    for _, r in ipairs(l.layers) do
      assert.truthy(r.precision == "int8" or r.precision == "fp32", r.name)
      assert.are.equal("number", type(r.sqnr), r.name)
      assert.are.equal(8, r.items)
    end
    -- latency: both measured, per layer and in all; predicted says why it is not there
    local lat = assert(rundir.read(R, "latency"))
    assert.is_true(lat.fp32_total_ms > 0 and lat.int8_total_ms > 0)
    local both = 0
    for _, r in ipairs(lat.layers) do
      if type(r.fp32_ms) == "number" and type(r.int8_ms) == "number" then both = both + 1 end
    end
    assert.is_true(both > 20)
    assert.is_table(lat.predicted)
    -- accuracy: calq eval's table, two models
    local acc = assert(rundir.read(R, "accuracy"))
    assert.are.equal("blazeface", acc.task)
    assert.are.equal(2, #acc.models)
    assert.are.equal(4, acc.images)
  end)

  it("renders in headless Chromium: every figure drawn and not empty, no console error #chromium", function()
    if not chromium() then pending("needs Debian's chromium and node (tools/bootstrap.sh installs them)") return end
    local page = read(dir .. "/report.html")
    assert.is_nil(page:find("<script", 1, true))
    assert.is_nil(page:find("https?://[^\"]*%.[cj]ss?[\"']"))
    local r = browse(dir .. "/report.html", dir .. "/shot.png")
    assert.are.same({}, r.problems)
    assert.are.equal("calq report: " .. R, r.title)
    local by = {}
    for _, f in ipairs(r.figures) do by[f.id] = f end
    for _, id in ipairs{ "fig-counts", "fig-activations", "fig-latency", "fig-knobs", "fig-accuracy" } do
      local f = by[id]
      assert.is_table(f, id)
      assert.are.equal(json.null, f.missing, id)
      assert.is_true(f.width > 300 and f.height > 100, id)
    end
    -- the drawings: bars before/after for each count up to the largest, a
    -- histogram per tensor, bars per layer, an SQNR bar per layer, table rows
    assert.is_true(by["fig-counts"].marks >= 8)
    assert.is_true(by["fig-activations"].svgs > 20 and by["fig-activations"].marks >= 2 * by["fig-activations"].svgs)
    assert.is_true(by["fig-latency"].marks > 40 and by["fig-latency"].area > 0)
    assert.is_true(by["fig-knobs"].rows > 20 and by["fig-knobs"].marks == by["fig-knobs"].rows)
    assert.is_true(by["fig-accuracy"].rows >= 3)
    local png = read(dir .. "/shot.png")
    assert.are.equal("\137PNG", png:sub(1, 4))
    assert.is_true(#png > 20000)
  end)

  it("the browser check catches a console error and a blocked load (so its empty list means something) #chromium", function()
    if not chromium() then pending("needs Debian's chromium and node") return end
    h.write(dir .. "/bad.html", '<html><body><script>console.error("boom")</script><figure id="f"></figure></body></html>')
    local r = browse(dir .. "/bad.html")
    assert.are.same({ "console.error: boom" }, r.problems)
    assert.are.equal(0, r.figures[1].svgs)
    h.write(dir .. "/bad2.html", [[<html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'">]]
      .. [[</head><body><img src="https://example.org/x.png"></body></html>]])
    r = browse(dir .. "/bad2.html")
    assert.are.equal(1, #r.problems)
    assert.truthy(r.problems[1]:find("Content Security Policy", 1, true), r.problems[1])
  end)
end)

describe("run folders and calq report", function()
  it("an empty folder gives a page that says each part is missing; a damaged file only its part", function()
    local dir = tmpdir()
    local page, parts = assert(report.html(dir))
    for _, name in ipairs(rundir.files) do
      assert.are_not.equal("shown", parts[name], name)
    end
    assert.truthy(parts.accuracy:find("accuracy.json is absent: no calq eval ran", 1, true))
    local n = 0
    for _ in page:gmatch('class="figure missing"') do n = n + 1 end
    assert.are.equal(5, n)
    -- a damaged file: its part says so, the others are drawn
    assert(rundir.write(dir, "accuracy", { task = "classify", images = 10, data = "d", engine = "calq",
      models = { { name = "a.onnx", top1 = 0.9, correct = 9, ms = 1.5 } } }))
    h.write(dir .. "/layers.json", '{"layers": [1, 2')
    page, parts = assert(report.html(dir))
    assert.are.equal("shown", parts.accuracy)
    assert.are.equal(dir .. "/layers.json: line 1, column 17: ',' or ']' expected", parts.layers)
    assert.truthy(page:find("<td>a.onnx</td><td class=\"num\">90.00 %</td>", 1, true))
    -- the command: the parts, exit 0; a missing folder exits 1, bad usage 2
    local code, out, err = run(("report %s --output %s/r.html --json"):format(dir, dir))
    assert.are.equal(0, code, err)
    local j = assert(json.decode(out))
    assert.are.equal("shown", j.parts.accuracy)
    assert.truthy(exists(dir .. "/r.html"))
    assert.is_false(exists(dir .. "/r.html.tmp"))
    code, _, err = run(("report %s/nope --output %s/r2.html"):format(dir, dir))
    assert.are.same({ 1, ("calq report: %s/nope: not a folder\n"):format(dir) }, { code, err })
    code, _, err = run(("report %s"):format(dir))
    assert.are.same({ 2, "calq report: --output is required\n" }, { code, err })
    os.execute("rm -rf " .. dir)
  end)

  it("calq quantize and eval make a fresh runs/KIND-YYYYmmdd-HHMMSS-N by default, none with --no-run-dir", function()
    if not have_fmnist then pending("needs Debian's dataset-fashion-mnist") return end
    local dir = tmpdir()
    local x = fmnist_npy(dir, 64)
    local bin = lfs.currentdir() .. "/" .. h.calq_bin
    local model = lfs.currentdir() .. "/" .. fmnist
    local function in_dir(cmd)
      local p = io.popen(("cd %s && %s %s 2>&1"):format(dir, bin, cmd))
      local out = p:read("a")
      local ok = p:close()
      assert(ok, out)
      return out
    end
    local out = in_dir(("quantize %s --calib x.npy --output q.onnx --json"):format(model))
    local j = assert(json.decode(out))
    assert.truthy(j.run_dir:match("^runs/quantize%-%d%d%d%d%d%d%d%d%-%d%d%d%d%d%d%-1$"), j.run_dir)
    local out2 = in_dir(("quantize %s --calib x.npy --output q.onnx"):format(model))
    local second = out2:match("run folder%s+(%S+)")
    assert.truthy(second and second ~= j.run_dir, out2)
    local out3 = in_dir(("eval %s q.onnx --task classify --limit 50"):format(model))
    local third = out3:match("run folder: (runs/eval%-%S+)")
    assert.truthy(third, out3)
    assert.truthy(exists(dir .. "/" .. third .. "/accuracy.json"))
    assert.truthy(exists(dir .. "/" .. j.run_dir .. "/activations.json"))
    -- the calibration data is an .npy: its counts are said to be unknown
    local _, parts = assert(report.html(dir .. "/" .. j.run_dir))
    assert.truthy(parts.calib_counts:find("calib_counts.json is absent", 1, true))
    local before = 0
    for _ in lfs.dir(dir .. "/runs") do before = before + 1 end
    in_dir(("quantize %s --calib x.npy --output q2.onnx --no-run-dir"):format(model))
    local after = 0
    for _ in lfs.dir(dir .. "/runs") do after = after + 1 end
    assert.are.equal(before, after)
    local code, _, err = run(("quantize %s --calib %s --output %s/q3.onnx --run-dir a --no-run-dir"):format(fmnist, x, dir))
    assert.are.same({ 2, "calq quantize: --run-dir and --no-run-dir exclude each other\n" }, { code, err })
    os.execute("rm -rf " .. dir)
  end)
  it("with a hardware profile, latency.json holds the cost model's prediction next to the measured time", function()
    if not have_fmnist then pending("needs Debian's dataset-fashion-mnist") return end
    if not pcall(require, "calq.cost") then pending("no calq.cost in this tree") return end
    local dir = tmpdir()
    local x = fmnist_npy(dir, 32)
    -- a made-up machine (the same as tests/lua/cost_spec.lua's): every figure chosen, none measured
    local prof = h.write(dir .. "/machine.lua", [[
return {
  name = "spec_machine", cores = 4, ghz = 2.0, vector_bits = 512, amx = false,
  macs = { f32 = 32, bf16 = 64, s8 = 128, s8_novnni = 64 },
  caches = {
    { size = 32 * 1024, bw = 64, latency = 5, shared = false },
    { size = 1 << 20, bw = 32, latency = 14, shared = false },
    { size = 16 << 20, bw = 8, latency = 50, shared = true },
  },
  mem_bw = 40, mem_bw_core = 10,
  cvt = { quant = 16, dequant = 16, requant = 16, f32_bf16 = 32, bf16_f32 = 32 },
  node_ns = 200,
  efficiency = { f32_conv = 0.8, f32_gemm = 0.8, s8_conv = 0.5, eltwise = 0.7 },
}
]])
    local r = assert(calq.quantize{ model = fmnist, calib = x, output = dir .. "/q.onnx" })
    local skipped = assert(rundir.quantize(dir .. "/R", r, { model = fmnist, calib = x, profile = prof }))
    assert.are.same({ calib_counts = x .. ".sample.json: no sample report (calq sample writes it)" }, skipped)
    local lat = assert(rundir.read(dir .. "/R", "latency"))
    assert.are.equal(prof, lat.predicted.profile)
    assert.is_true(lat.predicted.fp32_total_ms > 0 and lat.predicted.int8_total_ms > 0)
    local convs = 0
    for _, l in ipairs(lat.layers) do
      if l.op_type == "Conv" then
        convs = convs + 1
        for _, k in ipairs{ "fp32_ms", "int8_ms", "predicted_fp32_ms", "predicted_int8_ms" } do
          assert.are.equal("number", type(l[k]), l.name .. " " .. k)
        end
      end
    end
    assert.are.equal(3, convs)
    local page = assert(report.html(dir .. "/R"))
    assert.truthy(page:find("int8 predicted", 1, true))
    assert.truthy(page:find("Predicted on profile", 1, true))
    r.quantizer:close()
    os.execute("rm -rf " .. dir)
  end)
end)

-- Evaluation: calq.eval's metrics on hand-made detections, calq.data.read_idx on a
-- tiny idx file, calq.evaluate and `calq eval` end to end on Fashion-MNIST and on
-- BlazeFace back-256, and a QDQ file PyTorch wrote (tests/data) run by calq and by
-- ONNX Runtime.
local calq = require "calq"
local ev = calq.eval
local json = require "calq.json"

local calq_bin = "./" .. (os.getenv("BUILD") or "build") .. "/calq"
local cache = os.getenv("CALQ_CACHE") or ".cache"
local fmnist = "models/fashion_mnist/fmnist_cnn.onnx"
local torch_qdq = "tests/data/fmnist_torch_qdq.onnx"
local fmnist_data = "/usr/share/datasets/fashion-mnist"
local back256 = cache .. "/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx"
local testing_xml = cache .. "/dlib/examples/faces/testing.xml"

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() end
  return f ~= nil
end

local function have_ort()
  return exists(cache .. "/ort/node_modules/onnxruntime-node/package.json")
    and os.execute("node --version >/dev/null 2>&1")
end

-- Run the calq command: exit code, stdout, stderr.
local function run(cmd)
  local err = os.tmpname()
  local p = io.popen(calq_bin .. " " .. cmd .. " 2>" .. err)
  local out = p:read("a")
  local _, _, code = p:close()
  local f = io.open(err, "rb")
  local e = f:read("a")
  f:close()
  os.remove(err)
  return code, out, e
end

local function near(a, b, tol) return math.abs(a - b) <= (tol or 1e-12) end

describe("calq.eval", function()
  describe("ap()", function()
    -- Image 1: truth A (0,0,10,10), B (20,20,10,10); image 2: truth C (0,0,10,10).
    -- Ranked: .9 on A (TP), .8 on nothing (FP), .7 on C (TP), .6 on B (TP),
    -- .5 on C again (FP: C is taken).
    -- recall    1/3  1/3  2/3  1    1
    -- precision 1    1/2  2/3  3/4  3/5
    -- monotone  1    3/4  3/4  3/4  3/5
    -- AP = 1/3 * 1 + 1/3 * 3/4 + 1/3 * 3/4 = 5/6
    local images = {
      { dets = { { 0, 0, 10, 10, 0.9 }, { 50, 50, 10, 10, 0.8 }, { 20, 20, 10, 10, 0.6 } },
        truth = { { 0, 0, 10, 10 }, { 20, 20, 10, 10 } } },
      { dets = { { 1, 0, 10, 10, 0.5 }, { 0, 0, 10, 10, 0.7 } }, truth = { { 0, 0, 10, 10 } } },
    }

    it("is the area under the monotone precision of every detection, worked by hand", function()
      local ap, curve = ev.ap(images, 0.5)
      assert.is_true(near(ap, 5 / 6), tostring(ap))
      assert.is_true(near(curve.recall[3], 2 / 3))
      assert.is_true(near(curve.precision[5], 3 / 5))
    end)

    it("is 1 when every true positive outranks every false one, 0 with nothing to find", function()
      local ok = { { dets = { { 0, 0, 10, 10, 0.9 }, { 50, 50, 5, 5, 0.2 } }, truth = { { 0, 0, 10, 10 } } } }
      assert.equal(1, ev.ap(ok))
      assert.equal(0, (ev.ap { { dets = { { 0, 0, 1, 1, 0.9 } }, truth = {} } }))
    end)

    it("takes a match at the IoU given: a half-shifted box has IoU 1/3", function()
      local shifted = { { dets = { { 5, 0, 10, 10, 0.9 } }, truth = { { 0, 0, 10, 10 } } } }
      assert.equal(0, ev.ap(shifted, 0.5))
      assert.equal(1, ev.ap(shifted, 0.3))
    end)

    it("counts a detection on an ignored box neither way", function()
      local im = { { dets = { { 0, 0, 10, 10, 0.9 }, { 40, 40, 10, 10, 0.95 } },
        truth = { { 0, 0, 10, 10 } }, ignore = { { 40, 40, 10, 10 } } } }
      assert.equal(1, ev.ap(im))
      local d = ev.detection(im)
      assert.same({ 1, 0, 0, 1 }, { d.tp, d.fp, d.fn, d.detections })
    end)

    it("raises on misuse", function()
      assert.has_error(function() ev.ap(3) end, "bad argument #1 to 'ap' (list of images expected, got number)")
      assert.has_error(function() ev.ap { { dets = { { 1, 2, 3 } }, truth = {} } } end,
        "bad argument #1 to 'ap' (list of {dets = {{x, y, w, h, score}, ...}, truth = {{x, y, w, h}, ...}} "
          .. "expected, got a bad image 1)")
    end)
  end)

  describe("detection()", function()
    it("counts recall and false positives at the score threshold", function()
      local images = {
        { dets = { { 0, 0, 10, 10, 0.9 }, { 50, 50, 10, 10, 0.8 }, { 20, 20, 10, 10, 0.6 } },
          truth = { { 0, 0, 10, 10 }, { 20, 20, 10, 10 } } },
        { dets = { { 1, 0, 10, 10, 0.5 }, { 0, 0, 10, 10, 0.7 } }, truth = { { 0, 0, 10, 10 } } },
      }
      local d = ev.detection(images, { score = 0.65 })
      assert.same({ 2, 1, 1, 3, 3 }, { d.tp, d.fp, d.fn, d.objects, d.detections })
      assert.is_true(near(d.recall, 2 / 3))
      d = ev.detection(images, { score = 0 })
      assert.same({ 3, 2, 0 }, { d.tp, d.fp, d.fn })
      assert.has_error(function() ev.detection(images, { score = "high" }) end,
        "bad argument #2 to 'detection' (option 'score': number expected, got string)")
    end)
  end)

  describe("match_rate()", function()
    it("matches a model's detections to the reference's above the threshold", function()
      local ref = { { dets = { { 0, 0, 10, 10, 0.9 }, { 30, 30, 10, 10, 0.8 }, { 60, 60, 9, 9, 0.3 } } } }
      local q = { { dets = { { 1, 1, 10, 10, 0.7 }, { 80, 80, 10, 10, 0.6 }, { 60, 60, 9, 9, 0.2 } } } }
      local m = ev.match_rate(q, ref)
      assert.same({ 1, 2, 2, 1 }, { m.matched, m.reference, m.detections, m.extra })
      assert.equal(0.5, m.rate)
      assert.equal(1, ev.match_rate({ { dets = {} } }, { { dets = {} } }).rate)
      assert.has_error(function() ev.match_rate(q, {}) end,
        "bad argument #2 to 'match_rate' (1 images expected (as argument #1), got 0)")
    end)
  end)

  describe("argmax(), top1(), agreement()", function()
    it("take the first highest score, 0-based", function()
      local t = calq.tensor.new { { 0.1, 0.7, 0.2 }, { 3, 3, 1 }, { -1, -2, -0.5 } }
      assert.same({ 1, 0, 2 }, ev.argmax(t))
      local acc, n = ev.top1({ 1, 0, 2 }, { 1, 1, 2 })
      assert.is_true(near(acc, 2 / 3))
      assert.equal(2, n)
      assert.equal(1, (ev.agreement({ 4, 5 }, { 4, 5 })))
      assert.has_error(function() ev.top1({ 1 }, { 1, 2 }) end,
        "bad argument #2 to 'top1' (1 entries expected (as argument #1), got 2)")
      assert.has_error(function() ev.argmax(calq.tensor.zeros { 3 }) end,
        "bad argument #1 to 'argmax' (Tensor [N, C] expected, got a 1-D Tensor)")
    end)
  end)
end)

describe("calq.data.read_idx()", function()
  local dir
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(require("calq.fs").mkdirs(dir))
  end)
  after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

  local function write(name, bytes)
    local f = assert(io.open(dir .. "/" .. name, "wb"))
    f:write(bytes)
    f:close()
    return dir .. "/" .. name
  end

  it("reads a tiny u8 file, plain and gzip'ed, whole or a range", function()
    -- 3 items of 2x2: magic 00 00 08 03, dims 3 2 2, then 12 bytes
    local bytes = "\0\0\8\3" .. string.pack(">I4I4I4", 3, 2, 2) .. string.char(table.unpack {
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255 })
    local p = write("tiny-idx3", bytes)
    assert(os.execute("gzip -c '" .. p .. "' > '" .. p .. ".gz'"))
    for _, path in ipairs { p, p .. ".gz" } do
      local t = assert(calq.data.read_idx(path))
      assert.equal("u8", t:dtype())
      assert.same({ 3, 2, 2 }, t:shape())
      assert.same({ { { 1, 2 }, { 3, 4 } }, { { 5, 6 }, { 7, 8 } }, { { 9, 10 }, { 11, 255 } } }, t:totable())
      assert.same({ { { 5, 6 }, { 7, 8 } } }, assert(calq.data.read_idx(path, 2, 1)):totable())
      assert.same({ 2, 2, 2 }, assert(calq.data.read_idx(path, 2)):shape())
    end
  end)

  it("returns nil, message, code for a damaged or short file", function()
    local p = write("short", "\0\0\8\1" .. string.pack(">I4", 5) .. "abc")
    local t, msg, code = calq.data.read_idx(p)
    assert.is_nil(t)
    assert.equal("EFORMAT", code)
    assert.equal(p .. ": truncated at item 3 of 5 (the data end at byte 11, expected 13)", msg)
    t, msg, code = calq.data.read_idx(p, 6)
    assert.is_nil(t)
    assert.equal("ERANGE", code)
    assert.equal(p .. ": item 5 (0-based) asked, the file has 5", msg)
    assert.has_error(function() calq.data.read_idx(p, 0) end,
      "bad argument #2 to 'read_idx' (first item must be >= 1)")
  end)
end)

describe("calq.evaluate", function()
  it("measures the classifier's top-1 on the first 256 test images as ONNX Runtime's refs do", function()
    if not exists(fmnist_data .. "/t10k-images-idx3-ubyte.gz") then return pending("no Fashion-MNIST") end
    -- models/fashion_mnist/README.md: ONNX Runtime, first 256 test images: 238
    local r = assert(calq.evaluate { task = "classify", model = fmnist, limit = 256, batch = 100 })
    assert.equal(256, r.images)
    assert.equal(238, r.models[1].correct)
    assert.is_nil(r.delta)
  end)

  it("raises on misuse, returns nil, message for a missing file", function()
    assert.has_error(function() calq.evaluate { task = "segment", model = fmnist } end,
      "bad argument #1 to 'evaluate' (task: 'classify' or 'blazeface' expected, got segment)")
    assert.has_error(function() calq.evaluate { task = "classify", model = fmnist, limit = 0 } end,
      "bad argument #1 to 'evaluate' (limit: integer >= 1 expected, got 0)")
    assert.has_error(function() calq.evaluate { task = "classify" } end,
      "bad argument #1 to 'evaluate' (model: path or calq.Model expected, got nil)")
    local r, msg = calq.evaluate { task = "classify", model = fmnist, data = "/nonexistent-images-idx3-ubyte" }
    assert.is_nil(r)
    assert.equal("/nonexistent-images-idx3-ubyte: cannot open: No such file or directory", msg)
  end)
end)

describe("calq eval", function()
  it("prints top-1, the delta and the agreement of two classifiers", function()
    if not exists(fmnist_data .. "/t10k-images-idx3-ubyte.gz") then return pending("no Fashion-MNIST") end
    local code, out = run(("eval %s %s --task classify --limit 300"):format(fmnist, torch_qdq))
    assert.equal(0, code)
    assert.matches("calq eval: classify, 300 images of " .. fmnist_data:gsub("%-", "%%-"), out)
    assert.matches("1 " .. fmnist:gsub("[%.%-]", "%%%0") .. " +%d+%.%d+ %%", out)
    assert.matches("delta %(2 %- 1%) +[+-]%d+%.%d+ pt", out)
    assert.matches("agreement of 2 with 1 +%d+%.%d+ %% +%d+/300", out)
  end)

  it("emits JSON whose fields agree with each other", function()
    if not exists(fmnist_data .. "/t10k-images-idx3-ubyte.gz") then return pending("no Fashion-MNIST") end
    local code, out = run(("eval %s %s --task classify --limit 300 --json"):format(fmnist, torch_qdq))
    assert.equal(0, code)
    local r = assert(require("dkjson").decode(out))
    assert.equal("classify", r.task)
    assert.equal(300, r.images)
    local a, b = r.models[1], r.models[2]
    assert.equal(fmnist, a.name)
    assert.equal(torch_qdq, b.name)
    assert.equal(9, b.lowered) -- PyTorch's QDQ file runs in calq's integer form
    assert.is_true(near(a.top1, a.correct / 300) and near(b.top1, b.correct / 300))
    assert.is_true(near(r.delta.top1, b.top1 - a.top1))
    assert.is_true(r.agreement.same <= 300 and near(r.agreement.rate, r.agreement.same / 300))
    -- the same model twice agrees with itself
    local _, self = run(("eval %s %s --task classify --limit 100 --json"):format(fmnist, fmnist))
    local s = require("dkjson").decode(self)
    assert.same({ 0, 100, 1 }, { s.delta.top1, s.agreement.same, s.agreement.rate })
    assert.equal(0, s.models[1].lowered) -- a float model has no QDQ pattern to lower
  end)

  it("measures BlazeFace back-256 on dlib's test photos: 25 of 25 faces, no false positive", function()
    if not exists(back256) or not exists(testing_xml) then return pending("no BlazeFace or dlib photos") end
    local code, out = run(("eval %s --task blazeface --data %s --json"):format(back256, testing_xml))
    assert.equal(0, code, out)
    local r = require("dkjson").decode(out)
    assert.same({ "blazeface", 5, 25, 256, 0.5, 0.5, 0.3, 0.05 },
      { r.task, r.images, r.faces, r.side, r.score, r.iou, r.nms_iou, r.ap_score })
    local m = r.models[1]
    assert.same({ 25, 0, 0, 1, 1 }, { m.tp, m.fp, m.fn, m.recall, m.ap })
    code, out = run(("eval %s %s --task blazeface --data %s --limit 2"):format(back256, back256, testing_xml))
    assert.equal(0, code)
    assert.matches("match of 2 with 1 +100%.00 %%", out)
  end)

  it("gives the same figures in ONNX Runtime", function()
    if not have_ort() then return pending("no onnxruntime-node") end
    if not exists(back256) or not exists(fmnist_data .. "/t10k-images-idx3-ubyte.gz") then
      return pending("no BlazeFace or Fashion-MNIST")
    end
    local _, out = run(("eval %s --task blazeface --data %s --json --engine ort"):format(back256, testing_xml))
    local m = require("dkjson").decode(out).models[1]
    assert.same({ 25, 0, 1 }, { m.tp, m.fp, m.ap })
    _, out = run(("eval %s --task classify --limit 256 --json --engine ort"):format(fmnist))
    assert.equal(238, require("dkjson").decode(out).models[1].correct)
  end)

  it("runs calq's own int8 classifier in its integer form, with ONNX Runtime's predictions", function()
    if not have_ort() then return pending("no onnxruntime-node") end
    if not exists(fmnist_data .. "/train-images-idx3-ubyte.gz") then return pending("no Fashion-MNIST") end
    local dir = os.tmpname()
    os.remove(dir)
    assert(require("calq.fs").mkdirs(dir))
    local x = assert(calq.data.read_idx(fmnist_data .. "/train-images-idx3-ubyte.gz", 1, 200))
    assert(calq.io.npy_write(dir .. "/calib.npy", x:dequantize(1 / 255):view { 200, 1, 28, 28 }))
    assert(calq.quantize { model = fmnist, calib = dir .. "/calib.npy", output = dir .. "/int8.onnx" })
    local r = {}
    for _, engine in ipairs { "calq", "ort" } do
      r[engine] = assert(calq.evaluate { task = "classify", model = fmnist, compare = dir .. "/int8.onnx",
        engine = engine, limit = 300 })
    end
    os.execute("rm -rf '" .. dir .. "'")
    assert.is_true(r.calq.models[2].lowered > 0)
    assert.equal(r.ort.models[2].correct, r.calq.models[2].correct)
    assert.equal(r.ort.agreement.same, r.calq.agreement.same)
  end)

  it("exits 2 on bad usage, 1 when a file fails", function()
    local cases = {
      { fmnist, "calq eval: --task is required (classify or blazeface)" },
      { "--task classify", "calq eval: no model given" },
      { fmnist .. " --task detect", "calq eval: --task: 'detect' is not one of classify, blazeface" },
      { fmnist .. " --task classify --limit 0", "calq eval: --limit must be >= 1" },
      { fmnist .. " --task classify --score 0.3", "calq eval: --score does not apply to --task classify" },
      { fmnist .. " --task blazeface --labels x", "calq eval: --labels does not apply to --task blazeface" },
      { "a b c --task classify", "calq eval: unexpected argument 'c' (one or two models)" },
      { fmnist .. " --task classify --frobnicate", "calq eval: unknown option --frobnicate" },
      { fmnist .. " --task blazeface --iou 2", "calq eval: --iou must be in [0, 1]" },
      { fmnist .. " --task classify --engine ort --no-lower", "calq eval: --no-lower is for --engine calq" },
    }
    for _, c in ipairs(cases) do
      local code, out, err = run("eval " .. c[1])
      assert.equal(2, code, c[1])
      assert.equal("", out)
      assert.equal(c[2] .. "\n", err)
    end
    local code, _, err = run("eval /nonexistent.onnx --task classify")
    assert.equal(1, code)
    assert.matches("^calq eval: /nonexistent.onnx: ", err)
  end)
end)

describe("other tools' QDQ files", function()
  -- tests/data/fmnist_torch_qdq.onnx: the classifier quantized by PyTorch 1.13 (eager,
  -- onednn, HistogramObserver, per-channel weights) and exported by torch.onnx
  -- (bench/fmnist_torch_ptq.py --export; tests/data/README.md).
  -- calq.quant.lower first folds its Constant nodes (DequantizeLinear kept) and
  -- removes the Casts to uint8 between each QuantizeLinear and DequantizeLinear;
  -- its 3 Convs and 2 Gemms then run as QLinearConv on the integer kernels, its 3
  -- MaxPools on the codes.
  it("runs PyTorch's export lowered and as written, with ONNX Runtime's predictions on 300 test images", function()
    if not exists(fmnist_data .. "/t10k-images-idx3-ubyte.gz") then return pending("no Fashion-MNIST") end
    local m = assert(calq.onnx.load(torch_qdq))
    local ops = {}
    for n in m:nodes() do ops[n.op_type] = (ops[n.op_type] or 0) + 1 end
    assert.same({ 21, 11, 16, 64, 5 }, { ops.DequantizeLinear, ops.QuantizeLinear, ops.Cast, ops.Constant,
      ops.ConstantOfShape })
    local low = assert(calq.onnx.load(torch_qdq))
    local count, report = calq.quant.lower(low)
    assert.equal(9, count)
    assert.same({ lowered = 9, folded = 74, casts = 11, kept = {} }, report)
    ops = {}
    for n in low:nodes() do ops[n.op_type] = (ops[n.op_type] or 0) + 1 end
    assert.same({ 5, nil, nil, nil, 3 }, { ops.QLinearConv, ops.Conv, ops.Gemm, ops.Cast, ops.MaxPool })
    local x = assert(calq.data.read_idx(fmnist_data .. "/t10k-images-idx3-ubyte.gz", 1, 300))
    x = x:dequantize(1 / 255):view { 300, 1, 28, 28 }
    local y = assert(calq.data.read_idx(fmnist_data .. "/t10k-labels-idx1-ubyte.gz", 1, 300)):totable()
    local float = assert(m:run { input = x }).logits
    local int = assert(low:run { input = x }).logits
    local pred = ev.argmax(int)
    local acc = ev.top1(pred, y)
    assert.is_true(acc > 0.9, tostring(acc)) -- the fp32 model: 0.9367 on these 300
    -- one step of the output's scale (the last DequantizeLinear's: 0.15698...)
    local step = 0.157 + 1e-6
    assert.is_true(int:maxdiff(float) <= step, tostring(int:maxdiff(float)))
    if not have_ort() then return pending("no onnxruntime-node: calq's runs checked alone") end
    local dir = os.tmpname()
    os.remove(dir)
    assert(require("calq.fs").mkdirs(dir))
    assert(calq.io.npy_write(dir .. "/x.npy", x))
    assert(os.execute(("node tools/ort/run_items.js %s --input input=%s/x.npy --outdir %s >/dev/null")
      :format(torch_qdq, dir, dir)))
    local ort = assert(calq.io.npy_read(dir .. "/logits.npy"))
    os.execute("rm -rf '" .. dir .. "'")
    assert.equal(1, ev.agreement(pred, ev.argmax(ort)))
    assert.equal(1, ev.agreement(ev.argmax(float), ev.argmax(ort)))
    -- within one step, both forms (the integer run gives ONNX Runtime's logits bit for bit here)
    assert.is_true(int:maxdiff(ort) <= step, tostring(int:maxdiff(ort)))
    assert.is_true(float:maxdiff(ort) <= step, tostring(float:maxdiff(ort)))
  end)

  it("runs in calq infer lowered, as written with --no-lower", function()
    if not exists(fmnist_data .. "/t10k-images-idx3-ubyte.gz") then return pending("no Fashion-MNIST") end
    local dir = os.tmpname()
    os.remove(dir)
    assert(require("calq.fs").mkdirs(dir))
    local x = assert(calq.data.read_idx(fmnist_data .. "/t10k-images-idx3-ubyte.gz", 1, 8))
    x = x:dequantize(1 / 255):view { 8, 1, 28, 28 }
    assert(calq.io.npy_write(dir .. "/x.npy", x))
    for _, lower in ipairs { true, false } do
      local m = assert(calq.onnx.load(torch_qdq))
      if lower then assert.equal(9, (calq.quant.lower(m))) end
      m:set_threads(1) -- (plans the model: after lowering)
      local want = assert(m:run { input = x }).logits
      local code, out = run(("infer %s --threads 1 --input %s/x.npy --output %s/out%s")
        :format(torch_qdq, dir, dir, lower and "" or " --no-lower"))
      assert.equal(0, code, out)
      local first = out:match("^[^\n]*")
      if lower then
        assert.equal(torch_qdq .. ": 9 nodes lowered to calq's integer kernels", first)
      else
        assert.matches("^logits ", first)
      end
      assert.equal(0, assert(calq.io.npy_read(dir .. "/out/logits.npy")):maxdiff(want))
    end
    local _, out = run(("infer %s --input %s/x.npy --output %s/out --profile"):format(torch_qdq, dir, dir))
    assert.matches("\nlowered: 9 nodes %(74 constants folded first, 11 Casts of codes removed%)\n", out)
    assert.matches("QLinearConv +/net/features/0/0/Conv ", out)
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)

describe("calq.json", function()
  it("encodes sorted objects, arrays, escapes and numbers", function()
    assert.equal('{"a":[1,2.5,"x\\"y\\n"],"b":true,"c":{},"d":null}',
      json.encode { b = true, a = { 1, 2.5, 'x"y\n' }, c = {}, d = json.null })
    assert.equal("[0.1,1e+300,null]", json.encode { 0.1, 1e300, 0 / 0 })
    assert.has_error(function() json.encode { f = print } end, "calq.json: a function has no JSON form")
  end)
end)

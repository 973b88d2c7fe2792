-- The quantizer: calq.quant (Quantizer, lower, match), calq.quantize and
-- `calq quantize` end to end on the Fashion-MNIST classifier (a small .npy)
-- and on BlazeFace back-256 (a few crops); calq's integer run against ONNX
-- Runtime's run of the QDQ file, within one quantization step of each
-- output's scale; the same bytes across runs, threads and merged shards;
-- --keep-fp32, --report, --json and bad usage.
local calq = require "calq"
local h = require "tests.lua.helpers"
local lfs = require "lfs"

local calq_bin = h.calq_bin
local cache = os.getenv("CALQ_CACHE") or "./.cache"
local fmnist = "models/fashion_mnist/fmnist_cnn.onnx"
local fmnist_train = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
local fmnist_test = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
local fmnist_labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
local back256 = cache .. "/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx"
local johns = cache .. "/dlib/examples/johns"
local faces = cache .. "/dlib/examples/faces"

local exists, tmpdir, read, run = h.exists, h.tmpdir, h.read, h.run

local have_fmnist = exists(fmnist_train) and exists(fmnist_test)
local have_blazeface = exists(back256) and lfs.attributes(johns, "mode") == "directory"

local function have_ort()
  return exists(cache .. "/ort/node_modules/onnxruntime-node/package.json")
    and os.execute("node --version >/dev/null 2>&1")
end

-- Fashion-MNIST images first .. first + n - 1 of an idx file as f32 [n, 1, 28, 28] in [0, 1].
local function fmnist_images(path, first, n)
  local u8 = assert(calq.data.read_idx(path, first, n))
  return u8:dequantize(1 / 255, 0):view{ n, 1, 28, 28 }
end

-- ONNX Runtime's outputs of model on {name = npy path}: {name = Tensor}.
local function ort_run(model, inputs, dir)
  local args = {}
  for name, file in pairs(inputs) do args[#args + 1] = ("--input '%s=%s'"):format(name, file) end
  local cmd = ("node tools/ort/run.js %s %s --outdir %s"):format(model, table.concat(args, " "), dir)
  local p = io.popen(cmd .. " 2>&1")
  local line = p:read("a")
  assert(p:close(), line)
  local outs = {}
  for name in line:gmatch('"name":"([^"]+)","file"') do
    if not inputs[name] then
      outs[name] = assert(calq.io.npy_read(dir .. "/" .. name:gsub("[^%w%.%-_]", "_") .. ".npy"))
    end
  end
  return outs
end

-- calq's integer run of the QDQ file: loaded, lowered, run.
local function calq_run(path, x)
  local m = assert(calq.onnx.load(path))
  assert.is_true(assert(calq.quant.lower(m)) > 0)
  local out = assert(m:run(x))
  m:close()
  return out
end

-- The scale of each graph output's quantization (the node writing it).
local function output_scales(r)
  local s = {}
  for _, n in ipairs(r.nodes) do
    if n.value and n.scale then s[n.value] = n.scale end
  end
  return s
end

local function argmax_rows(t)
  local rows, preds = t:totable(), {}
  for i, row in ipairs(rows) do
    local best = 1
    for j = 2, #row do if row[j] > row[best] then best = j end end
    preds[i] = best
  end
  return preds
end

describe("calq.quant", function()
  if not have_fmnist then
    pending("needs Debian's dataset-fashion-mnist")
    return
  end

  it("quantizes from statistics, reports each node and writes a QDQ model", function()
    local m = assert(calq.onnx.load(fmnist))
    local c = assert(calq.calib.new(m))
    assert(c:feed(fmnist_images(fmnist_train, 1, 32)))
    local st = c:stats()
    local q = assert(calq.quant.new(m, st, { method = "minmax", precision = { { "last:Gemm", "fp32" } } }))
    local nodes = q:nodes()
    assert.equal(13, #nodes)
    local kinds = {}
    for _, n in ipairs(nodes) do kinds[n.op_type] = n.kind end
    assert.same({ Conv = "compute", Relu = "act", MaxPool = "pass", Flatten = "pass", Gemm = "compute" }, kinds)
    assert.is_true(nodes[1].int8 and nodes[1].quantizable)
    assert.equal("u8", nodes[1].dtype)
    assert.equal(1, nodes[2].folded_into)
    assert.is_true(nodes[2].removed)
    assert.is_false(nodes[13].int8)
    assert.equal("fp32", nodes[13].precision)
    assert.matches("precision map", nodes[13].reason)
    assert.equal(nodes[1].scale, nodes[3].scale) -- MaxPool passes the Relu's range through
    local qdq = assert(q:model())
    local ops = {}
    for n in qdq:nodes() do ops[n.op_type] = (ops[n.op_type] or 0) + 1 end
    -- the input, each conv's output (after its Relu) and its pool's, the
    -- Flatten's and the first Gemm's; the fp32 Gemm's output is float
    assert.equal(9, ops.QuantizeLinear)
    assert.is_nil(ops.Relu and ops.Relu > 1 and ops.Relu)
    assert.equal(13, qdq:opset())
    assert.matches("4 of 5 quantizable", tostring(q))
    -- the integer form runs and stays close to fp32
    local x = fmnist_images(fmnist_test, 1, 16)
    local ref = assert(m:run(x)).logits
    -- 3 convs, one Gemm, the 3 MaxPools and the Flatten on codes; the fp32 Gemm stays
    assert.equal(9, assert(calq.quant.lower(qdq)) + 1)
    local out = assert(qdq:run(x)).logits
    assert.is_true(out:maxdiff(ref) < 1.0)
    -- a planned model has its weights' DequantizeLinear folded into floats:
    -- lowering it is refused, saying why, rather than finding nothing
    local planned = assert(q:model())
    assert.is_true(planned:set_threads(1))
    local none, why, code = calq.quant.lower(planned)
    assert.is_nil(none)
    assert.matches("planned already", why)
    assert.equal("ESTATE", code)
    assert.same({ 1, 4, 7 }, assert(calq.quant.match(m, "op:Conv")))
    assert.same({ 7 }, assert(calq.quant.match(m, "last:Conv")))
    assert.same({}, assert(calq.quant.match(m, "no such node")))
    -- misuse raises; a pattern naming no node fails
    assert.has_error(function() calq.quant.new(m, st, { method = "median" }) end)
    assert.has_error(function() calq.quant.new(m, st, { activations = "u16" }) end)
    assert.has_error(function() calq.quant.match(m, "op:") end)
    local none, msg = calq.quant.new(m, st, { precision = { { "nothing", "fp32" } } })
    assert.is_nil(none)
    assert.matches("names no node", msg)
    q:close()
    assert.has_error(function() q:nodes() end, "calling 'nodes' on bad self (quantizer is closed)")
    -- a Quantizer whose model is closed raises
    local q2 = assert(calq.quant.new(m, st))
    m:close()
    assert.has_error(function() q2:model() end, "calling 'model' on bad self (its model is closed)")
    qdq:close()
    st:close()
    c:close()
  end)

  it("takes the entropy searches' zero-bin rule (keep, as_next)", function()
    local m = assert(calq.onnx.load(fmnist))
    local c = assert(calq.calib.new(m))
    assert(c:feed(fmnist_images(fmnist_train, 1, 32)))
    local st = c:stats()
    local function conv_scales(zb)
      local q = assert(calq.quant.new(m, st, { method = "entropy", zero_bin = zb }))
      local out = {}
      for _, n in ipairs(q:nodes()) do if n.op_type == "Conv" then out[#out + 1] = n.scale end end
      q:close()
      return out
    end
    local keep, nxt = conv_scales("keep"), conv_scales("as_next")
    assert.same(nxt, conv_scales(nil)) -- as_next is the default (docs/experiments.md)
    -- after a ReLU the spike of zeros pulls TensorRT's threshold down; as_next does not
    local wider = 0
    for i = 1, #keep do if nxt[i] > keep[i] then wider = wider + 1 end end
    assert.is_true(wider >= 1)
    -- quantize takes it too, and says so
    local r = assert(calq.quantize { model = m, stats = st, observer = "entropy", zero_bin = "as_next" })
    assert.equal("as_next", r.options.zero_bin)
    assert.has_error(function() calq.quant.new(m, st, { zero_bin = "zero" }) end,
      "bad argument #3 to 'new' (option 'zero_bin' must be \"keep\" or \"as_next\")")
    assert.has_error(function() calq.quantize { model = m, stats = st, zero_bin = 0 } end,
      "bad argument #1 to 'quantize' (option 'zero_bin' must be a string, not number)")
    r.quantizer:close()
    st:close()
    c:close()
    m:close()
  end)

  it("measures each quantizable node's sensitivity", function()
    local m = assert(calq.onnx.load(fmnist))
    local x = fmnist_images(fmnist_train, 1, 16)
    local c = assert(calq.calib.new(m))
    assert(c:feed(x))
    local q = assert(calq.quant.new(m, c:stats()))
    for _, s in ipairs(q:sensitivity()) do assert.is_nil(s.sqnr) end
    assert(q:measure(x:slice(1, 1, 8)))
    local sens = q:sensitivity()
    assert.equal(5, #sens)
    for _, s in ipairs(sens) do
      assert.equal(8, s.items)
      assert.is_true(s.sqnr > 20 and s.sqnr < 80, s.name)
    end
    local text = calq.quant.format_sensitivity(sens, q:nodes())
    assert.matches("SQNR dB", text)
    assert.matches("/head/head.3/Gemm", text)
    q:close()
    m:close()
  end)
end)

describe("calq quantize #fmnist", function()
  if not have_fmnist then
    pending("needs Debian's dataset-fashion-mnist")
    return
  end
  local dir = tmpdir()
  local calib = dir .. "/calib.npy"
  assert(calq.io.npy_write(calib, fmnist_images(fmnist_train, 1, 200)))
  local test_x = dir .. "/test.npy"
  assert(calq.io.npy_write(test_x, fmnist_images(fmnist_test, 1, 100)))

  it("writes a QDQ file ONNX Runtime runs within one step of calq's integer run", function()
    -- everything int8 (no exceptions): the logits are quantized, one step is their scale
    local r = assert(calq.quantize{ model = fmnist, calib = calib, output = dir .. "/all.onnx",
                                    defaults = false, auto = false })
    assert.equal(5, r.int8)
    assert.same({}, r.exceptions)
    local step = output_scales(r).logits
    assert.is_true(step > 0)
    r.model:close()
    local x = assert(calq.io.npy_read(test_x))
    local mine = calq_run(dir .. "/all.onnx", x).logits
    if not have_ort() then return pending("no onnxruntime-node: calq's run checked alone") end
    local theirs = ort_run(dir .. "/all.onnx", { input = test_x }, dir).logits
    assert.is_true(mine:maxdiff(theirs) <= step * 1.0001, ("%g > one step %g"):format(mine:maxdiff(theirs), step))
  end)

  it("keeps top-1 on the first 1000 test images with its defaults", function()
    local code, out = run(("quantize %s --calib %s --output %s/def.onnx"):format(fmnist, calib, dir))
    assert.equal(0, code)
    assert.matches("4 of 5 quantizable nodes", out)
    assert.matches("%(default%) /head/head.3/Gemm", out)
    local x = fmnist_images(fmnist_test, 1, 1000)
    local labels = assert(calq.data.read_idx(fmnist_labels, 1, 1000)):totable()
    local ref = assert(calq.onnx.load(fmnist))
    local p32 = argmax_rows(assert(ref:run(x)).logits)
    local p8 = argmax_rows(calq_run(dir .. "/def.onnx", x).logits)
    local agree, c32, c8 = 0, 0, 0
    for i = 1, 1000 do
      agree = agree + (p32[i] == p8[i] and 1 or 0)
      c32 = c32 + (p32[i] - 1 == labels[i] and 1 or 0)
      c8 = c8 + (p8[i] - 1 == labels[i] and 1 or 0)
    end
    assert.is_true(agree >= 990, "agreement " .. agree)
    assert.is_true(math.abs(c32 - c8) <= 5, ("top-1 %d against fp32 %d"):format(c8, c32))
    ref:close()
  end)

  it("writes the same bytes every time, at any thread count, from merged shards", function()
    local base = ("quantize %s --calib %s --output %s/"):format(fmnist, calib, dir)
    assert.equal(0, (run(base .. "t1.onnx --threads 1")))
    assert.equal(0, (run(base .. "t2.onnx --threads 2 --batch 7")))
    assert.equal(read(dir .. "/t1.onnx"), read(dir .. "/t2.onnx"))
    -- statistics: one run and two shards merged give the same file
    local cal = ("calibrate %s --calib %s --output %s/"):format(fmnist, calib, dir)
    assert.equal(0, (run(cal .. "all.calq")))
    assert.equal(0, (run(cal .. "s0.calq --shard 0/2")))
    assert.equal(0, (run(cal .. "s1.calq --shard 1/2")))
    assert.equal(0, (run(("merge %s/s1.calq %s/s0.calq --output %s/m.calq"):format(dir, dir, dir))))
    local q = ("quantize %s --stats %s/%s --output %s/%s")
    assert.equal(0, (run(q:format(fmnist, dir, "all.calq", dir, "sa.onnx"))))
    assert.equal(0, (run(q:format(fmnist, dir, "m.calq", dir, "sm.onnx"))))
    assert.equal(read(dir .. "/sa.onnx"), read(dir .. "/sm.onnx"))
    -- with the calibration data for the sensitivity, the same as from --calib
    assert.equal(0, (run(q:format(fmnist, dir, "m.calq", dir, "sc.onnx") .. " --calib " .. calib)))
    assert.equal(read(dir .. "/t1.onnx"), read(dir .. "/sc.onnx"))
  end)

  it("takes --keep-fp32, prints --report and --json", function()
    local code, out = run(("quantize %s --calib %s --output %s/k.onnx --keep-fp32 first:Conv --report --json")
      :format(fmnist, calib, dir))
    assert.equal(0, code)
    assert.matches('"int8":3', out)
    assert.matches('"quantizable":5', out)
    assert.matches('"source":"user"', out)
    assert.matches('"source":"default"', out)
    assert.matches('"sensitivity":%[{', out)
    assert.matches('"auto":{"max":null,"sqnr":18}', out)
    code, out = run(("quantize %s --calib %s --output %s/k.onnx --keep-fp32 first:Conv --report")
      :format(fmnist, calib, dir))
    assert.equal(0, code)
    assert.matches("kept float +2", out)
    assert.matches("fp32 +/features/features.0/features.0.0/Conv: fp32 in the precision map", out)
    assert.matches("node +op +SQNR dB", out)
    for _, n in ipairs{ 1, 4, 7, 11, 13 } do assert.matches("\n +" .. n .. "  ", out) end
    -- ONNX Runtime loads the file with its fp32 layers
    if have_ort() then
      local theirs = ort_run(dir .. "/k.onnx", { input = test_x }, dir).logits
      local mine = calq_run(dir .. "/k.onnx", assert(calq.io.npy_read(test_x))).logits
      assert.is_true(mine:maxdiff(theirs) < 1e-3)
    end
  end)

  it("exits 2 on bad usage, 1 when the work fails", function()
    local cases = {
      { ("quantize %s --calib %s"):format(fmnist, calib), "--output is required" },
      { ("quantize %s --output x.onnx"):format(fmnist), "--calib or --stats is required" },
      { ("quantize --calib %s --output x.onnx"):format(calib), "no model given" },
      { ("quantize %s --calib %s --output x.onnx --observer median"):format(fmnist, calib), "--observer" },
      { ("quantize %s --calib %s --output x.onnx --keep-fp32 nothing"):format(fmnist, calib),
        "pattern 'nothing' names no node" },
      { ("quantize %s --calib %s --output x.onnx --precision first:Conv=fp16"):format(fmnist, calib),
        "--precision wants" },
      { ("quantize %s --stats s.calq --output x.onnx --report"):format(fmnist), "measure on --calib" },
      { ("quantize %s --calib %s --output x.onnx --no-auto --auto-fp32 9"):format(fmnist, calib), "--no-auto" },
    }
    for _, c in ipairs(cases) do
      local code, _, err = run(c[1])
      assert.equal(2, code, c[1])
      assert.matches(c[2], err, 1, true)
    end
    local code, _, err = run(("quantize %s --calib %s/missing.npy --output %s/x.onnx"):format(fmnist, dir, dir))
    assert.equal(1, code)
    assert.matches("missing.npy", err, 1, true)
    code, _, err = run(("quantize %s --stats %s --output %s/x.onnx"):format(fmnist, calib, dir))
    assert.equal(1, code)
    assert.matches("calib.npy", err, 1, true)
  end)
end)

describe("calq quantize #blazeface", function()
  if not have_blazeface then
    pending("needs BlazeFace and dlib's photos under " .. cache)
    return
  end
  local dir = tmpdir()
  -- four single-face crops to calibrate on, two test photos to compare on
  local crops = h.jpgs_below(johns)
  local list = dir .. "/crops.txt"
  local f = assert(io.open(list, "wb"))
  f:write(table.concat(crops, "\n", 1, 4), "\n")
  f:close()
  local photos = { faces .. "/2008_002470.jpg", faces .. "/2009_004587.jpg" }
  local x = assert(calq.image.preprocess(photos, "blazeface"))
  local x_npy = dir .. "/x.npy"
  assert(calq.io.npy_write(x_npy, x))

  it("agrees with ONNX Runtime within one step of each output's scale", function()
    local r = assert(calq.quantize{ model = back256, calib = list, preprocess = "blazeface",
                                    output = dir .. "/all.onnx", defaults = false, auto = false })
    assert.equal(102, r.quantizable)
    assert.equal(102, r.int8)
    local steps = output_scales(r)
    r.model:close()
    if not have_ort() then return pending("no onnxruntime-node") end
    for k = 1, 2 do
      local xk = x:slice(1, k, k)
      local one = dir .. "/x1.npy"
      assert(calq.io.npy_write(one, xk:contiguous()))
      local mine = calq_run(dir .. "/all.onnx", xk)
      local theirs = ort_run(dir .. "/all.onnx", { ["input:0"] = one }, dir)
      for name, t in pairs(theirs) do
        assert.is_true(steps[name] > 0, name)
        assert.is_true(mine[name]:maxdiff(t) <= steps[name] * 1.0001,
          ("%s: %g > one step %g"):format(name, mine[name]:maxdiff(t), steps[name]))
      end
    end
  end)

  it("keeps the face scores close to fp32 with its defaults", function()
    -- eight crops and the four training photos (never the test photos)
    local more = dir .. "/calib.txt"
    local g = assert(io.open(more, "wb"))
    g:write(table.concat(crops, "\n", 1, 8), "\n")
    for _, p in ipairs{ "2007_007763", "2008_002079", "2008_001009", "2008_001322" } do
      g:write(faces, "/", p, ".jpg\n")
    end
    g:close()
    local code, out = run(("quantize %s --calib %s --preprocess blazeface --output %s/def.onnx")
      :format(back256, more, dir))
    assert.equal(0, code, out)
    assert.matches("auto fp32 +SQNR below 18 dB", out)
    assert.matches("%(default%) [^\n]*conv2d_33", out)
    local ref = assert(calq.onnx.load(back256))
    local r32 = assert(ref:run(x:slice(1, 1, 1)))
    local r8 = calq_run(dir .. "/def.onnx", x:slice(1, 1, 1))
    -- sigmoid scores of the 16x16 anchors where fp32 sees a face
    local s32, s8 = r32["Identity:0"]:totable()[1], r8["Identity:0"]:totable()[1]
    local worst, faces_seen = 0, 0
    for i = 1, #s32 do
      local a, b = 1 / (1 + math.exp(-s32[i][1])), 1 / (1 + math.exp(-s8[i][1]))
      if a > 0.5 then
        faces_seen = faces_seen + 1
        worst = math.max(worst, math.abs(a - b))
      end
    end
    assert.is_true(faces_seen > 0)
    assert.is_true(worst < 0.15, "score difference " .. worst)
    ref:close()
  end)
end)

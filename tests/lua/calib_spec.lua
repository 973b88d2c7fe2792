-- calq.calib, calq.inputs, `calq calibrate` and `calq merge`: statistics of a
-- model's activations over a calibration set, sharded over processes and
-- merged into the single run's file byte for byte.
local calq = require "calq"
local calib = require "calq.calib"
local inputs = require "calq.inputs"
local h = require "tests.lua.helpers"
local lfs = require "lfs"

local cache = os.getenv("CALQ_CACHE") or "./.cache"
local fmnist_model = "models/fashion_mnist/fmnist_cnn.onnx"
local fmnist_idx = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
local blazeface = cache .. "/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx"
local johns = cache .. "/dlib/examples/johns"
local have_fmnist = io.open(fmnist_idx) ~= nil
local have_blazeface = io.open(blazeface) ~= nil and lfs.attributes(johns, "mode") == "directory"
local calq_bin = h.calq_bin
local tmpdir, read, write, run = h.tmpdir, h.read, h.write, h.run

-- n Fashion-MNIST training images as f32 [n, 1, 28, 28] in [0, 1] (the
-- classifier's input), and the same written to dir/NAME.npy.
local function fmnist_inputs(n, dir, name)
  local u8 = assert(calq.data.read_idx(fmnist_idx, 1, n))
  local x = u8:dequantize(1 / 255, 0):view{ n, 1, 28, 28 }
  if dir then assert(calq.io.npy_write(dir .. "/" .. name .. ".npy", x)) end
  return x
end

-- The first n johns crops (sorted) written as a list in dir; returns its path.
local function johns_list(dir, n)
  local paths = h.jpgs_below(johns)
  local list = dir .. "/johns.txt"
  write(list, table.concat(paths, "\n", 1, n) .. "\n")
  return list
end

describe("calq.calib #fmnist", function()
  if not have_fmnist then
    pending("needs Debian's dataset-fashion-mnist")
    return
  end

  it("observes the input, the folded activations and the logits, once per item", function()
    local m = assert(calq.onnx.load(fmnist_model))
    local c = assert(calib.new(m))
    assert(c:feed(fmnist_inputs(12)))
    assert.are.equal(12, c:items())
    local s = c:stats()
    assert.are.equal(11, #s)
    local names = s:names()
    assert.are.equal("input", names[1])
    assert.are.equal("logits", names[#names])
    for _, name in ipairs(names) do
      -- a Conv's output before its Relu is never observed: the Relu's is
      assert.is_nil(name:match("BatchNormalization_output_0$"))
      local info = s:info(name)
      assert.are.equal("hist", info.kind)
      assert.are.equal(12, info.batches)
      assert.are.equal(0, info.nan + info.pinf + info.ninf)
      assert.is_true(info.min <= info.max)
      if name:match("Relu_output_0$") or name:match("MaxPool") then assert.are.equal(0, info.min) end
    end
    local input = s:info("input")
    assert.are.equal(12 * 28 * 28, input.finite)
    for _, method in ipairs{ "minmax", "percentile", "entropy", "entropy_asym", "mse" } do
      for _, dtype in ipairs{ "u8", "s8" } do
        local scale, zp = assert(s:qparams("logits", { method = method, dtype = dtype }))
        assert.is_true(scale > 0, method)
        assert.is_true(math.type(zp) == "integer")
        if dtype == "u8" then assert.is_true(zp >= 0 and zp <= 255) end
      end
    end
    for _, name in ipairs(names) do -- the entropy search's bin 0: as bin 1 by default
      if name:match("Relu_output_0$") then
        local dflt = { s:range(name, { method = "entropy" }) }
        assert.are.same(dflt, { s:range(name, { method = "entropy", zero_bin = "as_next" }) })
        local nlo, nhi = s:range(name, { method = "entropy", zero_bin = "as_next" })
        assert.is_true(nlo == 0 and nhi > 0 and nhi <= s:info(name).max)
      end
    end
    local lo, hi = s:range("input")
    assert.are.equal(0, lo)
    assert.is_true(hi <= 1 and hi > 0.9)
    local scale, zp = s:qparams("input", { dtype = "s8", symmetric = true })
    assert.are.equal(0, zp)
    assert.is_true(math.abs(scale - hi / 127) < 1e-7)
  end)

  it("gives the same bytes however the items are batched, and merges exactly", function()
    local dir = tmpdir()
    local x = fmnist_inputs(12)
    local m = assert(calq.onnx.load(fmnist_model))
    local one = assert(calib.new(m))
    assert(one:feed(x))
    assert(one:stats():save(dir .. "/one.calq"))
    local parts = assert(calib.new(m, { threads = 2 }))
    assert(parts:feed(x:slice(1, 1, 5)))
    assert(parts:feed(x:slice(1, 6, 12)))
    assert(parts:stats():save(dir .. "/parts.calq"))
    assert.are.equal(read(dir .. "/one.calq"), read(dir .. "/parts.calq"))
    -- two halves observed apart, merged (in either order)
    local a, b = assert(calib.new(m)), assert(calib.new(m))
    assert(a:feed(x:slice(1, 1, 12, 2)))
    assert(b:feed(x:slice(1, 2, 12, 2)))
    local merged = assert(calib.merge{ b:stats(), a:stats() })
    assert(merged:save(dir .. "/merged.calq"))
    assert.are.equal(read(dir .. "/one.calq"), read(dir .. "/merged.calq"))
    local loaded = assert(calib.load(dir .. "/merged.calq"))
    assert.are.same(merged:names(), loaded:names())
    assert.are.same(merged:info("logits"), loaded:info("logits"))
    os.execute("rm -rf " .. dir)
  end)

  it("raises on misuse and returns nil, msg, code on failures of the world", function()
    local m = assert(calq.onnx.load(fmnist_model))
    assert.has_error(function() calib.new("model.onnx") end,
      "bad argument #1 to 'new' (calq.Model expected, got string)")
    assert.has_error(function() calib.new(m, { bins = 100 }) end,
      "bad argument #2 to 'new' (bins must be a power of two in 128..8192)")
    assert.has_error(function() calib.new(m, { observer = "kl" }) end,
      "bad argument #2 to 'new' (observer must be 'hist', 'minmax' or 'moving_avg')")
    local c = assert(calib.new(m))
    assert.has_error(function() c:feed({ x = calq.tensor.zeros{ 1, 1, 28, 28 } }) end,
      "bad argument #1 to 'feed' (no tensor for input 'input')")
    local ok, msg, code = c:feed(calq.tensor.zeros{ 1, 3, 28, 28 })
    assert.is_nil(ok)
    assert.are.equal("EINVAL", code)
    assert.truthy(msg:find("item 1", 1, true))
    assert(c:feed(calq.tensor.zeros{ 1, 1, 28, 28 }))
    local s = c:stats()
    assert.has_error(function() s:qparams("input", { method = "kl" }) end,
      "bad argument #2 to 'qparams' (unknown method 'kl' (minmax, percentile, entropy, entropy_asym, mse))")
    assert.has_error(function() s:range("input", { method = "entropy", zero_bin = "zero" }) end,
      "bad argument #2 to 'range' (zero_bin must be 'keep' or 'as_next')")
    ok, msg, code = s:qparams("nothing")
    assert.is_nil(ok)
    assert.are.equal("no statistics for 'nothing'", msg)
    assert.are.equal("ERANGE", code)
    assert.has_error(function() calib.merge{} end,
      "bad argument #1 to 'merge' (an empty list of statistics)")
    assert.has_error(function() calib.merge{ s, "x" } end,
      "bad argument #1 to 'merge' (item 2 is no open calq.Stats)")
    ok, msg, code = calib.load("/nonexistent/stats.calq")
    assert.is_nil(ok)
    assert.are.equal("EIO", code)
    local dir = tmpdir()
    write(dir .. "/junk.calq", "not a calq tensor file at all, but long enough to be read....")
    ok, msg, code = calib.load(dir .. "/junk.calq")
    assert.is_nil(ok)
    assert.are.equal("EFORMAT", code)
    assert.truthy(msg:find("junk.calq", 1, true))
    -- a moving average does not merge
    local ma = assert(calib.new(m, { observer = "moving_avg" }))
    assert(ma:feed(calq.tensor.zeros{ 1, 1, 28, 28 }))
    ok, msg, code = calib.merge{ ma:stats(), ma:stats() }
    assert.is_nil(ok)
    assert.are.equal("EUNSUPPORTED", code)
    -- the model closed under a calibrator
    m:close()
    assert.has_error(function() c:feed(calq.tensor.zeros{ 1, 1, 28, 28 }) end,
      "calling 'feed' on bad self (its model is closed)")
    c:close()
    assert.has_error(function() c:items() end, "calling 'items' on bad self (calibrator is closed)")
    os.execute("rm -rf " .. dir)
  end)
end)

describe("calq.inputs", function()
  it("parses shards I/N with I from 0", function()
    assert.are.same({ 0, 1 }, { inputs.parse_shard("0/1") })
    assert.are.same({ 3, 4 }, { inputs.parse_shard(" 3 / 4 ") })
    assert.are.same({ nil, "shard '4/4': I counts from 0 and must be below N" }, { inputs.parse_shard("4/4") })
    assert.are.same({ nil, "shard '1/0': N must be at least 1" }, { inputs.parse_shard("1/0") })
    assert.are.same({ nil, "shard 'a/b' is not I/N (e.g. 0/4)" }, { inputs.parse_shard("a/b") })
    assert.has_error(function() inputs.parse_shard(3) end,
      "bad argument #1 to 'parse_shard' (string expected, got number)")
  end)

  it("covers a .npy set exactly once over N shards, reading rows a few at a time", function()
    local dir = tmpdir()
    local x = calq.tensor.arange(23):view{ 23, 1 }:to("f32")
    assert(calq.io.npy_write(dir .. "/x.npy", x))
    local seen = {}
    for i = 0, 3 do
      local src = assert(inputs.open{ path = dir .. "/x.npy", shard = ("%d/4"):format(i), batch = 2 })
      assert.are.equal("npy", src.kind)
      assert.are.equal(23, src.total)
      local n = 0
      for b, k in src:batches() do
        assert.is_true(k <= 2)
        for r = 1, k do
          local v = b:get(r, 1)
          assert.are.equal(i, v % 4)
          assert.is_nil(seen[v])
          seen[v] = true
        end
        n = n + k
      end
      assert.are.equal(src.count, n)
      src:close()
    end
    for v = 0, 22 do assert.is_true(seen[v], v) end
    local ok, msg = inputs.open{ path = dir .. "/x.npy", shard = "30/31" }
    assert.is_nil(ok)
    assert.are.equal(dir .. "/x.npy: shard 30/31 is empty (the set has 23 items)", msg)
    -- a calq tensor file of one tensor works the same way
    assert(calq.io.save(dir .. "/x.calq", { x = x }))
    local src = assert(inputs.open{ path = dir .. "/x.calq", shard = "1/4", batch = 5 })
    local got = {}
    for b, k in src:batches() do for r = 1, k do got[#got + 1] = b:get(r, 1) end end
    assert.are.same({ 1, 5, 9, 13, 17, 21 }, got)
    os.execute("rm -rf " .. dir)
  end)

  it("reads lists, resolving paths, and counts missing images", function()
    if not have_blazeface then pending("needs the dlib crops") return end
    local dir = tmpdir()
    local list = johns_list(dir, 4)
    local src = assert(inputs.open{ path = list, preprocess = "blazeface", batch = 3 })
    assert.are.equal(4, src.count)
    local shapes = {}
    for b in src:batches() do shapes[#shapes + 1] = table.concat(b:shape(), "x") end
    assert.are.same({ "3x256x256x3", "1x256x256x3" }, shapes)
    -- paths relative to the list's folder
    assert(lfs.mkdir(dir .. "/img"))
    local first = inputs.read_list(list)[1]
    write(dir .. "/img/a.jpg", read(first))
    write(dir .. "/rel.txt", "# a comment\n\nimg/a.jpg\r\nimg/none1.jpg\nimg/none2.jpg\nimg/none3.jpg\nimg/none4.jpg\n")
    local ok, msg = inputs.open{ path = dir .. "/rel.txt", preprocess = "blazeface" }
    assert.is_nil(ok)
    assert.are.equal(dir .. "/rel.txt: 4 of 5 images are missing (e.g. img/none1.jpg, img/none2.jpg, "
      .. "img/none3.jpg); skip_missing leaves them out", msg)
    src = assert(inputs.open{ path = dir .. "/rel.txt", preprocess = "blazeface", skip_missing = true })
    assert.are.equal(1, src.count)
    assert.are.equal(5, src.total)
    assert.are.same({ dir .. "/img/a.jpg" }, src.paths)
    ok, msg = inputs.open{ path = dir .. "/rel.txt" }
    assert.is_nil(ok)
    assert.are.equal(dir .. "/rel.txt: a list of images needs a preprocessing preset", msg)
    write(dir .. "/empty.txt", "\n# nothing\n")
    ok, msg = inputs.open{ path = dir .. "/empty.txt", preprocess = "blazeface" }
    assert.are.equal(dir .. "/empty.txt: the list holds no image path", msg)
    os.execute("rm -rf " .. dir)
  end)
end)

describe("calq calibrate and calq merge", function()
  it("4 shards run as separate processes merge into the single run's file, byte for byte", function()
    if not have_fmnist then pending("needs Debian's dataset-fashion-mnist") return end
    local dir = tmpdir()
    fmnist_inputs(200, dir, "x")
    local code, out, err = run(("calibrate %s --calib %s/x.npy --output %s/all.calq"):format(fmnist_model, dir, dir))
    assert.are.equal(0, code, err)
    assert.truthy(out:find("items              200 of 200", 1, true))
    assert.truthy(out:find("tensors observed   11 (hist)", 1, true))
    -- the shards at once, as a job array would start them
    local procs = {}
    for i = 0, 3 do
      procs[i] = io.popen(("%s calibrate %s --calib %s/x.npy --shard %d/4 --batch 7 --threads %d --json "
        .. "--output %s/s%d.calq"):format(calq_bin, fmnist_model, dir, i, 1 + i % 2, dir, i))
    end
    for i = 0, 3 do
      local j = procs[i]:read("a")
      assert.is_true(procs[i]:close())
      assert.truthy(j:find('"items":50,', 1, true), j)
      assert.truthy(j:find(('"shard":{"count":4,"index":%d}'):format(i), 1, true), j)
      assert.truthy(j:find('"missing":0,', 1, true), j)
    end
    -- statistics of another observer do not merge in
    code, out, err = run(("calibrate %s --calib %s/x.npy --observer minmax --output %s/mm.calq")
      :format(fmnist_model, dir, dir))
    assert.are.equal(0, code, err)
    code, out, err = run(("merge %s/s0.calq %s/mm.calq --output %s/bad.calq"):format(dir, dir, dir))
    assert.are.equal(1, code)
    assert.are.equal("calq merge: statistics 2: calibration statistics merge: observer 'input': "
      .. "kinds differ\n", err)
    assert.is_nil(io.open(dir .. "/bad.calq"))
    code, out, err = run(("merge %s/s3.calq %s/s1.calq %s/s0.calq %s/s2.calq --output %s/merged.calq")
      :format(dir, dir, dir, dir, dir))
    assert.are.equal(0, code, err)
    assert.are.equal(("calq merge: 4 files -> %s/merged.calq: 11 tensors, 200 items\n"):format(dir), out)
    assert.are.equal(read(dir .. "/all.calq"), read(dir .. "/merged.calq"))
    os.execute("rm -rf " .. dir)
  end)

  it("calibrates BlazeFace from a list of crops with the blazeface preset, sharded", function()
    if not have_blazeface then pending("needs BlazeFace and the dlib crops") return end
    local dir = tmpdir()
    local list = johns_list(dir, 6)
    local code, out, err = run(("calibrate %s --calib %s --preprocess blazeface --output %s/all.calq")
      :format(blazeface, list, dir))
    assert.are.equal(0, code, err)
    assert.truthy(out:find("items              6 of 6", 1, true), out)
    for i = 0, 1 do
      code, out, err = run(("calibrate %s --calib %s --preprocess blazeface --shard %d/2 --batch 2 --output %s/s%d.calq")
        :format(blazeface, list, i, dir, i))
      assert.are.equal(0, code, err)
    end
    code, out, err = run(("merge %s/s0.calq %s/s1.calq --output %s/merged.calq --json"):format(dir, dir, dir))
    assert.are.equal(0, code, err)
    assert.truthy(out:find('"items":6,', 1, true), out)
    assert.are.equal(read(dir .. "/all.calq"), read(dir .. "/merged.calq"))
    -- another model's statistics are refused, not unioned
    if have_fmnist then
      fmnist_inputs(3, dir, "x")
      assert.are.equal(0, (run(("calibrate %s --calib %s/x.npy --output %s/fm.calq"):format(
        fmnist_model, dir, dir))))
      local c2, _, e2 = run(("merge %s/s0.calq %s/fm.calq --output %s/bad.calq"):format(dir, dir, dir))
      assert.are.equal(1, c2)
      assert.are.equal(("calq merge: %s/fm.calq: its tensors are not those of %s/s0.calq (statistics "
        .. "of another model?)\n"):format(dir, dir), e2)
    end
    local s = assert(calib.load(dir .. "/merged.calq"))
    assert.are.equal("input:0", s:names()[1])
    local lo, hi = s:range("input:0")
    assert.is_true(lo >= -1 and hi <= 1)
    os.execute("rm -rf " .. dir)
  end)

  it("exits 2 with a one-line reason on bad usage and 1 when the work fails", function()
    local dir = tmpdir()
    write(dir .. "/list.txt", "a.jpg\nb.jpg\n")
    local usage = {
      { "calibrate", "calq calibrate: no model given" },
      { "calibrate m.onnx --output o", "calq calibrate: --calib is required" },
      { "calibrate m.onnx --calib x.npy", "calq calibrate: --output is required" },
      { "calibrate m.onnx --calib x.npy --output o --shard 4/4",
        "calq calibrate: --shard: shard '4/4': I counts from 0 and must be below N" },
      { "calibrate m.onnx --calib x.npy --output o --bins 1000",
        "calq calibrate: --bins must be a power of two in 128..8192" },
      { "calibrate m.onnx --calib x.npy --output o --observer kl",
        "calq calibrate: --observer: 'kl' is not one of hist, minmax, moving_avg" },
      { "calibrate m.onnx --calib x.npy --output o --preprocess yolo",
        "calq calibrate: --preprocess: 'yolo' is not one of blazeface, blazeface256, blazeface128, fmnist, imagenet" },
      { "calibrate m.onnx --calib x.npy --output o --frobnicate", "calq calibrate: unknown option --frobnicate" },
      { ("calibrate %s --calib %s/list.txt --output o"):format(fmnist_model, dir),
        "calq calibrate: --preprocess is required for a list of images" },
      { "merge --output o", "calq merge: no statistics files given" },
      { "merge a.calq", "calq merge: --output is required" },
    }
    for _, u in ipairs(usage) do
      local code, out, err = run(u[1])
      assert.are.equal(2, code, u[1])
      assert.are.equal("", out)
      assert.are.equal(u[2] .. "\n", err, u[1])
    end
    local code, _, err = run(("calibrate %s --calib %s/list.txt --preprocess fmnist --output %s/o.calq")
      :format(fmnist_model, dir, dir))
    assert.are.equal(1, code)
    assert.are.equal(("calq calibrate: %s/list.txt: 2 of 2 images are missing (e.g. a.jpg, b.jpg); "
      .. "--skip-missing leaves them out\n"):format(dir), err)
    write(dir .. "/bad.jpg", "not an image")
    write(dir .. "/bad.txt", "bad.jpg\n")
    code, _, err = run(("calibrate %s --calib %s/bad.txt --preprocess fmnist --output %s/o.calq")
      :format(fmnist_model, dir, dir))
    assert.are.equal(1, code)
    assert.are.equal(("calq calibrate: %s/bad.jpg: unknown format (12 bytes): not a JPEG or PNG file\n"):format(dir), err)
    code, _, err = run(("calibrate %s/none.onnx --calib %s/list.txt --preprocess fmnist --output %s/o.calq")
      :format(dir, dir, dir))
    assert.are.equal(1, code)
    assert.truthy(err:find("none.onnx", 1, true))
    code, _, err = run(("merge %s/none.calq --output %s/o.calq"):format(dir, dir))
    assert.are.equal(1, code)
    assert.truthy(err:find("^calq merge: .*none%.calq"))
    assert.is_nil(io.open(dir .. "/o.calq"))
    os.execute("rm -rf " .. dir)
  end)
end)

describe("calq calibrate on a Slurm job array", function()
  -- tests/slurm/run.sh starts a single-node Slurm (Debian's slurm-wlm) in a
  -- temporary folder, runs docs/slurm's array script and dependent merge,
  -- and compares the result with the single run; it says why when Slurm
  -- cannot be started here, and the spec then stays pending with that reason.
  it("4 array tasks and a dependent merge job equal the single run #slow", function()
    if not have_fmnist then pending("needs Debian's dataset-fashion-mnist") return end
    local dir = tmpdir()
    fmnist_inputs(200, dir, "x")
    local p = io.popen(("tests/slurm/run.sh %s %s %s/x.npy 2>&1"):format(calq_bin, fmnist_model, dir))
    local out = p:read("a")
    local _, _, code = p:close()
    os.execute("rm -rf " .. dir)
    if code == 77 then
      pending(out:match("SKIP: ([^\n]*)") or out)
      return
    end
    assert.are.equal(0, code, out)
    assert.truthy(out:find("PASS: 4 Slurm array tasks", 1, true), out)
  end)
end)

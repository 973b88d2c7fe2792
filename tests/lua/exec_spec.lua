-- The executor from Lua: Model:run/profile/memory/set_observer, ONNX
-- conformance over Debian's node tests, BlazeFace and the Fashion-MNIST CNN
-- against ONNX Runtime references ($CALQ_CACHE/refs, from tools/make_refs.sh),
-- and `calq infer`. Reference tests are pending with a message when the data
-- are missing. Run from the repository root, as `make luatest` does.
local calq = require "calq"
local calq_bin = "./" .. (os.getenv("BUILD") or "build") .. "/calq"

local cache = os.getenv("CALQ_CACHE") or "./.cache"
local refs = cache .. "/refs"
local node_tests = "/usr/share/libonnx-testdata/data/node"
local fmnist = "models/fashion_mnist/fmnist_cnn.onnx"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function manifest()
  local ok, json = pcall(require, "dkjson")
  if not ok or not exists(refs .. "/manifest.json") then return nil end
  local f = assert(io.open(refs .. "/manifest.json", "rb"))
  local m = json.decode(f:read("a"))
  f:close()
  return m
end

local function relerr(got, want)
  local st = want:stats()
  local mag = math.max(math.abs(st.min), math.abs(st.max))
  return got:maxdiff(want) / (mag > 0 and mag or 1)
end

describe("calq.exec", function()
  describe("Model:run()", function()
    it("runs the Fashion-MNIST CNN on one image and on a batch", function()
      local m = assert(calq.onnx.load(fmnist))
      local x = calq.tensor.full({1, 1, 28, 28}, 0.5)
      local out = assert(m:run{[m:inputs()[1].name] = x})
      local name = m:outputs()[1].name
      assert.are.same({1, 10}, out[name]:shape())
      -- one input: a bare tensor works too, and gives the same answer
      local again = assert(m:run(x))
      assert.are.equal(0, again[name]:maxdiff(out[name]))
    end)

    it("saves the optimized graph, which runs to the same outputs", function()
      local m = assert(calq.onnx.load(fmnist))
      local x = calq.tensor.full({1, 1, 28, 28}, 0.3)
      local a = assert(m:run(x))
      local path = os.tmpname()
      assert(m:save(path))
      local m2 = assert(calq.onnx.load(path))
      os.remove(path)
      local b = assert(m2:run(x))
      local name = m:outputs()[1].name
      assert.is_true(b[name]:maxdiff(a[name]) <= 1e-6)
    end)

    it("raises on misuse and names the missing input", function()
      local m = assert(calq.onnx.load(fmnist))
      local input = m:inputs()[1].name
      assert.has_error(function() m:run{} end,
        ("bad argument #1 to 'run' (no tensor for input '%s')"):format(input))
      assert.has_error(function() m:run(42) end)
      local out, msg = m:run{[input] = calq.tensor.full({1, 1, 27, 28}, 0)}
      assert.is_nil(out)
      assert.are.equal(("input '%s': shape f32[1,1,27,28] does not match the model's"):format(input), msg)
    end)

    it("returns nil, message, code for a model calq cannot run", function()
      local path = node_tests .. "/test_abs/model.onnx"
      if not exists(path) then
        pending("no " .. path)
        return
      end
      local m = assert(calq.onnx.load(path))
      local out, msg, code = m:run{x = calq.tensor.full({3, 4, 5}, 1)}
      assert.is_nil(out)
      assert.are.equal("unsupported operators: Abs", msg)
      assert.are.equal("EUNSUPPORTED", code)
    end)

    it("reports per-node times and shapes, and the buffer pool", function()
      local m = assert(calq.onnx.load(fmnist))
      local x = calq.tensor.full({1, 1, 28, 28}, 0.25)
      assert(m:run(x))
      assert(m:run(x))
      local prof = m:profile()
      assert.is_true(#prof > 3)
      for _, p in ipairs(prof) do
        assert.is_string(p.op_type)
        assert.are.equal(p.fused and 0 or 2, p.runs)
        assert.is_boolean(p.blocked) -- (no NCHW16c in this small model)
        assert.is_false(p.blocked)
        assert.is_true(p.ms >= 0)
        assert.is_table(p.outputs[1])
      end
      assert.are.equal("Conv", prof[1].op_type)
      assert.are.same({1, 1, 28, 28}, prof[1].inputs[1])
      local peak, naive = m:memory()
      assert.is_true(peak > 0 and peak <= naive)
    end)
  end)

  describe("Model:profile() work and rates", function()
    local function numel(shape)
      local k = 1
      for _, d in ipairs(shape) do k = k * d end
      return k
    end

    it("counts each node's flops and bytes from its shapes, and divides by its time", function()
      local m = assert(calq.onnx.load(fmnist))
      local x = calq.tensor.full({1, 1, 28, 28}, 0.25)
      assert(m:run(x))
      local prof = m:profile()
      local conv = prof[1]
      assert.are.equal("Conv", conv.op_type)
      assert.are.equal("compute", conv.bound)
      -- 2 flops per multiply-add: each output element takes c/group * kh * kw of them,
      -- plus one per element for each activation fused into the Conv
      local w, y = conv.inputs[2], conv.outputs[1]
      local terms = numel(w) // w[1]
      local acts = 0
      for k = 2, #prof do if prof[k].fused then acts = acts + 1 else break end end
      assert.are.equal(2 * numel(y) * terms + acts * numel(y), conv.flops)
      local rel = math.abs(conv.gflops - conv.flops / conv.ms / 1e6) / conv.gflops
      assert.is_true(rel < 1e-9)
      assert.is_true(math.abs(conv.gbs - conv.bytes / conv.ms / 1e6) / conv.gbs < 1e-9)
      for _, p in ipairs(prof) do
        if p.fused then
          assert.is_nil(p.flops)
          assert.is_nil(p.gbs)
        else
          assert.is_true(p.bound == "compute" or p.bound == "memory")
          assert.is_true(p.bytes > 0)
          assert.is_number(p.gbs)
        end
      end
    end)

    it("gives no rates before any run, and no work while a shape is unknown", function()
      local m = assert(calq.onnx.load(fmnist))
      assert.are.equal("N", m:inputs()[1].shape[1])
      local prof = assert(m:profile())
      assert.is_nil(prof[1].flops) -- the batch is symbolic until a run
      assert.is_nil(prof[1].gflops)
      assert.is_nil(prof[1].gbs)
      assert(m:run(calq.tensor.full({2, 1, 28, 28}, 0.25)))
      local conv = m:profile()[1]
      local w, y = conv.inputs[2], conv.outputs[1]
      assert.are.equal(2, y[1])
      assert.is_true(conv.flops >= 2 * 2 * (y[2] * y[3] * y[4]) * (w[2] * w[3] * w[4]))
    end)
  end)

  describe("Model:reset_profile()", function()
    it("zeroes every node's runs and time; profile() takes no argument", function()
      local m = assert(calq.onnx.load(fmnist))
      local x = calq.tensor.full({1, 1, 28, 28}, 0.25)
      assert(m:run(x))
      assert.is_true(m:reset_profile())
      for _, p in ipairs(m:profile()) do
        assert.are.equal(0, p.runs)
        assert.are.equal(0, p.ms)
      end
      assert(m:run(x))
      assert.are.equal(1, m:profile()[1].runs)
      assert.has_error(function() m:profile(true) end,
        "bad argument #1 to 'profile' (no argument expected (model:reset_profile() resets))")
    end)
  end)

  describe("Model:reset_profile(clock)", function()
    it("times nodes on the thread's CPU clock with 'cpu', kept across a re-plan", function()
      local m = assert(calq.onnx.load(fmnist))
      local x = calq.tensor.full({1, 1, 28, 28}, 0.25)
      assert.are.equal("wall", m:profile_clock())
      assert.is_true(m:reset_profile("cpu"))
      assert.are.equal("cpu", m:profile_clock())
      local t0 = os.clock()
      for _ = 1, 3 do assert(m:run(x)) end
      local cpu_ms = (os.clock() - t0) * 1e3
      local sum = 0
      for _, p in ipairs(m:profile()) do
        if not p.fused then
          assert.are.equal(3, p.runs)
          sum = sum + p.ms * p.runs
        end
      end
      assert.is_true(sum > 0 and sum <= cpu_ms)
      assert(m:set_precision("bf16"))
      assert.are.equal("cpu", m:profile_clock())
      assert.is_true(m:reset_profile())
      assert.are.equal("cpu", m:profile_clock())
      assert.is_true(m:reset_profile("wall"))
      assert.are.equal("wall", m:profile_clock())
      assert.has_error(function() m:reset_profile("gpu") end,
        "bad argument #1 to 'reset_profile' (invalid option 'gpu')")
    end)
  end)

  describe("Model:plan()", function()
    -- Planning folds nodes into others (the CNN's BatchNorms, constants): a
    -- model loaded to be read or saved keeps its file's nodes until one of
    -- the executor's methods plans it.
    it("plans now, and each executor method plans a model that has no plan", function()
      for _, call in ipairs{
        function(m) return m:plan() end,
        function(m) return m:set_threads(1) end,
        function(m) return m:memory() end,
        function(m) return m:profile() end,
        function(m) return m:reset_profile() end,
        function(m) return m:set_observer(nil) end,
      } do
        local m = assert(calq.onnx.load(fmnist))
        local before = m:info().nodes
        assert.truthy(call(m))
        local after = m:info().nodes
        assert.is_true(after < before, ("%d nodes before, %d after"):format(before, after))
      end
    end)

    it("says why planning fails, from every method that plans", function()
      if not exists(node_tests .. "/test_lstm_defaults/model.onnx") then
        pending("no " .. node_tests .. " (Debian's libonnx-testdata)")
        return
      end
      local m = assert(calq.onnx.load(node_tests .. "/test_lstm_defaults/model.onnx"))
      for _, name in ipairs{ "plan", "memory", "profile", "reset_profile" } do
        local ok, msg, code = m[name](m)
        assert.is_nil(ok)
        assert.truthy(msg:find("LSTM", 1, true), msg)
        assert.is_string(code)
      end
      local ok, msg = m:set_threads(2)
      assert.is_nil(ok)
      assert.truthy(msg:find("LSTM", 1, true), msg)
    end)

    it("hands every node output to the observer, in order", function()
      local m = assert(calq.onnx.load(fmnist))
      local seen = {}
      m:set_observer(function(info, t)
        seen[#seen + 1] = info
        assert.are.equal("calq.Tensor", getmetatable(t).__name)
      end)
      local out = assert(m:run(calq.tensor.full({1, 1, 28, 28}, 0.25)))
      assert.is_true(#seen > 3)
      for i = 2, #seen do assert.is_true(seen[i].index > seen[i - 1].index) end
      assert.are.equal(m:outputs()[1].name, seen[#seen].output)
      -- returning false stops the run; errors propagate
      m:set_observer(function() return false end)
      local none, msg = m:run(calq.tensor.full({1, 1, 28, 28}, 0.25))
      assert.is_nil(none)
      assert.truthy(msg:find("observer stopped", 1, true))
      m:set_observer(function() error("boom", 0) end)
      assert.has_error(function() m:run(calq.tensor.full({1, 1, 28, 28}, 0.25)) end, "boom")
      m:set_observer(nil)
      assert(m:run(calq.tensor.full({1, 1, 28, 28}, 0.25)))
      local _ = out
    end)
  end)

  describe("Model:set_threads() and Model:time()", function()
    it("sets the BLAS threads and times whole runs", function()
      local m = assert(calq.onnx.load(fmnist))
      assert.is_true(m:set_threads(1))
      assert.has_error(function() m:set_threads(0) end,
        "bad argument #1 to 'set_threads' (threads must be 1..1024)")
      local med, min, p90 = m:time(calq.tensor.full({1, 1, 28, 28}, 0.5), 5, 1)
      assert.is_true(min > 0 and min <= med and med <= p90)
    end)
  end)

  describe("Model:set_precision()", function()
    it("runs the convolutions in bf16, close to fp32, and back", function()
      local m = assert(calq.onnx.load(fmnist))
      local x = calq.tensor.full({1, 1, 28, 28}, 0.5)
      for i = 1, 28 do x:set(1, 1, i, i, -0.75) end
      local name = m:outputs()[1].name
      local f32 = assert(m:run(x))[name]
      assert.is_true(m:set_precision("bf16"))
      local b16 = assert(m:run(x))[name]
      local d = b16:maxdiff(f32)
      local st = f32:stats()
      local mag = math.max(1, math.abs(st.min), math.abs(st.max))
      assert.is_true(d > 0 and d < 2e-2 * mag, tostring(d))
      -- patterns as calq.quant's, later pairs winning; fp32 gives f32's bits
      assert.is_true(m:set_precision{{"op:Conv", "bf16"}, {"first:Conv", "fp32"}})
      local mixed = assert(m:run(x))[name]
      assert.is_true(mixed:maxdiff(f32) < 2e-2 * mag)
      assert.is_true(m:set_precision("fp32"))
      assert.are.equal(0, assert(m:run(x))[name]:maxdiff(f32))
      local ok, msg = m:set_precision{{"nothing_here", "bf16"}}
      assert.is_nil(ok)
      assert.are.equal("precision pattern 'nothing_here' names no node", msg)
      assert.has_error(function() m:set_precision("int8") end,
        "bad argument #1 to 'set_precision' (unknown precision 'int8' (fp32, bf16))")
    end)
  end)

  describe("calq conform", function()
    it("ends with the counts over Debian's node tests #conform", function()
      if not exists(node_tests .. "/test_relu/model.onnx") then
        pending("no " .. node_tests .. " (Debian's libonnx-testdata)")
        return
      end
      local p = io.popen(calq_bin .. " conform " .. node_tests .. " 2>&1; echo rc=$?")
      local text = p:read("a")
      p:close()
      assert.truthy(text:find("\n263 passed, 0 failed, 669 skipped\nrc=0\n$"), text)
      assert.truthy(text:find("skipped for operators calq lacks (121): Abs (1), Acos (2),", 1, true))
      assert.truthy(text:find("skipped (dtype): test_cast_DOUBLE_to_FLOAT: ", 1, true))
    end)

    it("fails with a usage error without folders", function()
      local p = io.popen(calq_bin .. " conform 2>&1; echo rc=$?")
      local text = p:read("a")
      p:close()
      assert.truthy(text:find("calq conform: no test folder given", 1, true), text)
    end)
  end)

  describe("conform_case()", function()
    it("passes every node test whose operators calq has #conform", function()
      if not exists(node_tests .. "/test_relu/model.onnx") then
        pending("no " .. node_tests .. " (Debian's libonnx-testdata)")
        return
      end
      local counts, failed, dtype = {pass = 0, fail = 0, skip = 0}, {}, {}
      for _, dir in ipairs(assert(calq.exec.conform_dirs(node_tests))) do
        local verdict, msg = calq.exec.conform_case(dir)
        counts[verdict] = counts[verdict] + 1
        if verdict == "fail" then failed[#failed + 1] = dir .. ": " .. msg end
        if verdict == "skip" and not msg:find("unsupported operators", 1, true) then
          dtype[#dtype + 1] = dir
        end
      end
      assert.are.same({}, failed)
      -- 281 tests use only calq's operators; 18 need a dtype calq lacks
      -- (double, string, bfloat16 stored as uint16, sequences, optionals)
      assert.are.equal(263, counts.pass)
      assert.are.equal(18, #dtype)
    end)

    it("reports a failing comparison with the element", function()
      if not exists(node_tests .. "/test_relu/model.onnx") then
        pending("no " .. node_tests)
        return
      end
      local verdict, msg = calq.exec.conform_case(node_tests .. "/test_relu", 0, -1)
      assert.are.equal("fail", verdict)
      assert.truthy(msg:find("test_data_set_0 output 0 ('y'): element 0", 1, true))
      assert.are.equal("skip", (calq.exec.conform_case(node_tests .. "/test_lstm_defaults")))
    end)
  end)

  describe("ONNX Runtime references", function()
    it("BlazeFace and the Fashion-MNIST CNN agree within 1e-4 of each output's magnitude #refs", function()
      local m = manifest()
      if not m then
        pending("no " .. refs .. "/manifest.json (tools/make_refs.sh) or no dkjson")
        return
      end
      local models, worst, n = {}, {}, 0
      for _, c in ipairs(m.cases) do
        local path = refs .. "/" .. c.model
        models[path] = models[path] or assert(calq.onnx.load(path))
        local feeds = {}
        for _, i in ipairs(c.inputs) do feeds[i.name] = assert(calq.io.npy_read(refs .. "/" .. i.file)) end
        local out = assert(models[path]:run(feeds))
        local group = c.name:match("^[^/]+")
        for _, o in ipairs(c.outputs) do
          local e = relerr(out[o.name], assert(calq.io.npy_read(refs .. "/" .. o.file)))
          worst[group] = math.max(worst[group] or 0, e)
          assert.is_true(e <= 1e-4, ("%s %s: %g"):format(c.name, o.name, e))
        end
        n = n + 1
      end
      assert.is_true(n >= 3)
      assert.is_not_nil(worst.blazeface_back256)
      assert.is_not_nil(worst.blazeface_front128)
      assert.is_not_nil(worst.fmnist_cnn)
    end)
  end)

  describe("calq infer", function()
    it("writes each output as .npy, equal to Model:run()", function()
      local dir = os.tmpname()
      os.remove(dir)
      local input = dir .. "_x.npy"
      local x = calq.tensor.full({1, 1, 28, 28}, 0.125)
      assert(calq.io.npy_write(input, x))
      local m = assert(calq.onnx.load(fmnist))
      m:set_threads(1) -- same BLAS partition as the command below: identical floats
      local p = io.popen((calq_bin .. " infer %s --threads 1 --input %s=%s --output %s 2>&1; echo rc=$?"):format(
        fmnist, m:inputs()[1].name, input, dir))
      local text = p:read("a")
      p:close()
      assert.truthy(text:find("rc=0", 1, true), text)
      local name = m:outputs()[1].name
      local got = assert(calq.io.npy_read(dir .. "/" .. name:gsub("[^%w%.%-_]", "_") .. ".npy"))
      assert.are.equal(0, got:maxdiff(assert(m:run(x))[name]))
      os.execute("rm -rf '" .. dir .. "' '" .. input .. "'")
    end)

    it("runs the convolutions in bf16 with --precision bf16", function()
      local dir = os.tmpname()
      os.remove(dir)
      local input = dir .. "_x.npy"
      local x = calq.tensor.full({1, 1, 28, 28}, 0.25)
      assert(calq.io.npy_write(input, x))
      local m = assert(calq.onnx.load(fmnist))
      local name = m:outputs()[1].name
      local cmd = "%s infer %s --precision bf16 --input %s --output %s 2>&1; echo rc=$?"
      local p = io.popen(cmd:format(calq_bin, fmnist, input, dir))
      local text = p:read("a")
      p:close()
      assert.truthy(text:find("rc=0", 1, true), text)
      local got = assert(calq.io.npy_read(dir .. "/" .. name:gsub("[^%w%.%-_]", "_") .. ".npy"))
      assert(m:set_precision("bf16"))
      assert.are.equal(0, got:maxdiff(assert(m:run(x))[name]))
      p = io.popen(cmd:gsub("bf16", "int4"):format(calq_bin, fmnist, input, dir))
      text = p:read("a")
      p:close()
      assert.are.equal("calq infer: --precision must be bf16 or fp32\nrc=2\n", text)
      os.execute("rm -rf '" .. dir .. "' '" .. input .. "'")
    end)

    it("creates nested output folders, and says when it cannot", function()
      local dir = os.tmpname()
      os.remove(dir)
      local input = dir .. "_x.npy"
      assert(calq.io.npy_write(input, calq.tensor.full({1, 1, 28, 28}, 0.5)))
      local out = dir .. "/a/b'c/d"
      local p = io.popen(('%s infer %s --input %s --output "%s" 2>&1; echo rc=$?'):format(
        calq_bin, fmnist, input, out))
      local text = p:read("a")
      p:close()
      assert.truthy(text:find("rc=0", 1, true), text)
      assert.are.equal("directory", require("lfs").attributes(out, "mode"))
      -- a file where a folder should be
      local blocked = dir .. "/file"
      assert(io.open(blocked, "w")):close()
      p = io.popen(('%s infer %s --input %s --output "%s/sub" 2>&1; echo rc=$?'):format(
        calq_bin, fmnist, input, blocked))
      text = p:read("a")
      p:close()
      assert.are.equal(("calq infer: %s: exists and is not a folder\nrc=1\n"):format(blocked), text)
      os.execute("rm -rf '" .. dir .. "' '" .. input .. "'")
    end)

    it("refuses a missing input with a message", function()
      local p = io.popen(calq_bin .. " infer " .. fmnist .. " --output /tmp/calq_never 2>&1; echo rc=$?")
      local text = p:read("a")
      p:close()
      assert.truthy(text:find("calq infer: no --input for", 1, true), text)
      assert.truthy(text:find("rc=2", 1, true), text)
    end)
  end)
end)

-- onnx_spec.lua - calq.onnx: loading, inspecting and saving ONNX models.
local onnx = require "calq.onnx"
local calq = require "calq"

local cache = os.getenv("CALQ_CACHE") or ".cache"
local back = cache .. "/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx"
local nodedata = os.getenv("CALQ_ONNX_NODE_DATA") or "/usr/share/libonnx-testdata/data/node"

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() end
  return f ~= nil
end

local function tmpname(suffix)
  local p = os.tmpname()
  os.remove(p)
  return p .. suffix
end

describe("calq.onnx", function()
  describe("load()", function()
    it("loads BlazeFace back-256 with its inputs, outputs and opset", function()
      if not exists(back) then return pending("BlazeFace not in CALQ_CACHE") end
      local m = assert(onnx.load(back))
      assert.are.equal(12, m:opset())
      assert.are.equal(12, m:opsets()[""])
      local ins = m:inputs()
      assert.are.equal(1, #ins)
      assert.are.same({ name = "input:0", dtype = "f32", shape = { 1, 256, 256, 3 } }, ins[1])
      local outs = m:outputs()
      assert.are.equal(4, #outs)
      assert.are.same({ 1, 512, 16 }, outs[3].shape)
      assert.are.equal(149, m:info().nodes)
      assert.are.equal("tf2onnx", m:info().producer_name)
      assert.matches("^calq.Model %(149 nodes, 1 inputs, 4 outputs, opset 12%)$", tostring(m))
    end)

    it("returns nil, message, code for a missing file", function()
      local m, msg, code = onnx.load("/nonexistent/x.onnx")
      assert.is_nil(m)
      assert.are.equal("/nonexistent/x.onnx: No such file or directory", msg)
      assert.are.equal("EIO", code)
    end)

    it("names the byte and the field of a malformed model", function()
      -- ModelProto.graph (field 7) claiming 100 bytes, 2 present.
      local m, msg, code = onnx.load_string("\x08\x07\x3a\x64\x0a\x00", "bad.onnx")
      assert.is_nil(m)
      assert.are.equal("bad.onnx: byte 2: ModelProto.graph (field 7): length 100 runs past "
        .. "the end of the message (ends at 6)", msg)
      assert.are.equal("EFORMAT", code)
    end)
  end)

  describe("Model:nodes()", function()
    it("yields op type, names, attributes and shapes", function()
      if not exists(back) then return pending("BlazeFace not in CALQ_CACHE") end
      local m = assert(onnx.load(back))
      local count, convs, first_conv = 0, 0, nil
      for node in m:nodes() do
        count = count + 1
        if node.op_type == "Conv" then
          convs = convs + 1
          first_conv = first_conv or node
        end
      end
      assert.are.equal(149, count)
      assert.is_true(convs > 30)
      assert.are.same({ 2, 2 }, first_conv.attrs.strides)
      assert.are.equal(3, #first_conv.inputs)
      assert.are.equal("", first_conv.domain)
      assert.are.same({ 1, 256, 256, 3 }, (m:inputs()[1].shape))
      -- the weight's shape is known from its initializer
      assert.are.same({ 24, 3, 5, 5 }, first_conv.input_shapes[2])
    end)

    it("gives tensor attributes as calq.Tensor", function()
      local p = nodedata .. "/test_constant/model.onnx"
      if not exists(p) then return pending("no ONNX node test data") end
      local m = assert(onnx.load(p))
      local node = m:nodes()()
      assert.are.equal("Constant", node.op_type)
      local t = node.attrs.value
      assert.are.equal("calq.Tensor", getmetatable(t).__name)
      local expected = assert(onnx.read_tensor(nodedata .. "/test_constant/test_data_set_0/output_0.pb"))
      assert.are.same(expected:shape(), t:shape())
      assert.are.same(expected:totable(), t:totable())
    end)

    it("raises on a closed model", function()
      local p = nodedata .. "/test_relu/model.onnx"
      if not exists(p) then return pending("no ONNX node test data") end
      local m = assert(onnx.load(p))
      m:close()
      m:close()
      assert.has_error(function() m:nodes() end, "calling 'nodes' on bad self (model is closed)")
    end)
  end)

  describe("Model:initializer()", function()
    it("returns initializers as tensors, nil and a message otherwise", function()
      if not exists(back) then return pending("BlazeFace not in CALQ_CACHE") end
      local m = assert(onnx.load(back))
      local inits = m:initializers()
      assert.is_true(#inits > 50)
      local t = assert(m:initializer(inits[1].name))
      assert.are.same(inits[1].shape, t:shape())
      local none, msg, code = m:initializer("nope")
      assert.is_nil(none)
      assert.are.equal("no initializer named 'nope'", msg)
      assert.are.equal("ERANGE", code)
    end)
  end)

  describe("Model:check_ops()", function()
    it("lists every unsupported operator in one message", function()
      local p = nodedata .. "/test_conv_with_strides_padding/model.onnx"
      if not exists(p) then return pending("no ONNX node test data") end
      local m = assert(onnx.load(p))
      assert.is_true(m:check_ops({ "Conv" }))
      local ok, msg, code = m:check_ops({ "Relu" })
      assert.is_nil(ok)
      assert.are.equal("1 node with unsupported operators: Conv (opset 11, 1 node); Conv: #0", msg)
      assert.are.equal("EUNSUPPORTED", code)
      assert.has_error(function() m:check_ops({ 1, {} }) end,
        "bad argument #1 to 'check_ops' (operator names must be strings)")
    end)
  end)

  describe("Model:save()", function()
    it("round-trips BlazeFace and ONNX Runtime accepts the copy", function()
      if not exists(back) then return pending("BlazeFace not in CALQ_CACHE") end
      local m = assert(onnx.load(back))
      local out = tmpname(".onnx")
      assert.is_true(m:save(out))
      assert.is_false(exists(out .. ".tmp"))
      local again = assert(onnx.load(out))
      assert.is_nil(m:diff(again))
      local ort = cache .. "/ort/node_modules"
      if not exists(ort .. "/onnxruntime-node/package.json") or not os.execute("command -v node >/dev/null") then
        os.remove(out)
        return pending("node or onnxruntime-node missing: ONNX Runtime check skipped")
      end
      local script = debug.getinfo(1, "S").source:sub(2):gsub("onnx_spec%.lua$", "ort_compare.js")
      local cmd = string.format("NODE_PATH=%q node %q %q %q 2>&1", ort, script, back, out)
      local pipe = io.popen(cmd)
      local text = pipe:read("a")
      pipe:close()
      os.remove(out)
      assert.are.equal("same 4 outputs\n", text)
    end)

    it("writes every node-test model so that ONNX Runtime still accepts it #slow", function()
      local ort = cache .. "/ort/node_modules"
      if not exists(nodedata .. "/test_relu/model.onnx") then return pending("no ONNX node test data") end
      if not exists(ort .. "/onnxruntime-node/package.json") or not os.execute("command -v node >/dev/null") then
        return pending("node or onnxruntime-node missing")
      end
      local dir = tmpname(".d")
      assert(os.execute("mkdir " .. dir))
      local n = 0
      for name in io.popen("ls " .. nodedata):lines() do
        local m = assert(onnx.load(nodedata .. "/" .. name .. "/model.onnx"))
        assert(m:save(dir .. "/" .. name .. ".onnx"))
        n = n + 1
      end
      local script = debug.getinfo(1, "S").source:sub(2):gsub("onnx_spec%.lua$", "ort_accept.js")
      local pipe = io.popen(string.format("NODE_PATH=%q node %q %q %q 2>&1", ort, script, nodedata, dir))
      local text = pipe:read("a")
      pipe:close()
      os.execute("rm -r " .. dir)
      assert.is_true(n >= 900)
      assert.matches("copy refused 0\n$", text)
    end)

    it("returns nil, message, code when the directory is missing", function()
      local p = nodedata .. "/test_relu/model.onnx"
      if not exists(p) then return pending("no ONNX node test data") end
      local m = assert(onnx.load(p))
      local ok, msg, code = m:save("/nonexistent/dir/m.onnx")
      assert.is_nil(ok)
      assert.are.equal("/nonexistent/dir/m.onnx.tmp: No such file or directory", msg)
      assert.are.equal("EIO", code)
    end)
  end)

  describe("read_tensor()", function()
    it("reads backend-test tensors: Relu's output is max(input, 0)", function()
      local dir = nodedata .. "/test_relu/test_data_set_0/"
      if not exists(dir .. "input_0.pb") then return pending("no ONNX node test data") end
      local x, xname = assert(onnx.read_tensor(dir .. "input_0.pb"))
      local y = assert(onnx.read_tensor(dir .. "output_0.pb"))
      assert.are.equal("x", xname)
      local xs, ys = x:totable(), y:totable()
      local function walk(a, b)
        if type(a) == "table" then
          for i = 1, #a do walk(a[i], b[i]) end
        else
          assert.are.equal(math.max(a, 0), b)
        end
      end
      walk(xs, ys)
    end)

    it("writes a tensor that reads back the same", function()
      local t = calq.tensor.new({ { 1, -2, 3 }, { 4.5, 0, -6 } })
      local p = tmpname(".pb")
      assert.is_true(onnx.write_tensor(p, t, "w"))
      local u, name = assert(onnx.read_tensor(p))
      os.remove(p)
      assert.are.equal("w", name)
      assert.are.same(t:totable(), u:totable())
    end)

    it("refuses dtypes calq lacks with the dtype's name", function()
      local p = nodedata .. "/test_cast_DOUBLE_to_FLOAT/test_data_set_0/input_0.pb"
      if not exists(p) then return pending("no ONNX node test data") end
      local t, msg, code = onnx.read_tensor(p)
      assert.is_nil(t)
      assert.are.equal(p .. ": tensor 'input': dtype DOUBLE is not supported by calq", msg)
      assert.are.equal("EUNSUPPORTED", code)
    end)
  end)
end)

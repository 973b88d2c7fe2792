-- limits_spec.lua - calq.onnx.load's limits (issue 17): what a model may make
-- calq allocate, kept by the model for its plans and runs.
local calq = require "calq"
local onnx = require "calq.onnx"
local h = require "tests.lua.helpers"

local fmnist = "models/fashion_mnist/fmnist_cnn.onnx"
-- its largest tensor (a weight) takes 294912 bytes; its input is N x 1 x 28 x 28

describe("calq.onnx.load() limits", function()
  it("loads within the limits and refuses a tensor past max_tensor_bytes", function()
    assert(onnx.load(fmnist, { max_tensor_bytes = 294912 }))
    local m, msg, code = onnx.load(fmnist, { max_tensor_bytes = 294911 })
    assert.is_nil(m)
    assert.are.equal("ENOMEM", code)
    assert.matches("fmnist_cnn.onnx: byte %d+: tensor '.-' %(f32 %[.-%]%) would take 294912 bytes, "
                   .. "above the limit of 294911 bytes per tensor %(max_tensor_bytes%)", msg)
  end)

  it("refuses a file past max_model_bytes and a graph past max_nodes", function()
    local m, msg, code = onnx.load(fmnist, { max_model_bytes = 1000 })
    assert.is_nil(m)
    assert.are.equal("ENOMEM", code)
    assert.matches("fmnist_cnn.onnx: %d+ bytes, above the limit of 1000 bytes per model "
                   .. "%(max_model_bytes%)", msg)
    m, msg, code = onnx.load(fmnist, { max_nodes = 3 })
    assert.is_nil(m)
    assert.are.equal("ENOMEM", code)
    assert.matches("more than 3 nodes in one graph, the limit %(max_nodes%)", msg)
  end)

  it("takes the same options in load_string()", function()
    local f = assert(io.open(fmnist, "rb"))
    local bytes = f:read("a")
    f:close()
    local m, msg, code = onnx.load_string(bytes, "fm", { max_model_bytes = 100 })
    assert.is_nil(m)
    assert.are.equal("ENOMEM", code)
    assert.matches("^fm: %d+ bytes, above the limit of 100 bytes per model", msg)
    assert(onnx.load_string(bytes, "fm", {}))
  end)

  it("keeps the limits for the model's runs", function()
    local m = assert(onnx.load(fmnist, { max_tensor_bytes = 294912 }))
    assert(m:run(calq.tensor.full({ 1, 1, 28, 28 }, 0.5)))
    -- a batch of 64 makes activations past the limit: that run fails, named
    local out, msg, code = m:run(calq.tensor.full({ 64, 1, 28, 28 }, 0.5))
    assert.is_nil(out)
    assert.are.equal("ENOMEM", code)
    assert.matches("would take %d+ bytes, above the limit of 294912 bytes per tensor", msg)
    local big = assert(onnx.load(fmnist))
    assert(big:run(calq.tensor.full({ 64, 1, 28, 28 }, 0.5)))
  end)

  it("raises on options of the wrong kind", function()
    assert.has_error(function() onnx.load(fmnist, { max_nodes = -1 }) end,
      "bad argument #2 to 'load' (max_nodes must be a positive integer)")
    assert.has_error(function() onnx.load(fmnist, { max_tensor_bytes = "big" }) end,
      "bad argument #2 to 'load' (max_tensor_bytes must be a positive integer)")
    assert.has_error(function() onnx.load(fmnist, { max_model_bytes = 1 << 50 }) end,
      "bad argument #2 to 'load' (limits: max_model_bytes 1125899906842624 is not in "
      .. "1..1099511627776)")
    assert.has_error(function() onnx.load(fmnist, 5) end,
      "bad argument #2 to 'load' (table expected, got number)")
  end)

  it("calq infer takes them as --max-tensor-bytes, --max-model-bytes, --max-nodes", function()
    local code, _, err = h.run("infer " .. fmnist .. " --output /tmp/calq_never --max-tensor-bytes 1000")
    assert.are.equal(1, code)
    assert.matches("^calq infer: models/fashion_mnist/fmnist_cnn.onnx: byte %d+: tensor '.-' %(f32 "
                   .. "%[.-%]%) would take %d+ bytes, above the limit of 1000 bytes per tensor", err)
    code, _, err = h.run("infer " .. fmnist .. " --output /tmp/calq_never --max-nodes 0")
    assert.are.equal(2, code)
    assert.matches("calq infer: %-%-max%-nodes must be a positive integer", err)
  end)
end)

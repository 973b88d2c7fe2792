--- calq.onnx: ONNX models and tensors.
--   local onnx = require "calq.onnx"
--   local m = assert(onnx.load("model.onnx"))
--   for node in m:nodes() do print(node.op_type, node.name) end
--   assert(m:save("copy.onnx"))
-- Failures return nil, message, code (the message names file, byte and field).
local core = require "calq.core"

local onnx = {}

--- Load a model file: Model | nil, msg, code.
function onnx.load(path)
    return core.onnx_load(path)
end

--- Load a model from a string of bytes (name prefixes error messages).
function onnx.load_string(bytes, name)
    return core.onnx_load_buffer(bytes, name)
end

--- A TensorProto file (test_data_set_0/input_0.pb): Tensor, name | nil, msg, code.
function onnx.read_tensor(path)
    return core.onnx_read_tensor(path)
end

--- Write a tensor as a TensorProto file: true | nil, msg, code.
function onnx.write_tensor(path, tensor, name)
    return core.onnx_write_tensor(path, tensor, name)
end

return onnx

--- calq.onnx: ONNX models (calq.Model) and TensorProto files.
--   local onnx = require "calq.onnx"
--   local m = assert(onnx.load("model.onnx"))          -- or onnx.load_string(bytes, name)
--   for node in m:nodes() do print(node.op_type, node.name) end
--   assert(m:save("copy.onnx"))
--   local t, name = assert(onnx.read_tensor("input_0.pb"))
-- Failures return nil, message, code (the message names file, byte and field).
-- Running a model (m:run, m:profile, ...) is calq.exec's part of calq.Model.
return require("calq.core").onnx

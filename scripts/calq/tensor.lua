--- calq.tensor: tensors (calq.Tensor userdata, data in C; indices 1-based).
--   local tensor = require "calq.tensor"
--   local t = tensor.new({{1, 2}, {3, 4}}, "f32")   -- nested table [, dtype]
--   local z = tensor.zeros({2, 3})                  -- shape [, dtype]
--   local f = tensor.full({2, 3}, 0.5)              -- shape, value [, dtype]
--   local a = tensor.arange(6):reshape(2, 3)        -- 0 .. n-1
--   local q = t:to("s8", 0.05)                      -- quantize; q:dequantize(0.05)
-- Methods: shape dtype numel dim is_contiguous get set fill view reshape slice
-- transpose permute contiguous clone to dequantize totable stats maxdiff close.
return require("calq.core").tensor

--- calq: post-training quantization for CNNs on CPUs.
-- The C half lives in calq.core; this module re-exports it and adds the
-- parts written in Lua. Usage:
--   local calq = require "calq"
--   local t = calq.tensor{{1, 2}, {3, 4}}
local core = require "calq.core"

local calq = {}
for k, v in pairs(core) do calq[k] = v end
calq.core = core
calq.onnx = require "calq.onnx"
calq.sampler = require "calq.sampler"
calq.image = require "calq.image"
calq.mosaic = require "calq.mosaic"

return calq

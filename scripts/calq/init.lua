--- calq: post-training quantization for CNNs on CPUs.
-- One table per concern, each function under exactly one name
-- (docs/lua-api.md lists them all):
--   local calq = require "calq"
--   local t = calq.tensor.new{{1, 2}, {3, 4}}
--   local m = assert(calq.onnx.load("model.onnx"))
--   local ds = assert(calq.data.open("instances.json", "coco"))
-- Each group is also a module of its own: require "calq.onnx" is calq.onnx.
-- The C half (calq.core) is not re-exported: its groups are these tables.
return {
  version = require("calq.core").version,
  tensor = require "calq.tensor",
  io = require "calq.io",
  onnx = require "calq.onnx",
  exec = require "calq.exec",
  data = require "calq.data",
  rng = require "calq.rng",
  image = require "calq.image",
  sampler = require "calq.sampler",
  mosaic = require "calq.mosaic",
  blazeface = require "calq.blazeface",
  eval = require "calq.eval",
  evaluate = require "calq.evaluate",
  calib = require "calq.calib",
  inputs = require "calq.inputs",
  quant = require "calq.quant",
  quantize = require "calq.quantize",
  hw = require "calq.hw",
  profile = require "calq.profile",
  progress = require "calq.progress",
  rundir = require "calq.rundir",
  report = require "calq.report",
  cost = require "calq.cost",
  knobs = require "calq.knobs",
}

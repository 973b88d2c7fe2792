-- make_seeds.lua: the small committed seeds of the tensor-file, .npy and
-- statistics harnesses, written by calq itself (run once; the files are in git):
--   LUA_CPATH="build/lua/?.so;;" LUA_PATH="scripts/?.lua;;" lua5.4 tests/fuzz/make_seeds.lua
local calq = require "calq"
local T = calq.tensor
local d = "tests/fuzz/"
assert(calq.io.save(d .. "tfile/two.calq", {
  w = T.new({{1, -2, 3}, {4.5, 0, -6}}),
  idx = T.new({0, 1, 2, 7}, "s64"),
  b = T.new({1, 2, 3, 4}, "u8"),
}, {model = "seed", note = "fuzz"}))
assert(calq.io.save(d .. "tfile/empty.calq", {}, {}))
assert(calq.io.save(d .. "tfile/dtypes.calq", {
  h = T.new({1.5, -2}, "f16"), bf = T.new({1, 2}, "bf16"), s = T.new({-1, 1}, "s8"),
  i = T.new({100000, -3}, "s32"), z = T.zeros({0, 3}),
}))
assert(calq.io.npy_write(d .. "npy/f32.npy", T.new({{1, 2, 3}, {4, 5, 6}})))
assert(calq.io.npy_write(d .. "npy/u8.npy", T.new({{{1}, {2}}, {{3}, {4}}}, "u8")))
assert(calq.io.npy_write(d .. "npy/s64.npy", T.new({5, -6, 7}, "s64")))
-- statistics: a two-node model calibrated on a few inputs, with each observer kind
local m = assert(calq.onnx.load("/usr/share/libonnx-testdata/data/node/test_maxpool_2d_default/model.onnx"))
for _, kind in ipairs{"hist", "minmax", "moving_avg"} do
  local c = assert(calq.calib.new(m, {observer = kind, bins = 128}))
  local x = {}
  for i = 1, 2 * 3 * 32 * 32 do x[i] = (i * 37 % 23) - 11 end
  local t = T.new(x):reshape({2, 3, 32, 32})
  assert(c:feed(t))
  assert(c:stats():save(d .. "stats/" .. kind .. ".calq"))
end

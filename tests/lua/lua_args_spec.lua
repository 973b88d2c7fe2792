-- Argument checks at the public entry points of the Lua modules: misuse
-- raises "bad argument #n to 'f' (...)" naming the function, not a raw
-- traceback from deep inside; a Lua policy's bad result names the policy.
local calq = require "calq"
local image = require "calq.image"
local sampler = require "calq.sampler"
local mosaic = require "calq.mosaic"
local bf = require "calq.blazeface"

local function counts_ds(counts)
  local ds = calq.data.new()
  for i, c in ipairs(counts) do ds:add{ path = ("img%d.jpg"):format(i), count = c } end
  return ds
end

describe("calq.image", function()
  describe("unmap()", function()
    it("checks the transform and the point", function()
      assert.has_error(function() image.unmap(nil, 1, 2) end,
        "bad argument #1 to 'unmap' (transform table expected, got nil)")
      assert.has_error(function() image.unmap({}, 1, 2) end,
        "bad argument #1 to 'unmap' (transform table expected, got a table without numbers sx, sy, ox, oy)")
      local tr = { sx = 2, sy = 4, ox = 10, oy = 20 }
      assert.has_error(function() image.unmap(tr, "1", 2) end,
        "bad argument #2 to 'unmap' (number expected, got string)")
      assert.has_error(function() image.unmap(tr, 1) end,
        "bad argument #3 to 'unmap' (number expected, got nil)")
      assert.same({ 5, 5 }, { image.unmap(tr, 20, 40) })
    end)
  end)

  describe("unmap_box()", function()
    it("checks the transform and the box", function()
      local tr = { sx = 2, sy = 4, ox = 10, oy = 20 }
      assert.has_error(function() image.unmap_box(5, { 1, 2, 3, 4 }) end,
        "bad argument #1 to 'unmap_box' (transform table expected, got number)")
      assert.has_error(function() image.unmap_box(tr, { 1, 2, 3 }) end,
        "bad argument #2 to 'unmap_box' (box {x, y, w, h} expected, got a table without 4 numbers)")
      assert.same({ 5, 5, 2, 1 }, image.unmap_box(tr, { 20, 40, 4, 4 }))
    end)
  end)
end)

describe("calq.sampler", function()
  describe("format_report()", function()
    it("checks the report and the indent", function()
      assert.has_error(function() sampler.format_report(nil) end,
        "bad argument #1 to 'format_report' (report table expected, got nil)")
      assert.has_error(function() sampler.format_report({ policy = "x", chosen = 0 }, 3) end,
        "bad argument #2 to 'format_report' (string or nil expected, got number)")
      assert.equal("policy x: 0 candidates, - requested, 0 chosen",
        sampler.format_report({ policy = "x", chosen = 0 }))
    end)
  end)

  describe("policy()", function()
    it("checks the dataset and the candidates", function()
      local p = sampler.first{ size = 1 }
      assert.has_error(function() p(5) end,
        "bad argument #1 to 'first' (calq.Dataset expected, got number)")
      assert.has_error(function() p(calq.data.index{ 1 }) end,
        "bad argument #1 to 'first' (calq.Dataset expected, got calq.Index)")
      assert.has_error(function() p(counts_ds{ 1 }, { 1 }) end,
        "bad argument #2 to 'first' (calq.Index or nil expected, got table)")
      assert.same({ 1 }, p(counts_ds{ 1, 2 }):totable())
    end)

    it("blames a Lua policy's out-of-range record on the policy", function()
      local ds = counts_ds{ 1, 2, 3 }
      local idx, msg = sampler.fn(function() return { 1, 999 } end, "mine")(ds)
      assert.is_nil(idx)
      assert.equal("policy 'mine' returned record 999 (entry 2), not a record number in 1..3", msg)
      idx, msg = sampler.compose{ sampler.first{ size = 2 }, function() return calq.data.index{ 7 } end }(ds)
      assert.is_nil(idx)
      assert.equal("stage 2 (lua): policy 'lua' returned record 7 (entry 1), not a record number in 1..3", msg)
      idx, msg = sampler.fn(function() return 42 end)(ds)
      assert.is_nil(idx)
      assert.equal("policy 'lua' returned a number, not a calq.Index or a list of record numbers", msg)
      assert.same({ 3, 1 }, sampler.fn(function() return { 3, 1 } end)(ds):totable())
    end)
  end)
end)

describe("calq.mosaic", function()
  describe("count_plan()", function()
    it("checks its arguments", function()
      assert.has_error(function() mosaic.count_plan() end,
        "bad argument #1 to 'count_plan' (integer >= 0 expected, got nil)")
      assert.has_error(function() mosaic.count_plan(10, 1.5, 3) end,
        "bad argument #2 to 'count_plan' (integer >= 0 expected, got float)")
      assert.has_error(function() mosaic.count_plan(10, 3, 2) end,
        "bad argument #3 to 'count_plan' (hi 2 is below lo 3)")
      assert.has_error(function() mosaic.count_plan(10, 1, 2, "normal") end,
        "bad argument #4 to 'count_plan' ('uniform', 'skewed' or nil expected, got 'normal')")
      assert.same({ 5, 5 }, mosaic.count_plan(10, 1, 2))
    end)
  end)
end)

describe("calq.blazeface", function()
  describe("iou()", function()
    it("checks both boxes", function()
      assert.has_error(function() bf.iou(nil, {}) end,
        "bad argument #1 to 'iou' (box {x, y, w, h} expected, got nil)")
      assert.has_error(function() bf.iou({ 0, 0, 1, 1 }, { 0, 0, 1 }) end,
        "bad argument #2 to 'iou' (box {x, y, w, h} expected, got nil at [4])")
      assert.equal(0.5, bf.iou({ 0, 0, 2, 1 }, { 0, 0, 1, 1 }))
    end)
  end)

  describe("nms()", function()
    it("checks the detections and the threshold", function()
      assert.has_error(function() bf.nms(nil, 0.3) end,
        "bad argument #1 to 'nms' (list of {x, y, w, h, score} expected, got nil)")
      assert.has_error(function() bf.nms({ { 0, 0, 1, 1 } }, 0.3) end,
        "bad argument #1 to 'nms' (list of {x, y, w, h, score} expected, got a bad entry 1)")
      assert.has_error(function() bf.nms({}) end,
        "bad argument #2 to 'nms' (number expected, got nil)")
      assert.same({ { 0, 0, 1, 1, 0.9 } }, bf.nms({ { 0, 0, 1, 1, 0.9 }, { 0, 0, 1, 1, 0.8 } }, 0.3, true))
    end)
  end)

  describe("match()", function()
    it("checks detections, truth and threshold", function()
      assert.has_error(function() bf.match(nil, {}) end,
        "bad argument #1 to 'match' (list of {x, y, w, h} expected, got nil)")
      assert.has_error(function() bf.match({}, { "x" }) end,
        "bad argument #2 to 'match' (list of {x, y, w, h} expected, got a bad entry 1)")
      assert.has_error(function() bf.match({}, {}, "0.3") end,
        "bad argument #3 to 'match' (number or nil expected, got string)")
      assert.same({ tp = 1, fp = 0, fn = 1 }, bf.match({ { 0, 0, 1, 1, 0.9 } }, { { 0, 0, 1, 1 }, { 5, 5, 1, 1 } }))
    end)
  end)

  describe("decode()", function()
    it("checks the outputs and the options", function()
      assert.has_error(function() bf.decode(nil) end,
        "bad argument #1 to 'decode' (table of outputs expected, got nil)")
      assert.has_error(function() bf.decode({}, 256) end,
        "bad argument #2 to 'decode' (options table or nil expected, got number)")
    end)
  end)
end)

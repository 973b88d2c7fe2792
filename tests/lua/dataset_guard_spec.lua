-- calq.Dataset guarded against its own callbacks: a filter or pool predicate
-- that closes or grows the dataset it runs over raises instead of freeing or
-- resizing the records under the C loop.
local calq = require "calq"

local function three()
  local ds = calq.data.new()
  for i = 1, 3 do
    ds:add{path = ("img%d.jpg"):format(i), width = 10, height = 10,
           boxes = {{1, 1, 2, 2}}}
  end
  return ds
end

describe("calq.data", function()
  describe("Dataset:filter()", function()
    it("raises when the predicate closes or grows the dataset", function()
      local ds = three()
      assert.has_error(function() ds:filter(function() ds:close(); return true end) end,
        "calling 'close' on bad self (dataset is in use)")
      assert.has_error(function() ds:filter(function() ds:add{path = "x"} end) end,
        "calling 'add' on bad self (dataset is in use)")
      assert.has_error(function() ds:filter(function() ds:append(calq.data.new()) end) end,
        "calling 'append' on bad self (dataset is in use)")
      assert.has_error(function()
        ds:filter(function() local d <close> = ds end)
      end, "bad argument #1 to 'close' (dataset is in use)")
      -- the dataset is intact and usable again
      assert.equal(3, #ds)
      assert.equal(2, #ds:filter(function(r) return r.index > 1 end))
      assert.equal(4, ds:add{path = "img4.jpg"})
      ds:close()
    end)

    it("lets a predicate read the dataset, nested filters included", function()
      local ds = three()
      local x = ds:filter(function(r)
        return #ds:filter(function(q) return q.index <= r.index end) >= 2
      end)
      assert.same({2, 3}, x:totable())
    end)
  end)

  describe("Dataset:sample()", function()
    it("raises when the pool predicate closes or grows the dataset", function()
      local ds = three()
      assert.has_error(function()
        ds:sample("balanced", {size = 1, pool = function() ds:close() end})
      end, "calling 'close' on bad self (dataset is in use)")
      assert.has_error(function()
        ds:sample("balanced", {size = 1, pool = function() ds:add{path = "y"} end})
      end, "calling 'add' on bad self (dataset is in use)")
      assert.equal(3, #ds)
      local idx = assert(ds:sample("balanced", {size = 2, pool = function() return true end}))
      assert.equal(2, #idx)
    end)
  end)

  describe("Dataset:records()", function()
    it("stops with an error when the loop body closes the dataset", function()
      local ds = three()
      assert.has_error(function()
        for _ in ds:records() do ds:close() end
      end, "dataset is closed")
    end)
  end)

  describe("Dataset:add()", function()
    it("adds nothing when a box is bad", function()
      local ds = three()
      assert.has_error(function()
        ds:add{path = "bad.jpg", boxes = {{1, 1, 1, 1, label = "face"}, "oops"}}
      end, "bad argument #1 to 'add' (box 2 must be a table {x, y, w, h})")
      assert.has_error(function()
        ds:add{path = "bad.jpg", boxes = {{1, 1, 1, 1}, {1, 2, 3}}}
      end, "bad argument #1 to 'add' (box 2 must be a table {x, y, w, h})")
      assert.has_error(function()
        ds:add{path = "bad.jpg", boxes = {{1, 1, 1, 1, label = {}}}}
      end, "bad argument #1 to 'add' (box 1: field 'label' must be a string)")
      assert.equal(3, #ds)
      assert.matches("%(3 images, 3 boxes, 0 categories%)", tostring(ds))
      assert.equal(4, ds:add{path = "good.jpg", boxes = {{1, 1, 1, 1, label = 7}}})
      assert.same({"7"}, ds:record(4).labels)
      assert.equal(1, ds:record(4).count)
    end)

    it("range-checks width, height, count and id before narrowing them", function()
      local ds = calq.data.new()
      assert.has_error(function() ds:add{path = "a", width = (1 << 32) + 7} end,
        "bad argument #1 to 'add' (field 'width' must be an integer in 0..2147483647)")
      assert.has_error(function() ds:add{path = "a", height = -5} end,
        "bad argument #1 to 'add' (field 'height' must be an integer in 0..2147483647)")
      assert.has_error(function() ds:add{path = "a", count = -1} end,
        "bad argument #1 to 'add' (field 'count' must be an integer in 0..1073741824)")
      assert.has_error(function() ds:add{path = "a", id = 1.5} end,
        "bad argument #1 to 'add' (field 'id' must be an integer)")
      assert.equal(0, #ds)
      assert.equal(1, ds:add{path = "a", width = 2147483647, height = 0, id = 1 << 40})
      local r = ds:record(1)
      assert.equal(2147483647, r.width)
      assert.equal(1 << 40, r.id)
    end)
  end)

  describe("open_dataset()", function()
    it("names argument #3 when an option has the wrong type", function()
      assert.has_error(function() calq.data.open("x", "coco", {image_root = {}}) end,
        "bad argument #3 to 'open' (field 'image_root' must be a string)")
      assert.has_error(function() calq.data.open("x", "coco", {image_root = 5}) end,
        "bad argument #3 to 'open' (field 'image_root' must be a string)")
      local ds, _, code = calq.data.open("/nonexistent/x.json", "coco", {image_root = "/tmp"})
      assert.is_nil(ds)
      assert.equal("EIO", code)
    end)
  end)

  describe("Dataset:sample() options", function()
    it("range-checks threshold and pool sizes before narrowing them", function()
      local ds = three()
      for _, k in ipairs{ "threshold", "pool_min", "pool_max" } do
        assert.has_error(function() ds:sample("balanced", { size = 1, [k] = (1 << 32) + 1 }) end,
          ("bad argument #2 to 'sample' (field '%s' must be an integer <= 2147483647)"):format(k))
      end
      assert.equal(1, #ds:sample("balanced", { size = 1, threshold = 2147483647 }))
    end)
  end)
end)

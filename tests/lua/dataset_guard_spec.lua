-- calq.Dataset guarded against its own callbacks: a filter or pool predicate
-- that closes or grows the dataset it runs over raises instead of freeing or
-- resizing the records under the C loop.
local calq = require "calq"

local function three()
  local ds = calq.dataset()
  for i = 1, 3 do
    ds:add{path = ("img%d.jpg"):format(i), width = 10, height = 10,
           boxes = {{1, 1, 2, 2}}}
  end
  return ds
end

describe("calq.dataset", function()
  describe("Dataset:filter()", function()
    it("raises when the predicate closes or grows the dataset", function()
      local ds = three()
      assert.has_error(function() ds:filter(function() ds:close(); return true end) end,
        "calling 'close' on bad self (dataset is in use)")
      assert.has_error(function() ds:filter(function() ds:add{path = "x"} end) end,
        "calling 'add' on bad self (dataset is in use)")
      assert.has_error(function() ds:filter(function() ds:append(calq.dataset()) end) end,
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
end)

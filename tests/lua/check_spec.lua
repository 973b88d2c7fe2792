-- calq.check: the one argument-error helper of the modules written in Lua.
local check = require "calq.check"
local calq = require "calq"

describe("calq.check", function()
  describe("argerror()", function()
    it("words the message as luaL_argerror does", function()
      assert.has_error(function() check.argerror(2, "unmap", "number expected, got nil") end,
        "bad argument #2 to 'unmap' (number expected, got nil)")
    end)

    it("blames the caller of the function that calls it, or the level given", function()
      local function public(x)
        if x == nil then check.argerror(1, "public", "value expected") end
      end
      local function helper() check.argerror(1, "public", "from a helper", 3) end
      local function public2(x) helper(x) end
      local ok, msg = pcall(function() public() end)           -- this line is blamed
      assert.is_false(ok)
      local line = debug.getinfo(1, "l").currentline - 2
      local src = debug.getinfo(1, "S").short_src
      assert.are.equal(("%s:%d: bad argument #1 to 'public' (value expected)"):format(src, line), msg)
      ok, msg = pcall(function() public2() end)
      line = debug.getinfo(1, "l").currentline - 1
      assert.are.equal(("%s:%d: bad argument #1 to 'public' (from a helper)"):format(src, line), msg)
    end)
  end)

  describe("typeerror()", function()
    it("names a userdata by its metatable's __name, as luaL_typeerror does", function()
      assert.has_error(function() check.typeerror(1, "f", "function", calq.data.new()) end,
        "bad argument #1 to 'f' (function expected, got calq.Dataset)")
      assert.has_error(function() check.typeerror(3, "g", "string or nil", 4) end,
        "bad argument #3 to 'g' (string or nil expected, got number)")
      assert.are.equal("calq.Tensor", check.typename(calq.tensor.zeros{1}))
      assert.are.equal("table", check.typename({}))
    end)
  end)

  describe("the Lua modules", function()
    it("raise through it with Lua's wording", function()
      assert.has_error(function() calq.image.unmap({ sx = 1, sy = 1, ox = 0, oy = 0 }, "x", 1) end,
        "bad argument #2 to 'unmap' (number expected, got string)")
      assert.has_error(function() calq.sampler.filter(calq.tensor.zeros{1}) end,
        "bad argument #1 to 'filter' (function expected, got calq.Tensor)")
      assert.has_error(function() calq.blazeface.nms({}, "0.3") end,
        "bad argument #2 to 'nms' (number expected, got string)")
      assert.has_error(function() calq.mosaic.count_plan(-1, 1, 2) end,
        "bad argument #1 to 'count_plan' (integer >= 0 expected, got integer)")
      assert.has_error(function() calq.mosaic.build { crops = { {} } } end,
        "bad argument #1 to 'build' (field 'output' (a folder) is required)")
    end)
  end)
end)

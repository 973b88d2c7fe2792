-- calq.image: argument checks at the public entry points (integers are
-- range-checked before they are narrowed to C ints).
local image = require "calq.image"

describe("calq.image", function()
  describe("new()", function()
    it("rejects sizes beyond 32 bits instead of truncating them", function()
      assert.has_error(function() image.new((1 << 32) + 4, 4) end,
        "bad argument #1 to 'new' (width must be in 1..65536)")
      assert.has_error(function() image.new(4, (1 << 32) + 4) end,
        "bad argument #2 to 'new' (height must be in 1..65536)")
      assert.has_error(function() image.new(4, 4, (1 << 32) + 3) end,
        "bad argument #3 to 'new' (channels must be 1 or 3)")
      local im = image.new(4, 4)
      assert.equal(4, im.width)
    end)
  end)

  describe("Image:crop()", function()
    it("rejects coordinates beyond 32 bits instead of truncating them", function()
      local im = image.new(10, 10)
      assert.has_error(function() im:crop((1 << 32) + 1, 0, 2, 2) end,
        "bad argument #1 to 'crop' (x must be in -2147483648..2147483647)")
      assert.has_error(function() im:crop(0, -(1 << 32), 2, 2) end,
        "bad argument #2 to 'crop' (y must be in -2147483648..2147483647)")
      assert.has_error(function() im:crop(0, 0, (1 << 32) + 2, 2) end,
        "bad argument #3 to 'crop' (width must be in -2147483648..2147483647)")
      assert.has_error(function() im:crop(0, 0, 2, (1 << 33) + 2) end,
        "bad argument #4 to 'crop' (height must be in -2147483648..2147483647)")
      local c = im:crop(1, 1, 2, 3)
      assert.equal(2, c.width)
      assert.equal(3, c.height)
    end)
  end)

  describe("Image:paste()", function()
    it("rejects positions beyond 32 bits instead of truncating them", function()
      local dst, src = image.new(10, 10, 1, 0), image.new(2, 2, 1, 9)
      assert.has_error(function() dst:paste(src, (1 << 32) + 1, 1) end,
        "bad argument #2 to 'paste' (x must be in -2147483648..2147483647)")
      assert.has_error(function() dst:paste(src, 1, (1 << 32) + 1) end,
        "bad argument #3 to 'paste' (y must be in -2147483648..2147483647)")
      assert.equal(0, dst:tensor():get(2, 2, 1))
      dst:paste(src, 1, 1)
      assert.equal(9, dst:tensor():get(2, 2, 1))
    end)
  end)
end)

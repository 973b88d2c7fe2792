-- calq.rng: the core's PRNG (core/base/rng.h) from Lua, and its users.
local calq = require "calq"
local rng = require "calq.rng"

local function range(n)
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end

describe("calq.rng", function()
  describe("new()", function()
    it("draws rng.h's sequence (values computed from its text, outside calq)", function()
      local r = rng.new(42)
      assert.are.same({ 1546998764402558742, 6990951692964543102, -5902157311460992607 },
        { r:next(), r:next(), r:next() })
      assert.are.equal(-7355399402456485196, rng.new():next()) -- the default seed is 0
      local d = rng.new(7)
      local rolls = {}
      for i = 1, 8 do rolls[i] = d:below(6) end
      assert.are.same({ 0, 2, 0, 4, 2, 5, 4, 4 }, rolls)
    end)

    it("is deterministic for a seed and differs between seeds", function()
      local a, b, c = rng.new(5), rng.new(5), rng.new(6)
      local sa, sb, sc = {}, {}, {}
      for i = 1, 20 do sa[i], sb[i], sc[i] = a:float(), b:float(), c:float() end
      assert.are.same(sa, sb)
      assert.are_not.same(sa, sc)
      for _, v in ipairs(sa) do assert.is_true(v >= 0 and v < 1) end
    end)
  end)

  describe("int()", function()
    it("stays in lo..hi and is lo + below(hi - lo + 1)", function()
      local a, b = rng.new(3), rng.new(3)
      for _ = 1, 200 do
        local v = a:int(-70, 70)
        assert.are.equal(-70 + b:below(141), v)
        assert.is_true(v >= -70 and v <= 70)
      end
      assert.are.equal(4, rng.new(1):int(4, 4))
      assert.is_number(rng.new(1):int(math.mininteger, math.maxinteger))
    end)
  end)

  describe("shuffle()", function()
    it("settles positions front to back as cq_rng_shuffle does", function()
      assert.are.same({ 5, 7, 9, 1, 2, 4, 6, 3, 8, 10 }, rng.new(7):shuffle(range(10)))
      -- k < n: only the first k positions are drawn; they match the full shuffle's
      local part = rng.new(7):shuffle(range(10), 3)
      assert.are.same({ 5, 7, 9 }, { part[1], part[2], part[3] })
      local t = { "a", "b", "c" }
      assert.are.equal(t, rng.new(1):shuffle(t))
      assert.are.same({}, rng.new(1):shuffle({}))
    end)

    it("draws what the C sampler's uniform policy picks for the same seed", function()
      local ds = calq.data.new()
      for i = 1, 50 do ds:add{ path = ("%d.jpg"):format(i), count = i % 4 } end
      for _, seed in ipairs{ 0, 7, 123456789, -1 } do
        local idx = ds:sample("uniform", { size = 12, seed = seed })
        local want = rng.new(seed):shuffle(range(50), 12)
        assert.are.same({ table.unpack(want, 1, 12) }, idx:totable())
      end
    end)
  end)

  describe("misuse", function()
    it("raises with Lua's wording", function()
      assert.has_error(function() rng.new("x") end,
        "bad argument #1 to 'new' (number expected, got string)")
      assert.has_error(function() rng.new(1):below(0) end,
        "bad argument #1 to 'below' (n must be >= 1)")
      assert.has_error(function() rng.new(1):int(3, 2) end,
        "bad argument #2 to 'int' (hi must be >= lo)")
      assert.has_error(function() rng.new(1):shuffle(range(3), -1) end,
        "bad argument #2 to 'shuffle' (k must be >= 0)")
    end)
  end)

  describe("calq.mosaic", function()
    it("draws from calq.rng: image i has rng.new(seed):shuffle(counts)[i] faces", function()
      local lfs = require "lfs"
      local image = require "calq.image"
      local crops = { { image = image.new(40, 40, 3, 200), box = { 4, 4, 32, 32 } } }
      for _, seed in ipairs{ 3, 11 } do
        local out = os.tmpname()
        os.remove(out)
        local plan = calq.mosaic.count_plan(12, 1, 3, "skewed")
        assert(calq.mosaic.build { crops = crops, count = 12, min_faces = 1, max_faces = 3,
          dist = "skewed", width = 160, height = 120, min_face = 16, max_face = 24,
          background = "texture", seed = seed, output = out .. "/m" })
        local counts = {}
        for k = 1, 3 do for _ = 1, plan[k] do counts[#counts + 1] = k end end
        local want = rng.new(seed):shuffle(counts)
        local ds = assert(calq.data.open(out .. "/m/annotations.json", "coco"))
        local got = {}
        for i, rec in ds:records() do got[i] = rec.count end
        ds:close()
        assert.are.same(want, got)
        assert.are.equal("directory", lfs.attributes(out .. "/m/images", "mode"))
        os.execute("rm -rf '" .. out .. "'")
      end
    end)
  end)
end)

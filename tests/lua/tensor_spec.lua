-- The Lua face of calq tensors (bindings/l_tensor.c).
local calq = require "calq"

-- A deterministic generator (the specs must not depend on math.random's seed).
local function lcg(seed)
  local s = seed
  return function(lo, hi)
    s = (s * 1103515245 + 12345) % 2147483648
    return lo + s % (hi - lo + 1)
  end
end

local function shape_of(t) return table.concat(t:shape(), ",") end

describe("calq.tensor.new", function()
  describe("tensor()", function()
    it("builds from nested tables, row-major, f32 by default", function()
      local t = calq.tensor.new{{1, 2, 3}, {4, 5, 6}}
      assert.are.equal("f32", t:dtype())
      assert.are.same({2, 3}, t:shape())
      assert.are.equal(6, t:numel())
      assert.are.equal(2, t:dim())
      assert.are.same({{1, 2, 3}, {4, 5, 6}}, t:totable())
      assert.is_true(t:is_contiguous())
    end)

    it("takes a dtype and converts with rounding and saturation", function()
      assert.are.same({2, 2, -0, 127, -128}, calq.tensor.new({1.5, 2.5, -0.5, 300, -1e9}, "s8"):totable())
      assert.are.same({true, false, true}, calq.tensor.new({1, 0, true}, "bool"):totable())
      assert.are.equal("bf16", calq.tensor.new({1}, "bfloat16"):dtype())
    end)

    it("rejects ragged, non-numeric and badly typed input", function()
      assert.has_error(function() calq.tensor.new("x") end,
        "bad argument #1 to 'new' (table expected, got string)")
      assert.has_error(function() calq.tensor.new{{1, 2}, {3}} end,
        "bad argument #1 to 'new' (ragged nested table at depth 2)")
      assert.has_error(function() calq.tensor.new{{1, "a"}} end,
        "bad argument #1 to 'new' (element 2 is a string, not a number)")
      assert.has_error(function() calq.tensor.new({1}, "f64") end,
        "bad argument #2 to 'new' (unknown dtype 'f64')")
    end)
  end)

  describe("zeros() / full() / arange()", function()
    it("make dense tensors of the asked shape and dtype", function()
      assert.are.same({{0, 0}, {0, 0}}, calq.tensor.zeros({2, 2}, "s32"):totable())
      assert.are.same({3.5, 3.5}, calq.tensor.full({2}, 3.5, "bf16"):totable())
      assert.are.same({0, 1, 2, 3}, calq.tensor.arange(4, "s64"):totable())
      assert.are.same({0}, calq.tensor.zeros{0}:shape())
    end)

    it("refuse bad shapes", function()
      assert.has_error(function() calq.tensor.zeros{2, -1} end,
        "bad argument #1 to 'zeros' (shape entries must be integers >= 0)")
      assert.has_error(function() calq.tensor.arange(-1) end, "bad argument #1 to 'arange' (must be >= 0)")
      assert.has_error(function() calq.tensor.zeros{2^20, 2^20, 2^20} end,
        "a tensor of f32 with this shape spans more than 1099511627776 bytes")
    end)
  end)

  describe("indexing", function()
    it("is 1-based: t[i] is a number for 1-D and a row view otherwise", function()
      local t = calq.tensor.new{{1, 2, 3}, {4, 5, 6}}
      assert.are.equal(6, t[2][3])
      assert.are.equal(2, #t)
      local row = t[2]
      row[1] = 40
      assert.are.equal(40, t:get(2, 1)) -- the row shares storage
    end)

    it("get / set take indices as arguments or as a table", function()
      local t = calq.tensor.zeros({2, 3}, "s32")
      t:set(2, 3, 7)
      t:set({1, 2}, -5)
      assert.are.equal(7, t:get{2, 3})
      assert.are.equal(-5, t:get(1, 2))
      assert.are.equal("integer", math.type(t:get(1, 2)))
    end)

    it("reports out-of-range indices", function()
      local t = calq.tensor.new{{1, 2, 3}, {4, 5, 6}}
      assert.has_error(function() t:get(3, 1) end,
        "bad argument #2 to 'get' (index 1 is 3, dimension 1 has size 2)")
      assert.has_error(function() t:set(1, 4, 0) end,
        "bad argument #3 to 'set' (index 2 is 4, dimension 2 has size 3)")
      assert.error_matches(function() return t[3] end, "index 3 out of range (dimension 1 has size 2)",
        nil, true)
      assert.error_matches(function() t[1] = 5 end, "t[i] = v needs a 1-D tensor (use t:set())", nil, true)
    end)
  end)

  describe("views", function()
    it("view / reshape / slice / transpose / permute share or copy as documented", function()
      local t = calq.tensor.arange(24):view(2, 3, 4)
      assert.are.equal("2,3,4", shape_of(t))
      local p = t:permute{3, 1, 2}
      assert.are.equal("4,2,3", shape_of(p))
      assert.is_false(p:is_contiguous())
      assert.are.equal(t:get(2, 3, 4), p:get(4, 2, 3))
      local tr = t:transpose(1, 3)
      assert.are.equal(t:get(1, 2, 3), tr:get(3, 2, 1))
      assert.has_error(function() tr:view(24) end,
        "this layout cannot be viewed with the new shape (make it contiguous first)")
      local flat = tr:reshape(-1) -- copies
      assert.are.same({0, 12, 4, 16}, {flat[1], flat[2], flat[3], flat[4]})
      local s = t:slice(3, 2, 4, 2) -- columns 2 and 4
      assert.are.equal("2,3,2", shape_of(s))
      assert.are.same({1, 3}, s[1][1]:totable())
      assert.are.same({3}, t:slice(3, -1)[1][1]:totable())
      s:fill(-1)
      assert.are.equal(-1, t:get(1, 1, 2)) -- slices share storage
    end)

    it("agree with explicit index arithmetic on random permutations and slices", function()
      local r = lcg(7)
      for _ = 1, 40 do
        local d1, d2, d3 = r(1, 4), r(1, 4), r(1, 4)
        local t = calq.tensor.arange(d1 * d2 * d3, "s32"):view(d1, d2, d3)
        local p = t:permute{3, 1, 2}
        local first, step = r(1, d2), r(1, 2)
        local s = p:slice(3, first, d2, step)
        for i = 1, d3 do
          for j = 1, d1 do
            for k = 1, s:shape()[3] do
              local kk = first + (k - 1) * step
              assert.are.equal((j - 1) * d2 * d3 + (kk - 1) * d3 + (i - 1), s:get(i, j, k))
            end
          end
        end
        assert.are.same(s:contiguous():totable(), s:totable())
      end
    end)

    it("refuse bad views", function()
      local t = calq.tensor.new{{1, 2, 3}, {4, 5, 6}}
      assert.has_error(function() t:view(4, 2) end, "new shape has 8 elements, tensor has 6")
      assert.has_error(function() t:permute{1, 1} end, "permutation is not a permutation of 0..1")
      assert.error_matches(function() t:slice(3, 1) end, "(dimension out of range)", nil, true)
    end)
  end)

  describe("to()", function()
    it("converts between dtypes, round to nearest even", function()
      local t = calq.tensor.new{1, 1.00390625, 1.01171875, 65520, 1e-8}
      assert.are.same({1, 1, 1.015625, 65536, 1.0011717677116394e-08}, t:to("bf16"):totable())
      assert.are.same({1, 1.00390625, 1.01171875, math.huge, 0}, t:to("f16"):totable())
    end)

    it("quantizes per tensor and per channel with round-half-even and saturation", function()
      local t = calq.tensor.new{{1, 2, 3}, {4, 5, 6}}
      assert.are.same({{2, 4, 6}, {5, 6, 7}}, t:to("s8", {0.5, 1}, {0, 1}, 1):totable())
      assert.are.same({{0, 1, 2}, {2, 2, 3}}, t:to("u8", 2):totable()) -- 0.5 -> 0, 2.5 -> 2
      assert.are.same({{127, 127, 127}, {127, 127, 127}}, t:to("s8", 0.001):totable())
    end)

    it("rejects scales without an integer target and bad parameters", function()
      local t = calq.tensor.new{1, 2}
      assert.error_matches(function() t:to("f32", 1) end, "(a scale goes with s8 or u8 only)", nil, true)
      assert.has_error(function() t:to("s8", 0) end, "scale[0] is 0 (must be finite and > 0)")
      assert.error_matches(function() t:to("s8", {1, 2, 3}, nil, 1) end,
        "(wrong number of quantization parameters)", nil, true)
    end)
  end)

  describe("dequantize()", function()
    it("inverts quantize on the grid", function()
      local t = calq.tensor.new{{1, 2, 3}, {4, 5, 6}}
      local q = t:to("s8", {0.5, 1}, {0, 1}, 1)
      assert.are.same(t:totable(), q:dequantize({0.5, 1}, {0, 1}, 1):totable())
      assert.are.equal(0, t:maxdiff(q:dequantize({0.5, 1}, {0, 1}, 1)))
      assert.are.same({-1.5, 0, 2.5}, calq.tensor.new({-3, 0, 5}, "s8"):dequantize(0.5):totable())
    end)
    it("refuses zero points outside the integer dtype's range", function()
      local q = calq.tensor.new({1, 2}, "s8")
      assert.has_error(function() q:dequantize(0.1, 200) end, "zero_point[0] is 200, outside s8's -128..127")
      assert.has_error(function() calq.tensor.new{1}:to("u8", 0.1, 300) end, "zero_point[0] is 300, outside u8's 0..255")
      assert.has_error(function() calq.tensor.new{1}:to("u8", 0.1, 1 << 40) end,
        "bad argument #3 to 'to' (zero point out of range)")
    end)
  end)

  describe("__tostring", function()
    it("shows dtype, shape and (small) values", function()
      assert.are.equal("calq.Tensor f32[2,2] {1, 2, 3, 4}", tostring(calq.tensor.new{{1, 2}, {3, 4}}))
      assert.are.equal("calq.Tensor s8[20]", tostring(calq.tensor.arange(20, "s8")))
      local t = calq.tensor.zeros{2}
      t:close()
      assert.are.equal("calq.Tensor (closed)", tostring(t))
      t:close() -- idempotent
      assert.error_matches(function() t:get(1) end, "(tensor is closed)", nil, true)
    end)
  end)
end)

describe("large tensors in a loop", function()
  -- bindings/l_tensor.c tells the collector each new storage's size: the old
  -- ones go as fast as a loop makes new ones (before: 200 tensors of 4 MiB
  -- kept 800 MB until Lua's own garbage started a cycle)
  local function rss_mb()
    local f = io.open("/proc/self/statm")
    if not f then return nil end
    local _, pages = f:read("n", "n")
    f:close()
    return pages * 4096 / 2 ^ 20
  end
  -- not under ASan: its allocator keeps freed blocks in a quarantine of up to
  -- 256 MB, resident, so the growth there says how full that was (117 MB once
  -- in a whole make asan run, under 100 alone), not what the collector does
  it("keeps the resident memory to a few of them #noasan", function()
    local r0 = rss_mb()
    if not r0 then pending("no /proc/self/statm here") return end
    for _ = 1, 200 do
      local t = calq.tensor.zeros({ 1024, 1024 })
      assert.are.equal(1024 * 1024, t:numel())
    end
    local grew = rss_mb() - r0
    assert.is_true(grew < 100, ("resident memory grew %.0f MB"):format(grew))
  end)
end)

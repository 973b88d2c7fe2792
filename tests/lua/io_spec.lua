-- calq.io: save / load (calq tensor files) and npy_read / npy_write.
local calq = require "calq"

local function tmpname(suffix)
  local base = os.tmpname() -- creates the file: use a name next to it
  os.remove(base)
  return base .. suffix
end

local function read_bytes(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write_bytes(p, s)
  local f = assert(io.open(p, "wb"))
  f:write(s)
  f:close()
end

describe("calq.io", function()
  local paths = {}
  local function tmp(suffix)
    local p = tmpname(suffix)
    paths[#paths + 1] = p
    return p
  end
  teardown(function()
    for _, p in ipairs(paths) do os.remove(p) end
  end)

  describe("save() / load()", function()
    it("round-trips named tensors, array entries, views and metadata", function()
      local p = tmp(".calq")
      local a = calq.tensor.arange(12):view(3, 4)
      local ok = calq.io.save(p, {
        ["conv1.w"] = a,
        ["conv1.wT"] = a:transpose(1, 2),
        q = a:to("s8", 0.5),
        calq.tensor.new({true, false}, "bool"),
        calq.tensor.full({2, 2}, 1.5, "bf16"),
      }, {model = "blazeface", version = 3})
      assert.is_true(ok)
      local t, meta = calq.io.load(p)
      assert.are.same({model = "blazeface", version = "3"}, meta)
      assert.are.same(a:totable(), t["conv1.w"]:totable())
      assert.are.same(a:transpose(1, 2):totable(), t["conv1.wT"]:totable())
      assert.are.equal("s8", t.q:dtype())
      assert.are.same({true, false}, t[1]:totable())
      assert.are.same({{1.5, 1.5}, {1.5, 1.5}}, t[2]:totable())
      assert.are.equal("bf16", t[2]:dtype())
      assert.are.equal(2, #t)
    end)

    it("saves an empty table and no metadata", function()
      local p = tmp(".calq")
      assert.is_true(calq.io.save(p, {}))
      local t, meta = calq.io.load(p)
      assert.are.same({}, t)
      assert.are.same({}, meta)
    end)

    it("returns nil, message, code for failures of the world", function()
      local p = tmp(".calq")
      local t, msg, code = calq.io.load(p)
      assert.is_nil(t)
      assert.are.equal(p .. ": cannot open: No such file or directory", msg)
      assert.are.equal("EIO", code)
      local ok
      ok, msg, code = calq.io.save("/nonexistent-calq-dir/x.calq", {a = calq.tensor.zeros{1}})
      assert.is_nil(ok)
      assert.are.equal("/nonexistent-calq-dir/x.calq.tmp: cannot create: No such file or directory", msg)
      assert.are.equal("EIO", code)
    end)

    it("names the file and the tensor when a payload is damaged", function()
      local p = tmp(".calq")
      -- bytes that do not compress, so a flipped byte lands in the stored data
      local vals = {}
      for i = 1, 64 do vals[i] = (i * 2654435761 % 4294967296) / 65536.0 + i / 7 end
      assert.is_true(calq.io.save(p, {["conv1.w"] = calq.tensor.new(vals)}))
      local s = read_bytes(p)
      local off = 16 + 15 + 4 + 20 -- file header, lz4 frame header, block size
      write_bytes(p, s:sub(1, off) .. string.char(s:byte(off + 1) ~ 0x10) .. s:sub(off + 2))
      local t, msg, code = calq.io.load(p)
      assert.is_nil(t)
      assert.are.equal(p .. ": tensor 'conv1.w': payload checksum mismatch", msg)
      assert.are.equal("EFORMAT", code)
      write_bytes(p, s:sub(1, #s - 3))
      t, msg, code = calq.io.load(p)
      assert.is_nil(t)
      assert.are.equal("EFORMAT", code)
      assert.matches("truncated or corrupted", msg, 1, true)
    end)

    it("raises on misuse", function()
      assert.has_error(function() calq.io.save(1) end,
        "bad argument #2 to 'save' (table expected, got no value)")
      assert.has_error(function() calq.io.save("x.calq", {a = 1}) end,
        "bad argument #2 to 'save' (tensors['a'] is a number, not a calq.Tensor)")
      assert.has_error(function() calq.io.save("x.calq", {[true] = calq.tensor.zeros{1}}) end,
        "bad argument #2 to 'save' (keys must be names or array indices, not boolean)")
      assert.has_error(function() calq.io.save("x.calq", {}, {k = {}}) end,
        "bad argument #3 to 'save' (metadata 'k' is a table, not a string)")
      assert.has_error(function() calq.io.save("x.calq", {["a\0b"] = calq.tensor.zeros{1}}) end,
        "bad argument #2 to 'save' (a tensor name must be a string without NUL bytes)")
      local closed = calq.tensor.zeros{1}
      closed:close()
      assert.has_error(function() calq.io.save("x.calq", {c = closed}) end,
        "bad argument #2 to 'save' (tensors['c'] is closed)")
      assert.has_error(function() calq.io.load() end,
        "bad argument #1 to 'load' (string expected, got no value)")
    end)
  end)

  describe("npy_write() / npy_read()", function()
    it("round-trip every NumPy dtype, views included", function()
      for _, dt in ipairs{"f32", "f16", "s8", "u8", "s32", "s64", "bool"} do
        local p = tmp(".npy")
        local t = calq.tensor.arange(24, dt):view(2, 3, 4):permute{3, 1, 2}
        assert.is_true(calq.io.npy_write(p, t))
        local back = calq.io.npy_read(p)
        assert.are.equal(dt, back:dtype())
        assert.are.same(t:totable(), back:totable())
      end
    end)

    it("refuses bf16 and reports bad files", function()
      local p = tmp(".npy")
      local ok, msg, code = calq.io.npy_write(p, calq.tensor.zeros({2}, "bf16"))
      assert.is_nil(ok)
      assert.are.equal(p .. ": NumPy has no bf16 dtype (convert to f32 first)", msg)
      assert.are.equal("EUNSUPPORTED", code)
      write_bytes(p, "not numpy at all")
      local t
      t, msg, code = calq.io.npy_read(p)
      assert.is_nil(t)
      assert.are.equal(p .. ": not an npy file (wrong magic)", msg)
      assert.are.equal("EFORMAT", code)
    end)

    it("raises on misuse", function()
      assert.has_error(function() calq.io.npy_write("x.npy", "t") end,
        "bad argument #2 to 'npy_write' (calq.Tensor expected, got string)")
    end)
  end)
end)

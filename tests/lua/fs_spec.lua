-- calq.fs: the folder and file steps the commands and builders share.
local fs = require "calq.fs"
local lfs = require "lfs"

local h = require "tests.lua.helpers"
local tmpdir, put = h.tmpdir, h.write

describe("calq.fs", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

  describe("mkdirs()", function()
    it("creates a folder and its missing parents, and accepts one that exists", function()
      local p = dir .. "/a/b c/d/"
      assert.is_true(fs.mkdirs(p))
      assert.are.equal("directory", lfs.attributes(dir .. "/a/b c/d", "mode"))
      assert.is_true(fs.mkdirs(p))
      assert.is_true(fs.mkdirs(dir .. "//a//b c"))
    end)

    it("returns nil, message where a file stands in the way", function()
      put(dir .. "/f", "")
      local ok, msg = fs.mkdirs(dir .. "/f/sub/deeper")
      assert.is_nil(ok)
      assert.are.equal(dir .. "/f: exists and is not a folder", msg)
      assert.is_nil(lfs.attributes(dir .. "/f/sub"))
    end)

    it("raises on misuse", function()
      assert.has_error(function() fs.mkdirs() end, "bad argument #1 to 'mkdirs' (string expected, got nil)")
      assert.has_error(function() fs.mkdirs("") end, "bad argument #1 to 'mkdirs' (path is empty)")
    end)
  end)

  describe("write_atomic()", function()
    it("writes through NAME.tmp, fsyncs and renames", function()
      assert.is_true(fs.write_atomic(dir .. "/ok.json", "{}\n"))
      local f = assert(io.open(dir .. "/ok.json", "rb"))
      assert.equal("{}\n", f:read("a"))
      f:close()
      assert.is_nil(io.open(dir .. "/ok.json.tmp"))
    end)

    it("returns nil, message and removes the .tmp when the data cannot be written", function()
      -- the .tmp is a link to /dev/full: the write (flushed at close) fails with ENOSPC
      assert(os.execute(("ln -s /dev/full %s/full.json.tmp"):format(dir)))
      local ok, msg = fs.write_atomic(dir .. "/full.json", ("x"):rep(100000))
      assert.is_nil(ok)
      assert.equal(dir .. "/full.json.tmp: write failed: No space left on device", msg)
      assert.is_nil(lfs.symlinkattributes(dir .. "/full.json.tmp"))
      assert.is_nil(io.open(dir .. "/full.json"))
    end)

    it("returns nil, message and removes the .tmp when the rename fails", function()
      assert(lfs.mkdir(dir .. "/taken"))
      put(dir .. "/taken/x", "")
      local ok, msg = fs.write_atomic(dir .. "/taken", "{}")
      assert.is_nil(ok)
      assert.equal(dir .. "/taken: cannot rename " .. dir .. "/taken.tmp to it: Is a directory", msg)
      assert.is_nil(io.open(dir .. "/taken.tmp"))
    end)
  end)
end)

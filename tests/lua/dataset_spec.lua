-- calq.Dataset / calq.Index: reading annotations and looking at records from Lua.
local calq = require "calq"

local cache = os.getenv("CALQ_CACHE") or ".cache"
local faces = cache .. "/dlib/examples/faces"
local have_faces = io.open(faces .. "/training.xml") ~= nil
if not have_faces then
  print("dataset_spec: " .. faces .. " missing, the real-data tests are skipped (set CALQ_CACHE)")
end

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p " .. tmp)
local function put(name, text)
  local f = assert(io.open(tmp .. "/" .. name, "w"))
  f:write(text)
  f:close()
  return tmp .. "/" .. name
end

describe("calq.data", function()
  teardown(function() os.execute("rm -rf " .. tmp) end)

  describe("open_dataset()", function()
    it("reads dlib's face boxes with counts, sizes and boxes", function()
      if not have_faces then pending("no dlib faces") return end
      local ds = assert(calq.data.open(faces .. "/training.xml", "dlib"))
      assert.equal(4, #ds)
      assert.same({ 7, 6, 2, 3 }, ds:counts())
      local r = ds:record(3)
      assert.equal(faces .. "/2008_001009.jpg", r.path)
      assert.equal(360, r.width)
      assert.equal(480, r.height)
      assert.equal(2, #r.boxes)
      assert.same({ 145, 79, 76, 76 }, { r.boxes[1][1], r.boxes[1][2], r.boxes[1][3], r.boxes[1][4] })
      assert.is_false(r.boxes[1].ignore)
      local missing = ds:missing()
      assert.same({}, missing)
      assert.matches("calq.Dataset %(4 images, 18 boxes", tostring(ds))
    end)

    it("returns nil, message, code for a malformed file", function()
      local p = put("bad.xml", "<dataset>\n<images>\n<image file='a.jpg'>\n")
      local ds, msg, code = calq.data.open(p, "dlib")
      assert.is_nil(ds)
      assert.equal(p .. ":4:1: XML error: no element found (the file ends before the root element closes)", msg)
      assert.equal("EFORMAT", code)
      ds, msg, code = calq.data.open(tmp .. "/none.json", "coco")
      assert.is_nil(ds)
      assert.equal("EIO", code)
    end)

    it("raises on misuse", function()
      assert.has_error(function() calq.data.open("x", "parquet") end,
        "bad argument #2 to 'open' (invalid option 'parquet')")
      assert.has_error(function() calq.data.open() end,
        "bad argument #1 to 'open' (string expected, got no value)")
    end)

    it("reads a CSV manifest and lists every missing image", function()
      local p = put("m.csv", "path,count,labels\na.jpg,1,dog\nb.jpg,0\nc.jpg,2,cat;dog\n")
      local ds = assert(calq.data.open(p, "csv"))
      assert.same({ 1, 0, 2 }, ds:counts())
      assert.same({ "dog", "cat" }, ds:categories())
      assert.same({ "cat", "dog" }, ds:record(3).labels)
      local paths, idx = ds:missing()
      assert.same({ tmp .. "/a.jpg", tmp .. "/b.jpg", tmp .. "/c.jpg" }, paths)
      assert.same({ 1, 2, 3 }, idx)
    end)
  end)

  describe("Dataset", function()
    local function made()
      local ds = calq.data.new()
      ds:add{ path = "a.jpg", width = 100, height = 50, boxes = { { 1, 1, 10, 10 }, { 95, 1, 10, 10, label = "x" } } }
      ds:add{ path = "b.jpg", count = 1 }
      ds:add{ path = "c.jpg", boxes = { { 0, 0, 5, 5, ignore = true } } }
      return ds
    end

    it("counts boxes that are not ignored, flags boxes outside", function()
      local ds = made()
      assert.same({ 2, 1, 0 }, ds:counts())
      assert.is_true(ds:record(1).boxes[2].outside)
      assert.same({ boxes = 3, boxes_outside = 1, boxes_ignored = 1, boxes_dropped = 0 }, ds:issues())
    end)

    it("filters with a Lua predicate into an Index, and iterates", function()
      local ds = made()
      local idx = ds:filter(function(r) return r.count <= 1 end)
      assert.equal(2, #idx)
      assert.same({ 2, 3 }, idx:totable())
      assert.equal(3, idx[2])
      assert.is_nil(idx[3])
      local seen = {}
      for i, r in ds:records(idx) do seen[#seen + 1] = i .. ":" .. r.path end
      assert.same({ "2:b.jpg", "3:c.jpg" }, seen)
      local h = ds:histogram()
      assert.same({ 1, 1, 1 }, { h[0], h[1], h[2] })
      assert.same({ 1, 0 }, ds:counts(calq.data.index{ 2, 3 }))
    end)

    it("appends another dataset", function()
      local ds = made()
      ds:append(made())
      assert.equal(6, #ds)
      assert.same({ 2, 1, 0, 2, 1, 0 }, ds:counts())
    end)

    it("raises on misuse and after close", function()
      local ds = made()
      assert.has_error(function() ds:record(4) end,
        "bad argument #1 to 'record' (record 4 out of range (dataset has 3))")
      assert.has_error(function() ds:counts(calq.data.index{ 7 }) end,
        "bad argument #1 to 'counts' (record 7 out of range (dataset has 3))")
      assert.has_error(function() ds:add{ count = 1 } end,
        "bad argument #1 to 'add' (field 'path' must be a string)")
      assert.has_error(function() calq.data.index{ 0 } end,
        "bad argument #1 to 'index' (entry 1 is not a record number >= 1)")
      ds:close()
      ds:close()
      assert.equal("calq.Dataset (closed)", tostring(ds))
      assert.has_error(function() return #ds end)
    end)

    it("survives a predicate that raises", function()
      local ds = made()
      assert.has_error(function() ds:filter(function() error("boom", 0) end) end, "boom")
      assert.equal(3, #ds)
    end)
  end)
end)

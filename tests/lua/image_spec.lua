-- calq.image: decode, resize and preprocessing, checked against PIL (python3-pil)
-- and torch (half-pixel bilinear) on the dlib photos and face crops.
local image = require "calq.image"

local cache = os.getenv("CALQ_CACHE") or "./.cache"
local faces = cache .. "/dlib/examples/faces/"
local johns = cache .. "/dlib/examples/johns/"
local have_data = io.open(faces .. "training.xml") ~= nil
local py = "/usr/bin/python3"
local have_pil = os.execute(py .. " -c 'import PIL, numpy' 2>/dev/null") == true
local have_torch = have_pil and os.execute(py .. " -c 'import torch' 2>/dev/null") == true
local ref = "tests/ref/image_ref.py"
local tmp = os.tmpname()

local function photos()
  local list = {}
  local p = io.popen("ls " .. faces .. "*.jpg")
  for l in p:lines() do list[#list + 1] = l end
  p:close()
  return list
end

local function some_johns(n)
  local list = {}
  local p = io.popen("ls " .. johns .. "*/*.jpg | head -" .. n)
  for l in p:lines() do list[#list + 1] = l end
  p:close()
  return list
end

-- Run the reference on a list of jobs (each a list of words) in one Python
-- process; returns the largest |difference| of each job.
local function compare(jobs)
  local f = assert(io.open(tmp .. ".jobs", "w"))
  for _, j in ipairs(jobs) do f:write(table.concat(j, " "), "\n") end
  f:close()
  local p = io.popen(py .. " " .. ref .. " batch < " .. tmp .. ".jobs")
  local out = p:read("a")
  p:close()
  local res = {}
  for m in out:gmatch("maxdiff (%S+) %d+") do res[#res + 1] = tonumber(m) end
  assert(#res == #jobs, "reference failed:\n" .. out)
  return res
end

local function dump_f32(t, path)
  local v = t:contiguous():view(-1):totable()
  local f = assert(io.open(path, "wb"))
  for i = 1, #v, 4096 do
    local j = math.min(#v, i + 4095)
    f:write(string.pack("<" .. ("f"):rep(j - i + 1), table.unpack(v, i, j)))
  end
  f:close()
end

local function pending_unless(cond, why)
  if not cond then pending(why) end
  return cond
end

describe("calq.image", function()
  describe("load()", function()
    it("returns nil, message, code for a missing file", function()
      local im, msg, code = image.load("/nonexistent/x.jpg")
      assert.is_nil(im)
      assert.are.equal("/nonexistent/x.jpg: No such file or directory", msg)
      assert.are.equal("EIO", code)
    end)

    it("names the file, the byte offset and the problem for a truncated JPEG", function()
      if not pending_unless(have_data, "no dlib data under CALQ_CACHE") then return end
      local f = assert(io.open(faces .. "2008_001009.jpg", "rb"))
      local s = f:read("a")
      f:close()
      local im, msg, code = image.decode(s:sub(1, 3000), "cut.jpg")
      assert.is_nil(im)
      assert.are.equal("EFORMAT", code)
      assert.matches("^cut%.jpg: JPEG, at byte %d+ of 3000: Premature end of JPEG file$", msg)
    end)

    it("refuses images above max_pixels before decoding them", function()
      if not pending_unless(have_data, "no dlib data under CALQ_CACHE") then return end
      local im, msg, code = image.load(faces .. "bald_guys.jpg", 1000000)
      assert.is_nil(im)
      assert.are.equal("ENOMEM", code)
      assert.are.equal(faces .. "bald_guys.jpg: JPEG image is 1986x1545 = 3068370 pixels, above "
        .. "the limit of 1000000 (a decompression bomb?)", msg)
    end)

    it("decodes the dlib photos and crops exactly as PIL", function()
      if not pending_unless(have_data and have_pil, "needs dlib data and python3-pil") then return end
      local list = photos()
      for _, p in ipairs(some_johns(5)) do list[#list + 1] = p end
      local jobs = {}
      for i, p in ipairs(list) do
        assert(assert(image.load(p)):save(tmp .. i .. ".png"))
        jobs[i] = { "decode", p, tmp .. i .. ".png" }
      end
      for i, m in ipairs(compare(jobs)) do
        assert.are.equal(0, m, list[i])
        os.remove(tmp .. i .. ".png")
      end
    end)

    it("decodes PNGs of every colour type made by PIL exactly as PIL", function()
      if not pending_unless(have_data and have_pil, "needs dlib data and python3-pil") then return end
      local dir = tmp .. "_pngs"
      os.execute("mkdir -p " .. dir)
      assert(os.execute(("%s %s pngs %s %s >/dev/null"):format(py, ref, faces .. "dogs.jpg", dir)))
      local jobs, names = {}, { "rgb", "l", "p", "rgba", "la", "bits" }
      for i, n in ipairs(names) do
        local im = assert(image.load(dir .. "/" .. n .. ".png"))
        assert.are.equal((n == "l" or n == "la" or n == "bits") and 1 or 3, im.channels, n)
        assert(im:save(dir .. "/calq_" .. n .. ".png"))
        jobs[i] = { "decode", dir .. "/" .. n .. ".png", dir .. "/calq_" .. n .. ".png" }
      end
      for i, m in ipairs(compare(jobs)) do assert.are.equal(0, m, names[i]) end
      os.execute("rm -r " .. dir)
    end)

    it("round-trips PNG exactly", function()
      local t = image.new(7, 5, 3, 10)
      t:paste(image.new(3, 2, 3, 200), 2, 1)
      assert(t:save(tmp .. ".png"))
      local back = assert(image.load(tmp .. ".png"))
      assert.are.equal(0, back:tensor():maxdiff(t:tensor()))
      assert.are.same({ 5, 7, 3 }, back:tensor():shape())
    end)
  end)

  describe("Image", function()
    it("exposes width, height, channels and a u8 HWC tensor", function()
      local im = image.new(4, 3, 1, 7)
      assert.are.equal(4, im.width)
      assert.are.equal(3, im.height)
      assert.are.equal(1, im.channels)
      local t = im:tensor()
      assert.are.equal("u8", t:dtype())
      assert.are.same({ 3, 4, 1 }, t:shape())
      assert.are.equal(7, t:get(3, 4, 1))
      assert.are.equal("calq.Image 4x3x1", tostring(im))
      im:close()
      assert.are.equal("calq.Image (closed)", tostring(im))
      assert.has_error(function() return im.width end,
        "bad argument #1 to 'index' (image is closed)")
    end)

    it("raises on a crop outside the image", function()
      local im = image.new(10, 10)
      assert.has_error(function() im:crop(5, 5, 6, 2) end,
        "crop 6x2 at (5, 5) is not inside the 10x10 image")
    end)

    it("save() returns nil, message for an unknown extension", function()
      local ok, msg, code = image.new(2, 2):save(tmp .. ".gif")
      assert.is_nil(ok)
      assert.are.equal(tmp .. ".gif: unknown image extension (use .jpg, .jpeg or .png)", msg)
      assert.are.equal("EINVAL", code)
    end)

    it("resize('pil') is within 1 level of PIL's BILINEAR on random sizes", function()
      if not pending_unless(have_data and have_pil, "needs dlib data and python3-pil") then return end
      local list = photos()
      local rng = 12345
      local function rand(n) rng = (rng * 1103515245 + 12345) % 2147483648; return rng % n + 1 end
      local jobs = {}
      for k = 1, 12 do
        local p = list[(k - 1) % #list + 1]
        local w, h = rand(400), rand(400)
        assert(assert(image.load(p)):resize(w, h, "pil"):save(tmp .. k .. ".png"))
        jobs[k] = { "resize", p, w, h, tmp .. k .. ".png" }
      end
      for k, m in ipairs(compare(jobs)) do
        assert.is_true(m <= 1, table.concat(jobs[k], " ") .. ": max diff " .. m)
        os.remove(tmp .. k .. ".png")
      end
    end)

    it("resize('half_pixel') is within 1 level of torch's bilinear (align_corners=False) #slow", function()
      if not pending_unless(have_data and have_torch, "needs dlib data and python3-torch") then return end
      local list = photos()
      local jobs = {}
      for k, size in ipairs({ { 256, 256 }, { 128, 97 }, { 777, 501 }, { 31, 300 } }) do
        local p = list[k]
        assert(assert(image.load(p)):resize(size[1], size[2], "half_pixel"):save(tmp .. k .. ".png"))
        jobs[k] = { "halfpixel", p, size[1], size[2], tmp .. k .. ".png" }
      end
      for k, m in ipairs(compare(jobs)) do
        assert.is_true(m <= 1, table.concat(jobs[k], " ") .. ": max diff " .. m)
        os.remove(tmp .. k .. ".png")
      end
    end)
  end)

  describe("preprocess()", function()
    it("gives the preset's shape and a transform per image", function()
      local a, b = image.new(300, 200, 3, 255), image.new(100, 400, 3, 0)
      local x, tr = image.preprocess({ a, b }, "blazeface")
      assert.are.same({ 2, 256, 256, 3 }, x:shape())
      assert.are.same({ src_width = 300, src_height = 200, sx = 256 / 300, sy = 256 / 300, ox = 0, oy = 0 },
        tr[1])
      -- the white image fills the top 2/3 with 1.0, the pad is -1
      assert.are.equal(1, x:get(1, 1, 1, 1))
      assert.are.equal(-1, x:get(1, 256, 1, 1))
      local u, v = image.unmap(tr[2], 128, 256)
      assert.are.equal(200, u)
      assert.are.equal(400, v)
      local g = image.preprocess(a, "fmnist")
      assert.are.same({ 1, 1, 28, 28 }, g:shape())
      local n = image.preprocess(a, { preset = "imagenet", order = "bgr", layout = "nhwc" })
      assert.are.same({ 1, 224, 224, 3 }, n:shape())
      assert.is_true(math.abs(n:get(1, 1, 1, 1) - (1 - 0.406) / 0.225) < 1e-4)
    end)

    it("raises on a bad spec", function()
      assert.has_error(function() image.preprocess(image.new(2, 2), "yolo") end,
        "bad argument #2 to 'preprocess' (unknown preprocessing preset 'yolo' (known: "
        .. "blazeface, blazeface256, blazeface128, fmnist, imagenet))")
      assert.has_error(function() image.preprocess(image.new(2, 2), { fit = "squash" }) end,
        "bad argument #2 to 'preprocess' (field 'fit': invalid option 'squash')")
      assert.has_error(function() image.preprocess(image.new(2, 2), { mean = { 1, 2 } }) end,
        "bad argument #2 to 'preprocess' (field 'mean' needs 3 numbers)")
    end)

    it("returns nil, message for a path that cannot be read", function()
      local x, msg, code = image.preprocess({ image.new(2, 2), "/nonexistent.png" }, "fmnist")
      assert.is_nil(x)
      assert.are.equal("/nonexistent.png: No such file or directory", msg)
      assert.are.equal("EIO", code)
    end)

    -- torch's start-up costs seconds: blazeface128 runs with the #slow specs only
    for _, preset in ipairs({ "blazeface", "blazeface128", "imagenet", "fmnist" }) do
      local tag = preset == "blazeface128" and " #slow" or ""
      it(("matches the %s reference pipeline (PIL / torch) on the dlib photos%s"):format(preset, tag), function()
        if not pending_unless(have_data and have_torch, "needs dlib data, python3-pil and torch") then
          return
        end
        local list = photos()
        local x = assert(image.preprocess(list, preset))
        local scale = preset:match("^blazeface") and 1 / 127.5 or
          preset == "imagenet" and 1 / (255 * 0.224) or 1 / 255
        local jobs = {}
        for i = 1, #list, 3 do -- every third photo keeps the spec fast
          dump_f32(x[i], tmp .. i .. ".f32")
          jobs[#jobs + 1] = { "preproc", list[i], preset, tmp .. i .. ".f32" }
        end
        for k, m in ipairs(compare(jobs)) do
          -- within one 8-bit level after normalisation (plus f32 rounding)
          assert.is_true(m <= scale * 1.0001 + 1e-5, table.concat(jobs[k], " ") .. ": max diff " .. m)
          os.remove(jobs[k][4])
        end
      end)
    end
  end)
end)

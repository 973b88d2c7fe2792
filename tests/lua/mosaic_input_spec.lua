-- calq.mosaic's inputs: dlib XML read as XML (through calq's expat reader),
-- files that are not dlib XML refused, output checked (calq.fs writes it atomically),
-- and argument checks at the public entry points.
local mosaic = require "calq.mosaic"

local cache = os.getenv("CALQ_CACHE") or "./.cache"
local johns = cache .. "/dlib/examples/johns"
local faces = cache .. "/dlib/examples/faces"
local have_data = io.open(faces .. "/training.xml") ~= nil
local h = require "tests.lua.helpers"
local calq_bin = h.calq_bin

local tmpdir, put = h.tmpdir, h.write

describe("calq.mosaic", function()
  local dir
  setup(function() dir = tmpdir() end)
  teardown(function() os.execute("rm -rf " .. dir) end)

  describe("read_dlib_xml()", function()
    it("reads entities and skips comments, as XML", function()
      local p = put(dir .. "/ent.xml", [[<?xml version="1.0"?>
<dataset>
<!-- <image file="commented.jpg"><box top="1" left="1" width="9" height="9"/></image> -->
<images>
  <image file="a&amp;b.jpg">
    <box top="10" left="20" width="30" height="40"/>
    <!-- <box top="0" left="0" width="5" height="5"/> -->
    <box top="1" left="2" width="3" height="4" ignore="1"/>
  </image>
</images>
</dataset>
]])
      local ds = assert(mosaic.read_dlib_xml(p))
      assert.equal(1, #ds.images)
      assert.equal(dir .. "/a&b.jpg", ds.images[1].file)
      assert.same({ { 20, 10, 30, 40, ignore = false }, { 2, 1, 3, 4, ignore = true } },
        ds.images[1].boxes)
    end)

    it("refuses a file that is not dlib XML or holds no image", function()
      local p = put(dir .. "/bad.json", '{"images": []}\n')
      local ok, msg = mosaic.read_dlib_xml(p)
      assert.is_nil(ok)
      assert.equal(p .. ":1:1: XML error: not well-formed (invalid token)", msg)
      p = put(dir .. "/empty.xml", "<dataset><images></images></dataset>\n")
      ok, msg = mosaic.read_dlib_xml(p)
      assert.is_nil(ok)
      assert.equal(p .. ": no <image> in this file (is it a dlib imglab XML file?)", msg)
      p = put(dir .. "/zero.xml",
        "<dataset><images><image file='a.jpg'><box top='1' left='1' width='0' height='4'/></image></images></dataset>")
      ok, msg = mosaic.read_dlib_xml(p)
      assert.is_nil(ok)
      assert.equal(p .. ": image " .. dir .. "/a.jpg: a box needs width and height > 0", msg)
    end)

    it("raises on misuse", function()
      assert.has_error(function() mosaic.read_dlib_xml() end,
        "bad argument #1 to 'read_dlib_xml' (string expected, got nil)")
    end)
  end)

  describe("calq mosaic", function()
    it("fails when --photos is not a dlib XML file", function()
      if not have_data then pending("no dlib data under CALQ_CACHE") return end
      local bad = put(dir .. "/photos.json", '{"images": []}\n')
      local p = io.popen(("%s mosaic --crops %s --photos %s --count 2 --size 160x120 --output %s/out 2>&1; echo rc=$?")
        :format(calq_bin, johns, bad, dir))
      local text = p:read("a")
      p:close()
      assert.equal(("calq mosaic: %s:1:1: XML error: not well-formed (invalid token)\nrc=1\n"):format(bad), text)
    end)
  end)
end)

-- calq.mosaic and `calq mosaic`: synthetic face images with exact COCO boxes.
local mosaic = require "calq.mosaic"
local image = require "calq.image"

local cache = os.getenv("CALQ_CACHE") or "./.cache"
local johns = cache .. "/dlib/examples/johns"
local training = cache .. "/dlib/examples/faces/training.xml"
local have_data = io.open(training) ~= nil
local have_py = os.execute("/usr/bin/python3 -c 'import json' 2>/dev/null") == true
local h = require "tests.lua.helpers"
local calq_bin = h.calq_bin
local tmpdir, read = h.tmpdir, h.read

-- The JSON is checked by Python's parser (an independent reader), which
-- reports what the spec then asserts on.
local function coco_summary(path)
  local p = io.popen("/usr/bin/python3 - " .. path .. [==[ <<'EOF'
import json, sys, collections
d = json.load(open(sys.argv[1]))
ims = {i["id"]: i for i in d["images"]}
per = collections.Counter(a["image_id"] for a in d["annotations"])
inside, overlap = 1, 0
for a in d["annotations"]:
    x, y, w, h = a["bbox"]; im = ims[a["image_id"]]
    if not (x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= im["width"] + 1e-6 and y + h <= im["height"] + 1e-6):
        inside = 0
by = collections.defaultdict(list)
for a in d["annotations"]: by[a["image_id"]].append(a["bbox"])
for bs in by.values():
    for i in range(len(bs)):
        for j in range(i):
            a, b = bs[i], bs[j]
            iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]); ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
            if iw > 0 and ih > 0: overlap += 1
hist = collections.Counter(per[i] for i in ims)
print("images", len(d["images"]), "anns", len(d["annotations"]), "inside", inside, "overlap", overlap,
      "cats", json.dumps(d["categories"], sort_keys=True))
print("hist", " ".join("%d:%d" % (k, hist[k]) for k in sorted(hist)))
EOF]==])
  local out = p:read("a")
  p:close()
  return out
end

describe("calq.mosaic", function()
  describe("count_plan()", function()
    it("splits images exactly: uniform and skewed", function()
      assert.are.same({ 4, 4, 4, 4, 4 }, mosaic.count_plan(20, 1, 5, "uniform"))
      assert.are.same({ [2] = 4, [3] = 3, [4] = 3 }, mosaic.count_plan(10, 2, 4, "uniform"))
      -- shares 16:8:4:2:1 of 20 -> 10.3, 5.2, 2.6, 1.3, 0.6
      assert.are.same({ 10, 5, 3, 1, 1 }, mosaic.count_plan(20, 1, 5, "skewed"))
    end)
  end)

  describe("read_dlib_xml()", function()
    it("reads boxes and reports a missing file", function()
      if not have_data then pending("no dlib data under CALQ_CACHE") return end
      local ds = assert(mosaic.read_dlib_xml(training))
      assert.are.equal(4, #ds.images)
      local n = 0
      for _, im in ipairs(ds.images) do n = n + #im.boxes end
      assert.are.equal(18, n)
      assert.are.same({ 194, 90, 37, 37, ignore = false }, ds.images[1].boxes[1])
      local ok, msg = mosaic.read_dlib_xml("/nonexistent.xml")
      assert.is_nil(ok)
      assert.are.equal("/nonexistent.xml: No such file or directory", msg)
    end)
  end)

  describe("crops_from_photos()", function()
    it("keeps only boxes that no other box touches, with the box exact", function()
      if not have_data then pending("no dlib data under CALQ_CACHE") return end
      local crops = assert(mosaic.crops_from_photos(training, 0.4))
      assert.is_true(#crops > 5 and #crops < 18)
      for _, c in ipairs(crops) do
        local b = c.box
        assert.is_true(b[1] >= 0 and b[2] >= 0 and b[1] + b[3] <= c.image.width and b[2] + b[4] <= c.image.height)
      end
    end)
  end)

  describe("build()", function()
    it("writes 20 images and valid COCO with boxes inside, no overlaps, the asked counts", function()
      if not (have_data and have_py) then pending("needs dlib data and python3") return end
      local crops = assert(mosaic.crops_from_dir(johns))
      assert.are.equal(55, #crops)
      local more, photos = assert(mosaic.crops_from_photos(training))
      table.move(more, 1, #more, #crops + 1, crops)
      for _, dist in ipairs({ "uniform", "skewed" }) do
        local out = tmpdir()
        local r = assert(mosaic.build { crops = crops, photos = photos, count = 20, max_faces = 5,
          width = 320, height = 240, seed = 7, dist = dist, output = out })
        assert.are.equal(20, r.images)
        local s = coco_summary(out .. "/annotations.json")
        local want = dist == "uniform" and "1:4 2:4 3:4 4:4 5:4" or "1:10 2:5 3:3 4:1 5:1"
        local faces = dist == "uniform" and 60 or 10 + 10 + 9 + 4 + 5
        assert.are.equal(("images 20 anns %d inside 1 overlap 0 cats "):format(faces)
          .. '[{"id": 1, "name": "face", "supercategory": "face"}]\nhist ' .. want .. "\n", s)
        local im = assert(image.load(out .. "/images/000020.jpg"))
        assert.are.same({ 320, 240 }, { im.width, im.height })
        os.execute("rm -r " .. out)
      end
    end)

    it("gives the same output for the same seed, another for another seed", function()
      if not have_data then pending("no dlib data under CALQ_CACHE") return end
      local crops, photos = assert(mosaic.crops_from_photos(training))
      local outs = {}
      for i, seed in ipairs({ 5, 5, 6 }) do
        outs[i] = tmpdir()
        assert(mosaic.build { crops = crops, photos = photos, count = 6, max_faces = 3,
          width = 200, height = 160, seed = seed, output = outs[i] })
      end
      assert.are.equal(read(outs[1] .. "/annotations.json"), read(outs[2] .. "/annotations.json"))
      assert.are.equal(read(outs[1] .. "/images/000004.jpg"), read(outs[2] .. "/images/000004.jpg"))
      assert.are_not.equal(read(outs[1] .. "/annotations.json"), read(outs[3] .. "/annotations.json"))
      for _, o in ipairs(outs) do os.execute("rm -r " .. o) end
    end)

    it("says when the faces cannot fit", function()
      local crops = { { image = image.new(50, 50), box = { 5, 5, 40, 40 } } }
      local out = tmpdir()
      local ok, msg = mosaic.build { crops = crops, count = 1, min_faces = 40, max_faces = 40,
        width = 64, height = 64, min_face = 30, max_face = 30, output = out }
      assert.is_nil(ok)
      assert.are.equal("image 1: no room for 40 faces in 64x64 (lower --max-faces or the face size)", msg)
      os.execute("rm -r " .. out)
    end)
  end)

  describe("calq mosaic", function()
    it("runs from the command line and reports user errors", function()
      if not have_data then pending("no dlib data under CALQ_CACHE") return end
      local out = tmpdir()
      local p = io.popen(("%s mosaic --crops %s --count 4 --max-faces 2 --size 160x120 --output %s 2>&1")
        :format(calq_bin, johns, out))
      local text = p:read("a")
      p:close()
      assert.are.equal(("calq mosaic: 4 images, 6 faces from 55 crops -> %s/annotations.json "
        .. "(faces:images 1:2 2:2)\n"):format(out), text)
      p = io.popen(calq_bin .. " mosaic --output " .. out .. " --size 10x10 --crops x 2>&1")
      text = p:read("a")
      p:close()
      assert.matches("calq mosaic: %-%-size: '10x10' is not WxH with sides in 32..8192", text)
      os.execute("rm -r " .. out)
    end)
  end)
end)

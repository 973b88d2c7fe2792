local calq = require "calq"
local bf = require "calq.blazeface"

local cache = os.getenv("CALQ_CACHE") or "./.cache"
local refs = cache .. "/refs"

local function read_manifest()
  local f = io.open(refs .. "/manifest.json")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- The cases of the ORT reference manifest for one model and group, without a JSON
-- library: each case's fields are read with patterns from its own text.
local function cases(text, model_tag, group)
  local out = {}
  for body in text:gmatch('"name": "' .. model_tag .. '/[^"]+"(.-)"size": %d+') do
    if body:find('"group": "' .. group .. '"', 1, true) then
      local c = { outputs = {} }
      for name, file in body:gmatch('"name": "([^"]+)",%s*"file": "([^"]+)"') do
        c.outputs[name] = file
      end
      c.image = body:match('"image": "([^"]+)"')
      c.side = tonumber(body:match('"side": ([%d%.]+)'))
      out[#out + 1] = c
    end
  end
  return out
end

describe("calq.blazeface", function()
  describe("anchors()", function()
    it("has 896 anchors in output order, 16x16x2 then 8x8x6", function()
      local a = bf.anchors()
      assert.are.equal(896, #a)
      assert.are.same({ 0.5 / 16, 0.5 / 16 }, a[1])
      assert.are.same({ 0.5 / 16, 0.5 / 16 }, a[2])
      assert.are.same({ 1.5 / 16, 0.5 / 16 }, a[3])
      assert.are.same({ 0.5 / 8, 0.5 / 8 }, a[513])
      assert.are.same({ 0.5 / 8, 0.5 / 8 }, a[518])
      assert.are.same({ 1.5 / 8, 0.5 / 8 }, a[519])
      assert.are.same({ 7.5 / 8, 7.5 / 8 }, a[896])
    end)
  end)

  describe("iou()", function()
    it("is 1 for the same box, 0 for disjoint ones, 1/7 for half-overlapping squares", function()
      assert.are.equal(1, bf.iou({ 0, 0, 10, 10 }, { 0, 0, 10, 10 }))
      assert.are.equal(0, bf.iou({ 0, 0, 10, 10 }, { 20, 20, 5, 5 }))
      assert.is_true(math.abs(bf.iou({ 0, 0, 10, 10 }, { 5, 0, 10, 10 }) - 50 / 150) < 1e-12)
    end)
  end)

  describe("nms()", function()
    local dets = function()
      return { { 0, 0, 10, 10, 0.9 }, { 1, 0, 10, 10, 0.6 }, { 50, 50, 10, 10, 0.8 } }
    end
    it("keeps the best of each overlapping group, best first (plain)", function()
      local k = bf.nms(dets(), 0.3, true)
      assert.are.same({ { 0, 0, 10, 10, 0.9 }, { 50, 50, 10, 10, 0.8 } }, k)
    end)
    it("blends overlapping boxes with their scores as weights (weighted)", function()
      local k = bf.nms(dets(), 0.3, false)
      assert.are.equal(2, #k)
      assert.is_true(math.abs(k[1][1] - 0.6 / 1.5) < 1e-12)
      assert.are.equal(0.9, k[1][5])
    end)
  end)

  describe("match()", function()
    it("counts true positives, false positives and misses greedily", function()
      local m = bf.match({ { 0, 0, 10, 10, 0.9 }, { 100, 100, 5, 5, 0.8 } },
        { { 1, 1, 10, 10 }, { 40, 40, 10, 10 } }, 0.3)
      assert.are.same({ tp = 1, fp = 1, fn = 1 }, m)
    end)
  end)

  describe("decode()", function()
    local manifest = read_manifest()
    it("finds the dlib faces in ONNX Runtime's back-256 outputs as the Python decoder does", function()
      if not manifest then
        pending("no " .. refs .. "/manifest.json (make refs)")
        return
      end
      local truth = {}
      for _, xml in ipairs { "training.xml", "testing.xml" } do
        local ds = assert(calq.data.open(cache .. "/dlib/examples/faces/" .. xml, "dlib"))
        for i = 1, #ds do
          local r = ds:record(i)
          local boxes = {}
          for _, b in ipairs(r.boxes) do
            if not b.ignore then boxes[#boxes + 1] = { b[1], b[2], b[3], b[4] } end
          end
          truth[r.path:match("[^/]+$")] = boxes
        end
      end
      local list = cases(manifest, "blazeface_back256", "faces")
      assert.is_true(#list >= 9)
      local tp, fp, fn, checked, scored = 0, 0, 0, 0, 0
      for _, c in ipairs(list) do
        local boxes = truth[c.image:match("[^/]+$")]
        if boxes then -- the photos that have ground truth (9 of 12)
        scored = scored + 1
        local out = {}
        for name, file in pairs(c.outputs) do out[name] = assert(calq.io.npy_read(refs .. "/" .. file)) end
        local s = 256 / c.side
        local dets = bf.decode(out, { size = 256, transform = { sx = s, sy = s, ox = 0, oy = 0 } })
        local m = bf.match(dets, boxes, 0.3)
        tp, fp, fn = tp + m.tp, fp + m.fp, fn + m.fn
        -- the independent Python decoder on the same files gives the same boxes
        if checked < 2 and os.execute("/usr/bin/python3 -c 'import numpy' 2>/dev/null") then
          checked = checked + 1
          local f = refs .. "/"
          local cmd = ("/usr/bin/python3 tools/ort/blazeface_decode.py --size 256 --side %s %s %s %s %s"):format(
            c.side, f .. c.outputs["Identity:0"], f .. c.outputs["Identity_1:0"],
            f .. c.outputs["Identity_2:0"], f .. c.outputs["Identity_3:0"])
          local p = assert(io.popen(cmd))
          local lines = {}
          for l in p:lines() do lines[#lines + 1] = l end
          p:close()
          assert.are.equal(#lines, #dets)
          for i, l in ipairs(lines) do
            local x0, y0, x1, y1 = l:match("%[([%-%d%.]+), ([%-%d%.]+), ([%-%d%.]+), ([%-%d%.]+)%]")
            local d = dets[i]
            for k, v in ipairs { tonumber(x0) - d[1], tonumber(y0) - d[2],
              tonumber(x1) - (d[1] + d[3]), tonumber(y1) - (d[2] + d[4]) } do
              assert(math.abs(v) < 0.02, ("box %d coordinate %d differs by %g"):format(i, k, v))
            end
          end
        end
        end
      end
      assert.are.equal(9, scored)
      if os.execute("/usr/bin/python3 -c 'import numpy' 2>/dev/null") then
        assert.are.equal(2, checked) -- the cross-check with the Python decoder ran
      end
      -- DATA.md: back-256 at score 0.5 finds 40 of the 43 faces with 2 false positives;
      -- the refs were measured at 42 of 43 and 0 (tools/ort/blazeface_check.py).
      assert.are.equal(43, tp + fn)
      assert.is_true(tp >= 40, ("found only %d of 43"):format(tp))
      assert.is_true(fp <= 2, ("%d false positives"):format(fp))
    end)
  end)
end)

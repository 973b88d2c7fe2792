-- recipes/demo.lua: calq's main job, as far as it goes today, on the default real data.
--   calq run recipes/demo.lua [OUTDIR]        (make demo runs it)
--
-- 1. A face-detection data set with a real spread of faces per image: dlib's training
--    photos, its single-face crops, and mosaics of the crops on backgrounds (exact
--    boxes, COCO JSON).
-- 2. Calibration sets drawn from it: label-balanced (images with more than 2 faces
--    replaced from the pool of one-face images) next to uniform random.
-- 3. BlazeFace back-256 run in fp32 by calq's executor over both sets, with an observer
--    collecting every node's activation range.
-- 4. BlazeFace on the dlib test photos: faces found against the ground truth and AP
--    (calq.evaluate, as `calq eval` measures them), latency.
-- 5. BlazeFace quantized by calq's defaults from each calibration set (calq.quantize,
--    as `calq quantize --calib LIST --preprocess blazeface` does), measured against fp32
--    on the test photos in calq's integer run. The sets and figures are cells of
--    bench/blazeface_grid.lua's grid (docs/experiments.md has all of it).
local calq = require "calq"
local sampler = require "calq.sampler"
local image = require "calq.image"
local mosaic = require "calq.mosaic"

local cache = os.getenv("CALQ_CACHE") or ".cache"
local out = arg and arg[1] or "build/demo"
local dlib = cache .. "/dlib/examples"
assert(require("calq.fs").mkdirs(out))
local model_path = cache .. "/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx"

local function say(fmt, ...) io.write(fmt:format(...), "\n") end
local function head(s) say("\n== %s", s) end
local function check(v, msg, ...)
  if v == nil then error(("demo: %s"):format(msg), 0) end
  return v, msg, ...
end

-- 1. data set -------------------------------------------------------------------
head("1. A face data set with a real spread of counts (photos, crops, mosaics of crops)")
local ds = check(calq.data.open(dlib .. "/faces/training.xml", "dlib")) -- 4 photos, 2-7 faces
local crops = check(mosaic.crops_from_dir(dlib .. "/johns"))             -- 55 crops, 1 face
for _, c in ipairs(crops) do
  ds:add { path = c.source, id = #ds + 1, width = c.image.width, height = c.image.height,
           count = 1, boxes = { c.box } }
end
local more, photos = check(mosaic.crops_from_photos(dlib .. "/faces/training.xml"))
for _, c in ipairs(more) do crops[#crops + 1] = c end
check(mosaic.build {
  crops = crops, photos = photos, count = 100, max_faces = 8,
  dist = "uniform", width = 512, height = 384, seed = 1, output = out .. "/mosaic",
})
ds:append(check(calq.data.open(out .. "/mosaic/annotations.json", "coco")))
say("%s: 4 training photos, 55 crops, 100 mosaics (%s/mosaic)", tostring(ds), out)
local hist = ds:histogram()
local parts = {}
for k = 0, 16 do if hist[k] and hist[k] > 0 then parts[#parts + 1] = ("%d faces: %d"):format(k, hist[k]) end end
say("images by face count: %s", table.concat(parts, ", "))

-- 2. calibration sets ------------------------------------------------------------
head("2. Calibration sets: 32 images, seed 0")
local sets = {}
for _, p in ipairs {
  { "label-balanced (threshold 2)", sampler.balanced { size = 32, threshold = 2, seed = 0 }, "balanced" },
  { "uniform random", sampler.uniform { size = 32, seed = 0 }, "uniform" },
} do
  local idx, rep = check(p[2](ds))
  say("%s:", p[1])
  say("%s", sampler.format_report(rep, "  "))
  local paths = {}
  for _, i in ipairs(idx:totable()) do paths[#paths + 1] = ds:record(i).path end
  local list = ("%s/calib_%s.txt"):format(out, p[3])
  check(require("calq.fs").write_atomic(list, table.concat(paths, "\n") .. "\n"))
  sets[#sets + 1] = { name = p[1], idx = idx, list = list, tag = p[3] }
end

-- 3. fp32 runs with an activation observer ----------------------------------------
head("3. BlazeFace back-256, fp32 in calq, over each calibration set")
local model = check(calq.onnx.load(model_path))
model:set_threads(1)
local function ranges(idx)
  local r = {}
  model:set_observer(function(info, t)
    local s = t:stats()
    local m = math.max(math.abs(s.min), math.abs(s.max))
    if not r[info.output] or m > r[info.output] then r[info.output] = m end
  end)
  local n = 0
  for _, i in ipairs(idx:totable()) do
    local x = check(image.preprocess({ ds:record(i).path }, "blazeface"))
    check(model:run { ["input:0"] = x })
    n = n + 1
  end
  model:set_observer(nil)
  return r, n
end
local rb, nb = ranges(sets[1].idx)
local rr = ranges(sets[2].idx)
local wider, total, worst, worst_name = 0, 0, 1, "-"
for name, v in pairs(rb) do
  local w = rr[name]
  if w and v > 0 then
    total = total + 1
    if w > v * 1.05 then wider = wider + 1 end
    if w / v > worst then worst, worst_name = w / v, name end
  end
end
say("observed %d node outputs over %d images a set", total, nb)
say("random set's int8 range wider than the balanced set's (by > 5%%) on %d of %d outputs", wider, total)
say("widest ratio random/balanced: %.2fx at %s", worst, worst_name)

-- 4. detection on the dlib test photos ------------------------------------------------
head("4. BlazeFace back-256 (fp32, calq) on the dlib test photos, score 0.5, IoU 0.5")
local test_xml = dlib .. "/faces/testing.xml"
local r = check(calq.evaluate { task = "blazeface", model = model, data = test_xml })
local m = r.models[1]
say("found %d of %d faces, %d false positives; AP@0.5 %.3f", m.tp, r.faces, m.fp, m.ap)
local test = check(calq.data.open(test_xml, "dlib"))
local x = check(image.preprocess({ test:record(1).path }, "blazeface"))
local med, min = check(model:time({ ["input:0"] = x }, 20, 3))
say("latency, one thread: median %.2f ms, best %.2f ms a 256x256 image (bench/exec.sh compares with ONNX Runtime)", med, min)

-- 5. int8 -----------------------------------------------------------------------------
head("5. BlazeFace back-256 int8 (calq quantize's defaults) on the dlib test photos")
local rows = { { "fp32", m, "" } }
for _, s in ipairs(sets) do
  local q = check(calq.quantize { model = model_path, calib = s.list, preprocess = "blazeface",
                                  output = ("%s/back256.int8.%s.onnx"):format(out, s.tag) })
  local e = check(calq.evaluate { task = "blazeface", model = model_path, compare = q.output, data = test_xml })
  rows[#rows + 1] = { "int8, " .. s.name, e.models[2],
    ("%d of %d int8, %d fp32"):format(q.int8, q.quantizable, q.quantizable - q.int8) }
  q.quantizer:close()
end
say("%-36s %7s %7s %6s  %s", "calibration", "AP@0.5", "found", "FP", "layers")
for _, row in ipairs(rows) do
  say("%-36s %7.3f %4d/%d %6d  %s", row[1], row[2].ap, row[2].tp, r.faces, row[2].fp, row[3])
end
-- the balanced model on calq's int8 kernels (its integer form, as `calq infer` runs it)
local int8 = check(calq.onnx.load(("%s/back256.int8.%s.onnx"):format(out, sets[1].tag)))
check(calq.quant.lower(int8))
local qmed, qmin = check(int8:time({ ["input:0"] = x }, 20, 3))
say("latency, one thread: int8 median %.2f ms, best %.2f ms (fp32 above: %.2f, %.2f)", qmed, qmin,
    med, min)
int8:close()
return 0

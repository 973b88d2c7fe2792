-- recipes/custom_policy.lua: a balancing policy written in Lua, composed with calq's
-- built-in ones, and what the set it picks does to the quantized BlazeFace.
--   calq run recipes/custom_policy.lua [OUTDIR] [--size N] [--mosaics N]
--
-- The Lua policy balances face *sizes*: BlazeFace back-256 sees faces from a few
-- pixels to the whole frame, and a set of close-up crops calibrates the early layers
-- for large faces only. It sorts the candidates' images by their median face area
-- (a fraction of the image) and takes an equal share from each third. Composed:
--   filter (no face under 8 pixels once the image is 256 wide: a plain predicate)
--   -> balanced (label-balanced, threshold 2: no image with more than 2 faces)
--   -> face_size (this file's policy: the final N)
local calq = require "calq"
local args = require "calq.args"
local fs = require "calq.fs"
local sampler = calq.sampler

local PROG = "custom_policy"
local o, rest = args.parse(arg or {}, {
  size = { type = "integer", default = 16 },
  mosaics = { type = "integer", default = 40 },
}, PROG)
local out = rest[1] or "build/custom_policy"
local cache = os.getenv("CALQ_CACHE") or ".cache"
local dlib = cache .. "/dlib/examples"
local model = cache .. "/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx"
local function check(v, msg, ...)
  if v == nil then error(PROG .. ": " .. tostring(msg), 0) end
  return v, msg, ...
end
check(fs.mkdirs(out))

-- the candidates: dlib's training photos, its crops, mosaics of the crops
local ds = check(calq.data.open(dlib .. "/faces/training.xml", "dlib"))
local crops = check(calq.mosaic.crops_from_dir(dlib .. "/johns"))
for _, c in ipairs(crops) do
  ds:add { path = c.source, id = #ds + 1, width = c.image.width, height = c.image.height,
           count = 1, boxes = { c.box } }
end
local more, photos = check(calq.mosaic.crops_from_photos(dlib .. "/faces/training.xml"))
for _, c in ipairs(more) do crops[#crops + 1] = c end
check(calq.mosaic.build { crops = crops, photos = photos, count = o.mosaics, max_faces = 8,
  dist = "uniform", width = 512, height = 384, seed = 1, output = out .. "/mosaic" })
ds:append(check(calq.data.open(out .. "/mosaic/annotations.json", "coco")))

-- the Lua policy: f(ds, idx) -> record numbers [, report]
local function face_size(n)
  return sampler.fn(function(d, idx)
    local cand = {}
    for _, i in ipairs(idx and idx:totable() or {}) do
      local r = d:record(i)
      local areas = {}
      for k, b in ipairs(r.boxes) do areas[k] = b[3] * b[4] / (r.width * r.height) end
      table.sort(areas)
      if #areas > 0 then cand[#cand + 1] = { i = i, area = areas[(#areas + 1) // 2] } end
    end
    table.sort(cand, function(a, b) return a.area < b.area or (a.area == b.area and a.i < b.i) end)
    local picked, thirds = {}, {}
    for t = 1, 3 do                                 -- an equal share of each third, spread out
      local lo, hi = (t - 1) * #cand // 3 + 1, t * #cand // 3
      local want = n // 3 + (t <= n % 3 and 1 or 0)
      thirds[t] = ("%.3f-%.3f"):format(cand[lo] and cand[lo].area or 0, cand[hi] and cand[hi].area or 0)
      for k = 0, want - 1 do
        local j = lo + (hi - lo + 1) * k // math.max(want, 1)
        if j <= hi then picked[#picked + 1] = cand[j].i end
      end
    end
    return picked, { policy = "face_size", thirds = table.concat(thirds, " / ") }
  end, "face_size")
end

local policies = {
  { "label-balanced", sampler.balanced { size = o.size, threshold = 2, seed = 0 } },
  { "filter + balanced + face size", sampler.compose {
      sampler.filter(function(r)
        for _, b in ipairs(r.boxes) do if b[3] * 256 / math.max(r.width, r.height) < 8 then return false end end
        return true
      end),
      sampler.balanced { size = 3 * o.size, threshold = 2, seed = 0 },
      face_size(o.size) } },
}
print(("%d candidates; BlazeFace back-256, calq quantize's defaults, dlib's test photos"):format(#ds))
for _, p in ipairs(policies) do
  local idx, rep = check(p[2](ds))
  local list = ("%s/calib_%s.txt"):format(out, p[1]:gsub("%W+", "_"))
  local paths = {}
  for k, i in ipairs(idx:totable()) do paths[k] = ds:record(i).path end
  check(fs.write_atomic(list, table.concat(paths, "\n") .. "\n"))
  local q = check(calq.quantize { model = model, calib = list, preprocess = "blazeface",
                                  output = list:gsub("%.txt$", ".onnx") })
  local e = check(calq.evaluate { task = "blazeface", model = model, compare = q.output })
  q.model:close() q.quantizer:close()
  print(("\n%s (%s): %d images"):format(p[1], p[2].name, #idx))
  print(sampler.format_report(rep, "  "))
  local last = rep.stages and rep.stages[#rep.stages] or rep
  if last.thirds then print("  face-size thirds (median face area / image area): " .. last.thirds) end
  print(("  int8: %d of %d layers; AP@0.5 %.3f (fp32 %.3f), %d/%d faces, %d false positives"):format(
    q.int8, q.quantizable, e.models[2].ap, e.models[1].ap, e.models[2].tp, e.faces, e.models[2].fp))
end
ds:close()
return 0

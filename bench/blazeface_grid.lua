-- bench/blazeface_grid.lua: BlazeFace int8 accuracy over calibration policies, observers
-- and seeds (docs/experiments.md, "BlazeFace back-256: the grid" and "front-128").
--
--   build/calq run bench/blazeface_grid.lua [back256|front128] [key=value ...]
--
-- back256 (default): calibration candidates are the 4 dlib training photos (their face
-- counts from training.xml), the 55 single-face crops (johns/, one face each) and
-- MOSAICS mosaics of 1..8 faces (calq.mosaic, seed 1, 512x384, from the crops and the
-- training photos' faces, on training-photo or texture backgrounds); the test set is
-- dlib's testing.xml (5 photos, 25 faces), never calibrated on.
-- front128: a short-range model, so close faces. Candidates: the crops of 3 of the 5
-- people, the 14 single-face crops of the training photos (exact boxes, margin 0.4),
-- the 4 training photos and MOSAICS close-face mosaics (1..4 faces, 256x256, faces of
-- 40..96 px). Test set (built under OUT): the 22 crops of the 2 other people (box: the
-- crop inset by 5 % a side, calq.mosaic's convention) and the 13 single-face crops of
-- the test photos (testing.xml's exact boxes), and 24 close-face mosaics of those same
-- held-out faces (1..4 a picture, 256x256, on textures, seed 2), as one COCO file.
--
-- For each policy (first-N; uniform; label-balanced, thresholds 1, 2, 3 with the
-- uniform draw of the same seed underneath) and seed (first-N has no seed: one set),
-- the SIZE-image set is calibrated once (calq.calib, histograms and moving averages;
-- the statistics are saved under OUT) and quantized from those statistics with every
-- observer of the setting, then evaluated on the test set (calq.evaluate, calq's
-- integer run; a few cells in ONNX Runtime too). Settings:
--   a  only the output layers fp32 (calq's default exceptions last:*, no automatic ones)
--   b  calq's defaults: last:* and the automatic exceptions (nodes under 18 dB SQNR
--      quantized alone, measured on the calibration set itself)
--   c  every layer int8, min-max (ONNX Runtime's default recipe)
--   d  (back256, on request: settings=d) a fixed exception set for every calibration
--      set: last:* and the 11 nodes calq quantize's defaults keep fp32 on the 55 crops
--      and 4 training photos (docs/experiments.md, must show), so that the policies
--      are compared at the same fp32 layers
--   e  (on request: settings=e) the exceptions calq's defaults choose on the set (mse
--      ranges, nodes under 18 dB kept fp32), then the ranges from another observer
-- and then a few cells on fixed pools (FIXED below): the crops alone and the training
-- photos alone (the issue's two ONNX Runtime figures), and both together (the
-- must-show's calibration set).
-- Options (key=value): seeds=5 size=32 mosaics=100 (front128: 60) settings=a,b,c
--   obs_a=ALL (front128: minmax,movavg,percentile:99.99,entropy:keep,entropy:as_next,mse)
--   obs_b=minmax,entropy:as_next,mse (front128: entropy:as_next,mse) obs_d=minmax,entropy:as_next,mse;
--   obs_e=entropy:as_next,entropy-asym:as_next; observer specs:
--   minmax movavg percentile:P entropy:keep|as_next entropy-asym:keep|as_next mse
--   ort=minmax,mse,entropy:as_next (observers checked in ONNX Runtime on seed 0; none)
--   auto=18: setting b's SQNR threshold(s) in dB; with several (auto=9,12,15,18) the
--   sensitivity is measured once a cell and each threshold applied to it
--   out=bench/out/blazeface_grid threads=1
-- Writes OUT/MODEL/runs.csv and runs.json (every run) and prints the summary tables.
local calq = require "calq"
local json = require "calq.json"
local fs = require "calq.fs"
local lfs = require "lfs"

local cache = os.getenv("CALQ_CACHE") or ".cache"
local dlib = cache .. "/dlib/examples"
local ALL_OBS = { "minmax", "movavg", "percentile:99.9", "percentile:99.99", "percentile:99.999",
  "entropy:keep", "entropy:as_next", "entropy-asym:keep", "entropy-asym:as_next", "mse" }

-- ---- options ----------------------------------------------------------------------
local which = "back256"
local opt = { seeds = "5", size = "32", settings = "a,b,c", ort = "minmax,mse,entropy:as_next", auto = "18",
  obs_d = "minmax,entropy:as_next,mse", obs_e = "entropy:as_next,entropy-asym:as_next",
  out = "bench/out/blazeface_grid", threads = "1" }
for _, a in ipairs(arg) do if a == "front128" then which = a end end
local DEFAULT_OBS = {
  back256 = { a = table.concat(ALL_OBS, ","), b = "minmax,entropy:as_next,mse" },
  -- front-128 is evaluated on 99 images: fewer observers
  front128 = { a = "minmax,movavg,percentile:99.99,entropy:keep,entropy:as_next,mse", b = "entropy:as_next,mse" },
}
opt.obs_a, opt.obs_b = DEFAULT_OBS[which].a, DEFAULT_OBS[which].b
for _, a in ipairs(arg) do
  local k, v = a:match("^([%w_]+)=(.*)$")
  if k then
    if not opt[k] and k ~= "mosaics" then error("unknown option '" .. k .. "'", 0) end
    opt[k] = v
  elseif a == "back256" or a == "front128" then which = a
  else error("unknown argument '" .. a .. "' (back256, front128 or key=value)", 0) end
end
local function list(s)
  local t = {}
  if s == "none" or s == "" then return t end
  for x in s:gmatch("[^,]+") do t[#t + 1] = x end
  return t
end
local SEEDS, SIZE, THREADS = tonumber(opt.seeds), tonumber(opt.size), tonumber(opt.threads)
local MOSAICS = tonumber(opt.mosaics or (which == "back256" and 100 or 60))
local SETTINGS = {}
for _, s in ipairs(list(opt.settings)) do SETTINGS[s] = true end
local OBS = { a = list(opt.obs_a), b = list(opt.obs_b), c = { "minmax" }, d = list(opt.obs_d), e = list(opt.obs_e) }
-- setting d's exceptions (with last:*): what calq quantize's defaults choose on the 55
-- crops then the 4 training photos, the 8x8 stage before the heads
local FIXED_FP32 = {}
for _, n in ipairs { "depthwise_conv2d_25/depthwise", "depthwise_conv2d_26/depthwise", "conv2d_27/BiasAdd",
  "depthwise_conv2d_27/depthwise", "conv2d_28/BiasAdd", "depthwise_conv2d_28/depthwise", "conv2d_29/BiasAdd",
  "add_28/add", "depthwise_conv2d_29/depthwise", "conv2d_30/BiasAdd", "conv2d_32/BiasAdd" } do
  FIXED_FP32[#FIXED_FP32 + 1] = "StatefulPartitionedCall/functional_1/" .. n
end
local AUTO = {}
for _, v in ipairs(list(opt.auto)) do AUTO[#AUTO + 1] = assert(tonumber(v), "auto: numbers (dB)") end
local ORT = {}
for _, o in ipairs(list(opt.ort)) do ORT[o] = true end
local out = opt.out .. "/" .. which
assert(fs.mkdirs(out .. "/stats"))

local function say(fmt, ...) io.write(fmt:format(...), "\n") io.stdout:flush() end
local function check(v, msg, ...)
  if v == nil then error(tostring(msg), 0) end
  return v, msg, ...
end
local cwd = lfs.currentdir()
local function abs(p) return p:sub(1, 1) == "/" and p or cwd .. "/" .. p end

-- ---- data ---------------------------------------------------------------------------
local PEOPLE = { "John_Salley", "John_Savage", "John_Schneider", "John_Shimkus", "John_Simm" }

local function person_crops(people)
  local paths = {}
  for _, p in ipairs(people) do
    local files = {}
    for f in lfs.dir(dlib .. "/johns/" .. p) do if f:match("%.jpg$") then files[#files + 1] = f end end
    table.sort(files)
    for _, f in ipairs(files) do paths[#paths + 1] = dlib .. "/johns/" .. p .. "/" .. f end
  end
  return paths
end

-- A COCO file of images {path, width, height, boxes}, the paths absolute.
local function write_coco(path, images)
  local imgs, anns = {}, {}
  for i, im in ipairs(images) do
    imgs[i] = { id = i, file_name = abs(im.path), width = im.width, height = im.height }
    for _, b in ipairs(im.boxes) do
      anns[#anns + 1] = { id = #anns + 1, image_id = i, category_id = 1, bbox = { b[1], b[2], b[3], b[4] },
        area = b[3] * b[4], iscrowd = 0 }
    end
  end
  check(fs.write_atomic(path, json.encode { images = imgs, annotations = anns,
    categories = { { id = 1, name = "face" } } } .. "\n"))
  return path
end

-- Single-face crops of a dlib XML's photos, saved as images {path, width, height, boxes}.
local function photo_crops(xml, dir)
  local crops = check(calq.mosaic.crops_from_photos(xml, 0.4))
  check(fs.mkdirs(dir))
  local images = {}
  for i, c in ipairs(crops) do
    local p = ("%s/%02d.png"):format(dir, i)
    check(c.image:save(p))
    images[i] = { path = p, width = c.image.width, height = c.image.height, boxes = { c.box } }
  end
  return images, crops
end

local function crop_images(paths)
  local images = {}
  for i, p in ipairs(paths) do
    local im = check(calq.image.load(p))
    local d = 0.05 * im.width
    images[i] = { path = p, width = im.width, height = im.height,
      boxes = { { d, 0.05 * im.height, im.width - 2 * d, im.height - 0.1 * im.height } } }
    im:close()
  end
  return images
end

-- The candidates (a calq.Dataset, with each record's source) and the test set.
local function build_sets()
  local ds = calq.data.new()
  local source = {}
  local function add(images, src)
    for _, im in ipairs(images) do
      local r = ds:add { path = im.path, id = #ds + 1, width = im.width, height = im.height,
        count = #im.boxes, boxes = im.boxes }
      source[r] = src
    end
  end
  local train = check(calq.data.open(dlib .. "/faces/training.xml", "dlib"))
  local photos_list = {}
  for _, r in train:records() do photos_list[#photos_list + 1] = { path = r.path, width = r.width,
    height = r.height, boxes = r.boxes } end
  local _, photos = check(calq.mosaic.crops_from_photos(dlib .. "/faces/training.xml"))
  local m = {}
  if which == "back256" then
    local crops = crop_images(person_crops(PEOPLE))
    add(photos_list, "photo")
    add(crops, "crop")
    local mcrops = check(calq.mosaic.crops_from_dir(dlib .. "/johns"))
    local more = check(calq.mosaic.crops_from_photos(dlib .. "/faces/training.xml"))
    for _, c in ipairs(more) do mcrops[#mcrops + 1] = c end
    m = { crops = mcrops, photos = photos, count = MOSAICS, min_faces = 1, max_faces = 8,
          dist = "uniform", width = 512, height = 384, seed = 1 }
  else
    local crops = crop_images(person_crops { PEOPLE[1], PEOPLE[2], PEOPLE[3] })
    local tcrops, traw = photo_crops(dlib .. "/faces/training.xml", out .. "/train_crops")
    add(crops, "crop")
    add(tcrops, "photo crop")
    add(photos_list, "photo")
    local mcrops = {}
    for _, p in ipairs(person_crops { PEOPLE[1], PEOPLE[2], PEOPLE[3] }) do
      local im = check(calq.image.load(p))
      mcrops[#mcrops + 1] = { image = im, box = { 7.5, 7.5, 135, 135 }, source = p }
    end
    for _, c in ipairs(traw) do mcrops[#mcrops + 1] = c end
    m = { crops = mcrops, photos = photos, count = MOSAICS, min_faces = 1, max_faces = 4,
          dist = "uniform", width = 256, height = 256, min_face = 40, max_face = 96, seed = 1 }
  end
  m.output = out .. "/mosaic"
  check(calq.mosaic.build(m))
  local mds = check(calq.data.open(out .. "/mosaic/annotations.json", "coco"))
  for _, r in mds:records() do
    local boxes = {}
    for _, b in ipairs(r.boxes) do boxes[#boxes + 1] = { b[1], b[2], b[3], b[4] } end
    add({ { path = r.path, width = r.width, height = r.height, boxes = boxes } }, "mosaic")
  end
  local test
  if which == "back256" then
    test = dlib .. "/faces/testing.xml"
  else
    local images = crop_images(person_crops { PEOPLE[4], PEOPLE[5] })
    local n_crops = #images
    local tcrops, traw = photo_crops(dlib .. "/faces/testing.xml", out .. "/test_crops")
    for _, im in ipairs(tcrops) do images[#images + 1] = im end
    local n_photo = #images - n_crops
    -- and close-face mosaics of the same held-out faces, on textures
    local mcrops = {}
    for _, p in ipairs(person_crops { PEOPLE[4], PEOPLE[5] }) do
      mcrops[#mcrops + 1] = { image = check(calq.image.load(p)), box = { 7.5, 7.5, 135, 135 }, source = p }
    end
    for _, c in ipairs(traw) do mcrops[#mcrops + 1] = c end
    check(calq.mosaic.build { crops = mcrops, count = 24, min_faces = 1, max_faces = 4, dist = "uniform",
      width = 256, height = 256, min_face = 40, max_face = 96, background = "texture", seed = 2,
      output = out .. "/test_mosaic" })
    local tm = check(calq.data.open(out .. "/test_mosaic/annotations.json", "coco"))
    local n_mosaic_faces = 0
    for _, r in tm:records() do
      local boxes = {}
      for _, b in ipairs(r.boxes) do boxes[#boxes + 1] = { b[1], b[2], b[3], b[4] } end
      images[#images + 1] = { path = r.path, width = r.width, height = r.height, boxes = boxes }
      n_mosaic_faces = n_mosaic_faces + #boxes
    end
    test = write_coco(out .. "/test_close.json", images)
    say("test set %s: %d crops of %s and %s, %d single-face crops of the test photos, %d mosaics of them "
      .. "(%d faces)", test, n_crops, PEOPLE[4], PEOPLE[5], n_photo, #tm, n_mosaic_faces)
  end
  return ds, source, test
end

-- ---- the grid -----------------------------------------------------------------------
local MODEL = cache .. "/blazeface/package/ONNX/" .. (which == "back256"
  and "face_detection_back_256x256_barracuda.onnx" or "face_detection_front_128x128_barracuda.onnx")
local PRESET = which == "back256" and "blazeface256" or "blazeface128"

local t_start = os.time()
local ds, source, test = build_sets()
local hist = ds:histogram()
local parts = {}
for k = 0, 16 do if (hist[k] or 0) > 0 then parts[#parts + 1] = ("%d:%d"):format(k, hist[k]) end end
say("%s: %d candidates (faces:images %s); calibration sets of %d; %d seeds", which, #ds,
  table.concat(parts, " "), SIZE, SEEDS)

local policies = { { name = "first-N", make = function() return calq.sampler.first { size = SIZE } end, seeds = 1 } }
policies[#policies + 1] = { name = "uniform", make = function(s) return calq.sampler.uniform { size = SIZE, seed = s } end }
for t = 1, 3 do
  policies[#policies + 1] = { name = "balanced-" .. t, threshold = t,
    make = function(s) return calq.sampler.balanced { size = SIZE, threshold = t, seed = s } end }
end

local function parse_obs(spec)
  local name, arg1 = spec:match("^([%w%-]+):?(.*)$")
  local o = { observer = name }
  if name == "percentile" then o.percentile = tonumber(arg1) or 99.99
  elseif name:match("^entropy") then o.zero_bin = arg1 ~= "" and arg1 or "keep" end
  return o
end

local runs = {}
local fp32 -- {ap, tp, fp, faces}
local qfile = out .. "/q.onnx"
local model = check(calq.onnx.load(MODEL))

local function calibrate(x, kind)
  local c = check(calq.calib.new(model, { observer = kind, threads = THREADS }))
  local n = x:shape()[1]
  for i = 1, n, 8 do check(c:feed(x:slice(1, i, math.min(n, i + 7)))) end
  local s = c:stats()
  c:close()
  return s
end

local function bound_ok(ap, fp)
  return ap >= fp32.ap - 0.01 and fp <= math.max(1.5 * fp32.fp, fp32.fp + 2)
end

local function evaluate(engine)
  local r = check(calq.evaluate { task = "blazeface", model = MODEL, compare = qfile, data = test,
    engine = engine, threads = THREADS })
  if not fp32 then
    local m = r.models[1]
    fp32 = { ap = m.ap, tp = m.tp, fp = m.fp, faces = r.faces }
    say("fp32 (%s): AP@0.5 %.3f, found %d/%d, %d false positives", engine, m.ap, m.tp, r.faces, m.fp)
  end
  return r
end

-- The label of an observer spec under setting b at an automatic threshold.
local function label(spec, thr)
  return thr == 18 and spec or ("%s <%gdB"):format(spec, thr)
end

-- Quantize with spec under setting (at the automatic threshold thr for b) and
-- evaluate; records one run an engine.
local function cell(set, setting, spec, stats, x, ort_too, thr, sens)
  local o = parse_obs(spec)
  o.model, o.output, o.threads = MODEL, qfile, THREADS
  o.stats = o.observer == "movavg" and stats.movavg or stats.hist
  if setting == "a" then o.auto = false
  elseif setting == "b" and not sens then o.calib = x
  elseif setting == "d" then
    o.auto, o.keep_fp32 = false, FIXED_FP32
  elseif setting == "e" then
    o.auto, o.keep_fp32 = false, sens
  elseif setting == "b" then
    -- a threshold sweep: the sensitivity measured once (sens), the nodes under thr
    -- kept fp32 as calq.quantize's auto does
    o.auto, o.precision = false, {}
    for _, sn in ipairs(sens.list) do
      if sens.nodes[sn.index].int8 and sn.sqnr and sn.sqnr < thr then o.precision[#o.precision + 1] = { sn.index, "fp32" } end
    end
  else o.defaults, o.auto = false, false end
  local t0 = os.clock()
  local q = check(calq.quantize(o))
  local autos = {}
  for _, e in ipairs(q.exceptions) do if e.source == "auto" then autos[#autos + 1] = e.name end end
  for _, pr in ipairs(o.precision or {}) do autos[#autos + 1] = q.nodes[pr[1]].name end
  if setting == "d" or setting == "e" then table.move(o.keep_fp32, 1, #o.keep_fp32, #autos + 1, autos) end
  q.quantizer:close()
  q.model:close()
  if setting == "b" then spec = label(spec, thr or 18) end
  for _, engine in ipairs(ort_too and { "calq", "ort" } or { "calq" }) do
    local r = evaluate(engine)
    local m = r.models[2]
    local run = { model = which, setting = setting, policy = set.policy, threshold = set.threshold or 0,
      seed = set.seed, observer = spec, calib_images = set.n, calib_faces = set.faces,
      calib_single = set.single, int8 = q.int8, quantizable = q.quantizable,
      fp32_nodes = q.quantizable - q.int8, auto_fp32 = #autos, auto_names = table.concat(autos, " "),
      engine = engine, ap = m.ap, tp = m.tp, fp = m.fp, fn = m.fn, faces = r.faces,
      match = r.match and r.match.rate or 0, fp32_ap = fp32.ap, fp32_fp = fp32.fp,
      bound = bound_ok(m.ap, m.fp), seconds = os.clock() - t0 }
    runs[#runs + 1] = run
    say("%-2s %-11s seed %-2s %-21s %-4s int8 %3d/%d  AP %.3f  found %2d/%d  FP %4d  match %5.1f%%%s",
      setting, set.policy, tostring(set.seed), spec, engine, q.int8, q.quantizable, m.ap, m.tp, r.faces, m.fp,
      100 * run.match, run.bound and "  (bound)" or "")
  end
end

local function calib_set(policy, seed, idx)
  local paths, faces, single = {}, 0, 0
  for _, i in ipairs(idx:totable()) do
    local r = ds:record(i)
    paths[#paths + 1] = r.path
    faces = faces + r.count
    single = single + (r.count == 1 and 1 or 0)
  end
  return { policy = policy.name, threshold = policy.threshold, seed = seed, n = #paths, faces = faces,
    single = single, paths = paths }
end

local function run_set(set, settings, obs)
  obs = obs or OBS
  local x = check(calq.image.preprocess(set.paths, PRESET))
  local stats = { hist = calibrate(x, "hist"), movavg = calibrate(x, "moving_avg") }
  local tag = ("%s_s%s"):format(set.policy, tostring(set.seed))
  check(stats.hist:save(("%s/stats/%s.hist.stats"):format(out, tag)))
  check(stats.movavg:save(("%s/stats/%s.movavg.stats"):format(out, tag)))
  local mse_fp32 -- setting e: the exceptions of calq's defaults on this set
  if settings.e then
    local q = check(calq.quantize { model = MODEL, stats = stats.hist, calib = x, threads = THREADS })
    mse_fp32 = {}
    for _, e in ipairs(q.exceptions) do if e.source == "auto" then mse_fp32[#mse_fp32 + 1] = e.name end end
    q.quantizer:close()
    q.model:close()
  end
  for _, setting in ipairs { "a", "b", "c", "d", "e" } do
    if settings[setting] then
      for _, spec in ipairs(obs[setting] or {}) do
        local ort_too = ORT[spec] and (set.seed == 0 or set.seed == "-")
        if setting == "b" and (#AUTO > 1 or AUTO[1] ~= 18) then
          local o = parse_obs(spec)
          o.model, o.calib, o.threads, o.auto, o.sensitivity = MODEL, x, THREADS, false, true
          o.stats = o.observer == "movavg" and stats.movavg or stats.hist
          local q = check(calq.quantize(o))
          local sens = { list = q.sensitivity, nodes = q.nodes }
          for _, thr in ipairs(AUTO) do cell(set, setting, spec, stats, x, ort_too, thr, sens) end
          q.quantizer:close()
          q.model:close()
        else
          cell(set, setting, spec, stats, x, ort_too, nil, setting == "e" and mse_fp32 or nil)
        end
      end
    end
  end
  stats.hist:close()
  stats.movavg:close()
  x:close()
end

for _, p in ipairs(policies) do
  for seed = 0, (p.seeds or SEEDS) - 1 do
    local idx = check(p.make(seed)(ds))
    local set = calib_set(p, p.seeds == 1 and "-" or seed, idx)
    say("-- %s seed %s: %d images, %d faces, %d single-face", p.name, tostring(set.seed), set.n, set.faces, set.single)
    run_set(set, SETTINGS)
  end
end
-- the fixed pools: the crops alone, the training photos alone, both
local FIXED = { { "crops", { crop = true } }, { "photos", { photo = true } },
                { "crops+photos", { crop = true, photo = true } } }
local FIXED_OBS = { a = { "minmax", "entropy:as_next", "mse" }, b = { "entropy:as_next", "mse" }, c = { "minmax" },
  d = { "mse" }, e = { "entropy:as_next" } }
for _, f in ipairs(FIXED) do
  local idx = {}
  for i = 1, #ds do if f[2][source[i]] then idx[#idx + 1] = i end end
  local set = calib_set({ name = f[1] }, "-", calq.data.index(idx))
  say("-- %s: %d images, %d faces", f[1], set.n, set.faces)
  run_set(set, SETTINGS, FIXED_OBS)
end
local seconds = os.time() - t_start

-- ---- output -------------------------------------------------------------------------
local FIELDS = { "model", "setting", "policy", "threshold", "seed", "observer", "engine", "calib_images",
  "calib_faces", "calib_single", "int8", "quantizable", "fp32_nodes", "auto_fp32", "ap", "tp", "fp", "fn",
  "faces", "match", "fp32_ap", "fp32_fp", "bound", "seconds", "auto_names" }
local lines = { table.concat(FIELDS, ",") }
for _, r in ipairs(runs) do
  local v = {}
  for i, f in ipairs(FIELDS) do v[i] = tostring(r[f]) end
  lines[#lines + 1] = table.concat(v, ",")
end
check(fs.write_atomic(out .. "/runs.csv", table.concat(lines, "\n") .. "\n"))
check(fs.write_atomic(out .. "/runs.json", json.encode { model = which, size = SIZE, seeds = SEEDS,
  mosaics = MOSAICS, seconds = seconds, fp32 = fp32, runs = runs } .. "\n"))

local function stat(v)
  local n, sum, lo, hi = #v, 0, math.huge, -math.huge
  for _, x in ipairs(v) do sum, lo, hi = sum + x, math.min(lo, x), math.max(hi, x) end
  local mean, ss = sum / n, 0
  for _, x in ipairs(v) do ss = ss + (x - mean) ^ 2 end
  return mean, n > 1 and math.sqrt(ss / (n - 1)) or 0, lo, hi
end
local function pick(setting, policy, spec)
  local t = {}
  for _, r in ipairs(runs) do
    if r.engine == "calq" and r.setting == setting and r.policy == policy and r.observer == spec then t[#t + 1] = r end
  end
  return t
end
local function col(t, f)
  local v = {}
  for i, r in ipairs(t) do v[i] = type(r[f]) == "boolean" and (r[f] and 1 or 0) or r[f] end
  return v
end
local function fmt_ap(t)
  if #t == 0 then return "" end
  local m, sd, lo, hi = stat(col(t, "ap"))
  if #t == 1 then return ("%.3f"):format(m) end
  return ("%.3f ± %.3f (%.3f..%.3f)"):format(m, sd, lo, hi)
end
local function fmt_fp(t)
  if #t == 0 then return "" end
  local m, sd, lo, hi = stat(col(t, "fp"))
  if #t == 1 then return ("%d"):format(m) end
  return ("%.1f ± %.1f (%d..%d)"):format(m, sd, lo, hi)
end

local POL = { "first-N", "uniform", "balanced-1", "balanced-2", "balanced-3" }
say("\n%s: fp32 AP@0.5 %.3f, %d/%d found, %d false positives; bound: AP >= %.3f and FP <= %g",
  which, fp32.ap, fp32.tp, fp32.faces, fp32.fp, fp32.ap - 0.01, math.max(1.5 * fp32.fp, fp32.fp + 2))
local NAMES = { a = "(a) only the output layers fp32 (last:*)", b = "(b) calq's defaults (last:* + automatic)",
  c = "(c) every layer int8, min-max", d = "(d) last:* and the must-show's 11 exceptions, fixed",
  e = "(e) calq's default exceptions on the set (mse, < 18 dB), another observer's ranges" }
local ROWS = { a = OBS.a, b = {}, c = OBS.c, d = OBS.d, e = OBS.e }
for _, spec in ipairs(OBS.b) do for _, thr in ipairs(AUTO) do ROWS.b[#ROWS.b + 1] = label(spec, thr) end end
for _, setting in ipairs { "a", "b", "c", "d", "e" } do
  if SETTINGS[setting] then
    for _, what in ipairs { { "AP@0.5", fmt_ap }, { "false positives", fmt_fp } } do
      say("\n%s %s: mean ± sd (min..max) over seeds (first-N: one set)\n", NAMES[setting], what[1])
      say("| observer | %s |", table.concat(POL, " | "))
      say("|---|---|---|---|---|---|")
      for _, spec in ipairs(ROWS[setting]) do
        local row = {}
        for i, p in ipairs(POL) do row[i] = what[2](pick(setting, p, spec)) end
        say("| %s | %s |", spec, table.concat(row, " | "))
      end
    end
    say("\n%s: cells within the bound (runs) and fp32 layers (min..max)\n", NAMES[setting])
    say("| observer | %s |", table.concat(POL, " | "))
    say("|---|---|---|---|---|---|")
    for _, spec in ipairs(ROWS[setting]) do
      local row = {}
      for i, p in ipairs(POL) do
        local t = pick(setting, p, spec)
        local _, _, lo, hi = stat(col(t, "fp32_nodes"))
        local ok = 0
        for _, r in ipairs(t) do ok = ok + (r.bound and 1 or 0) end
        row[i] = #t > 0 and ("%d/%d, %s"):format(ok, #t, lo == hi and tostring(lo) or lo .. ".." .. hi) or ""
      end
      say("| %s | %s |", spec, table.concat(row, " | "))
    end
    -- balanced minus uniform, seed by seed (the same uniform draw underneath)
    say("\n%s: balanced minus uniform, paired by seed: AP points and false positives, mean ± sd (min..max)\n",
      NAMES[setting])
    say("| observer | balanced-1 | balanced-2 | balanced-3 |")
    say("|---|---|---|---|")
    for _, spec in ipairs(ROWS[setting]) do
      local u = {}
      for _, r in ipairs(pick(setting, "uniform", spec)) do u[r.seed] = r end
      local row = {}
      for t = 1, 3 do
        local dap, dfp = {}, {}
        for _, r in ipairs(pick(setting, "balanced-" .. t, spec)) do
          if u[r.seed] then
            dap[#dap + 1] = 100 * (r.ap - u[r.seed].ap)
            dfp[#dfp + 1] = r.fp - u[r.seed].fp
          end
        end
        if #dap > 0 then
          local m, sd, lo, hi = stat(dap)
          local fm, fsd, flo, fhi = stat(dfp)
          row[t] = ("%+.1f ± %.1f (%+.1f..%+.1f); FP %+.1f ± %.1f (%+d..%+d)"):format(m, sd, lo, hi, fm, fsd, flo, fhi)
        else
          row[t] = ""
        end
      end
      say("| %s | %s |", spec, table.concat(row, " | "))
    end
  end
end
say("\nThe fixed pools (every image of the pool):\n")
say("| pool | setting | observer | engine | fp32 layers | AP@0.5 | found | false positives |")
say("|---|---|---|---|---|---|---|---|")
for _, r in ipairs(runs) do
  for _, f in ipairs(FIXED) do
    if r.policy == f[1] then
      say("| %s (%d) | %s | %s | %s | %d | %.3f | %d/%d | %d |", r.policy, r.calib_images, r.setting, r.observer,
        r.engine, r.fp32_nodes, r.ap, r.tp, r.faces, r.fp)
    end
  end
end
-- calq's integer run against ONNX Runtime on the cells run in both
local same, both = 0, 0
local key = function(r) return table.concat({ r.setting, r.policy, tostring(r.seed), r.observer }, "/") end
local calq_runs = {}
for _, r in ipairs(runs) do if r.engine == "calq" then calq_runs[key(r)] = r end end
for _, r in ipairs(runs) do
  if r.engine == "ort" then
    local c = calq_runs[key(r)]
    both = both + 1
    if c and c.ap == r.ap and c.tp == r.tp and c.fp == r.fp then same = same + 1
    else say("calq and ONNX Runtime differ: %s: AP %.4f / %.4f, FP %d / %d", key(r), c and c.ap or -1, r.ap,
      c and c.fp or -1, r.fp) end
  end
end
say("\ncalq's integer run and ONNX Runtime: the same AP, found and false positives in %d of %d cells run in both",
  same, both)
say("%d runs in %d s (%.1f min); every run in %s/runs.csv and runs.json", #runs, seconds, seconds / 60, out)
return 0

-- recipes/blazeface_balanced.lua: calq's main job on BlazeFace back-256 (make demo runs it).
--   calq run recipes/blazeface_balanced.lua [OUTDIR] [--calib N] [--mosaics N]
--        [--profile probe|NAME|FILE] [--max-trials N] [--eval-limit N] [--ort]
--
-- 1. A face data set with a real spread of faces per image (dlib's photos, its
--    single-face crops, mosaics of the crops) and a label-balanced calibration set
--    from it: images with more than 2 faces swapped for one-face images.
-- 2. One calibration pass; each observer turns the same statistics into scales,
--    and the one whose model is closest to fp32 (output noise on the calibration
--    items, not the test photos) is used from then on.
-- 3. The hardware profile: this host probed once (`calq probe --quick`, kept in
--    $CALQ_CACHE/probe/), or a shipped class profile (--profile NAME).
-- 4. The knobs: per-node int8 / bf16 / fp32 from the cost model on that profile,
--    the accuracy-driven loop of calq.knobs (AP within 1 % relative of fp32).
-- 5. The table: AP, faces found, false positives, measured and predicted latency
--    of fp32, calq's default int8 and the knobs' choice; the QDQ file (it runs in
--    ONNX Runtime: --ort checks it there) and a run folder with its report page.
local calq = require "calq"
local args = require "calq.args"
local fs = require "calq.fs"
local json = require "calq.json"
local knobs = require "calq.knobs"
local sampler = calq.sampler

local PROG = "blazeface_balanced"
local o, rest = args.parse(arg or {}, {
  calib = { type = "integer", default = 32 },       -- calibration images
  mosaics = { type = "integer", default = 60 },     -- mosaics added to the photos and crops
  profile = { type = "string", default = "probe" }, -- probe | a shipped name | a file
  max_trials = { type = "integer", default = 4 },
  eval_limit = { type = "integer" },                -- the first N test photos only
  ort = { type = "boolean" },                       -- evaluate the QDQ file in ONNX Runtime too
}, PROG)
local out = rest[1] or "build/blazeface_balanced"
local cache = os.getenv("CALQ_CACHE") or ".cache"
local dlib = cache .. "/dlib/examples"
local model_path = cache .. "/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx"
local test_xml = dlib .. "/faces/testing.xml"
local function check(v, msg, ...)
  if v == nil then error(PROG .. ": " .. tostring(msg), 0) end
  return v, msg, ...
end
local function say(fmt, ...) io.write(fmt:format(...), "\n") io.flush() end
check(fs.mkdirs(out))
local t0 = calq.io.clock()

-- 1. data set and the label-balanced calibration list --------------------------------
local ds = check(calq.data.open(dlib .. "/faces/training.xml", "dlib"))    -- 4 photos, 2-7 faces
local crops = check(calq.mosaic.crops_from_dir(dlib .. "/johns"))           -- 55 crops, 1 face each
for _, c in ipairs(crops) do
  ds:add { path = c.source, id = #ds + 1, width = c.image.width, height = c.image.height,
           count = 1, boxes = { c.box } }
end
if o.mosaics > 0 then
  local more, photos = check(calq.mosaic.crops_from_photos(dlib .. "/faces/training.xml"))
  for _, c in ipairs(more) do crops[#crops + 1] = c end
  check(calq.mosaic.build { crops = crops, photos = photos, count = o.mosaics, max_faces = 8,
    dist = "uniform", width = 512, height = 384, seed = 1, output = out .. "/mosaic" })
  ds:append(check(calq.data.open(out .. "/mosaic/annotations.json", "coco")))
end
local idx, rep = check(sampler.balanced { size = o.calib, threshold = 2, seed = 0 }(ds))
local list = out .. "/calib_balanced.txt"
local paths = {}
for i, r in ipairs(idx:totable()) do paths[i] = ds:record(r).path end
check(fs.write_atomic(list, table.concat(paths, "\n") .. "\n"))
-- the counts beside the list, as `calq sample` writes them (the report's histograms)
local function hist(ix)
  local h, t = ds:histogram(ix), {}
  for c = 0, 16 do t[c + 1] = h[c] or 0 end
  return t
end
local bins = {}
for c = 0, 16 do bins[c + 1] = c == 16 and "16+" or tostring(c) end
check(fs.write_atomic(calq.rundir.sample_report_path(list), json.encode {
  annotations = "dlib training photos, johns crops, mosaics", policy = "balanced", seed = 0,
  size = o.calib, threshold = 2, candidates = #ds, chosen = #idx, bins = bins,
  before = hist(), after = hist(idx) } .. "\n"))
say("== 1. %d images (%d with more than 2 faces); label-balanced set of %d (threshold 2): %s",
  #ds, #ds:filter(function(r) return r.count > 2 end), #idx, list)
say("%s", sampler.format_report(rep, "   "))

-- 2. one calibration pass, then the observer closest to fp32 ---------------------------
local base = check(calq.quantize { model = model_path, calib = list, preprocess = "blazeface",
                                   observer = "mse", auto = false })
local stats = base.stats
base.model:close() base.quantizer:close()
local fp32 = check(calq.onnx.load(model_path))
local items = {}
for k = 1, math.min(4, #paths) do items[k] = check(calq.image.preprocess({ paths[k] }, "blazeface")) end
local ref = {}
for k, x in ipairs(items) do ref[k] = check(fp32:run(x)) end
local best_obs, best_db = nil, -math.huge
local obs_line = {}
for _, obs in ipairs { "minmax", "percentile", "entropy", "mse" } do
  local r = check(calq.quantize { model = model_path, stats = stats, observer = obs, auto = false })
  local m = check(r.quantizer:model())
  r.model:close() r.quantizer:close()
  check(calq.quant.lower(m))
  local db = -10 * math.log(check(knobs.output_noise_of(m, items, ref)), 10)
  m:close()
  obs_line[#obs_line + 1] = ("%s %.1f dB"):format(obs, db)
  if db > best_db then best_obs, best_db = obs, db end
end
say("== 2. observers (output SQNR, heads fp32, %d calibration items): %s -> %s",
  #items, table.concat(obs_line, ", "), best_obs)

-- 3. the hardware profile ----------------------------------------------------------------
local prof_name = o.profile
if o.profile == "probe" then
  prof_name = cache .. "/probe/host.lua"
  if not io.open(prof_name) then           -- probe once, keep it (about 10 s)
    check(fs.mkdirs(cache .. "/probe"))
    check(require("calq.cmd.probe").run { "--quick", "--output", prof_name } == 0 or nil, "calq probe failed")
  end
end
local prof = check(calq.profile.load(prof_name))
say("== 3. hardware profile: %s (%s)", prof.name, prof_name)

-- 4. the knobs: the cost model on the profile, the accuracy-driven loop --------------
local qdq_path = out .. "/back256.knobs.onnx"
local metric = knobs.metric_evaluate { task = "blazeface", data = test_xml, limit = o.eval_limit }
local st = check(knobs.run(knobs.schedule { max_trials = o.max_trials, sens_items = o.calib }, {
  model = model_path, calib = list, preprocess = "blazeface", stats = stats, observer = best_obs,
  costs = knobs.estimated(prof), convert = knobs.profile_convert(prof), metric = metric,
  tolerance = 0.01, fixed = { { "last:*", "fp32" } }, output = qdq_path,
  progress = function(t)
    say("   trial %d: AP %.3f, predicted %.3f ms, int8 %d bf16 %d fp32 %d%s", t.n, t.metric,
      t.predicted_ms, t.counts.int8, t.counts.bf16, t.counts.fp32, t.met and " (met)" or "")
  end }))
local b = st.best.trial
say("== 4. knobs on %s: %s (fp32 AP %.3f, best %.3f, trial %d of %d); QDQ export %s",
  prof.name, st.met and "goal met" or "goal NOT met", st.reference, b.metric, b.n, #st.trials, qdq_path)

-- 5. the table against fp32, the run folder and its report ----------------------------
local def_path = out .. "/back256.int8.onnx"           -- calq's defaults, the same statistics
local def = check(calq.quantize { model = model_path, stats = stats, calib = list, preprocess = "blazeface",
                                  observer = best_obs, sensitivity = o.calib, output = def_path })
local x = items[1]
local function as_run(path, bf16)                      -- as calq runs it: lowered, bf16 set
  local m = check(calq.onnx.load(path))
  if path ~= model_path then check(calq.quant.lower(m)) end
  check(m:set_threads(1))
  if bf16 and #bf16 > 0 then check(m:set_precision(bf16)) else check(m:plan()) end
  return m
end
-- CPU time (os.clock) of one run, median of 20 after 3: on a shared host the
-- wall clock counts other jobs' time too; one thread, so CPU time is its time
local function timed(m)
  local t = {}
  for k = -2, 20 do
    local c = os.clock()
    check(m:run(x))
    if k > 0 then t[k] = (os.clock() - c) * 1e3 end
  end
  table.sort(t)
  return (t[10] + t[11]) / 2, check(calq.cost.model(m, prof, { threads = 1 })).total_ms
end
local bf16 = {}
for name, p in pairs(b.precision) do if p == "bf16" then bf16[#bf16 + 1] = { name, "bf16" } end end
local runs = { as_run(model_path), as_run(def_path), as_run(qdq_path, bf16) }
local e_def = check(calq.evaluate { task = "blazeface", model = runs[1], compare = runs[2],
                                    data = test_xml, limit = o.eval_limit })
local e_knobs = check(calq.evaluate { task = "blazeface", model = runs[1], compare = runs[3],
                                      data = test_xml, limit = o.eval_limit })
local rows = {
  { "fp32", e_def.models[1], ("%d nodes fp32"):format(def.quantizable), timed(runs[1]) },
  { "int8, calq defaults", e_def.models[2], ("%d int8, %d fp32"):format(def.int8, def.quantizable - def.int8),
    timed(runs[2]) },
  { "knobs (" .. prof.name .. ")", e_knobs.models[2],
    ("%d int8, %d bf16, %d fp32"):format(b.counts.int8, b.counts.bf16, b.counts.fp32), timed(runs[3]) },
}
for _, m in ipairs(runs) do m:close() end
say("\n== 5. BlazeFace back-256 on %d test photos (%d faces), one thread, observer %s",
  e_def.images, e_def.faces, best_obs)
say("%-36s %6s %7s %4s %9s %9s  %s", "model", "AP@0.5", "found", "FP", "CPU ms", "pred ms", "layers")
for _, r in ipairs(rows) do
  say("%-36s %6.3f %3d/%-3d %4d %9.2f %9.2f  %s", r[1], r[2].ap, r[2].tp, e_def.faces, r[2].fp, r[4], r[5], r[3])
end
if o.ort then                                          -- the QDQ export in ONNX Runtime
  local e = check(calq.evaluate { task = "blazeface", engine = "ort", model = model_path, compare = qdq_path,
                                  data = test_xml, limit = o.eval_limit })
  say("ONNX Runtime on %s: AP %.3f, %d FP (fp32 %.3f)", qdq_path, e.models[2].ap, e.models[2].fp, e.models[1].ap)
end

-- the run folder: the knobs' choice quantized again from the same statistics, as
-- `calq quantize --knobs auto` writes it (docs/report.md), and the page
local dir = check(calq.rundir.create(out .. "/run", "quantize"))
local kr = check(calq.quantize { model = model_path, stats = stats, defaults = false, auto = false,
                                 precision = st.best.list, observer = best_obs })
kr.sensitivity = st.sensitivity
for _, e in ipairs(kr.exceptions) do
  local z = st.noise[e.index]
  e.source = "knobs"
  e.reason = z and z.out_int8 and ("knobs: %s (output noise alone: int8 %.1f dB)"):format(e.precision,
    -10 * math.log(z.out_int8, 10)) or "knobs"
end
check(calq.rundir.quantize(dir, kr, { model = model_path, calib = list, preprocess = "blazeface",
                                      threads = 1, profile = prof }))
kr.model:close() kr.quantizer:close()
check(calq.rundir.write(dir, "knobs", { met = st.met, reference = st.reference, best = b, trials = st.trials,
  additivity = st.additivity or json.null, proxy = st.proxy, budget = st.budget }))
check(calq.rundir.eval(dir, e_knobs))
check(calq.rundir.step(dir, "recipe blazeface_balanced", arg or {}))
check(calq.report.write(dir, dir .. "/report.html"))
say("run folder %s; report %s/report.html (%.0f s)", dir, dir, calq.io.clock() - t0)
knobs.close(st)
def.model:close() def.quantizer:close()
fp32:close()
ds:close()
return 0

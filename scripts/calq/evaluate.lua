--- calq.evaluate{...}: the accuracy of a model, or of two side by side (a
-- quantized one against its fp32 original), on a classifier's or a face
-- detector's test set, run by calq or by ONNX Runtime.
--   local r = assert(calq.evaluate{ task = "classify", model = "fp32.onnx", compare = "int8.onnx" })
--   print(r.models[1].top1, r.models[2].top1, r.delta.top1, r.agreement.rate)
--   local d = assert(calq.evaluate{ task = "blazeface", model = "back256.onnx", engine = "ort" })
--   print(d.models[1].ap, d.models[1].fp)
--
-- Options (every one but task and model has a default):
--   task      "classify" | "blazeface"
--   model     the first (reference) model: a path or a calq.Model
--   compare   a second model; deltas are compare - model, agreement and match
--             rate are compare's against model's
--   engine    "calq" (default) or "ort": ONNX Runtime (onnxruntime-node) through
--             tools/ort/run_items.js (found under ort_tools, $CALQ_ORT_TOOLS or
--             ./tools/ort), on the same inputs calq prepares
--   lower     calq's engine runs a QDQ model in calq's integer form: the model
--             files it opens are lowered first (calq.quant.lower: QLinearConv and
--             QLinearAdd on the integer reference kernels where the QDQ pattern is
--             there; the rest runs in float between its DequantizeLinear and
--             QuantizeLinear). lower = false runs them as written (float ops
--             between float Q/DQ). A calq.Model given is run as it is.
--   limit     the first N images only
--   threads   calq's threads (1 for the models it opens; a calq.Model given
--             keeps its own unless threads is set), or ONNX Runtime's (1)
--   progress  true: show the progress on stderr (calq.progress); default false
-- classify (Fashion-MNIST layout: idx files, input x / 255 as NCHW [N, 1, H, W]):
--   data      an idx(.gz) images file, or a folder holding t10k-images-idx3-ubyte.gz
--             (default /usr/share/datasets/fashion-mnist)
--   labels    the idx labels file (default: data's name with images-idx3 ->
--             labels-idx1)
--   batch     images a run (500; calq and ORT alike)
-- blazeface (BlazeFace back-256 or front-128; calq.blazeface decodes):
--   data      annotations (default $CALQ_CACHE/dlib/examples/faces/testing.xml,
--             CALQ_CACHE defaulting to .cache); format from its name (.xml dlib,
--             .json coco, a folder voc) or the format option
--   preprocess  a calq.image preset or spec (default blazeface<side>, the
--             side from the model's input)
--   score     the operating threshold for recall, false positives and the match
--             rate (0.5); iou the match threshold (0.5); nms_iou (0.3)
--   ap_score  detections down to this score enter AP@iou (0.05)
-- Returns a result table (calq eval --json prints it), or nil and a message when
-- a file, a model or ONNX Runtime fails. Misuse raises. The result:
--   classify:  {task, engine, data, labels, images, models = {{name, top1, correct,
--              ms, lowered}, ...}, delta = {top1}, agreement = {rate, same}}
--   blazeface: {task, engine, data, images, faces, side, score, iou, nms_iou,
--              ap_score, models = {{name, ap, recall, precision, tp, fp, fn,
--              detections, ms, lowered}, ...}, delta = {ap, recall, fp},
--              match = {rate, matched, reference, detections, extra}}
--   (delta, agreement and match only with two models; ms: calq's CPU time in
--   the runs, or ONNX Runtime's own run time; lowered: the nodes calq.quant.lower
--   rewrote, calq's engine only.)
local check = require "calq.check"
local ev = require "calq.eval"
local bf = require "calq.blazeface"
local cio = require "calq.io"
local onnx = require "calq.onnx"
local data = require "calq.data"
local image = require "calq.image"
local quant = require "calq.quant"
local fs = require "calq.fs"
local lfs = require "lfs"

local FMNIST = "/usr/share/datasets/fashion-mnist"

local function fail(fmt, ...) error({ msg = fmt:format(...) }, 0) end

local function round_ms(ms) return math.floor(ms * 1000 + 0.5) / 1000 end

-- An opened model: {model = calq.Model, path = file or nil, name = label,
-- lowered = QDQ nodes rewritten for calq's integer kernels}.
local function open_model(v, what, lower)
  if type(v) == "string" then
    local m, msg = onnx.load(v)
    if not m then fail("%s", msg) end
    local count = nil
    if lower then
      local c, lmsg = quant.lower(m)
      if not c then fail("%s: %s", v, lmsg) end
      count = c
    end
    return { model = m, path = v, name = v, owned = true, lowered = count }
  end
  return { model = v, name = what }
end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- A fresh temporary folder and a function that removes it with its files.
local function tmpdir()
  local base = os.tmpname()
  os.remove(base)
  local ok, msg = fs.mkdirs(base)
  if not ok then fail("%s", msg) end
  return base, function()
    for f in lfs.dir(base) do
      if f ~= "." and f ~= ".." then
        local p = base .. "/" .. f
        if lfs.attributes(p, "mode") == "directory" then
          for g in lfs.dir(p) do if g ~= "." and g ~= ".." then os.remove(p .. "/" .. g) end end
        end
        os.remove(p)
      end
    end
    os.remove(base)
  end
end

local function ort_tools(opts)
  local dirs = { opts.ort_tools, os.getenv("CALQ_ORT_TOOLS"), "tools/ort" }
  for _, d in pairs(dirs) do
    if lfs.attributes(d .. "/run_items.js", "mode") == "file" then return d end
  end
  fail("ONNX Runtime engine: tools/ort/run_items.js not found (run from calq's source tree, "
    .. "or set CALQ_ORT_TOOLS or the ort_tools option to its folder)")
end

-- Run a model file in ONNX Runtime on x (items along dim 1), batch items a run.
-- Returns {output name = Tensor [N, ...]}, milliseconds of running.
local function ort_run(opts, m, x, batch, tmp)
  local tools = ort_tools(opts)
  local path = m.path
  if not path then
    path = tmp .. "/model.onnx"
    local ok, msg = m.model:save(path)
    if not ok then fail("%s", msg) end
  end
  local ins = m.model:inputs()
  if #ins ~= 1 then fail("%s: ONNX Runtime engine: a model with one input expected, it has %d", m.name, #ins) end
  local xin = tmp .. "/input.npy"
  local ok, msg = cio.npy_write(xin, x)
  if not ok then fail("%s", msg) end
  local outdir = tmp .. "/out"
  local cmd = ("node %s %s --input %s --outdir %s --batch %d --threads %d 2>&1"):format(
    quote(tools .. "/run_items.js"), quote(path), quote(ins[1].name .. "=" .. xin), quote(outdir),
    batch, opts.threads or 1)
  local p = io.popen(cmd)
  local text = p:read("a")
  local okc = p:close()
  if not okc then fail("ONNX Runtime on %s: %s", m.name, (text:gsub("%s+$", ""))) end
  local out = {}
  for _, o in ipairs(m.model:outputs()) do
    local file = outdir .. "/" .. o.name:gsub("[^%w%.%-_]", "_") .. ".npy"
    local t, rmsg = cio.npy_read(file)
    if not t then fail("ONNX Runtime on %s: %s", m.name, rmsg) end
    out[o.name] = t
    os.remove(file)
  end
  os.remove(xin)
  return out, tonumber(text:match('"ms":([%d.]+)')) or 0
end

-- A calq.progress when opts.progress, else one that shows nothing.
local function progress_of(opts, label, total, unit)
  local progress = require "calq.progress"
  if not opts.progress then return progress.none() end
  return progress.new{ label = label, total = total, unit = unit }
end

local function run_calq(m, feeds)
  local out, msg = m.model:run(feeds)
  if not out then fail("%s: %s", m.name, msg) end
  return out
end

-- ---- classification ----------------------------------------------------------

local function classify(opts, models)
  local images = opts.data or FMNIST
  if lfs.attributes(images, "mode") == "directory" then images = images .. "/t10k-images-idx3-ubyte.gz" end
  local labels = opts.labels
  if not labels then
    labels = images:gsub("images%-idx3", "labels-idx1")
    if labels == images then fail("%s: name the labels file (the labels option, --labels)", images) end
  end
  local x, msg = data.read_idx(images, 1, opts.limit)
  if not x then fail("%s", msg) end
  local y, lmsg = data.read_idx(labels, 1, opts.limit)
  if not y then fail("%s", lmsg) end
  local n = x:shape()[1]
  if y:shape()[1] ~= n or y:dim() ~= 1 then
    fail("%s: %s for %d images of %s", labels, tostring(y):match("^[^\n]*"), n, images)
  end
  local truth = {}
  for i, v in ipairs(y:totable()) do truth[i] = math.tointeger(v) end
  -- x / 255 as f32; NCHW with one channel for 2-D images
  local xf = x:dtype() == "u8" and x:dequantize(1 / 255) or x:to("f32")
  if xf:dim() == 3 then
    local s = xf:shape()
    xf = xf:view { s[1], 1, s[2], s[3] }
  end
  local batch = opts.batch or 500
  local res = { task = "classify", engine = opts.engine, data = images, labels = labels, images = n, models = {} }
  local preds = {}
  local bar = progress_of(opts, "evaluating", n * #models, "images")
  for k, m in ipairs(models) do
    local ins = m.model:inputs()
    if #ins ~= 1 then fail("%s: a classifier with one input expected, it has %d", m.name, #ins) end
    local pred, t0, ms = {}, os.clock(), nil
    if opts.engine == "ort" then
      local tmp, clean = tmpdir()
      local ok, out, oms = pcall(ort_run, opts, m, xf, batch, tmp)
      clean()
      if not ok then error(out, 0) end
      local _, t = next(out)
      pred, ms = ev.argmax(t), oms
      bar:add(n)
    else
      for first = 1, n, batch do
        local last = math.min(n, first + batch - 1)
        local out = run_calq(m, { [ins[1].name] = xf:slice(1, first, last) })
        local _, t = next(out)
        if t:dim() ~= 2 then fail("%s: the output %s is not [N, classes]", m.name, tostring(t):match("^[^\n]*")) end
        for _, c in ipairs(ev.argmax(t)) do pred[#pred + 1] = c end
        bar:add(last - first + 1)
      end
      ms = (os.clock() - t0) * 1000
    end
    if k == #models then bar:finish() end
    local acc, right = ev.top1(pred, truth)
    preds[k] = pred
    res.models[k] = { name = m.name, top1 = acc, correct = right, ms = round_ms(ms), lowered = m.lowered }
  end
  if #models == 2 then
    local rate, same = ev.agreement(preds[2], preds[1])
    res.delta = { top1 = res.models[2].top1 - res.models[1].top1 }
    res.agreement = { rate = rate, same = same }
  end
  return res
end

-- ---- face detection -------------------------------------------------------------

local function default_faces()
  return (os.getenv("CALQ_CACHE") or ".cache") .. "/dlib/examples/faces/testing.xml"
end

local function open_faces(opts)
  local path = opts.data or default_faces()
  local format = opts.format
  if not format then
    if path:match("%.xml$") then format = "dlib"
    elseif path:match("%.json$") then format = "coco"
    elseif lfs.attributes(path, "mode") == "directory" then format = "voc"
    else fail("%s: give the annotations' format (format option, --format)", path) end
  end
  local ds, msg = data.open(path, format)
  if not ds then fail("%s", msg) end
  return ds, path
end

-- The model's input side (NHWC [1, S, S, 3] or NCHW [1, 3, S, S]).
local function input_side(m)
  local ins = m.model:inputs()
  if #ins ~= 1 then fail("%s: a detector with one input expected, it has %d", m.name, #ins) end
  local s = ins[1].shape or {}
  local side = (s[4] == 3 and s[2]) or (s[2] == 3 and s[4]) or nil
  if math.type(side) ~= "integer" or side < 1 then
    fail("%s: cannot tell the input side from the input shape {%s}", m.name, table.concat(s, ", "))
  end
  return side, ins[1].name
end

local function faces(opts, models)
  local ds, path = open_faces(opts)
  local n = #ds
  if opts.limit and opts.limit < n then n = opts.limit end
  if n < 1 then fail("%s: no images", path) end
  for _, m in ipairs(models) do m.side, m.input = input_side(m) end
  local side = models[1].side
  for k = 2, #models do
    if models[k].side ~= side then fail("%s: input side differs from %s's (%d)", models[k].name, models[1].name, side) end
  end
  local spec = opts.preprocess or ("blazeface" .. side)
  local score, iou, nms_iou = opts.score or 0.5, opts.iou or 0.5, opts.nms_iou or 0.3
  local ap_score = opts.ap_score or 0.05
  -- per image: truth boxes, ignored boxes, path
  local recs = {}
  local nfaces = 0
  for i = 1, n do
    local rec = ds:record(i)
    local truth, ignore = {}, {}
    for _, b in ipairs(rec.boxes) do
      local box = { b[1], b[2], b[3], b[4] }
      if b.ignore then ignore[#ignore + 1] = box else truth[#truth + 1] = box end
    end
    nfaces = nfaces + #truth
    recs[i] = { path = rec.path, truth = truth, ignore = #ignore > 0 and ignore or nil }
  end
  -- detections of model k on image i, at the operating and at the AP threshold
  local function decode(out, b, tr)
    local o = { size = side, iou = nms_iou, batch = b, transform = tr }
    o.score = score
    local at = bf.decode(out, o)
    o.score = ap_score
    return at, bf.decode(out, o)
  end
  local per = {}
  for k = 1, #models do per[k] = { op = {}, ap = {}, ms = 0 } end
  local chunk = opts.engine == "ort" and 64 or 1
  local bar = progress_of(opts, "evaluating", n, "images")
  for first = 1, n, chunk do
    local last = math.min(n, first + chunk - 1)
    local paths = {}
    for i = first, last do paths[#paths + 1] = recs[i].path end
    local x, tr = image.preprocess(paths, spec)
    if not x then fail("%s", tr) end
    for k, m in ipairs(models) do
      local out
      if opts.engine == "ort" then
        local tmp, clean = tmpdir()
        local ok, o, ms = pcall(ort_run, opts, m, x, 1, tmp)
        clean()
        if not ok then error(o, 0) end
        out = o
        per[k].ms = per[k].ms + ms
      else
        local t0 = os.clock()
        out = run_calq(m, { [m.input] = x })
        per[k].ms = per[k].ms + (os.clock() - t0) * 1000
      end
      for j = 1, last - first + 1 do
        local i = first + j - 1
        local op, all = decode(out, j, tr[j])
        per[k].op[i] = { dets = op, truth = recs[i].truth, ignore = recs[i].ignore }
        per[k].ap[i] = { dets = all, truth = recs[i].truth, ignore = recs[i].ignore }
      end
    end
    bar:add(last - first + 1)
  end
  bar:finish()
  local res = {
    task = "blazeface", engine = opts.engine, data = path, images = n, faces = nfaces, side = side,
    score = score, iou = iou, nms_iou = nms_iou, ap_score = ap_score, models = {},
  }
  for k, m in ipairs(models) do
    local d = ev.detection(per[k].op, { score = score, iou = iou })
    res.models[k] = {
      name = m.name, ap = (ev.ap(per[k].ap, iou)), recall = d.recall, precision = d.precision,
      tp = d.tp, fp = d.fp, fn = d.fn, detections = d.detections, ms = round_ms(per[k].ms),
      lowered = m.lowered,
    }
  end
  if #models == 2 then
    local a, b = res.models[1], res.models[2]
    res.delta = { ap = b.ap - a.ap, recall = b.recall - a.recall, fp = b.fp - a.fp }
    res.match = ev.match_rate(per[2].op, per[1].op, { score = score, iou = iou })
  end
  return res
end

-- ---- the entry point --------------------------------------------------------------

local TASKS = { classify = classify, blazeface = faces }

local function check_opts(o)
  if type(o) ~= "table" then check.typeerror(1, "evaluate", "options table", o, 3) end
  local function bad(msg) check.argerror(1, "evaluate", msg, 4) end
  if not TASKS[o.task] then bad(("task: 'classify' or 'blazeface' expected, got %s"):format(tostring(o.task))) end
  for _, k in ipairs { "model", "compare" } do
    local v = o[k]
    if (v ~= nil or k == "model") and type(v) ~= "string" and check.typename(v) ~= "calq.Model" then
      bad(("%s: path or calq.Model expected, got %s"):format(k, check.typename(v)))
    end
  end
  if o.engine ~= nil and o.engine ~= "calq" and o.engine ~= "ort" then
    bad(("engine: 'calq' or 'ort' expected, got %s"):format(tostring(o.engine)))
  end
  for _, k in ipairs { "limit", "batch", "threads" } do
    local v = o[k]
    if v ~= nil and (math.type(v) ~= "integer" or v < 1) then
      bad(("%s: integer >= 1 expected, got %s"):format(k, tostring(v)))
    end
  end
  for _, k in ipairs { "score", "iou", "nms_iou", "ap_score" } do
    local v = o[k]
    if v ~= nil and (type(v) ~= "number" or v < 0 or v > 1) then
      bad(("%s: number in [0, 1] expected, got %s"):format(k, tostring(v)))
    end
  end
  if o.lower ~= nil and type(o.lower) ~= "boolean" then bad(("lower: boolean expected, got %s"):format(check.typename(o.lower))) end
  for _, k in ipairs { "data", "labels", "format", "ort_tools" } do
    if o[k] ~= nil and type(o[k]) ~= "string" then bad(("%s: string expected, got %s"):format(k, check.typename(o[k]))) end
  end
end

return function(opts)
  check_opts(opts)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.engine = o.engine or "calq"
  local ok, res = pcall(function()
    local lower = o.engine == "calq" and o.lower ~= false
    local models = { open_model(o.model, "model", lower) }
    if o.compare then models[2] = open_model(o.compare, "compare", lower) end
    if o.engine == "calq" then
      for _, m in ipairs(models) do
        if o.threads or m.owned then
        local okt, terr = m.model:set_threads(o.threads or 1)
        if not okt then fail("%s: %s", m.name, terr) end
        end
      end
    end
    return TASKS[o.task](o, models)
  end)
  if ok then return res end
  if type(res) == "table" and res.msg then return nil, res.msg end
  error(res, 0)
end

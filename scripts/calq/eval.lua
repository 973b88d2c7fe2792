--- calq.eval: the accuracy metrics calq.evaluate reports, on plain Lua values.
--   local ev = require "calq.eval"
--   local pred = ev.argmax(logits)                       -- Tensor [N, C] -> {0-based class, ...}
--   local acc, right = ev.top1(pred, labels)             -- fraction, count
--   local same = ev.agreement(pred_int8, pred_fp32)      -- fraction, count
--   local images = { { dets = {{x, y, w, h, score}, ...}, truth = {{x, y, w, h}, ...} }, ... }
--   local ap = ev.ap(images, 0.5)                        -- AP@0.5, VOC all points
--   local d = ev.detection(images, { score = 0.5, iou = 0.5 })  -- {tp, fp, fn, recall, ...}
--   local m = ev.match_rate(images_int8, images_fp32, { score = 0.5, iou = 0.5 })
--
-- Matching is calq.blazeface.match's: detections are taken best first; each
-- takes the unmatched truth box of highest IoU, if that IoU >= the threshold;
-- otherwise it is a false positive. An image may list ignore = {{x, y, w, h}, ...} (boxes flagged ignore
-- in the data set: dlib ignore='1', COCO crowds, VOC difficult): a detection
-- left unmatched that overlaps one of them at the threshold counts neither way,
-- and ignored boxes are not objects to find (VOC's rule for "difficult").
local check = require "calq.check"
local bf = require "calq.blazeface"

local ev = {}

local function boxes_ok(list, len)
  if type(list) ~= "table" then return false, check.typename(list) end
  for i, b in ipairs(list) do
    if type(b) ~= "table" then return false, ("a bad entry %d"):format(i) end
    for k = 1, len do
      if type(b[k]) ~= "number" then return false, ("a bad entry %d"):format(i) end
    end
  end
  return true
end

local function check_images(fname, n, images)
  if type(images) ~= "table" then check.typeerror(n, fname, "list of images", images, 3) end
  for i, im in ipairs(images) do
    local ok = type(im) == "table" and boxes_ok(im.dets, 5) and boxes_ok(im.truth, 4)
      and (im.ignore == nil or boxes_ok(im.ignore, 4))
    if not ok then
      check.argerror(n, fname, ("list of {dets = {{x, y, w, h, score}, ...}, truth = {{x, y, w, h}, ...}} "
        .. "expected, got a bad image %d"):format(i), 3)
    end
  end
end

local function check_opts(fname, n, opts, keys)
  if opts == nil then return {} end
  if type(opts) ~= "table" then check.typeerror(n, fname, "options table or nil", opts, 3) end
  for _, k in ipairs(keys) do
    if opts[k] ~= nil and type(opts[k]) ~= "number" then
      check.argerror(n, fname, ("option '%s': number expected, got %s"):format(k, check.typename(opts[k])), 3)
    end
  end
  return opts
end

-- Detections of one image at score >= smin, best first (a stable order: score,
-- then position in the list), and for each: true (TP), false (FP) or nil
-- (unmatched but on an ignored box).
local function flags(im, smin, iou)
  local dets = {}
  for i, d in ipairs(im.dets) do
    if d[5] >= smin then dets[#dets + 1] = { d = d, i = i } end
  end
  table.sort(dets, function(a, b)
    if a.d[5] ~= b.d[5] then return a.d[5] > b.d[5] end
    return a.i < b.i
  end)
  local list = {}
  for k, e in ipairs(dets) do list[k] = e.d end
  local _, m = bf.match(list, im.truth, iou)
  local out = {}
  for k, d in ipairs(list) do
    local f = m[k] and true or false
    if not f and im.ignore then
      for _, g in ipairs(im.ignore) do
        if bf.iou(d, g) >= iou then f = nil; break end
      end
    end
    out[k] = { score = d[5], tp = f }
  end
  return out
end

--- Predicted classes of a Tensor [N, C] of scores: {c1, ..., cN}, 0-based (the
-- first highest score wins a tie).
function ev.argmax(t)
  local ok = check.typename(t) == "calq.Tensor" and t:dim() == 2
  if not ok then check.argerror(1, "argmax", ("Tensor [N, C] expected, got %s"):format(
    check.typename(t) == "calq.Tensor" and ("a %d-D Tensor"):format(t:dim()) or check.typename(t))) end
  local rows = t:totable()
  local out = {}
  for i, r in ipairs(rows) do
    local best, bc = r[1], 0
    for c = 2, #r do
      if r[c] > best then best, bc = r[c], c - 1 end
    end
    out[i] = bc
  end
  return out
end

local function check_lists(fname, a, b)
  if type(a) ~= "table" then check.typeerror(1, fname, "list", a, 3) end
  if type(b) ~= "table" then check.typeerror(2, fname, "list", b, 3) end
  if #a ~= #b then check.argerror(2, fname, ("%d entries expected (as argument #1), got %d"):format(#a, #b), 3) end
  if #a == 0 then check.argerror(1, fname, "non-empty list expected", 3) end
end

--- Top-1 accuracy of predicted classes against labels: fraction, count right.
function ev.top1(pred, labels)
  check_lists("top1", pred, labels)
  local n = 0
  for i = 1, #pred do if pred[i] == labels[i] then n = n + 1 end end
  return n / #pred, n
end

--- Share of the predictions of a that equal those of b: fraction, count.
function ev.agreement(a, b)
  check_lists("agreement", a, b)
  local n = 0
  for i = 1, #a do if a[i] == b[i] then n = n + 1 end end
  return n / #a, n
end

--- Recall and false positives at a score threshold, summed over images.
-- opts: score (0.5: detections below it are dropped), iou (0.5).
-- Returns {tp, fp, fn, objects, detections, recall, precision}.
function ev.detection(images, opts)
  check_images("detection", 1, images)
  opts = check_opts("detection", 2, opts, { "score", "iou" })
  local smin, iou = opts.score or 0.5, opts.iou or 0.5
  local tp, fp, objects = 0, 0, 0
  for _, im in ipairs(images) do
    objects = objects + #im.truth
    for _, f in ipairs(flags(im, smin, iou)) do
      if f.tp then tp = tp + 1 elseif f.tp == false then fp = fp + 1 end
    end
  end
  return {
    tp = tp, fp = fp, fn = objects - tp, objects = objects, detections = tp + fp,
    recall = objects > 0 and tp / objects or 0,
    precision = tp + fp > 0 and tp / (tp + fp) or 0,
  }
end

--- Average precision over all images: every detection given (of any score)
-- ranked by score, matched at iou (0.5), precision made monotone from the right
-- and integrated over recall at every point it changes (VOC 2010+, "all
-- points"). Returns ap, {recall = {...}, precision = {...}} (the curve, one
-- point per detection). 0 when there is nothing to find.
function ev.ap(images, iou)
  check_images("ap", 1, images)
  if iou ~= nil and type(iou) ~= "number" then check.typeerror(2, "ap", "number or nil", iou) end
  iou = iou or 0.5
  local all, objects = {}, 0
  for n, im in ipairs(images) do
    objects = objects + #im.truth
    for k, f in ipairs(flags(im, -math.huge, iou)) do
      if f.tp ~= nil then all[#all + 1] = { score = f.score, tp = f.tp, n = n, k = k } end
    end
  end
  -- ties: image order, then rank in the image, so the curve never depends on sort stability
  table.sort(all, function(a, b)
    if a.score ~= b.score then return a.score > b.score end
    if a.n ~= b.n then return a.n < b.n end
    return a.k < b.k
  end)
  local rec, prec, tp = {}, {}, 0
  for i, d in ipairs(all) do
    if d.tp then tp = tp + 1 end
    rec[i] = objects > 0 and tp / objects or 0
    prec[i] = tp / i
  end
  if objects == 0 then return 0, { recall = rec, precision = prec } end
  local env = {}
  local best = 0
  for i = #prec, 1, -1 do
    best = math.max(best, prec[i])
    env[i] = best
  end
  local ap, prev = 0, 0
  for i = 1, #rec do
    if rec[i] > prev then
      ap = ap + (rec[i] - prev) * env[i]
      prev = rec[i]
    end
  end
  return ap, { recall = rec, precision = prec }
end

--- How far a model's detections reproduce a reference model's (fp32's): both
-- cut at opts.score (0.5), the reference's taken as the truth and matched at
-- opts.iou (0.5), image by image (two lists of images in the same order; their
-- truth fields are not used). Returns {matched, reference, detections, extra,
-- rate = matched / reference (1 when the reference found nothing)}.
function ev.match_rate(images, ref, opts)
  if type(images) ~= "table" then check.typeerror(1, "match_rate", "list of images", images) end
  if type(ref) ~= "table" then check.typeerror(2, "match_rate", "list of images", ref) end
  if #images ~= #ref then
    check.argerror(2, "match_rate", ("%d images expected (as argument #1), got %d"):format(#images, #ref))
  end
  for i = 1, #images do
    local ok = type(images[i]) == "table" and boxes_ok(images[i].dets, 5)
    if not ok then check.argerror(1, "match_rate", ("a bad image %d (no dets list)"):format(i)) end
    ok = type(ref[i]) == "table" and boxes_ok(ref[i].dets, 5)
    if not ok then check.argerror(2, "match_rate", ("a bad image %d (no dets list)"):format(i)) end
  end
  opts = check_opts("match_rate", 3, opts, { "score", "iou" })
  local smin, iou = opts.score or 0.5, opts.iou or 0.5
  local matched, nref, ndet = 0, 0, 0
  for i = 1, #images do
    local truth = {}
    for _, d in ipairs(ref[i].dets) do
      if d[5] >= smin then truth[#truth + 1] = d end
    end
    nref = nref + #truth
    for _, f in ipairs(flags({ dets = images[i].dets, truth = truth }, smin, iou)) do
      ndet = ndet + 1
      if f.tp then matched = matched + 1 end
    end
  end
  return {
    matched = matched, reference = nref, detections = ndet, extra = ndet - matched,
    rate = nref > 0 and matched / nref or 1,
  }
end

return ev

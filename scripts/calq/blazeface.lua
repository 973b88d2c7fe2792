--- calq.blazeface: decode BlazeFace outputs into face boxes and score them
-- against ground truth.
--   local bf = require "calq.blazeface"
--   local x, tr = image.preprocess({path}, "blazeface")          -- [1,256,256,3]
--   local out = model:run{["input:0"] = x}
--   local faces = bf.decode(out, { size = 256, transform = tr[1] })  -- {{x, y, w, h, score}, ...}
--   local m = bf.match(faces, truth_boxes, 0.3)                    -- {tp=, fp=, fn=}
--
-- The MediaPipe BlazeFace ONNX models have four outputs (both back-256 and front-128):
--   Identity:0   [1,512,1]  score logits, 16x16 grid, 2 anchors a cell
--   Identity_1:0 [1,384,1]  score logits, 8x8 grid, 6 anchors a cell
--   Identity_2:0 [1,512,16] box regressors of the 512 anchors of the 16x16 grid
--   Identity_3:0 [1,384,16] box regressors of the 384 anchors of the 8x8 grid
-- Anchors in order row y, column x, anchor a; centre ((x+0.5)/g, (y+0.5)/g).
-- Regressor [cx, cy, w, h, 6 keypoints] in input pixels relative to the anchor centre.
-- Score = sigmoid(logit clipped to +-100). NMS at IoU 0.3, weighted as MediaPipe
-- blends overlapping boxes (or plain, opts.plain).
local check = require "calq.check"

local bf = {}

local GRIDS = { { 16, 2 }, { 8, 6 } }

local anchors_cache
--- Anchor centres in output order: array of {cx, cy} in [0, 1], 896 entries.
function bf.anchors()
  if anchors_cache then return anchors_cache end
  local a = {}
  for _, gk in ipairs(GRIDS) do
    local g, k = gk[1], gk[2]
    for y = 0, g - 1 do
      for x = 0, g - 1 do
        for _ = 1, k do a[#a + 1] = { (x + 0.5) / g, (y + 0.5) / g } end
      end
    end
  end
  anchors_cache = a
  return a
end

-- Argument checks for the public entry points (calq.check; level 3 from the
-- helpers below blames the caller of the public function).
local function argerr(fname, n, what, got, level)
  check.argerror(n, fname, ("%s expected, got %s"):format(what, got), (level or 2) + 1)
end

local function check_box(fname, n, b, len)
  if type(b) ~= "table" then argerr(fname, n, "box {x, y, w, h}", type(b), 3) end
  for k = 1, len do
    if type(b[k]) ~= "number" then
      argerr(fname, n, "box {x, y, w, h}", ("%s at [%d]"):format(type(b[k]), k), 3)
    end
  end
end

local function check_boxes(fname, n, list, len)
  if type(list) ~= "table" then
    argerr(fname, n, len == 5 and "list of {x, y, w, h, score}" or "list of {x, y, w, h}", type(list), 3)
  end
  for i, b in ipairs(list) do
    local ok = type(b) == "table"
    for k = 1, len do ok = ok and type(b[k]) == "number" end
    if not ok then
      argerr(fname, n, len == 5 and "list of {x, y, w, h, score}" or "list of {x, y, w, h}",
        ("a bad entry %d"):format(i), 3)
    end
  end
end

local function check_opt_number(fname, n, v)
  if v ~= nil and type(v) ~= "number" then argerr(fname, n, "number or nil", type(v), 3) end
end

local function iou4(a, b)
  local ix = math.max(0, math.min(a[1] + a[3], b[1] + b[3]) - math.max(a[1], b[1]))
  local iy = math.max(0, math.min(a[2] + a[4], b[2] + b[4]) - math.max(a[2], b[2]))
  local inter = ix * iy
  local union = a[3] * a[4] + b[3] * b[4] - inter
  return union > 0 and inter / union or 0
end

--- IoU of two boxes {x, y, w, h}.
function bf.iou(a, b)
  check_box("iou", 1, a, 4)
  check_box("iou", 2, b, 4)
  return iou4(a, b)
end

local function nms(dets, iou, plain)
  table.sort(dets, function(p, q) return p[5] > q[5] end)
  local kept, used = {}, {}
  for i = 1, #dets do
    if not used[i] then
      local best = dets[i]
      local sx, sy, sw, sh, sum = 0, 0, 0, 0, 0
      for j = i, #dets do
        if not used[j] and (j == i or iou4(best, dets[j]) >= iou) then
          used[j] = true
          local s = dets[j][5]
          sx, sy, sw, sh, sum = sx + dets[j][1] * s, sy + dets[j][2] * s,
            sw + dets[j][3] * s, sh + dets[j][4] * s, sum + s
        end
      end
      if plain then
        kept[#kept + 1] = { best[1], best[2], best[3], best[4], best[5] }
      else
        kept[#kept + 1] = { sx / sum, sy / sum, sw / sum, sh / sum, best[5] }
      end
    end
  end
  return kept
end

--- Non-maximum suppression over {x, y, w, h, score} boxes, best first.
function bf.nms(dets, iou, plain)
  check_boxes("nms", 1, dets, 5)
  if type(iou) ~= "number" then argerr("nms", 2, "number", type(iou)) end
  return nms(dets, iou, plain)
end

local function output(out, name, alt)
  local t = out[name] or out[alt]
  if not t then error(("calq.blazeface: the model has no output '%s'"):format(name), 2) end
  return t
end

--- Decode one image's outputs (a table name -> Tensor as model:run returns).
-- opts: size (model input side, 256 or 128), score (0.5), iou (0.3), plain (false),
-- batch (1-based index in the batch, 1), transform (from image.preprocess: maps the
-- boxes back to the original image; without it boxes are in model-input pixels).
-- Returns an array of {x, y, w, h, score}, best first.
function bf.decode(out, opts)
  if type(out) ~= "table" then argerr("decode", 1, "table of outputs", type(out)) end
  if opts ~= nil and type(opts) ~= "table" then argerr("decode", 2, "options table or nil", type(opts)) end
  opts = opts or {}
  local size = opts.size or 256
  local smin, b = opts.score or 0.5, opts.batch or 1
  local s16, s8 = output(out, "Identity:0"), output(out, "Identity_1:0")
  local r16, r8 = output(out, "Identity_2:0"), output(out, "Identity_3:0")
  local anc = bf.anchors()
  local dets = {}
  local function scan(scores, regs, base)
    local n = scores:shape()[2]
    for i = 1, n do
      local logit = math.max(-100, math.min(100, scores:get(b, i, 1)))
      local score = 1 / (1 + math.exp(-logit))
      if score >= smin then
        local a = anc[base + i]
        local cx = regs:get(b, i, 1) / size + a[1]
        local cy = regs:get(b, i, 2) / size + a[2]
        local w, h = regs:get(b, i, 3) / size, regs:get(b, i, 4) / size
        dets[#dets + 1] = { (cx - w / 2) * size, (cy - h / 2) * size, w * size, h * size, score }
      end
    end
    return n
  end
  local n16 = scan(s16, r16, 0)
  scan(s8, r8, n16)
  local kept = nms(dets, opts.iou or 0.3, opts.plain)
  local tr = opts.transform
  if tr then
    for _, d in ipairs(kept) do
      d[1], d[2] = (d[1] - tr.ox) / tr.sx, (d[2] - tr.oy) / tr.sy
      d[3], d[4] = d[3] / tr.sx, d[4] / tr.sy
    end
  end
  return kept
end

--- Greedy matching of detections (best first) to truth boxes {x, y, w, h} at an IoU
-- threshold: each detection takes the unmatched truth box of highest IoU if that
-- IoU >= the threshold (a tie goes to the later box). Returns {tp=, fp=, fn=}
-- and, per detection, the index of the truth box it took or false.
function bf.match(dets, truth, iou)
  check_boxes("match", 1, dets, 4)
  check_boxes("match", 2, truth, 4)
  check_opt_number("match", 3, iou)
  iou = iou or 0.3
  local taken, tp, matched = {}, 0, {}
  for i, d in ipairs(dets) do
    local best, bj = iou, nil
    for j, t in ipairs(truth) do
      if not taken[j] then
        local v = iou4(d, t)
        if v >= best then best, bj = v, j end
      end
    end
    if bj then taken[bj] = true; tp = tp + 1 end
    matched[i] = bj or false
  end
  return { tp = tp, fp = #dets - tp, fn = #truth - tp }, matched
end

return bf

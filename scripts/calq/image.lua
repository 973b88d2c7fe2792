--- calq.image: decode JPEG/PNG and turn images into model inputs.
--   local image = require "calq.image"
--   local im = assert(image.load("face.jpg"))       -- calq.Image: im.width, im.height, im.channels
--   local t = im:tensor()                            -- u8 [H, W, C]
--   local x, tr = assert(image.preprocess({"a.jpg", im}, "blazeface"))  -- f32 [2, 256, 256, 3]
--   local x0, y0 = image.unmap(tr[1], u, v)         -- model-input pixel -> original pixel
-- Specs: a preset name (image.presets) or a table
--   { preset=, size= | width=, height=, channels=1|3, order="rgb"|"bgr",
--     fit="stretch"|"letterbox"|"shorter_crop", pad="right_bottom"|"center", pad_value=,
--     resize_shorter=, interp="pil"|"half_pixel", layout="nchw"|"nhwc",
--     scale=, mean=, std= }   -- out = (pixel * scale - mean) / std
-- I/O and decode failures return nil, message, code; misuse raises.
-- load, decode, new, from_tensor and preprocess are C (bindings/l_image.c);
-- this file adds the parts written in Lua to the same table.
local check = require "calq.check"

local image = require("calq.core").image

image.presets = { "blazeface", "blazeface256", "blazeface128", "fmnist", "imagenet" }

-- Raise "bad argument" for fname, blaming the caller of fname.
local function check_transform(fname, tr)
  local ok = type(tr) == "table"
  for _, k in ipairs{ "sx", "sy", "ox", "oy" } do ok = ok and type(tr[k]) == "number" end
  if not ok then
    check.argerror(1, fname, ("transform table expected, got %s"):format(
      type(tr) == "table" and "a table without numbers sx, sy, ox, oy" or check.typename(tr)), 3)
  end
end

--- Map a point in model-input pixels back to the original image.
function image.unmap(tr, u, v)
  check_transform("unmap", tr)
  if type(u) ~= "number" then check.typeerror(2, "unmap", "number", u) end
  if type(v) ~= "number" then check.typeerror(3, "unmap", "number", v) end
  return (u - tr.ox) / tr.sx, (v - tr.oy) / tr.sy
end

--- Map a box {x, y, w, h} in model-input pixels back to the original image.
function image.unmap_box(tr, box)
  check_transform("unmap_box", tr)
  local ok = type(box) == "table"
  for k = 1, 4 do ok = ok and type(box[k]) == "number" end
  if not ok then
    check.argerror(2, "unmap_box", ("box {x, y, w, h} expected, got %s"):format(
      type(box) == "table" and "a table without 4 numbers" or check.typename(box)))
  end
  return { (box[1] - tr.ox) / tr.sx, (box[2] - tr.oy) / tr.sy, box[3] / tr.sx, box[4] / tr.sy }
end

return image

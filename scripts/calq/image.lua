--- calq.image: decode JPEG/PNG and turn images into model inputs.
--   local image = require "calq.image"
--   local im = assert(image.load("face.jpg"))       -- calq.Image: im.width, im.height, im.channels
--   local t = im:tensor()                            -- u8 [H, W, C]
--   local x, tr = assert(image.preprocess({"a.jpg", im}, "blazeface"))  -- f32 [2, 256, 256, 3]
--   local x0, y0 = image.unmap(tr[1], u, v)         -- model-input pixel -> original pixel
-- Specs: a preset name ("blazeface", "blazeface128", "fmnist", "imagenet") or a table
--   { preset=, size= | width=, height=, channels=1|3, order="rgb"|"bgr",
--     fit="stretch"|"letterbox"|"shorter_crop", pad="right_bottom"|"center", pad_value=,
--     resize_shorter=, interp="pil"|"half_pixel", layout="nchw"|"nhwc",
--     scale=, mean=, std= }   -- out = (pixel * scale - mean) / std
-- I/O and decode failures return nil, message, code; misuse raises.
local core = require "calq.core"

local image = {
  load = core.image_load,            -- (path [, max_pixels])
  decode = core.image_decode,        -- (bytes [, name [, max_pixels]])
  new = core.image_new,              -- (w, h [, channels [, fill]])
  from_tensor = core.image_from_tensor,
  preprocess = core.image_preprocess,
  presets = { "blazeface", "blazeface256", "blazeface128", "fmnist", "imagenet" },
}

--- Map a point in model-input pixels back to the original image.
function image.unmap(tr, u, v)
  return (u - tr.ox) / tr.sx, (v - tr.oy) / tr.sy
end

--- Map a box {x, y, w, h} in model-input pixels back to the original image.
function image.unmap_box(tr, box)
  local x, y = image.unmap(tr, box[1], box[2])
  return { x, y, box[3] / tr.sx, box[4] / tr.sy }
end

return image

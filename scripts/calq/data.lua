--- calq.data: annotated image sets (calq.Dataset) and record lists (calq.Index).
--   local data = require "calq.data"
--   local ds = assert(data.open("instances.json", "coco" [, {image_root =, read_headers =}]))
--   local mine = data.new(); mine:add{ path = "a.jpg", boxes = {{1, 2, 30, 40}} }
--   local idx = data.index{ 3, 1, 2 }
--   data.formats                               -- {"coco", "voc", "yolo", "dlib", "csv", "tsv"}
-- Choosing a calibration set: calq.sampler.
return require("calq.core").data

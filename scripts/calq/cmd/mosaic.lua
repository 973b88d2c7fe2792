--- calq mosaic: synthetic face images with exact boxes (see calq.mosaic).
local args = require "calq.args"
local mosaic = require "calq.mosaic"

local usage = [[
usage: calq mosaic --output DIR [--crops DIR_OR_LIST]... [--photos XML]... [options]

Pastes single-face crops on backgrounds: DIR/images/*.jpg and DIR/annotations.json
(COCO instances, one category "face", bbox [x, y, w, h] in pixels).

  --crops DIR|LIST     folder of single-face crops (searched recursively) or a file
                       listing one path a line; the box is the crop inset by --inset
  --photos XML         dlib imglab XML: crops around boxes no other box touches
                       (exact boxes); its photos also give face-free backgrounds.
                       Use training.xml: crops from testing.xml leak the evaluation set
  --count N            images to write (default 100)
  --min-faces K        fewest faces in an image (default 1)
  --max-faces K        most faces in an image (default 6)
  --dist D             uniform | skewed: share of images per face count (default uniform;
                       skewed halves the share with each extra face)
  --size WxH           image size (default 640x480)
  --face-size A-B      face box side in pixels (default min(W,H)/16 - min(W,H)/3)
  --background B       mixed | photos | texture (default mixed)
  --margin F           context around a photo box, times its side (default 0.4)
  --inset F            box inset of --crops images, fraction of the side (default 0.05)
  --feather P          soften the crop's outer P pixels into the background (default 0)
  --quality Q          JPEG quality (default 92)
  --seed S             random seed (default 1): same seed, same output]]

local spec = {
  crops = { type = "string", multiple = true },
  photos = { type = "string", multiple = true },
  count = { type = "integer", default = 100 },
  min_faces = { type = "integer", default = 1 },
  max_faces = { type = "integer", default = 6 },
  dist = { type = "string", default = "uniform", choices = { "uniform", "skewed" } },
  size = { type = "string", default = "640x480" },
  face_size = { type = "string" },
  background = { type = "string", default = "mixed", choices = { "mixed", "photos", "texture" } },
  margin = { type = "number", default = 0.4 },
  inset = { type = "number", default = 0.05 },
  feather = { type = "integer", default = 0 },
  quality = { type = "integer", default = 92 },
  seed = { type = "integer", default = 1 },
  output = { type = "string", required = true },
}

local function fail(fmt, ...) error("calq mosaic: " .. fmt:format(...), 0) end
local function misuse(fmt, ...) args.usage_error("calq mosaic", fmt, ...) end

local function run(argv)
  local o, rest = args.parse(argv, spec, "calq mosaic")
  if #rest > 0 then misuse("unexpected argument '%s'", rest[1]) end
  local W, H = o.size:match("^(%d+)x(%d+)$")
  W, H = tonumber(W), tonumber(H)
  if not W or W < 32 or H < 32 or W > 8192 or H > 8192 then
    misuse("--size: '%s' is not WxH with sides in 32..8192", o.size)
  end
  local fa, fb
  if o.face_size then
    fa, fb = o.face_size:match("^(%d+)%-(%d+)$")
    fa, fb = tonumber(fa), tonumber(fb)
    if not fa or fa < 4 or fb < fa then misuse("--face-size: '%s' is not A-B with 4 <= A <= B", o.face_size) end
  end
  if o.count < 1 then misuse("--count must be >= 1") end
  if o.min_faces < 1 or o.max_faces < o.min_faces then
    misuse("--min-faces and --max-faces need 1 <= min <= max")
  end
  if o.quality < 1 or o.quality > 100 then misuse("--quality must be in 1..100") end
  if #o.crops == 0 and #o.photos == 0 then misuse("give --crops or --photos (or both)") end
  local crops, photos = {}, {}
  for _, c in ipairs(o.crops) do
    local list, err = mosaic.crops_from_dir(c, o.inset)
    if not list then fail("%s", err) end
    table.move(list, 1, #list, #crops + 1, crops)
  end
  for _, x in ipairs(o.photos) do
    local list, ph = mosaic.crops_from_photos(x, o.margin)
    if not list then fail("%s", ph) end
    table.move(list, 1, #list, #crops + 1, crops)
    table.move(ph, 1, #ph, #photos + 1, photos)
  end
  if #crops == 0 then fail("no single-face crops found") end
  local r, err = mosaic.build {
    crops = crops, photos = photos, count = o.count, min_faces = o.min_faces,
    max_faces = o.max_faces, width = W, height = H, seed = o.seed, dist = o.dist,
    background = o.background, min_face = fa, max_face = fb, feather = o.feather,
    quality = o.quality, output = o.output,
  }
  if not r then fail("%s", err) end
  local hist = {}
  for k = o.min_faces, o.max_faces do hist[#hist + 1] = ("%d:%d"):format(k, r.per_count[k]) end
  print(("calq mosaic: %d images, %d faces from %d crops -> %s/annotations.json (faces:images %s)")
    :format(r.images, r.faces, #crops, o.output, table.concat(hist, " ")))
  return 0
end

return { summary = "build synthetic face images with exact boxes (COCO)", usage = usage, run = run }

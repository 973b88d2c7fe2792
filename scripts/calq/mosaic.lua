--- calq.mosaic: synthetic face-detection images with exact boxes and a real
-- spread of faces per image, written as JPEGs plus a COCO instances file.
--
--   local mosaic = require "calq.mosaic"
--   local crops = mosaic.crops_from_dir(cache .. "/dlib/examples/johns")
--   local more = assert(mosaic.crops_from_photos(cache .. "/dlib/examples/faces/training.xml"))
--   local stats = assert(mosaic.build{ crops = crops, photos = {...}, count = 100,
--     max_faces = 6, width = 640, height = 480, seed = 1, output = "out" })
--
-- Crops. Each crop is an image holding exactly one face and that face's box:
--  * from a directory of single-face crops (dlib's johns/: 150x150, the face
--    fills the crop): the box is the crop inset by `inset` (default 0.05) of
--    its side on every edge -- a convention, since these crops come without
--    boxes;
--  * from dlib imglab XML photos: a square of side (1 + 2 * margin) * the box's
--    larger side around each box, clipped to the photo, kept only when no
--    other box (ignored ones included) touches it: the box is exact.
-- Backgrounds ("photos", "texture" or "mixed", the default): a face-free
-- region of a dlib photo (a random rectangle of the output's aspect ratio that
-- touches no box, resized), or a texture (a coarse grid of random colours
-- around a random base colour, upsampled with PIL-style bilinear: smooth
-- colour fields).
-- Placement: each face is scaled so its box side is uniform in
-- [min_face, max_face] pixels, then placed where its whole crop touches no
-- other crop, so boxes never overlap (IoU 0) and lie inside the image; when
-- a face finds no room, it shrinks by 0.8 steps down to min_face / 2, then
-- the build fails with a message.
-- Faces per image: "uniform" gives each count in min_faces..max_faces the same
-- share of the images; "skewed" halves the share with each extra face (like
-- real detection sets: many images with one face, a long tail). Shares are
-- turned into exact counts (largest remainder) and shuffled, so a run of N
-- images has the asked distribution, not just in expectation.
-- Randomness: one calq.rng (the core's xoshiro256**) seeded with opts.seed;
-- its first draw shuffles the list of face counts, so image i has
-- calq.rng.new(seed):shuffle(counts)[i] faces (counts: count_plan's, in
-- increasing order).
local check = require "calq.check"
local data = require "calq.data"
local fs = require "calq.fs"
local image = require "calq.image"
local rng = require "calq.rng"
local tensor = require "calq.tensor"

local mosaic = {}

-- ---- dlib imglab XML ---------------------------------------------------------

--- Read a dlib imglab XML file (through calq's expat reader: entities,
-- comments and malformed files handled as XML): { dir = <folder of the
-- file>, images = { { file = <path>, width =, height =, boxes = { {x, y, w,
-- h, ignore = bool}, ... } }, ... } }. Returns nil, message on failure,
-- including a file that holds no image.
function mosaic.read_dlib_xml(path)
  if type(path) ~= "string" then check.typeerror(1, "read_dlib_xml", "string", path) end
  local ds, err = data.open(path, "dlib")
  if not ds then return nil, err end
  local dir = path:match("^(.*)/[^/]*$") or "."
  local images = {}
  for _, rec in ds:records() do
    local boxes = {}
    for _, b in ipairs(rec.boxes) do
      if not (b[3] > 0 and b[4] > 0) then
        ds:close()
        return nil, ("%s: image %s: a box needs width and height > 0"):format(path, rec.path)
      end
      boxes[#boxes + 1] = { b[1], b[2], b[3], b[4], ignore = b.ignore }
    end
    images[#images + 1] = { file = rec.path, width = rec.width, height = rec.height, boxes = boxes }
  end
  ds:close()
  if #images == 0 then
    return nil, path .. ": no <image> in this file (is it a dlib imglab XML file?)"
  end
  return { dir = dir, images = images }
end

-- ---- crops --------------------------------------------------------------

local function overlaps(a, b) -- rectangles {x, y, w, h}: do they share any area?
  return a[1] < b[1] + b[3] and b[1] < a[1] + a[3] and a[2] < b[2] + b[4] and b[2] < a[2] + a[4]
end

--- Single-face crops from a directory (searched recursively for .jpg/.png)
-- or a text file listing one path a line. Returns a list of
-- { image =, box = {x, y, w, h}, source = path }, or nil, message.
function mosaic.crops_from_dir(dir_or_list, inset)
  inset = inset or 0.05
  local lfs = require "lfs"
  local paths = {}
  local mode = lfs.attributes(dir_or_list, "mode")
  if mode == "directory" then
    local function walk(d)
      local names = {}
      for n in lfs.dir(d) do if n ~= "." and n ~= ".." then names[#names + 1] = n end end
      table.sort(names)
      for _, n in ipairs(names) do
        local p = d .. "/" .. n
        if lfs.attributes(p, "mode") == "directory" then walk(p)
        elseif n:lower():match("%.jpe?g$") or n:lower():match("%.png$") then paths[#paths + 1] = p end
      end
    end
    walk(dir_or_list)
  elseif mode == "file" then
    for l in io.lines(dir_or_list) do
      l = l:match("^%s*(.-)%s*$")
      if l ~= "" and l:sub(1, 1) ~= "#" then paths[#paths + 1] = l end
    end
  else
    return nil, dir_or_list .. ": no such directory or list file"
  end
  local crops = {}
  for _, p in ipairs(paths) do
    local im, err = image.load(p)
    if not im then return nil, err end
    local dx, dy = im.width * inset, im.height * inset
    crops[#crops + 1] = { image = im, box = { dx, dy, im.width - 2 * dx, im.height - 2 * dy }, source = p }
  end
  return crops
end

--- Crops around each box of a dlib XML file that no other box touches.
-- margin: the crop reaches margin * the box's larger side beyond each edge
-- (clipped to the photo). Also returns the photos (for backgrounds).
function mosaic.crops_from_photos(xml_path, margin)
  margin = margin or 0.4
  local ds, err = mosaic.read_dlib_xml(xml_path)
  if not ds then return nil, err end
  local crops, photos = {}, {}
  for _, rec in ipairs(ds.images) do
    local im, lerr = image.load(rec.file)
    if not im then return nil, lerr end
    photos[#photos + 1] = { image = im, boxes = rec.boxes, source = rec.file }
    for i, b in ipairs(rec.boxes) do
      local inside = b[1] >= 0 and b[2] >= 0 and b[1] + b[3] <= im.width and b[2] + b[4] <= im.height
      if not b.ignore and inside then
        local m = margin * math.max(b[3], b[4])
        local x0, y0 = math.max(0, math.floor(b[1] - m)), math.max(0, math.floor(b[2] - m))
        local x1 = math.min(im.width, math.ceil(b[1] + b[3] + m))
        local y1 = math.min(im.height, math.ceil(b[2] + b[4] + m))
        local rect, alone = { x0, y0, x1 - x0, y1 - y0 }, true
        for j, o in ipairs(rec.boxes) do
          if j ~= i and overlaps(rect, o) then alone = false break end
        end
        if alone then
          crops[#crops + 1] = { image = im:crop(x0, y0, x1 - x0, y1 - y0),
            box = { b[1] - x0, b[2] - y0, b[3], b[4] }, source = rec.file }
        end
      end
    end
  end
  return crops, photos
end

-- ---- backgrounds ----------------------------------------------------------

local function texture(r, w, h)
  local gw, gh = r:int(2, 6), r:int(2, 5)
  local base = { r:int(40, 215), r:int(40, 215), r:int(40, 215) }
  local grid = {}
  for y = 1, gh do
    local row = {}
    for x = 1, gw do
      local c = {}
      for k = 1, 3 do c[k] = math.max(0, math.min(255, base[k] + r:int(-70, 70))) end
      row[x] = c
    end
    grid[y] = row
  end
  return image.from_tensor(tensor.new(grid, "u8")):resize(w, h, "pil")
end

-- A face-free rectangle of aspect w:h from a random photo, resized; nil if
-- none is found in a few tries.
local function photo_background(r, photos, w, h)
  for _ = 1, 40 do
    local p = photos[r:int(1, #photos)]
    local pw, ph = p.image.width, p.image.height
    local cw = r:int(math.max(8, pw // 6), pw)
    local ch = math.floor(cw * h / w + 0.5)
    if ch >= 8 and ch <= ph then
      local rect = { r:int(0, pw - cw), r:int(0, ph - ch), cw, ch }
      local free = true
      for _, b in ipairs(p.boxes) do
        if overlaps(rect, b) then free = false break end
      end
      if free then
        return p.image:crop(rect[1], rect[2], cw, ch):resize(w, h, "pil")
      end
    end
  end
end

-- ---- counts ---------------------------------------------------------------

--- Exact number of images for each face count lo..hi: shares by dist, turned
-- into integers that sum to n (largest remainder).
function mosaic.count_plan(n, lo, hi, dist)
  local args = { n, lo, hi }
  for i = 1, 3 do
    local v = args[i]
    if math.type(v) ~= "integer" or v < 0 then
      check.argerror(i, "count_plan", ("integer >= 0 expected, got %s"):format(math.type(v) or type(v)))
    end
  end
  if hi < lo then check.argerror(3, "count_plan", ("hi %d is below lo %d"):format(hi, lo)) end
  if dist ~= nil and dist ~= "uniform" and dist ~= "skewed" then
    check.argerror(4, "count_plan", ("'uniform', 'skewed' or nil expected, got %s")
      :format(type(dist) == "string" and "'" .. dist .. "'" or type(dist)))
  end
  local w, total = {}, 0
  for k = lo, hi do
    w[k] = dist == "skewed" and 2.0 ^ -(k - lo) or 1.0
    total = total + w[k]
  end
  local plan, used, rem = {}, 0, {}
  for k = lo, hi do
    local q = n * w[k] / total
    plan[k] = math.floor(q)
    used = used + plan[k]
    rem[#rem + 1] = { k = k, r = q - plan[k] }
  end
  table.sort(rem, function(a, b) if a.r ~= b.r then return a.r > b.r end return a.k < b.k end)
  for i = 1, n - used do plan[rem[i].k] = plan[rem[i].k] + 1 end
  return plan
end

-- ---- COCO JSON --------------------------------------------------------------

local function jstr(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local m = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r" }
    return m[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function jnum(x)
  if math.type(x) == "integer" then return tostring(x) end
  local s = ("%.4f"):format(x):gsub("0+$", ""):gsub("%.$", "")
  return s
end

-- ---- the builder -----------------------------------------------------------

--- Build the data set. opts: crops (list, required), photos (for
-- backgrounds), count, min_faces (1), max_faces, width, height, seed,
-- dist ("uniform" | "skewed"), background ("mixed" | "photos" | "texture"),
-- min_face, max_face (box side in pixels), feather (0), quality (92), output.
-- Returns a summary { images =, faces =, per_count = {[k] = images} } or
-- nil, message.
function mosaic.build(opts)
  local crops = opts.crops
  if not crops or #crops == 0 then return nil, "no crops to paste" end
  local W, H = opts.width or 640, opts.height or 480
  local n, lo, hi = opts.count or 100, opts.min_faces or 1, opts.max_faces or 6
  if lo < 1 or hi < lo then return nil, ("face counts %d..%d are not valid"):format(lo, hi) end
  local min_face = opts.min_face or math.max(16, math.min(W, H) // 16)
  local max_face = opts.max_face or math.min(W, H) // 3
  if max_face < min_face then max_face = min_face end
  local r = rng.new(opts.seed or 1)
  local bgmode = opts.background or "mixed"
  local photos = opts.photos or {}
  if bgmode ~= "texture" and #photos == 0 then bgmode = "texture" end
  local out = opts.output
  if type(out) ~= "string" then check.argerror(1, "build", "field 'output' (a folder) is required") end
  local made, merr = fs.mkdirs(out .. "/images")
  if not made then return nil, merr end

  local plan = mosaic.count_plan(n, lo, hi, opts.dist or "uniform")
  local counts = {}
  for k = lo, hi do for _ = 1, plan[k] do counts[#counts + 1] = k end end
  r:shuffle(counts)
  local order, next_crop = {}, 1
  for i = 1, #crops do order[i] = i end
  r:shuffle(order)

  local jimages, janns, ann_id, faces = {}, {}, 0, 0
  for i, k in ipairs(counts) do
    local bg
    if bgmode == "photos" or (bgmode == "mixed" and r:float() < 0.5) then
      bg = photo_background(r, photos, W, H)
    end
    bg = bg or texture(r, W, H)
    -- when k faces cannot all fit at the drawn size, they shrink and retry
    local placed, shrink = {}, 1.0
    for _ = 1, k do
      if next_crop > #order then r:shuffle(order); next_crop = 1 end
      local c = crops[order[next_crop]]
      next_crop = next_crop + 1
      local side = min_face + r:float() * (max_face - min_face)
      local ok = false
      -- shrinking stops at half the smallest face size: below that a face is noise
      while side * shrink >= math.max(4, min_face / 2) do
        local s = side * shrink / math.max(c.box[3], c.box[4])
        local cw = math.max(1, math.floor(c.image.width * s + 0.5))
        local ch = math.max(1, math.floor(c.image.height * s + 0.5))
        if cw <= W and ch <= H then
          for _ = 1, 60 do
            local rect = { r:int(0, W - cw), r:int(0, H - ch), cw, ch }
            local free = true
            for _, p in ipairs(placed) do
              if overlaps(rect, p.rect) then free = false break end
            end
            if free then
              local sx, sy = cw / c.image.width, ch / c.image.height
              placed[#placed + 1] = { rect = rect, crop = c, box = {
                rect[1] + c.box[1] * sx, rect[2] + c.box[2] * sy, c.box[3] * sx, c.box[4] * sy } }
              ok = true
              break
            end
          end
        end
        if ok then break end
        shrink = shrink * 0.8
      end
      if not ok then
        return nil, ("image %d: no room for %d faces in %dx%d (lower --max-faces or the face size)")
          :format(i, k, W, H)
      end
    end
    local name = ("%06d.jpg"):format(i)
    for _, p in ipairs(placed) do
      bg:paste(p.crop.image:resize(p.rect[3], p.rect[4], "pil"), p.rect[1], p.rect[2], opts.feather or 0)
      ann_id = ann_id + 1
      local b = p.box
      janns[#janns + 1] = ('{"id":%d,"image_id":%d,"category_id":1,"bbox":[%s,%s,%s,%s],"area":%s,"iscrowd":0}')
        :format(ann_id, i, jnum(b[1]), jnum(b[2]), jnum(b[3]), jnum(b[4]), jnum(b[3] * b[4]))
    end
    faces = faces + #placed
    local ok, err = bg:save(out .. "/images/" .. name, opts.quality or 92)
    if not ok then return nil, err end
    jimages[#jimages + 1] = ('{"id":%d,"file_name":%s,"width":%d,"height":%d}'):format(i, jstr("images/" .. name), W, H)
  end
  local json = table.concat({
    '{"info":{"description":', jstr(("calq mosaic: %d images, %d faces, seed %d"):format(#counts, faces, opts.seed or 1)),
    '},\n"images":[\n', table.concat(jimages, ",\n"),
    '],\n"annotations":[\n', table.concat(janns, ",\n"),
    '],\n"categories":[{"id":1,"name":"face","supercategory":"face"}]}\n' })
  local ok, err = fs.write_atomic(out .. "/annotations.json", json)
  if not ok then return nil, err end
  return { images = #counts, faces = faces, per_count = plan }
end

return mosaic

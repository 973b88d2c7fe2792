--- calq.inputs: a model's inputs from a calibration or evaluation set, batch by
-- batch, never the whole set in memory.
--   local inputs = require "calq.inputs"
--   local src = assert(inputs.open{ path = "calib.txt", preprocess = "blazeface",
--                                   shard = "0/4", batch = 16 })
--   for x, n, first in src:batches() do assert(calibrator:feed(x)) end
--   src:close()
-- path is one of
--   - a text list of image paths, one a line, as `calq sample` writes them;
--     blank lines and lines starting with '#' are skipped. A relative path is
--     taken against the list's folder, or, when nothing is there, against the
--     current folder (`calq sample` writes paths as its annotations gave them);
--     the images are decoded and preprocessed with `preprocess` (a
--     calq.image preset name or spec table: required for a list);
--   - a NumPy .npy file or a calq tensor file (.calq; one tensor) holding
--     preprocessed inputs along the first dimension. A .npy is read a few rows
--     at a time; a calq tensor file is read whole (its tensors are compressed
--     frames), so use .npy for sets larger than memory.
-- shard "I/N" (or {I, N}): items I, I + N, I + 2N, ... with I counted from 0
-- (0 <= I < N; Slurm array and Kubernetes indexed-job indices count from 0),
-- so N shards cover the set exactly once. Items are the list's lines or the
-- array's rows, counted before missing images are left out.
-- Missing images are an error (naming how many, with a few examples) unless
-- skip_missing is set; an empty set or shard is an error.
-- Failures return nil, message; misuse raises.
local check = require "calq.check"
local cio = require "calq.io"
local image = require "calq.image"

local inputs = {}

local EXAMPLES = 3

--- "I/N" -> I, N (0 <= I < N) | nil, message
function inputs.parse_shard(s)
  if type(s) ~= "string" then check.typeerror(1, "parse_shard", "string", s) end
  local i, n = s:match("^%s*(%d+)%s*/%s*(%d+)%s*$")
  i, n = math.tointeger(tonumber(i)), math.tointeger(tonumber(n))
  if not i or not n then return nil, ("shard '%s' is not I/N (e.g. 0/4)"):format(s) end
  if n < 1 then return nil, ("shard '%s': N must be at least 1"):format(s) end
  if i >= n then return nil, ("shard '%s': I counts from 0 and must be below N"):format(s) end
  return i, n
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function is_abs(p) return p:sub(1, 1) == "/" end

--- Read a list file: {path, ...} in order (as written, not resolved) | nil, message
function inputs.read_list(path)
  if type(path) ~= "string" then check.typeerror(1, "read_list", "string", path) end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local out = {}
  for line in f:lines() do
    line = line:gsub("\r$", ""):match("^%s*(.-)%s*$")
    if line ~= "" and line:sub(1, 1) ~= "#" then out[#out + 1] = line end
  end
  f:close()
  return out
end

-- What kind of file path is: "npy", "calq" or "list", from its first bytes.
local function sniff(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local head = f:read(8) or ""
  f:close()
  if head:sub(1, 6) == "\147NUMPY" then return "npy" end
  if head == "\137CALQTF\n" then return "calq" end
  return "list"
end

local Source = {}
Source.__index = Source

-- The shard's items among total: 0-based indices i, i + n, ...
local function shard_count(total, i, n)
  if total <= i then return 0 end
  return (total - 1 - i) // n + 1
end

local function open_list(o, src)
  local lines, err = inputs.read_list(o.path)
  if not lines then return nil, err end
  src.total = #lines
  if src.total == 0 then return nil, o.path .. ": the list holds no image path" end
  local base = dirname(o.path)
  local paths, missing = {}, {}
  for k = src.shard_i, src.total - 1, src.shard_n do
    local p = lines[k + 1]
    local full = p
    if not is_abs(p) and base ~= "." then
      full = base .. "/" .. p
      if not exists(full) and exists(p) then full = p end
    end
    if exists(full) then
      paths[#paths + 1] = full
    else
      missing[#missing + 1] = p
    end
  end
  src.missing = missing
  if #missing > 0 and not o.skip_missing then
    local ex = {}
    for k = 1, math.min(EXAMPLES, #missing) do ex[k] = missing[k] end
    return nil, ("%s: %d of %d images are missing (e.g. %s); skip_missing leaves them out"):format(
      o.path, #missing, #missing + #paths, table.concat(ex, ", "))
  end
  src.paths = paths
  src.count = #paths
  return src
end

local function open_npy(o, src)
  local r, err = cio.npy_open(o.path)
  if not r then return nil, err end
  local shape, dtype = r:shape()
  src.reader = r
  src.total = shape[1]
  src.dtype = dtype
  src.count = shard_count(src.total, src.shard_i, src.shard_n)
  return src
end

local function open_calq(o, src)
  local ts, err = cio.load(o.path)
  if not ts then return nil, err end
  local t, n = nil, 0
  for _, v in pairs(ts) do t = v; n = n + 1 end
  if n ~= 1 then
    return nil, ("%s: holds %d tensors; calq reads inputs from a file of one"):format(o.path, n)
  end
  if t:dim() < 1 then return nil, o.path .. ": a 0-d tensor holds no items" end
  src.tensor = t
  src.total = t:shape()[1]
  src.count = shard_count(src.total, src.shard_i, src.shard_n)
  return src
end

--- Open a set: opts = {path, preprocess, shard = "I/N" | {I, N}, batch = 8,
-- skip_missing = false} -> Source | nil, message. A Source has fields kind
-- ("list", "npy" or "calq"), total (items in the whole set), count (items of
-- this shard, missing images left out), missing ({path, ...} left out),
-- shard_i, shard_n, batch.
function inputs.open(opts)
  if type(opts) ~= "table" then check.typeerror(1, "open", "table", opts) end
  if type(opts.path) ~= "string" then check.argerror(1, "open", "path must be a string") end
  local batch = opts.batch or 8
  if math.type(batch) ~= "integer" or batch < 1 then
    check.argerror(1, "open", "batch must be an integer >= 1")
  end
  local si, sn = 0, 1
  if type(opts.shard) == "string" then
    local i, n = inputs.parse_shard(opts.shard)
    if not i then return nil, n end
    si, sn = i, n
  elseif type(opts.shard) == "table" then
    si, sn = opts.shard[1], opts.shard[2]
    if math.type(si) ~= "integer" or math.type(sn) ~= "integer" or sn < 1 or si < 0 or si >= sn then
      check.argerror(1, "open", "shard must be {I, N} with 0 <= I < N")
    end
  elseif opts.shard ~= nil then
    check.argerror(1, "open", "shard must be 'I/N' or {I, N}")
  end
  local kind, err = sniff(opts.path)
  if not kind then return nil, err end
  local src = setmetatable({ kind = kind, shard_i = si, shard_n = sn, batch = batch,
                             missing = {}, path = opts.path }, Source)
  local ok, why
  if kind == "list" then
    if opts.preprocess == nil then
      return nil, opts.path .. ": a list of images needs a preprocessing preset"
    end
    src.preprocess = opts.preprocess
    ok, why = open_list(opts, src)
  elseif kind == "npy" then
    ok, why = open_npy(opts, src)
  else
    ok, why = open_calq(opts, src)
  end
  if not ok then return nil, why end
  if src.count == 0 then
    if sn > 1 then
      return nil, ("%s: shard %d/%d is empty (the set has %d items)"):format(opts.path, si, sn, src.total)
    end
    return nil, opts.path .. ": the set is empty"
  end
  return src
end

--- Iterate over the shard's items, batch at a time: for x, n, first in
-- src:batches() (x a Tensor of n items along its first dimension; first the
-- 1-based position of its first item among the shard's). src:batches(skip)
-- starts after the shard's first skip items (a resumed calibration). A
-- failure to read or decode raises a message naming the file.
function Source:batches(skip)
  skip = skip or 0
  if math.type(skip) ~= "integer" or skip < 0 or skip > self.count then
    check.argerror(1, "batches", ("skip must be an integer in 0..%d"):format(self.count))
  end
  local done = skip
  return function()
    if done >= self.count then return nil end
    local n = math.min(self.batch, self.count - done)
    local first = done + 1
    local x, err
    if self.kind == "list" then
      -- decoded here and closed at once: left to the collector, whose count
      -- does not see their C memory, images pile up batch after batch
      local ims = {}
      for k = 1, n do
        ims[k], err = image.load(self.paths[first + k - 1])
        if not ims[k] then
          for j = 1, k - 1 do ims[j]:close() end
          error(err, 0) -- names the file
        end
      end
      x, err = image.preprocess(ims, self.preprocess)
      for k = 1, n do ims[k]:close() end
    elseif self.kind == "npy" then
      -- shard item j (0-based) is row shard_i + j * shard_n
      x, err = self.reader:read(self.shard_i + done * self.shard_n + 1, n, self.shard_n)
    else
      local a = self.shard_i + done * self.shard_n + 1
      x = self.tensor:slice(1, a, a + (n - 1) * self.shard_n, self.shard_n)
    end
    if not x then error(err, 0) end
    -- A full collection per batch (the live Lua heap is small: the paths)
    -- keeps Lua's garbage from interleaving with the images' C buffers:
    -- without it the heap crept up by about 8 MB over the first 5,000
    -- BlazeFace mosaics before it levelled off (bench/calib_memory.sh).
    collectgarbage()
    done = done + n
    return x, n, first
  end
end

--- Release the open file (also done by the garbage collector).
function Source:close()
  if self.reader then self.reader:close() end
  self.reader, self.tensor = nil, nil
end

return inputs

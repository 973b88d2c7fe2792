-- The reference side: tools/ort/run.js (onnxruntime-node with .npy I/O) and the data
-- tools/make_refs.sh leaves under $CALQ_CACHE/refs. Skips (pending) when onnxruntime-node
-- or the refs are missing. Run from the repository root, as `make luatest` does.

local cache = os.getenv("CALQ_CACHE") or "./.cache"
local ort_dir = cache .. "/ort/node_modules/onnxruntime-node"
local refs = cache .. "/refs"
local model = "models/fashion_mnist/fmnist_cnn.onnx"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function have_ort()
  return exists(ort_dir .. "/package.json") and os.execute("node --version >/dev/null 2>&1")
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function spit(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- run a shell command; returns exit code and combined output
local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out
end

-- .npy v1.0 float32 C-order writer
local function npy_f32(shape, values)
  local dims = {}
  for i, d in ipairs(shape) do dims[i] = tostring(d) end
  local shp = #dims == 1 and "(" .. dims[1] .. ",)" or "(" .. table.concat(dims, ", ") .. ")"
  local head = "{'descr': '<f4', 'fortran_order': False, 'shape': " .. shp .. ", }"
  head = head .. string.rep(" ", (64 - (10 + #head + 1) % 64) % 64) .. "\n"
  local parts = { "\147NUMPY\1\0", string.pack("<I2", #head), head }
  for i = 1, #values do parts[#parts + 1] = string.pack("<f", values[i]) end
  return table.concat(parts)
end

-- .npy reader: descr, shape (table), data offset; float32 values when asked
local function npy_read(s, want_values)
  assert(s:sub(1, 6) == "\147NUMPY", "bad magic")
  local hlen, off = string.unpack("<I2", s, 9), 11
  local head = s:sub(off, off + hlen - 1)
  local descr = head:match("'descr':%s*'([^']*)'")
  local shape = {}
  for d in head:match("'shape':%s*%(([^)]*)%)"):gmatch("%d+") do shape[#shape + 1] = tonumber(d) end
  local data = off + hlen
  local values
  if want_values then
    values = {}
    for i = data, #s - 3, 4 do values[#values + 1] = string.unpack("<f", s, i) end
  end
  return descr, shape, data - 1, values
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

describe("calq refs", function()
  describe("tools/ort/run.js", function()
    local dir
    -- true (and the test marked pending) when onnxruntime-node is missing
    local function skip()
      if have_ort() then
        dir = tmpdir()
        return false
      end
      pending("onnxruntime-node not under " .. ort_dir)
      return true
    end
    after_each(function()
      if dir then os.execute("rm -rf " .. dir) end
      dir = nil
    end)

    it("names the inputs that are missing", function()
      if skip() then return end
      local code, out = run("node tools/ort/run.js " .. model .. " --outdir " .. dir)
      assert.are.equal(1, code)
      assert.are.equal("run.js: " .. model .. ": missing --input for 'input'\n", out)
    end)

    it("names the file and the byte of a truncated .npy", function()
      if skip() then return end
      local good = npy_f32({ 1, 1, 28, 28 }, setmetatable({}, { __len = function() return 784 end,
        __index = function() return 0.5 end }))
      spit(dir .. "/x.npy", good:sub(1, #good - 4))
      local code, out = run("node tools/ort/run.js " .. model .. " --input input=" .. dir ..
        "/x.npy --outdir " .. dir)
      assert.are.equal(1, code)
      assert.are.equal("run.js: " .. dir .. "/x.npy: data at byte 128 is 3132 bytes, shape [1,1,28,28]" ..
        " of float32 needs 3136\n", out)
    end)

    it("writes every output as .npy with the model's shape, row by row independent", function()
      if skip() then return end
      -- two different images, then the same two swapped: rows must swap exactly
      local a, b = {}, {}
      for i = 1, 784 do a[i] = (i % 29) / 29; b[i] = ((i * 7) % 31) / 31 end
      local ab, ba = {}, {}
      for i = 1, 784 do ab[i] = a[i]; ab[784 + i] = b[i]; ba[i] = b[i]; ba[784 + i] = a[i] end
      spit(dir .. "/ab.npy", npy_f32({ 2, 1, 28, 28 }, ab))
      spit(dir .. "/ba.npy", npy_f32({ 2, 1, 28, 28 }, ba))
      local logits = {}
      for _, n in ipairs({ "ab", "ba" }) do
        local code, out = run("node tools/ort/run.js " .. model .. " --input input=" .. dir .. "/" .. n ..
          ".npy --outdir " .. dir .. "/" .. n .. " --repeat 3")
        assert.are.equal(0, code, out)
        assert.truthy(out:match('"median_ms":[%d.]+'))
        local descr, shape, _, v = npy_read(slurp(dir .. "/" .. n .. "/logits.npy"), true)
        assert.are.equal("<f4", descr)
        assert.are.same({ 2, 10 }, shape)
        logits[n] = v
      end
      for i = 1, 10 do
        assert.are.equal(logits.ab[i], logits.ba[10 + i])
        assert.are.equal(logits.ab[10 + i], logits.ba[i])
      end
      assert.are_not.equal(logits.ab[1], logits.ab[11])
    end)
  end)

  describe("$CALQ_CACHE/refs", function()
    local manifest
    local function skip()
      if exists(refs .. "/manifest.json") then
        manifest = slurp(refs .. "/manifest.json")
        return false
      end
      pending("no " .. refs .. "/manifest.json (make refs)")
      return true
    end

    it("lists files whose .npy headers match the manifest's shapes and dtypes", function()
      if skip() then return end
      local dtypes = { float32 = "<f4", int64 = "<i8" }
      local n = 0
      -- manifest entries written by build_refs.py: {"name", "file", "dtype", "shape": [...]}
      for file, dtype, shape in manifest:gmatch('"file":%s*"([^"]+)",%s*"dtype":%s*"([^"]+)",%s*"shape":%s*%[([^%]]*)%]') do
        local want = {}
        for d in shape:gmatch("%d+") do want[#want + 1] = tonumber(d) end
        local descr, got = npy_read(slurp(refs .. "/" .. file))
        assert.are.equal(dtypes[dtype], descr, file)
        assert.are.same(want, got, file)
        n = n + 1
      end
      assert.is_true(n > 0)
    end)

    it("holds BlazeFace back-256 outputs that find the dlib faces", function()
      if skip() then return end
      if not exists(refs .. "/blazeface/manifest.json") then return pending("no blazeface refs") end
      local code, out = run("CALQ_CACHE=" .. cache .. " /usr/bin/python3 tools/ort/blazeface_check.py")
      assert.are.equal(0, code, out)
      local found, faces, fp = out:match('"back256", "nms": "weighted".-"found": (%d+), "faces": (%d+), "false_positives": (%d+)')
      assert.are.equal("43", faces, out)
      assert.is_true(tonumber(found) >= 40 and tonumber(fp) <= 2, out)
    end)

    it("holds Fashion-MNIST logits whose argmax matches most labels", function()
      if skip() then return end
      if not exists(refs .. "/fmnist/labels.npy") then return pending("no fmnist refs") end
      local _, lshape, loff = npy_read(slurp(refs .. "/fmnist/labels.npy"))
      local labels = slurp(refs .. "/fmnist/labels.npy")
      local _, shape, _, v = npy_read(slurp(refs .. "/fmnist/outputs/logits.npy"), true)
      assert.are.same({ 256 }, lshape)
      assert.are.same({ 256, 10 }, shape)
      local ok = 0
      for r = 0, 255 do
        local best = 0
        for c = 1, 9 do if v[r * 10 + c + 1] > v[r * 10 + best + 1] then best = c end end
        if best == string.unpack("<i8", labels, loff + 1 + r * 8) then ok = ok + 1 end
      end
      assert.is_true(ok >= 0.85 * 256, ok .. "/256")
    end)
  end)
end)

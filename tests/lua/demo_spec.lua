-- make demo (recipes/demo.lua through tools/demo.sh): it runs to the end on the
-- default real data and ends with the quantized BlazeFace against fp32, for
-- label-balanced and for uniform calibration. About a minute: #slow.
local lfs = require "lfs"

local build = os.getenv("BUILD") or "build"
local cache = os.getenv("CALQ_CACHE") or ".cache"
local back256 = cache .. "/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx"
local johns = cache .. "/dlib/examples/johns"

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() end
  return f ~= nil
end

describe("make demo #slow", function()
  if not (exists(back256) and lfs.attributes(johns, "mode") == "directory") then
    pending("needs BlazeFace and dlib's examples under " .. cache .. " (make bootstrap)")
    return
  end

  it("ends with BlazeFace int8 against fp32, for balanced and for uniform calibration", function()
    local out = os.tmpname()
    os.remove(out)
    local p = io.popen(("./%s/calq run recipes/demo.lua %s 2>&1"):format(build, out))
    local text = p:read("a")
    local ok = p:close()
    assert.is_true(ok, text)
    local tail = text:match("== 5%. BlazeFace back%-256 int8[^\n]*\n(.*)$")
    assert.is_string(tail, text)
    local rows = {}
    for name, ap, found, faces, fp in tail:gmatch("\n([%w%-%(%), ]-)%s+(%d%.%d%d%d)%s+(%d+)/(%d+)%s+(%d+)") do
      rows[name] = { ap = tonumber(ap), found = tonumber(found), faces = tonumber(faces), fp = tonumber(fp) }
    end
    local fp32 = rows["fp32"]
    assert.is_table(fp32, tail)
    assert.equal(25, fp32.faces)
    for _, name in ipairs { "int8, label-balanced (threshold 2)", "int8, uniform random" } do
      local r = rows[name]
      assert.is_table(r, name .. " missing in:\n" .. tail)
      assert.equal(25, r.faces)
      assert.is_true(r.ap >= 0 and r.ap <= 1 and r.found <= 25, name)
    end
    assert.matches("%d+ of 102 int8, %d+ fp32", tail)
    assert.matches("\nlatency, one thread: int8 median %d+%.%d+ ms", tail)
    -- the quantized models were written, one per calibration set
    assert.truthy(exists(out .. "/back256.int8.balanced.onnx"))
    assert.truthy(exists(out .. "/back256.int8.uniform.onnx"))
    os.execute("rm -rf '" .. out .. "'")
  end)
end)

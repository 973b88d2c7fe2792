-- make demo (tools/demo.sh: recipes/blazeface_balanced.lua on the bootstrapped data):
-- it runs to the end, prints the table of fp32, calq's default int8 and the knobs'
-- choice against the 25 faces of the test photos, writes the QDQ file and a run
-- folder with its report page, all in under 2 minutes of wall time (the issue's
-- bound; the host's profile is probed once and kept in $CALQ_CACHE/probe). #slow.
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

  it("prints the table against fp32 and the report's path, in under 2 minutes", function()
    local out = os.tmpname()
    os.remove(out)
    local clock = require("calq.io").clock
    local t0 = clock()
    local p = io.popen(("BUILD=%s DEMO_OUT=%s tools/demo.sh 2>&1"):format(build, out))
    local text = p:read("a")
    local ok = p:close()
    local wall = clock() - t0
    assert.is_true(ok, text)
    local tail = text:match("== 5%. BlazeFace back%-256[^\n]*\n(.*)$")
    assert.is_string(tail, text)
    local rows = {}
    for name, ap, found, faces, fp, ms, pred in tail:gmatch(
        "\n([%w%-%(%), _]-)%s+(%d%.%d%d%d)%s+(%d+)/(%d+)%s+(%d+)%s+(%d+%.%d+)%s+(%d+%.%d+)") do
      rows[#rows + 1] = { name = name, ap = tonumber(ap), found = tonumber(found), faces = tonumber(faces),
                          fp = tonumber(fp), ms = tonumber(ms), pred = tonumber(pred) }
    end
    assert.equal(3, #rows, tail)
    assert.equal("fp32", rows[1].name)
    assert.equal("int8, calq defaults", rows[2].name)
    assert.matches("^knobs %(", rows[3].name)
    for _, r in ipairs(rows) do
      assert.equal(25, r.faces, r.name)
      assert.is_true(r.ap >= 0 and r.ap <= 1 and r.found <= 25 and r.ms > 0 and r.pred > 0, r.name)
    end
    -- the knobs' loop met its goal: AP within 1 % relative of fp32's
    assert.is_true(rows[3].ap >= rows[1].ap * 0.99, tail)
    assert.truthy(exists(out .. "/back256.knobs.onnx"))
    assert.truthy(exists(out .. "/back256.int8.onnx"))
    -- the QDQ file in ONNX Runtime, when the bootstrap installed it
    if os.execute("command -v node >/dev/null 2>&1") and lfs.attributes(cache .. "/ort", "mode") == "directory" then
      local ap, fp = text:match("\nONNX Runtime on %S+back256%.knobs%.onnx: AP (%d%.%d%d%d), (%d+) FP")
      assert.is_string(ap, text)
      assert.is_true(tonumber(ap) >= rows[1].ap * 0.99, text)
    end
    local report = text:match("report (%S+report%.html)")
    assert.is_string(report, text)
    assert.truthy(exists(report))
    assert.is_true(wall < 120, ("make demo took %.0f s"):format(wall))
    os.execute("rm -rf '" .. out .. "'")
  end)
end)

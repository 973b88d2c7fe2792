-- calq.sampler: the policies from Lua, compose, Lua policies, and `calq sample`.
local calq = require "calq"
local sampler = require "calq.sampler"

local function counts_ds(counts)
  local ds = calq.data.new()
  for i, c in ipairs(counts) do ds:add{ path = ("img%d.jpg"):format(i - 1), count = c } end
  return ds
end

local function set_of(idx)
  local s = {}
  for i = 1, #idx do s[idx[i]] = true end
  return s
end

describe("calq.sampler", function()
  describe("balanced()", function()
    it("gives the pinned set for seed 42 (same as the C test, 1-based)", function()
      local counts = {}
      for i = 0, 19 do counts[#counts + 1] = (i * 7 + 3) % 5 end
      local idx, rep = sampler.balanced{ size = 8, threshold = 1, seed = 42 }(counts_ds(counts))
      assert.same({ 10, 12, 20, 19, 9, 15, 5, 8 }, idx:totable())
      assert.equal(2, rep.replaced)
      assert.is_true(rep.pool_dry)
      assert.equal(3, rep.above_left)
    end)

    it("keeps its promises on random data sets", function()
      local rng = 12345
      local function rand(n) rng = (rng * 1103515245 + 12345) % 2147483648; return rng % n end
      for _ = 1, 60 do
        local n = rand(60)
        local counts = {}
        for i = 1, n do counts[i] = rand(5) end
        local ds = counts_ds(counts)
        local size, thr, seed = rand(n + 10), rand(3), rand(1000)
        local p = sampler.balanced{ size = size, threshold = thr, seed = seed }
        local idx, rep = p(ds)
        assert.equal(math.min(size, n), #idx)
        local seen = {}
        for i = 1, #idx do
          assert.is_nil(seen[idx[i]])
          seen[idx[i]] = true
          if counts[idx[i]] > thr then assert.is_true(rep.pool_dry) end
        end
        local first = sampler.uniform{ size = size, seed = seed }(ds)
        local drawn = set_of(first)
        for i = 1, #idx do
          if idx[i] ~= first[i] then
            assert.equal(1, counts[idx[i]])      -- from the pool
            assert.is_nil(drawn[idx[i]])         -- never an image of the first draw
          end
        end
        assert.same(idx:totable(), p(ds):totable()) -- same seed, same set
      end
    end)

    it("takes the pool from a Lua predicate", function()
      local ds = counts_ds{ 3, 3, 3, 0, 1, 0, 0, 0, 0 }
      local idx, rep = sampler.balanced{ size = 3, threshold = 1, seed = 1,
        pool = function(r) return r.count == 0 end }(ds)
      assert.equal(0, rep.above_left)
      for i = 1, #idx do assert.is_true(ds:record(idx[i]).count <= 1) end
    end)

    it("reports an empty data set and a dry pool", function()
      local idx, rep = sampler.balanced{ size = 5 }(calq.data.new())
      assert.equal(0, #idx)
      assert.equal(0, rep.chosen)
      idx, rep = sampler.balanced{ size = 2, seed = 3 }(counts_ds{ 4, 4, 4 })
      assert.equal(2, #idx)
      assert.is_true(rep.pool_dry)
      assert.matches("pool ran dry: 2 images above the threshold kept", sampler.format_report(rep))
    end)

    it("raises on misuse", function()
      assert.has_error(function() sampler.balanced(5) end,
        "bad argument #1 to 'balanced' (table expected, got number)")
      assert.has_error(function() sampler.balanced{}(counts_ds{ 1 }) end,
        "bad argument #2 to 'sample' (field 'size' is required)")
      assert.has_error(function() sampler.balanced{ size = 1, threshold = -1 }(counts_ds{ 1 }) end,
        "bad argument #2 to 'sample' (field 'threshold' must be an integer >= 0)")
    end)
  end)

  describe("compose()", function()
    it("chains Lua and C policies, each on the previous output", function()
      local counts = {}
      for i = 1, 100 do counts[i] = i % 4 end
      local ds = counts_ds(counts)
      local p = sampler.compose{
        sampler.filter(function(r, i) return i % 2 == 0 end),
        sampler.uniform{ size = 30, seed = 9 },
        function(_, idx) -- a plain Lua function policy: keep the first ten
          local t = {}
          for i = 1, math.min(10, #idx) do t[i] = idx[i] end
          return t
        end,
        sampler.balanced{ size = 5, threshold = 1, seed = 2 },
      }
      assert.equal("filter+uniform+lua+balanced", p.name)
      local idx, rep = p(ds)
      assert.equal(5, #idx)
      assert.equal("compose", rep.policy)
      assert.same({ 50, 30, 10, 5 }, { rep.stages[1].chosen, rep.stages[2].chosen, rep.stages[3].chosen, rep.stages[4].chosen })
      for i = 1, #idx do assert.equal(0, idx[i] % 2) end
      assert.matches("stage 4:", sampler.format_report(rep))
    end)

    it("passes a failing stage's message on", function()
      local p = sampler.compose{ sampler.fn(function() return nil, "no luck" end, "mine") }
      local idx, msg = p(counts_ds{ 1 })
      assert.is_nil(idx)
      assert.equal("stage 1 (mine): no luck", msg)
      assert.has_error(function() sampler.compose{ 3 } end,
        "bad argument #1 to 'compose' (entry 1 is not a policy)")
    end)
  end)

  describe("other policies", function()
    it("first, class_balanced and stratified", function()
      local ds = calq.data.new()
      for i = 1, 40 do
        ds:add{ path = i .. ".jpg", boxes = { { 0, 0, 1, 1, label = "c" .. (i % 4) } } }
      end
      assert.same({ 1, 2, 3 }, sampler.first{ size = 3 }(ds):totable())
      local idx = sampler.class_balanced{ per_class = 2, seed = 1 }(ds)
      assert.equal(8, #idx)
      local per = {}
      for i = 1, #idx do local l = ds:record(idx[i]).labels[1]; per[l] = (per[l] or 0) + 1 end
      assert.same({ c0 = 2, c1 = 2, c2 = 2, c3 = 2 }, per)
      local s, rep = sampler.stratified{ size = 10, seed = 4 }(ds)
      assert.equal(10, #s)
      assert.equal(10, rep.hist_after[1])
      assert.is_nil(sampler.by_name("best", {}))
      assert.equal("uniform", sampler.by_name("Random", { size = 1 }).name)
      assert.equal("first", sampler.by_name("first-n", { size = 1 }).name)
    end)
  end)
end)

describe("calq sample", function()
  local calq_bin = "./" .. (os.getenv("BUILD") or "build") .. "/calq"
  local cache = os.getenv("CALQ_CACHE") or ".cache"
  local faces = cache .. "/dlib/examples/faces"
  local out = os.tmpname()
  teardown(function() os.remove(out) end)

  local function run(args)
    local p = io.popen(calq_bin .. " sample " .. args .. " 2>&1; echo rc=$?")
    local text = p:read("a")
    p:close()
    return text, tonumber(text:match("rc=(%d+)%s*$"))
  end

  it("writes the chosen paths and prints the report", function()
    if not io.open(faces .. "/training.xml") then pending("no dlib faces") return end
    local text, rc = run(("--annotations %s/training.xml --annotations %s/testing.xml --format dlib"
      .. " --size 4 --threshold 3 --seed 7 --output %s"):format(faces, faces, out))
    assert.equal(0, rc, text)
    assert.matches("9 images, 43 boxes", text)
    assert.matches("threshold 3: replaced 0", text)
    assert.matches("pool ran dry: 3 images above the threshold kept", text)
    local lines = {}
    for l in io.lines(out) do lines[#lines + 1] = l end
    assert.equal(4, #lines)
    local again = run(("--annotations %s/training.xml --annotations %s/testing.xml --format dlib"
      .. " --size 4 --threshold 3 --seed 7 --output %s.2"):format(faces, faces, out))
    local lines2 = {}
    for l in io.lines(out .. ".2") do lines2[#lines2 + 1] = l end
    os.remove(out .. ".2")
    assert.same(lines, lines2, again)
  end)

  it("runs a policy written in Lua (--policy FILE.lua)", function()
    if not io.open(faces .. "/training.xml") then pending("no dlib faces") return end
    local pol = os.tmpname() .. ".lua"
    local f = io.open(pol, "w")
    f:write([[
local sampler = require "calq.sampler"
local o = ...
return sampler.compose{ sampler.filter(function(r) return r.width >= 480 end), sampler.balanced(o) }
]])
    f:close()
    local text, rc = run(("--annotations %s/training.xml --annotations %s/testing.xml --format dlib"
      .. " --size 3 --threshold 6 --seed 1 --policy %s --output %s"):format(faces, faces, pol, out))
    os.remove(pol)
    assert.equal(0, rc, text)
    assert.matches("policy filter%+balanced", text)
    assert.matches("policy filter: 9 candidates, %- requested, 7 chosen", text)
    local n = 0
    for l in io.lines(out) do
      n = n + 1
      assert.is_not_nil(l:match("%.jpg$"))
    end
    assert.equal(3, n)
  end)

  it("counts missing images, shows a few, and refuses a short set unless allowed", function()
    local m = os.tmpname()
    local f = io.open(m, "w")
    for i = 1, 7 do f:write(("/nonexistent/%d.jpg,1\n"):format(i)) end
    f:close()
    os.remove(out)
    local text, rc = run(("--annotations %s --format csv --size 2 --output %s"):format(m, out))
    assert.equal(1, rc, text)
    assert.matches("7 of 7 image files are missing %(left out; %-%-keep%-missing keeps them%)", text)
    assert.matches("/nonexistent/5.jpg\n  ... and 2 more", text)
    assert.is_nil(text:find("/nonexistent/6.jpg", 1, true))
    assert.matches("chose 0 images where %-%-size asks for 2 %(0 of 7 images on disk%); nothing written", text)
    assert.is_nil(io.open(out))
    text, rc = run(("--annotations %s --format csv --size 2 --allow-short --output %s"):format(m, out))
    assert.equal(0, rc, text)
    assert.matches("wrote 0 paths", text)
    text, rc = run(("--annotations %s --format csv --size 2 --keep-missing --policy random --output %s"):format(m, out))
    os.remove(m)
    assert.equal(0, rc, text)
    assert.matches("kept: %-%-keep%-missing", text)
    assert.matches("policy uniform", text)
    assert.matches("wrote 2 paths", text)
  end)

  it("names user errors", function()
    local text = run("--format dlib --size 1 --output x")
    assert.matches("calq sample: %-%-annotations is required", text)
    text = run("--annotations x --format parquet --size 1 --output x")
    assert.matches("calq sample: %-%-format: 'parquet' is not one of coco, voc, yolo, dlib, csv, tsv", text)
    text = run("--annotations /nonexistent.xml --format dlib --size 1 --output x")
    assert.matches("calq sample: /nonexistent.xml: No such file or directory", text)
    text = run("--annotations x --format dlib --size 1 --policy best --output x")
    assert.matches("calq sample: %-%-policy: unknown policy 'best'", text)
  end)
end)

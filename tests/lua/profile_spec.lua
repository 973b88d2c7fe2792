-- calq.profile: the shipped profiles, the sandboxed loader's errors (each
-- names the file and the key), derive, write -> load, and `calq probe --quick`
-- against bench/peak and the VNNI ratio.
local profile = require "calq.profile"
local hw = require "calq.hw"
local h = require "tests.lua.helpers"

local SHIPPED = { "amd_zen4", "arm_neoverse_n1", "intel_haswell", "intel_sapphire_rapids", "intel_skylake_sp" }

local function deep_equal(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not deep_equal(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

describe("calq.profile", function()
  local dir
  setup(function() dir = h.tmpdir() end)
  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

  it("ships the five profiles, each loading and valid", function()
    local names = profile.list()
    for _, n in ipairs(SHIPPED) do
      assert.is_truthy(table.concat(names, " "):find(n, 1, true), n)
      local p, msg = profile.load(n)
      assert.is_table(p, msg)
      assert.are.equal(n, p.name)
      assert.is_true(hw.check(p))
    end
    -- the Skylake-SP profile has no VNNI and no bf16; Neoverse N1 no bf16
    assert.are.equal(0, profile.load("intel_skylake_sp").macs.s8)
    assert.are.equal(0, profile.load("intel_skylake_sp").macs.bf16)
    assert.are.equal(0, profile.load("arm_neoverse_n1").macs.bf16)
    assert.is_true(profile.load("intel_sapphire_rapids").amx)
  end)

  it("round-trips write -> load exactly, for every shipped profile", function()
    for _, n in ipairs(SHIPPED) do
      local p = profile.load(n)
      local path = dir .. "/" .. n .. ".lua"
      assert.is_true(profile.write(p, path, { ghz = "a comment", header = "two\nlines" }))
      local back, msg = profile.load(path)
      assert.is_table(back, msg)
      assert.is_true(deep_equal(p, back), n)
    end
  end)

  -- one bad field at a time, in the text of a valid profile
  local function base_text()
    local path = dir .. "/base.lua"
    assert(profile.write(profile.load("intel_sapphire_rapids"), path))
    return h.read(path)
  end

  local cases = {
    { "cores = 56,", "cores = 0,", "cores" },
    { "cores = 56,", "cores = 2.5,", "cores" },
    { "cores = 56,", "cores = 2^70,", "cores" },
    { "cores = 56,", "cores = \"56\",", "cores: expected a whole number, got string" },
    { "cores = 56,", "", "cores: missing" },
    { "ghz = 3.0,", "ghz = 0/0,", "ghz: NaN" },
    { "ghz = 3.0,", "ghz = math.huge,", "ghz: inf" },
    { "ghz = 3.0,", "ghz = 12,", "ghz" },
    { "vector_bits = 512,", "vector_bits = 500,", "vector_bits" },
    { "amx = true,", "amx = 1,", "amx: expected a boolean" },
    { "f32 = 32,", "f32 = 0,", "macs.f32" },
    { "s8 = 128,", "s8 = -1,", "macs.s8" },
    { "s8_novnni = 42,", "s8_novnni = 42, f16 = 1,", "macs: unknown key 'f16'" },
    { "s8 = 1024,", "", "amx_macs.s8: missing" },
    { "bf16 = 16,", "bf16 = {},", "macs.bf16: expected a number, got table" },
    { "latency = 5,", "latency = 0,", "caches[1].latency" },
    { "bw = 64,", "bw = 1/0,", "caches[2].bw: inf" },
    { "shared = true", "shared = \"yes\"", "caches[3].shared: expected a boolean" },
    { "mem_bw = 307,", "mem_bw = -5,", "mem_bw" },
    { "mem_bw_core = 16,", "mem_bw_core = 1000,", "mem_bw_core" },
    { "requant = 8.9,", "", "cvt.requant: missing" },
    { "node_ns = 200,", "node_ns = nil,", "node_ns: missing" },
    { "s8_dw = 0.26,", "s8_dw = 0,", "efficiency.s8_dw" },
    { "s8_dw = 0.26,", "s8_dw = 0.26, [1] = 0.5,", "efficiency: a key of type number" },
    { "s8_gemm = 266,", "s8_gemm = -1,", "call_ns.s8_gemm" },
    { "s8_gemm = 266,", "s8_gemm = 0/0,", "call_ns.s8_gemm: NaN" },
    { "name = \"intel_sapphire_rapids\",", "name = \"a b\",", "name" },
    { "mem_bw = 307,", "mem_bw = 307, mem_bandwidth = 300,", "unknown key 'mem_bandwidth'" },
  }

  it("names the file and the key of each bad field", function()
    local text = base_text()
    for i, c in ipairs(cases) do
      local from, to, want = c[1], c[2], c[3]
      local s, n = text:gsub(from:gsub("%p", "%%%0"), (to:gsub("%%", "%%%%")), 1)
      assert.are.equal(1, n, "case " .. i .. ": '" .. from .. "' not in the text")
      local path = ("%s/bad%d.lua"):format(dir, i)
      h.write(path, s)
      local p, msg, code = profile.load(path)
      assert.is_nil(p, "case " .. i .. " loaded: " .. to)
      assert.are.equal("ERANGE", code, msg)
      assert.is_truthy(msg:find(path, 1, true), msg)
      assert.is_truthy(msg:find(want, 1, true), ("case %d: '%s' not in '%s'"):format(i, want, msg))
    end
  end)

  it("runs profile text in a sandbox with limits, naming the file", function()
    local bad = {
      { "while true do end", "instructions" },
      { "local s = 'x' while true do s = s .. s end", "memory" },
      { "return ('x'):rep(1e10)", "rep" },
      { "return os.exit(1)", "os" },
      { "return io.open('/etc/passwd')", "io" },
      { "return require('lfs')", "require" },
      { "return 42", "returns number, not a table" },
      { "return {", "expected" },
      { "\27Lua", "binary" },
      { "", "empty file" },
      { "return nil", "returns nil, not a table" },
    }
    for i, c in ipairs(bad) do
      local path = ("%s/sandbox%d.lua"):format(dir, i)
      h.write(path, c[1])
      local t0 = os.clock()
      local p, msg, code = profile.load(path)
      assert.is_nil(p, c[1])
      assert.are.equal("EFORMAT", code, msg)
      assert.is_truthy(msg:find(path, 1, true), msg)
      assert.is_truthy(msg:find(c[2], 1, true), ("'%s' not in '%s'"):format(c[2], msg))
      assert.is_true(os.clock() - t0 < 5, "took " .. (os.clock() - t0) .. " s: " .. c[1])
    end
    -- the string methods are back after a load
    assert.are.equal("xx", ("x"):rep(2))
    local big = dir .. "/big.lua"
    h.write(big, "return {} --" .. ("x"):rep(2 * 1024 * 1024))
    local p, msg, code = profile.load(big)
    assert.is_nil(p)
    assert.are.equal("EFORMAT", code)
    assert.is_truthy(msg:find("larger than", 1, true), msg)
    -- math works
    local ok = dir .. "/math.lua"
    h.write(ok, base_text():gsub("cores = 56,", "cores = math.floor(56.7),", 1))
    assert.are.equal(56, (profile.load(ok)).cores)
  end)

  it("fails to find an unknown name, listing the shipped ones", function()
    local p, msg, code = profile.load("no_such_cpu")
    assert.is_nil(p)
    assert.are.equal("EIO", code)
    assert.is_truthy(msg:find("intel_haswell", 1, true), msg)
    assert.is_nil((profile.load("../etc/passwd")))
    assert.has_error(function() profile.load(42) end)
  end)

  it("derives a profile without touching the base", function()
    local base = profile.load("amd_zen4")
    local half = assert(profile.derive(base, { name = "zen4_half_bw", mem_bw = base.mem_bw / 2,
                                                caches = { [3] = { bw = 12 } } }))
    assert.are.equal(base.mem_bw / 2, half.mem_bw)
    assert.are.equal(12, half.caches[3].bw)
    assert.are.equal(base.caches[3].size, half.caches[3].size)   -- merged, not replaced
    assert.are.equal(24, base.caches[3].bw)                      -- the base is untouched
    assert.are.equal("amd_zen4", base.name)
    local p, msg, code = profile.derive(base, { mem_bw = 0 / 0 })
    assert.is_nil(p)
    assert.are.equal("ERANGE", code)
    assert.is_truthy(msg:find("mem_bw", 1, true), msg)
    assert.is_nil((profile.derive(base, { caches = { [2] = { size = 1 } } })))
    assert.has_error(function() profile.derive(nil, {}) end)
    assert.has_error(function() profile.derive(base, 5) end)
    -- hw.efficiency reads what the C estimators read
    assert.are.equal(0.85, hw.efficiency(base, "f32_conv"))
    assert.are.equal(1.0, hw.efficiency(base, "no_such_class"))
  end)

  it("does not write an invalid profile", function()
    local p = profile.load("intel_haswell")
    p.ghz = -1
    local path = dir .. "/invalid.lua"
    local ok, msg, code = profile.write(p, path)
    assert.is_nil(ok)
    assert.are.equal("ERANGE", code)
    assert.is_truthy(msg:find("ghz", 1, true), msg)
    assert.is_false(h.exists(path))
    assert.is_nil((profile.write(profile.load("intel_haswell"), dir .. "/no/such/dir/x.lua")))
  end)
end)

describe("calq probe", function()
  it("--quick writes a loadable profile whose peaks agree with bench/peak's", function()
    local dir = h.tmpdir()
    local out = dir .. "/host.lua"
    local rc, text, err = h.run("probe --quick --json --output " .. out)
    assert.are.equal(0, rc, err)
    local p, msg = profile.load(out)
    assert.is_table(p, msg)
    assert.is_truthy(text:find('"profile"', 1, true))
    -- bench/peak (the same chains, run by another program), thread CPU time
    local build = os.getenv("BUILD") or "build"
    local f = io.popen("BENCH_CLOCK=cpu ./" .. build .. "/bench/peak --tsv 2>&1")
    local peak = {}
    for name, v in f:read("a"):gmatch("(%S+)\t([%d.]+)") do peak[name] = tonumber(v) end
    f:close()
    if not peak.fp32_fma then
      pending("bench/peak measured nothing here (no AVX-512 VNNI/BF16): nothing to compare")
    else
      local probe_gflops = p.macs.f32 * p.ghz * 2
      local r = probe_gflops / peak.fp32_fma
      assert.is_true(r > 0.6 and r < 1.6, ("probe f32 %.1f GFLOP/s vs bench/peak %.1f"):format(probe_gflops, peak.fp32_fma))
      -- VNNI: four times the MACs of an FMA per instruction, at about the same
      -- rate (4.2-4.5 on Emerald Rapids guests); the bounds catch a chain off
      -- by a factor of 2, as tests/c/test_hw.c's
      local v = p.macs.s8 / p.macs.f32
      assert.is_true(v > 3 and v < 6, "s8/f32 MACs " .. v)
    end
    -- every kernel class calq runs here has a factor, in range
    for _, k in ipairs{ "f32_conv", "f32_grp", "f32_stem", "f32_dw", "f32_gemm", "s8_conv", "s8_grp",
                        "s8_dw", "s8_gemm", "eltwise" } do
      local e = p.efficiency[k]
      assert.is_number(e, k)
      assert.is_true(e > 0.001 and e <= 2, k .. " " .. e)
      -- and the contractions' fixed cost a call: more than nothing, under 1 ms
      local c = p.call_ns[k]
      if k ~= "eltwise" then assert.is_true(c > 0 and c < 1e6, k .. " call_ns " .. tostring(c)) end
    end
    -- VNNI on AVX-512: the int8 depthwise on flat rows has its own class
    if peak.int8_dot then
      local e = p.efficiency.s8_dwf
      assert.is_number(e, "s8_dwf")
      assert.is_true(e > 0.001 and e <= 2, "s8_dwf " .. e)
      assert.is_true(p.call_ns.s8_dwf > 0 and p.call_ns.s8_dwf < 1e6, "s8_dwf call_ns")
    end
    assert.is_true(p.caches[1].size < p.caches[#p.caches].size)
    assert.is_true(p.mem_bw_core > 0.5 and p.mem_bw_core <= p.mem_bw)
    -- the weight streams: a line from DRAM takes no less than DRAM's bandwidth
    -- allows one core (about 4.6 ns at 14 GB/s) and not microseconds
    if peak.fp32_fma then
      for _, k in ipairs{ "f32_wline", "s8_wline" } do
        local ns = p.call_ns[k]
        if k == "f32_wline" or not p.amx then
          assert.is_number(ns, k)
          assert.is_true(ns >= 64 / p.mem_bw_core * 0.8 and ns < 1000, k .. " " .. tostring(ns))
        end
      end
    end
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("takes a level's size as the LRU capacity that reproduces its knee", function()
    local knees_of = require("calq.cmd.probe").knees_of
    local KiB, MiB = 1024, 1024 * 1024
    -- an LRU hierarchy (L1 40 KiB, L2 1.25 MiB, L3 64 MiB): a buffer of b bytes
    -- read again and again finds min(1, C / b) of it within a level of C bytes
    local caps, bws = { 40 * KiB, 1280 * KiB, 64 * MiB }, { 300, 100, 20, 5 }
    local function bw(b)
      local t, inside = 0, 0
      for l, c in ipairs(caps) do
        local h = math.min(1, c / b)
        t = t + (h - inside) / bws[l]
        inside = h
      end
      return 1 / (t + (1 - inside) / bws[4])
    end
    local sweep, asked = {}, {}
    local b = 16 * KiB
    while b <= 256 * MiB do sweep[#sweep + 1] = { bytes = b, bw = bw(b) }; b = b * 2 end
    local knees = knees_of(sweep, function(x) asked[#asked + 1] = x; return bw(x) end)
    -- a knee each level, and more in the tails the doubling sweep cuts (128-256
    -- KiB, 2-4 MiB: the command matches knees to levels past each level's end)
    local by_lo = {}
    for _, k in ipairs(knees) do by_lo[k.lo] = k end
    assert.are.equal(5, #knees)
    -- each knee: its seven eighths and its end measured again
    assert.are.equal(8 * #knees, #asked)
    for i, lo in ipairs{ 32 * KiB, 1 * MiB, 64 * MiB } do
      local k = by_lo[lo]
      assert.are.equal(2 * lo, k.hi)
      -- within an eighth of the knee (the floor, read two steps on, is a
      -- little above the level below's own bandwidth)
      assert.is_true(math.abs(k.fit - caps[i]) <= (k.hi - k.lo) / 8,
        ("knee %d: fit %d, capacity %d"):format(i, k.fit, caps[i]))
      assert.are.equal(0, k.fit % 512)
    end
    -- a level whose bandwidth holds to the knee's end (the doubling step fell
    -- past it): its capacity is the whole knee
    local flat = knees_of({ { bytes = 64 * KiB, bw = 10 }, { bytes = 128 * KiB, bw = 1 } },
      function() return 10 end)
    assert.are.equal(128 * KiB, flat[1].fit)
  end)

  it("rejects bad usage with exit code 2", function()
    local rc, _, err = h.run("probe --bogus")
    assert.are.equal(2, rc)
    assert.is_truthy(err:find("bogus", 1, true), err)
    local rc2, _, err2 = h.run("probe --name 'a b'")
    assert.are.equal(2, rc2)
    assert.is_truthy(err2:find("--name", 1, true), err2)
  end)
end)

-- Faults and data integrity (docs/reliability.md): runs killed with SIGKILL
-- at random points never leave a torn or mixed file where a good one was,
-- only recognisable NAME.tmp files that the next run replaces; a calibration
-- stopped by SIGINT or SIGTERM with --resume keeps its statistics so far and
-- the resumed result equals an uninterrupted run byte for byte; a full disk
-- and a read-only folder give a clear error and leave earlier files intact.
--
-- SIGKILL rounds: CALQ_KILL_ROUNDS (default 24 here; the #slow spec runs 200).
-- The seed of the random delays is printed on failure (CALQ_KILL_SEED sets it).
local calq = require "calq"
local h = require "tests.lua.helpers"
local json = require "calq.json"
local lfs = require "lfs"

local fmnist = lfs.currentdir() .. "/models/fashion_mnist/fmnist_cnn.onnx"
local fmnist_train = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
local cache = os.getenv("CALQ_CACHE") or "./.cache"
local dlib_xml = cache .. "/dlib/examples/faces/training.xml"
-- the same file by an absolute path, for children started in another folder
local dlib_xml_abs = (dlib_xml:sub(1, 1) == "/" and "" or lfs.currentdir() .. "/") .. dlib_xml
local calq_abs = lfs.currentdir() .. "/" .. h.calq_bin

-- The file's bytes, or nil when there is none.
local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function sh(script)
  local p = io.popen("sh -c " .. ("'%s'"):format(script:gsub("'", "'\\''")) .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return code or (ok and 0 or 1), out
end

-- Files under dir (relative paths, sorted).
local function files(dir, prefix, out)
  out = out or {}
  for f in lfs.dir(dir) do
    if f ~= "." and f ~= ".." then
      local p = dir .. "/" .. f
      if lfs.attributes(p, "mode") == "directory" then
        files(p, (prefix or "") .. f .. "/", out)
      else
        out[#out + 1] = (prefix or "") .. f
      end
    end
  end
  table.sort(out)
  return out
end

local function write_npy(path, first, n)
  local x = assert(calq.data.read_idx(fmnist_train, first, n)):dequantize(1 / 255)
  local s = x:shape()
  assert(calq.io.npy_write(path, x:view{ s[1], 1, s[2], s[3] }))
end

-- The commands killed, each writing into dir (the current folder of the run):
-- the files it writes, which of them must equal the reference bytes (the
-- others: complete JSON), and the command line.
local function commands()
  return {
    { name = "calibrate", exact = { "c.calq" },
      cmd = ("calibrate %s --calib x.npy --output c.calq"):format(fmnist) },
    { name = "quantize", exact = { "q.onnx", "run/layers.json", "run/activations.json" },
      json = { "run/run.json", "run/latency.json" },
      cmd = ("quantize %s --calib x.npy --output q.onnx --run-dir run"):format(fmnist) },
    { name = "sample", exact = { "list.txt", "list.txt.sample.json" },
      cmd = ("sample --annotations %s --format dlib --size 2 --output list.txt"):format(
        dlib_xml_abs) },
    { name = "merge", exact = { "m.calq" }, cmd = "merge a.calq b.calq --output m.calq" },
  }
end

-- Run every command twice in dir, keep its outputs as the reference bytes
-- and the shorter wall time.
local function references(dir)
  local refs = {}
  for _, c in ipairs(commands()) do
    local r = { bytes = {} }
    for _ = 1, 2 do
      local code, out = sh(("cd %s && t0=$(date +%%s%%N) && %s %s >/dev/null && echo T=$(( ($(date +%%s%%N) - t0) / 1000 ))")
        :format(dir, calq_abs, c.cmd))
      assert(code == 0, c.name .. ": " .. out)
      r.seconds = math.min(r.seconds or math.huge, tonumber(out:match("T=(%d+)")) / 1e6)
    end
    for _, f in ipairs(c.exact) do r.bytes[f] = assert(slurp(dir .. "/" .. f), f) end
    refs[c.name] = r
  end
  return refs
end

-- One round: start c in dir, SIGKILL it after delay seconds (or let it end),
-- then check every output is absent-as-before, or complete (reference bytes /
-- whole JSON), and that every other file is a NAME.tmp of an output.
local function kill_round(dir, c, ref, delay)
  local _, out = sh(("cd %s && %s %s >/dev/null 2>&1 & pid=$!; sleep %.3f; kill -9 $pid 2>/dev/null; wait $pid; echo rc=$?")
    :format(dir, calq_abs, c.cmd, delay))
  local known = {}
  for _, f in ipairs(c.exact) do
    known[f] = true
    local got = slurp(dir .. "/" .. f)
    -- the reference run wrote every output once, so each is there from before
    assert(got, ("%s: %s missing after a kill at %.3f s"):format(c.name, f, delay))
    assert(got == ref.bytes[f], ("%s: %s torn or mixed after a kill at %.3f s (%d bytes, want %d)")
      :format(c.name, f, delay, #got, #ref.bytes[f]))
  end
  for _, f in ipairs(c.json or {}) do
    known[f] = true
    local text = slurp(dir .. "/" .. f)
    if text then
      assert(json.decode(text), ("%s: %s is not whole JSON after a kill at %.3f s"):format(c.name, f, delay))
    end
  end
  return out:match("rc=(%d+)")
end

local function leftovers(dir, keep)
  local extra = {}
  for _, f in ipairs(files(dir)) do
    if not keep[f] then extra[#extra + 1] = f end
  end
  return extra
end

local function kill_rounds(rounds)
  local seed = tonumber(os.getenv("CALQ_KILL_SEED") or "") or os.time()
  math.randomseed(seed)
  local dir = h.tmpdir()
  write_npy(dir .. "/x.npy", 1, 64)
  assert(h.run(("calibrate %s --calib %s/x.npy --shard 0/2 --output %s/a.calq"):format(fmnist, dir, dir)) == 0)
  assert(h.run(("calibrate %s --calib %s/x.npy --shard 1/2 --output %s/b.calq"):format(fmnist, dir, dir)) == 0)
  local refs = references(dir)
  local inputs = { ["x.npy"] = true, ["a.calq"] = true, ["b.calq"] = true }
  local keep = {}
  for k in pairs(inputs) do keep[k] = true end
  for _, c in ipairs(commands()) do
    for _, f in ipairs(c.exact) do keep[f] = true end
    for _, f in ipairs(c.json or {}) do keep[f] = true end
  end
  local cmds, killed, tmps = commands(), 0, {}
  for r = 1, rounds do
    local c = cmds[(r - 1) % #cmds + 1]
    local delay = math.random() * refs[c.name].seconds
    local ok, err = pcall(kill_round, dir, c, refs[c.name], delay)
    assert(ok, ("%s (seed %d, round %d)"):format(tostring(err), seed, r))
    if err ~= "0" then killed = killed + 1 end
    for _, f in ipairs(leftovers(dir, keep)) do
      -- a killed run may leave its NAME.tmp, and nothing else
      local base = f:match("^(.*)%.tmp$")
      assert(base and keep[base], ("left behind: %s (seed %d, round %d)"):format(f, seed, r))
      tmps[f] = true
    end
  end
  -- the next run of each command replaces what the killed ones left
  for _, c in ipairs(cmds) do
    local code, out = sh(("cd %s && %s %s >/dev/null"):format(dir, calq_abs, c.cmd))
    assert(code == 0, out)
  end
  assert.are.same({}, leftovers(dir, keep))
  os.execute("rm -rf " .. dir)
  return killed, tmps
end

describe("faults", function()
  if not h.exists(fmnist_train) or not h.exists(dlib_xml) then
    it("needs Fashion-MNIST and the dlib examples", function() pending("needs the real data") end)
    return
  end

  describe("SIGKILL at random points", function()
    it("never leaves a torn or mixed output; the next run cleans the .tmp files #noasan", function()
      local rounds = tonumber(os.getenv("CALQ_KILL_ROUNDS") or "") or 24
      local killed = kill_rounds(rounds)
      -- rounds must really kill something mid-way, or the test tests nothing
      -- (the delays are below the command's run time, but on a loaded machine
      -- some runs still end first)
      assert.is_true(killed >= rounds // 3, ("only %d of %d rounds were killed"):format(killed, rounds))
    end)

    it("200 rounds #slow", function()
      local killed, tmps = kill_rounds(200)
      assert.is_true(killed >= 67, ("only %d of 200 rounds were killed"):format(killed))
      local names = {}
      for f in pairs(tmps) do names[#names + 1] = f end
      table.sort(names)
      print(("\n200 SIGKILL rounds: %d killed mid-way; .tmp files seen: %s"):format(killed,
        #names > 0 and table.concat(names, ", ") or "none"))
    end)
  end)

  describe("calq calibrate --resume", function()
    local dir
    -- items in the set and the wall time of one whole run: the signals come
    -- at fractions of that time, so they land mid-run on a fast machine too
    local N, T = 6000, 0
    local clock = require("calq").io.clock
    -- One whole run of the set: its wall time is T, its statistics full.calq.
    local function full_run()
      local t0 = clock()
      local code, _, err = h.run(("calibrate %s --calib %s/x.npy --output %s/full.calq"):format(fmnist, dir, dir))
      assert(code == 0, err)
      T = clock() - t0
    end
    setup(function()
      dir = h.tmpdir()
      for _ = 1, 3 do
        write_npy(dir .. "/x.npy", 1, N)
        full_run()
        -- at least about 2 s a run (at most 60,000 items)
        if T >= 1.5 or N >= 60000 then break end
        N = math.min(60000, math.ceil(N * 2.2 / math.max(T, 0.05) / 1000) * 1000)
      end
    end)
    teardown(function() os.execute("rm -rf " .. dir) end)

    -- Start the resumable run, send sig after delay s; returns rc, stderr.
    local function stop(sig, delay, extra)
      local code, out = sh(("cd %s && %s calibrate %s --calib x.npy --output r.calq --resume %s >/dev/null 2>err.txt & pid=$!; sleep %.2f; kill -%s $pid 2>/dev/null; wait $pid; echo rc=$?")
        :format(dir, calq_abs, fmnist, extra or "", delay, sig))
      assert(code == 0, out)
      return tonumber(out:match("rc=(%d+)")), slurp(dir .. "/err.txt")
    end

    for _, case in ipairs{ { "INT", 130, 0.3 }, { "TERM", 143, 0.55 }, { "INT", 130, 0.8 } } do
      local sig, want, frac = case[1], case[2], case[3]
      it(("SIG%s at %.0f %% of a run, then --resume, equals one run"):format(sig, frac * 100), function()
        os.remove(dir .. "/r.calq")
        os.remove(dir .. "/r.calq.partial")
        -- The host's load moves between runs: a run that ended before its
        -- signal, or that got it while still starting (before calq set its
        -- handler: killed with no statistics to keep and nothing said), is
        -- timed again at the present load and interrupted again.
        local function early(c, e) return c == want and not e:find("items observed", 1, true) end
        local code, err = stop(sig, frac * T)
        for _ = 1, 3 do
          if code ~= 0 and not early(code, err) then break end
          os.remove(dir .. "/r.calq")
          os.remove(dir .. "/r.calq.partial")
          full_run()
          code, err = stop(sig, frac * T)
        end
        if code == 0 then
          pending("four runs ended before their signal (a busy machine): " .. err)
          return
        end
        assert.are.equal(want, code, err)
        local n = tonumber(err:match("(%d+) of " .. N .. " items observed, kept in r%.calq%.partial"))
        assert.is_truthy(n, err)
        assert.is_nil(slurp(dir .. "/r.calq"))
        assert.is_nil(slurp(dir .. "/r.calq.partial.tmp"))
        -- interrupt the resumed run too, when it lasts long enough
        local code2, err2 = stop(sig, 0.3 * T)
        if code2 ~= 0 and not early(code2, err2) then
          assert.are.equal(want, code2, err2)
          local n2 = tonumber(err2:match("(%d+) of " .. N .. " items observed"))
          assert.is_true(n2 >= n, err2)
        end
        local code3, _, err3 = h.run(("calibrate %s --calib %s/x.npy --output %s/r.calq --resume --json")
          :format(fmnist, dir, dir))
        assert.are.equal(0, code3, err3)
        assert.are.equal(slurp(dir .. "/full.calq"), slurp(dir .. "/r.calq"))
        assert.is_nil(slurp(dir .. "/r.calq.partial"))
      end)
    end

    it("without --resume an interrupted run keeps nothing; a stale checkpoint is not resumed", function()
      os.remove(dir .. "/r.calq")
      os.remove(dir .. "/r.calq.partial")
      local code = sh(("cd %s && %s calibrate %s --calib x.npy --output r.calq >/dev/null 2>&1 & pid=$!; sleep 0.4; kill -INT $pid; wait $pid")
        :format(dir, calq_abs, fmnist))
      assert.is_truthy(code)
      assert.is_nil(slurp(dir .. "/r.calq.partial"))
    end)

    it("refuses a checkpoint of another model or set, and --resume with moving averages", function()
      -- a checkpoint with more items than the set
      h.write(dir .. "/r.calq.partial", slurp(dir .. "/full.calq"))
      write_npy(dir .. "/small.npy", 1, 100)
      local code, _, err = h.run(("calibrate %s --calib %s/small.npy --output %s/r.calq --resume"):format(fmnist, dir, dir))
      assert.are.equal(1, code)
      assert.truthy(err:find("r.calq.partial: " .. N .. " items observed, the shard has 100", 1, true), err)
      os.remove(dir .. "/r.calq.partial")
      code, _, err = h.run(("calibrate %s --calib %s/small.npy --observer moving_avg --output %s/r.calq --resume"):format(fmnist, dir, dir))
      assert.are.equal(2, code)
      assert.truthy(err:find("--resume needs --observer hist or minmax", 1, true), err)
    end)
  end)
  describe("a full disk and a read-only folder", function()
    -- a small tmpfs (root only: elsewhere these are pending)
    local dir, mnt, mounted
    local outs = { "c.calq", "q.onnx", "list.txt", "m.calq" }
    local function cmds()
      return {
        ("calibrate %s --calib %s/x.npy --output %s/c.calq"):format(fmnist, dir, mnt),
        ("quantize %s --calib %s/x.npy --output %s/q.onnx --run-dir %s/run"):format(fmnist, dir, mnt, mnt),
        ("sample --annotations %s --format dlib --size 2 --output %s/list.txt"):format(dlib_xml, mnt),
        ("merge %s/a.calq %s/b.calq --output %s/m.calq"):format(dir, dir, mnt),
      }
    end
    setup(function()
      dir = h.tmpdir()
      mnt = dir .. "/mnt"
      assert(lfs.mkdir(mnt))
      mounted = sh(("mount -t tmpfs -o size=2m calq-faults %s"):format(mnt)) == 0
      write_npy(dir .. "/x.npy", 1, 64)
      assert(h.run(("calibrate %s --calib %s/x.npy --shard 0/2 --output %s/a.calq"):format(fmnist, dir, dir)) == 0)
      assert(h.run(("calibrate %s --calib %s/x.npy --shard 1/2 --output %s/b.calq"):format(fmnist, dir, dir)) == 0)
    end)
    teardown(function()
      if mounted then sh("umount " .. mnt) end
      os.execute("rm -rf " .. dir)
    end)

    -- Run every command again on the broken file system: each fails with
    -- exit 1 and a message naming a file under mnt and the reason; every
    -- earlier output keeps its bytes, and no .tmp is left.
    local function refuse(reason)
      local before = {}
      for _, f in ipairs(outs) do before[f] = assert(slurp(mnt .. "/" .. f)) end
      for _, c in ipairs(cmds()) do
        local code, _, err = h.run(c)
        assert.are.equal(1, code, c .. ": " .. err)
        assert.truthy(err:find(mnt, 1, true), err)
        assert.truthy(err:find(reason, 1, true), err)
      end
      for _, f in ipairs(outs) do assert.are.equal(before[f], slurp(mnt .. "/" .. f), f) end
      for _, f in ipairs(files(mnt)) do assert.is_nil(f:match("%.tmp$"), f) end
    end

    it("full: a clear error, the earlier files intact", function()
      if not mounted then pending("mount -t tmpfs is refused here (not root)") return end
      for _, c in ipairs(cmds()) do
        local code, _, err = h.run(c)
        assert.are.equal(0, code, err)
      end
      -- fill what is left (dd stops at ENOSPC)
      sh(("dd if=/dev/zero of=%s/fill bs=4k"):format(mnt))
      refuse("No space left on device")
      os.remove(mnt .. "/fill")
    end)

    it("read-only: a clear error, the earlier files intact", function()
      if not mounted then pending("mount -t tmpfs is refused here (not root)") return end
      assert(slurp(mnt .. "/c.calq"), "needs the outputs of the test before")
      assert.are.equal(0, (sh("mount -o remount,ro " .. mnt)))
      local ok, err = pcall(refuse, "Read-only file system")
      sh("mount -o remount,rw " .. mnt)
      assert(ok, err)
    end)
  end)
end)

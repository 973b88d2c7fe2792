-- Ctrl-C: SIGINT sent to a running `calq calibrate` / `calq quantize` stops it
-- with exit 130 and "calq: interrupted", and leaves no output, no .tmp and no
-- run folder file behind. The signal is sent once the progress lines show the
-- work is under way (CALQ_PROGRESS=lines: stderr is a file here).
local calq = require "calq"
local h = require "tests.lua.helpers"
local lfs = require "lfs"

local fmnist = "models/fashion_mnist/fmnist_cnn.onnx"
local fmnist_train = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

-- Files under dir, sorted (relative names, folders with a trailing /).
local function listing(dir, prefix, out)
  out = out or {}
  for f in lfs.dir(dir) do
    if f ~= "." and f ~= ".." then
      local p = dir .. "/" .. f
      if lfs.attributes(p, "mode") == "directory" then
        out[#out + 1] = (prefix or "") .. f .. "/"
        listing(p, (prefix or "") .. f .. "/", out)
      else
        out[#out + 1] = (prefix or "") .. f
      end
    end
  end
  table.sort(out)
  return out
end

-- Start `calq ARGS` in the background, wait for stderr to match `wait`, send
-- SIGINT, wait for it: exit code, stderr, and whether the signal went out
-- before the command ended on its own.
local function interrupt(dir, args, wait)
  local script = ([[
cd %s
CALQ_PROGRESS=lines %s %s 2>err.txt >out.txt &
pid=$!
sent=no
for i in $(seq 1 600); do
  if grep -q %q err.txt 2>/dev/null; then kill -INT $pid 2>/dev/null && sent=yes; break; fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
wait $pid
echo "rc=$? sent=$sent"
]]):format(dir, lfs.currentdir() .. "/" .. h.calq_bin, args, wait)
  local p = io.popen("sh -c " .. ("'%s'"):format(script:gsub("'", "'\\''")))
  local res = p:read("a")
  p:close()
  local err = h.read(dir .. "/err.txt")
  os.remove(dir .. "/err.txt")
  os.remove(dir .. "/out.txt")
  return tonumber(res:match("rc=(%d+)")), err, res:match("sent=(%a+)") == "yes"
end

describe("Ctrl-C", function()
  if not h.exists(fmnist_train) then
    it("needs Fashion-MNIST", function() pending("needs Debian's dataset-fashion-mnist") end)
    return
  end
  local dir = h.tmpdir()
  -- enough items that calibration runs for seconds (the first progress line
  -- comes after one second, then every 10 %)
  setup(function()
    local x = assert(calq.data.read_idx(fmnist_train, 1, 30000)):dequantize(1 / 255)
    local s = x:shape()
    assert(calq.io.npy_write(dir .. "/x.npy", x:view{ s[1], 1, s[2], s[3] }))
  end)
  teardown(function() os.execute("rm -rf " .. dir) end)

  it("stops calq calibrate cleanly: exit 130, no statistics file, no .tmp", function()
    local model = lfs.currentdir() .. "/" .. fmnist
    local code, err, sent = interrupt(dir, ("calibrate %s --calib x.npy --batch 8 --output s.calq"):format(model),
      "calibrating: ")
    assert.is_true(sent, "the run ended before the signal: " .. err)
    assert.are.equal(130, code, err)
    assert.truthy(err:find("calibrating: %d+/30000 items"), err)
    assert.truthy(err:find("calq: interrupted\n$"), err)
    assert.are.same({ "x.npy" }, listing(dir))
  end)

  it("stops calq quantize cleanly: no model, no .tmp, no run folder", function()
    local model = lfs.currentdir() .. "/" .. fmnist
    local code, err, sent = interrupt(dir, ("quantize %s --calib x.npy --output q.onnx --run-dir R"):format(model),
      "calibration: ")
    assert.is_true(sent, "the run ended before the signal: " .. err)
    assert.are.equal(130, code, err)
    assert.truthy(err:find("calq: interrupted\n$"), err)
    assert.are.same({ "x.npy" }, listing(dir))
  end)

  it("is not a failure of a run that was left alone (the same command, no signal, writes its files)", function()
    local code, _, err = h.run(("calibrate %s --calib %s/x.npy --batch 64 --output %s/s.calq"):format(fmnist, dir, dir))
    assert.are.equal(0, code, err)
    assert.are.same({ "s.calq", "x.npy" }, listing(dir))
    os.remove(dir .. "/s.calq")
  end)
end)

-- The embedding example (examples/embed/host.c, docs/embedding.md): a C host with its
-- own lua_State, calq.core linked in and the Lua modules found by package.path, runs a
-- recipe given on its command line and exits with the recipe's status.
local h = require "tests.lua.helpers"

local build = os.getenv("BUILD") or "build"
local host = "./" .. build .. "/examples/embed/host"
local model = "models/fashion_mnist/fmnist_cnn.onnx"

-- Run the host: exit code, stdout and stderr together.
local function run(args, prefix)
  local p = io.popen((prefix or "") .. host .. " " .. args .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out
end

describe("the embedding host #noasan", function()
  local dir
  setup(function() dir = h.tmpdir() end)
  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

  it("runs examples/embed/fmnist.lua: the Fashion-MNIST model on real test images", function()
    if not h.exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") then
      pending("needs dataset-fashion-mnist (make bootstrap)")
      return
    end
    local code, out = run("-L scripts examples/embed/fmnist.lua " .. model .. " 256")
    assert.equal(0, code, out)
    local right = tonumber(out:match("calq [%d.]+: (%d+) of 256 right"))
    assert.is_true(right and right >= 0.85 * 256, out)
  end)

  it("passes the arguments and returns the recipe's status", function()
    local r = h.write(dir .. "/status.lua", [[
local calq = require "calq"
assert(package.loaded["calq.core"] == require("calq.core"))
local t = calq.tensor.new { { 1, 2 }, { 3, 4 } }
print(arg[0]:match("[^/]+$"), select("#", ...), t:stats().sum)
return tonumber(arg[1])
]])
    local code, out = run("-L scripts " .. r .. " 3 x")
    assert.equal(3, code, out)
    assert.equal("status.lua\t2\t10.0\n", out)
    code, out = run("-L scripts " .. r .. " 0")
    assert.equal(0, code, out)
  end)

  it("reports a recipe's error, a missing or broken recipe and bad usage", function()
    local r = h.write(dir .. "/fail.lua", 'local calq = require "calq"\n'
      .. 'assert(calq.onnx.load("' .. dir .. '/none.onnx"))\n')
    local code, out = run("-L scripts " .. r)
    assert.equal(1, code, out)
    assert.matches("host: .*fail%.lua:2: .*none%.onnx", out)
    code, out = run("-L scripts " .. dir .. "/missing.lua")
    assert.equal(2, code, out)
    assert.matches("host: cannot open .*missing%.lua", out)
    h.write(dir .. "/broken.lua", "local x = = 1\n")
    code, out = run(dir .. "/broken.lua")
    assert.equal(2, code, out)
    assert.matches("host: .*broken%.lua:1:", out)
    code, out = run("")
    assert.equal(2, code, out)
    assert.matches("usage: host", out)
  end)

  it("needs the Lua part on package.path: without -L, require \"calq\" fails clearly", function()
    local r = h.write(dir .. "/req.lua", 'require "calq"\n')
    -- (the specs run with LUA_PATH at scripts/: the host must not see it here)
    local code, out = run(r, "env -u LUA_PATH -u LUA_PATH_5_4 ")
    assert.equal(1, code, out)
    assert.matches("module 'calq' not found", out, 1, true)
  end)
end)

-- make install PREFIX=... into a temporary prefix: the library (shared and static), the
-- public headers, calq.pc, the Lua module, the command and the profiles; a C program
-- (examples/embed/classify.c) built against the installed copy with pkg-config, once on
-- libcalq.so and once on libcalq.a, classifies Fashion-MNIST test images.
local h = require "tests.lua.helpers"

local build = os.getenv("BUILD") or "build"
local idx = "/usr/share/datasets/fashion-mnist/t10k-"
local model = "models/fashion_mnist/fmnist_cnn.onnx"

-- Run a shell command line: ok, output (stdout and stderr).
local function sh(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1")
  local out = p:read("a")
  return p:close() == true, out
end

describe("make install #noasan", function()
  local prefix, stage, env
  setup(function()
    prefix = h.tmpdir()
    stage = h.tmpdir()
    local ok, out = sh(("make --no-print-directory BUILD=%s install PREFIX=%s"):format(build, prefix))
    assert(ok, out)
    env = ("export PKG_CONFIG_PATH=%s/lib/pkgconfig;"):format(prefix)
  end)
  teardown(function()
    os.execute(("rm -rf '%s' '%s'"):format(prefix, stage))
  end)

  it("installs the library, the headers, calq.pc, the module, the command, the profiles", function()
    for _, f in ipairs {
      "lib/libcalq.a", "lib/libcalq.so.0", "lib/libcalq.so", "lib/pkgconfig/calq.pc",
      "include/calq/calq.h", "include/calq/base/tensor.h", "include/calq/base/status.h",
      "include/calq/onnx/onnx.h", "include/calq/graph/graph.h", "include/calq/exec/exec.h",
      "include/calq/quant/quant.h", "include/calq/calib/observer.h", "include/calq/data/idx.h",
      "share/lua/5.4/calq/init.lua", "share/lua/5.4/calq/cli.lua", "lib/lua/5.4/calq/core.so",
      "bin/calq",
    } do
      assert.is_true(h.exists(prefix .. "/" .. f), f .. " not installed")
    end
    -- no internal header, no x86 kernel header
    local ok, out = sh(("find %s/include -name '*_internal.h' -o -path '*/x86/*'"):format(prefix))
    assert.is_true(ok, out)
    assert.equal("", out)
    -- every profile under recipes/profiles goes to calq/profiles
    ok, out = sh("ls recipes/profiles/*.lua 2>/dev/null")
    for f in out:gmatch("recipes/profiles/([^\n]+%.lua)") do
      assert.is_true(h.exists(prefix .. "/share/lua/5.4/calq/profiles/" .. f), f)
    end
  end)

  it("writes calq.pc with the prefix, the version calq reports and the private libraries", function()
    local ok, version = sh(("%s pkg-config --modversion calq"):format(env))
    assert.is_true(ok, version)
    local ok2, says = sh(prefix .. "/bin/calq version")
    assert.is_true(ok2, says)
    assert.equal("calq " .. version, says)
    local _, cflags = sh(env .. " pkg-config --cflags calq")
    assert.equal(("-I%s/include/calq"):format(prefix), (cflags:gsub("%s+$", "")))
    local _, libs = sh(env .. " pkg-config --static --libs calq")
    assert.matches("-lcalq", libs, 1, true)
    assert.matches("-lopenblas", libs, 1, true)
    assert.matches("-llz4", libs, 1, true)
  end)

  it("exports the public API from libcalq.so and only luaopen_calq_core from core.so", function()
    local ok, syms = sh(("nm -D --defined-only %s/lib/libcalq.so.0"):format(prefix))
    assert.is_true(ok, syms)
    for _, f in ipairs { "cq_onnx_load", "cq_exec_new", "cq_exec_run", "cq_tensor_new", "cq_idx_open" } do
      assert.matches(" T " .. f .. "\n", syms, 1, true)
    end
    assert.is_nil(syms:match(" T cq__"), "an internal cq__ helper is exported")
    local _, soname = sh(("objdump -p %s/lib/libcalq.so.0 | grep SONAME"):format(prefix))
    assert.matches("libcalq.so.0", soname, 1, true)
    local _, mod = sh(("nm -D --defined-only %s/lib/lua/5.4/calq/core.so | grep ' T '"):format(prefix))
    assert.equal("luaopen_calq_core", (mod:match("^%x+ T (%S+)\n$")))
    -- the module does not link liblua: the interpreter that loads it provides Lua
    local _, needed = sh(("objdump -p %s/lib/lua/5.4/calq/core.so | grep NEEDED"):format(prefix))
    assert.is_nil(needed:match("liblua"), needed)
  end)

  it("builds a C program against the installed copy (shared and static) that runs a model", function()
    if not h.exists(idx .. "images-idx3-ubyte.gz") then
      pending("needs dataset-fashion-mnist (make bootstrap)")
      return
    end
    -- a copy of the program outside the repo, so that nothing of core/ can be found
    local src = stage .. "/classify.c"
    h.write(src, h.read("examples/embed/classify.c"))
    local args = (" %s %simages-idx3-ubyte.gz %slabels-idx1-ubyte.gz 256 0.85"):format(model, idx, idx)
    local ok, out = sh(("cd %s && %s cc -std=c99 -Wall -Wextra -Werror classify.c $(pkg-config --cflags --libs calq) "
      .. "-Wl,-rpath,%s/lib -o classify_so"):format(stage, env, prefix))
    assert.is_true(ok, out)
    ok, out = sh(("objdump -p %s/classify_so | grep NEEDED"):format(stage))
    assert.matches("libcalq.so.0", out, 1, true)
    ok, out = sh(stage .. "/classify_so" .. args)
    assert.is_true(ok, out)
    local right = tonumber(out:match("(%d+) of 256 right"))
    assert.is_true(right and right >= 0.85 * 256, out)
    -- static: libcalq.a and Libs.private
    ok, out = sh(("cd %s && %s cc -std=c99 classify.c $(pkg-config --cflags calq) -Wl,-Bstatic -lcalq "
      .. "-Wl,-Bdynamic -L%s/lib $(pkg-config --static --libs calq | sed 's/-lcalq//') -o classify_a")
      :format(stage, env, prefix))
    assert.is_true(ok, out)
    ok, out = sh(("objdump -p %s/classify_a | grep NEEDED"):format(stage))
    assert.is_nil(out:match("libcalq"), out)
    local ok2, out2 = sh(stage .. "/classify_a" .. args)
    assert.is_true(ok2, out2)
    assert.equal(right, tonumber(out2:match("(%d+) of 256 right")))
    -- a file that is not a model: a clear error, exit 1
    ok, out = sh(("%s/classify_so %s %simages-idx3-ubyte.gz %slabels-idx1-ubyte.gz"):format(stage, src, idx, idx))
    assert.is_false(ok)
    assert.matches("classify: .*classify%.c", out)
  end)
end)

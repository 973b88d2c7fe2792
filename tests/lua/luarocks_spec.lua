-- LuaRocks: `luarocks --lua-version=5.4 make` with the repo's rockspec installs the
-- module (the Lua part and calq/core.so) and the calq command into a tree; a recipe
-- then runs from outside the repo with the tree's paths, by lua5.4 and by the command.
-- The rock builds through the Makefile in $BUILD (up to date here, so it only installs).
local h = require "tests.lua.helpers"

local build = os.getenv("BUILD") or "build"
local cwd = os.getenv("PWD")
local model = cwd .. "/models/fashion_mnist/fmnist_cnn.onnx"

local function sh(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1")
  local out = p:read("a")
  return p:close() == true, out
end

describe("luarocks make #noasan", function()
  if not sh("command -v luarocks") then
    pending("needs luarocks (make bootstrap)")
    return
  end
  local tree, away
  setup(function()
    tree = h.tmpdir()
    away = h.tmpdir()
  end)
  teardown(function()
    os.execute(("rm -rf '%s' '%s'"):format(tree, away))
  end)

  it("installs the module and the command into a tree; a recipe runs from outside the repo", function()
    -- lua-filesystem comes from Debian (bootstrap), not from the tree: --deps-mode=none
    local ok, out = sh(("BUILD=%s luarocks --lua-version=5.4 make --tree %s --deps-mode=none calq-scm-1.rockspec")
      :format(build, tree))
    assert.is_true(ok, out)
    for _, f in ipairs { "share/lua/5.4/calq/init.lua", "share/lua/5.4/calq/eval.lua",
                         "lib/lua/5.4/calq/core.so", "bin/calq" } do
      assert.is_true(h.exists(tree .. "/" .. f), f .. " not in the tree:\n" .. out)
    end
    local _, needed = sh(("objdump -p %s/lib/lua/5.4/calq/core.so | grep NEEDED"):format(tree))
    assert.is_nil(needed:match("liblua"), "calq/core.so links liblua:\n" .. needed)
    ok, out = sh(("luarocks --lua-version=5.4 --tree %s list --porcelain calq"):format(tree))
    assert.matches("^calq\tscm%-1\tinstalled", out)

    h.write(away .. "/fmnist.lua", h.read("examples/embed/fmnist.lua"))
    local paths = ("cd %s && LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua;;' "
      .. "LUA_CPATH='%s/lib/lua/5.4/?.so;;'"):format(away, tree, tree, tree)
    -- lua5.4: both halves of the module come from the tree, not from the repo
    ok, out = sh(paths .. [[ lua5.4 -e 'require "calq"; io.write(package.searchpath("calq", package.path), " ",
      package.searchpath("calq.core", package.cpath), "\n")']])
    assert.is_true(ok, out)
    assert.equal(("%s/share/lua/5.4/calq/init.lua %s/lib/lua/5.4/calq/core.so\n"):format(tree, tree), out)
    if not h.exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") then
      pending("needs dataset-fashion-mnist (make bootstrap)")
      return
    end
    ok, out = sh(paths .. " lua5.4 fmnist.lua " .. model .. " 256")
    assert.is_true(ok, out)
    assert.matches("calq [%d.]+: %d+ of 256 right", out)
    -- the installed command (its Lua sources are compiled in)
    local ok2, out2 = sh(paths .. (" %s/bin/calq run fmnist.lua %s 256"):format(tree, model))
    assert.is_true(ok2, out2)
    assert.equal(out, out2)
  end)
end)

-- make deb: Debian's tooling (dpkg-buildpackage, debhelper) builds calq, libcalq0 and
-- libcalq-dev out of the tree; unpacked into a temporary root (dpkg -x), the command
-- runs, lua5.4 requires "calq" from that root, and a C program builds against the
-- root's libcalq-dev. CALQ_DEB_REUSE=1 makes the package of the objects of $BUILD
-- (built and tested already), so this takes seconds, not a full compile; a package
-- from scratch is `make deb`.
local h = require "tests.lua.helpers"
local lfs = require "lfs"

local build = os.getenv("BUILD") or "build"
local cwd = os.getenv("PWD")

local function sh(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1")
  local out = p:read("a")
  return p:close() == true, out
end

describe("make deb #noasan", function()
  if not sh("command -v dpkg-buildpackage && command -v dh") then
    pending("needs dpkg-dev and debhelper (make bootstrap)")
    return
  end
  local root
  setup(function() root = h.tmpdir() end)
  teardown(function() os.execute("rm -rf '" .. root .. "'") end)

  it("builds the packages out of the tree; unpacked, the command and the module run", function()
    local ok, out = sh(("CALQ_DEB_REUSE=1 DEB_BUILD_OPTIONS=noautodbgsym make --no-print-directory BUILD=%s deb")
      :format(build))
    assert.is_true(ok, out)
    local debs = {}
    for name, path in out:gmatch("(([%w%-]+)_[^/\n]*%.deb)") do debs[path] = name end
    for _, p in ipairs { "calq", "libcalq0", "libcalq-dev" } do
      assert.is_string(debs[p], p .. " not built:\n" .. out)
    end
    local dir = ("%s/%s/deb"):format(cwd, build)
    -- nothing was written into the source tree (the build ran in a copy)
    for _, f in ipairs { "debian/files", "debian/tmp", "debian/.debhelper", "debian/calq",
                         "debian/debhelper-build-stamp", "build-deb" } do
      assert.is_nil(h.exists(f) or lfs.attributes(f), f .. " left in the tree")
    end
    local _, up = sh("ls .. | grep '^calq_.*\\.changes$\\|^calq_.*\\.buildinfo$' || true")
    assert.equal("", up)

    -- the version is calq's, the Lua module's dependency is declared
    local _, fields = sh(("dpkg-deb -f %s/%s Version Depends"):format(dir, debs.calq))
    local _, says = sh(("./%s/calq version"):format(build))
    assert.equal(says:match("calq (%S+)"), fields:match("Version: (%S+)-%d+"))
    assert.matches("lua-filesystem", fields, 1, true)
    assert.matches("liblua5.4-0", fields, 1, true)

    for _, p in ipairs { "calq", "libcalq0", "libcalq-dev" } do
      ok, out = sh(("dpkg -x %s/%s %s"):format(dir, debs[p], root))
      assert.is_true(ok, out)
    end
    local triplet = select(2, sh("dpkg-architecture -qDEB_HOST_MULTIARCH")):gsub("%s+$", "")
    for _, f in ipairs { "usr/bin/calq", "usr/share/lua/5.4/calq/init.lua",
                         "usr/lib/" .. triplet .. "/lua/5.4/calq/core.so",
                         "usr/lib/" .. triplet .. "/libcalq.so.0", "usr/include/calq/calq.h",
                         "usr/lib/" .. triplet .. "/pkgconfig/calq.pc" } do
      assert.is_true(h.exists(root .. "/" .. f), f .. " not in the packages")
    end
    ok, out = sh(root .. "/usr/bin/calq version")
    assert.is_true(ok, out)
    assert.equal(says, out)
    -- require "calq" from the root: Debian's paths, rooted there
    local env = ("LUA_PATH='%s/usr/share/lua/5.4/?.lua;%s/usr/share/lua/5.4/?/init.lua' "
      .. "LUA_CPATH='%s/usr/lib/%s/lua/5.4/?.so;;'"):format(root, root, root, triplet)
    ok, out = sh(("cd %s && %s lua5.4 -e 'local calq = require \"calq\"; "
      .. "local m = assert(calq.onnx.load(\"%s/models/fashion_mnist/fmnist_cnn.onnx\")); "
      .. "local y = assert(m:run { input = calq.tensor.zeros { 2, 1, 28, 28 } }); "
      .. "print(calq.version, package.searchpath(\"calq.core\", package.cpath), "
      .. "table.concat(y.logits:shape(), \"x\"))'"):format(root, env, cwd))
    assert.is_true(ok, out)
    assert.equal(("%s\t%s/usr/lib/%s/lua/5.4/calq/core.so\t2x10\n"):format(says:match("calq (%S+)"),
      root, triplet), out)
    -- libcalq-dev: calq.pc under the root (sysroot), linked against the root's library
    ok, out = sh(("cd %s && export PKG_CONFIG_SYSROOT_DIR=%s PKG_CONFIG_LIBDIR=%s/usr/lib/%s/pkgconfig; "
      .. "cc -std=c99 %s/examples/embed/classify.c $(pkg-config --cflags --libs calq) -o classify "
      .. "&& LD_LIBRARY_PATH=%s/usr/lib/%s ./classify; echo status $?")
      :format(root, root, root, triplet, cwd, root, triplet))
    assert.matches("usage: classify", out, 1, true)
    assert.matches("status 2\n$", out)
  end)
end)

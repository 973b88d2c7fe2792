-- The Debian packages installed by apt-get in a fresh Debian chroot (debootstrap; the
-- base is kept under $CALQ_CACHE) and run there: calq version, and a ten-line recipe on
-- the Fashion-MNIST model by the command and by lua5.4 (tools/deb-chroot.sh). Needs root,
-- debootstrap and the network; minutes: #slow.
local build = os.getenv("BUILD") or "build"

local function sh(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1")
  local out = p:read("a")
  return p:close() == true, out
end

describe("the Debian packages in a fresh chroot #slow", function()
  local ok_root = sh("[ \"$(id -u)\" = 0 ] && command -v debootstrap && command -v dh")
  if not ok_root then
    pending("needs root, debootstrap and debhelper")
    return
  end

  it("install with apt-get and run the command and the Lua module", function()
    local ok, out = sh(("CALQ_DEB_REUSE=1 DEB_BUILD_OPTIONS=noautodbgsym make --no-print-directory BUILD=%s deb")
      :format(build))
    assert.is_true(ok, out)
    local _, says = sh(("./%s/calq version"):format(build))
    ok, out = sh(("tools/deb-chroot.sh %s/deb"):format(build))
    assert.is_true(ok, out)
    local version = says:match("calq (%S+)")
    assert.matches("\n?" .. says:gsub("%p", "%%%0"), out)
    local runs = {}
    for right in out:gmatch("calq [%d.]+: (%d+) of 256 right") do runs[#runs + 1] = tonumber(right) end
    assert.equal(2, #runs, out)
    assert.equal(runs[1], runs[2])
    assert.is_true(runs[1] >= 0.85 * 256, out)
    for _, p in ipairs { "calq", "libcalq0", "libcalq-dev" } do
      assert.matches(("\n%s %s%%-1 install ok installed"):format(p:gsub("%-", "%%-"), version:gsub("%.", "%%.")), out)
    end
  end)
end)

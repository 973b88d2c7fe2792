-- Helpers the specs share (not a spec itself: busted runs *_spec.lua). From a
-- spec, run from the repo root as `make luatest` does:
--   local h = require "tests.lua.helpers"
local lfs = require "lfs"

local h = {}

-- The calq command under test: ./$BUILD/calq (build by default).
h.calq_bin = "./" .. (os.getenv("BUILD") or "build") .. "/calq"

-- A new empty folder under the system's temporary one.
function h.tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(lfs.mkdir(p))
  return p
end

-- The whole file (raises if it cannot be opened).
function h.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Write text to path, replacing it; returns path.
function h.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- Whether path opens for reading.
function h.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The .jpg files one folder down from dir (dlib's johns/<person>/), sorted.
function h.jpgs_below(dir)
  local paths = {}
  for sub in lfs.dir(dir) do
    if sub:sub(1, 1) ~= "." then
      for f in lfs.dir(dir .. "/" .. sub) do
        if f:match("%.jpg$") then paths[#paths + 1] = dir .. "/" .. sub .. "/" .. f end
      end
    end
  end
  table.sort(paths)
  return paths
end

-- Run the calq command with a shell command line: exit code, stdout, stderr.
function h.run(cmdline)
  local err = os.tmpname()
  local p = io.popen(h.calq_bin .. " " .. cmdline .. " 2>" .. err)
  local out = p:read("a")
  local _, _, code = p:close()
  local e = h.read(err)
  os.remove(err)
  return code, out, e
end

return h

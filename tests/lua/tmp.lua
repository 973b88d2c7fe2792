-- busted's helper (.busted): every temporary name the specs take, os.tmpname's and so
-- helpers.tmpdir's, lies in one folder of this run, which goes when the suite ends.
-- os.tmpname makes /tmp/lua_XXXXXX files that specs then use as bases for other
-- names (BASE .. ".npy", a folder in its place): left there, a run would leave
-- hundreds of them behind.
local lfs = require "lfs"
local busted = require "busted"

local root = os.tmpname()
os.remove(root)
assert(lfs.mkdir(root))
local made = 0

-- Like Lua's own: a new empty file, its name returned.
function os.tmpname()
  made = made + 1
  local path = ("%s/t%d"):format(root, made)
  local f = assert(io.open(path, "w"))
  f:close()
  return path
end

local function remove_tree(path)
  local attr = lfs.symlinkattributes(path)
  if attr and attr.mode == "directory" then
    for name in lfs.dir(path) do
      if name ~= "." and name ~= ".." then remove_tree(path .. "/" .. name) end
    end
    lfs.rmdir(path)
  elseif attr then
    os.remove(path)
  end
end

busted.subscribe({ "suite", "end" }, function()
  remove_tree(root)
  return nil, true
end)

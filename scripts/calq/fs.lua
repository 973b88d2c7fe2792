--- calq.fs: the file-system steps the commands and builders share (lfs).
--   local fs = require "calq.fs"
--   assert(fs.mkdirs("out/a/b"))                  -- mkdir -p
--   assert(fs.write_atomic("out/list.txt", text)) -- path.tmp, then rename
-- Both return true, or nil and a message naming the path.
local lfs = require "lfs"

local fs = {}

--- Create dir and any missing parents. A path that exists as something other
-- than a folder is an error.
function fs.mkdirs(dir)
  local check = require "calq.check"
  if type(dir) ~= "string" then check.typeerror(1, "mkdirs", "string", dir) end
  if dir == "" then check.argerror(1, "mkdirs", "path is empty") end
  local mode = lfs.attributes(dir, "mode")
  if mode == "directory" then return true end
  if mode then return nil, dir .. ": exists and is not a folder" end
  local parent = dir:match("^(.*[^/])/+[^/]+/*$")
  if parent then
    local ok, err = fs.mkdirs(parent)
    if not ok then return nil, err end
  end
  local ok, err = lfs.mkdir(dir)
  -- another process may have made it in between
  if not ok and lfs.attributes(dir, "mode") ~= "directory" then return nil, dir .. ": " .. err end
  return true
end

--- Write text to path.tmp, then rename it to path. Returns true, or nil,
-- message (the .tmp removed) when any step fails. An error raised on the way
-- (Ctrl-C: the calq command's "interrupted") removes the .tmp too and is
-- raised again, so an interrupted write leaves neither file behind.
function fs.write_atomic(path, text)
  local tmp, f = path .. ".tmp", nil
  local ok, res, msg = pcall(function()
    local oerr
    f, oerr = io.open(tmp, "wb")
    if not f then return nil, oerr end
    local wok, werr = f:write(text)
    local cok, cerr = f:close()
    if not wok or not cok then
      return nil, ("%s: %s"):format(tmp, werr or cerr or "write failed")
    end
    local rok, rerr = os.rename(tmp, path)
    if not rok then return nil, ("%s: %s"):format(path, rerr) end
    return true
  end)
  if ok and res then return true end
  if f == nil and ok then return nil, msg end -- not opened: nothing to remove
  if io.type(f) == "file" then f:close() end
  os.remove(tmp)
  if not ok then error(res, 0) end
  return nil, msg
end

return fs

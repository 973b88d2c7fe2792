--- calq.fs: the file-system steps the commands and builders share (lfs).
--   local fs = require "calq.fs"
--   assert(fs.mkdirs("out/a/b"))                  -- mkdir -p
--   assert(fs.write_atomic("out/list.txt", text)) -- path.tmp, fsync, rename
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

--- Write text to path.tmp, fsync it, rename it to path and fsync the folder
-- (calq.io.write_atomic, base/fileio.h). Returns true, or nil, message (the
-- .tmp removed) when any step fails. A process killed part-way leaves path as
-- it was or complete, and at most path.tmp, which the next write of path
-- replaces (docs/reliability.md). An error raised around the call (Ctrl-C:
-- the calq command's "interrupted") removes the .tmp too and is raised
-- again, so an interrupted write leaves neither file behind.
function fs.write_atomic(path, text)
  local ok, res, msg = pcall(require("calq.core").io.write_atomic, path, text)
  if ok then return res, msg end
  os.remove(path .. ".tmp")
  error(res, 0)
end

return fs

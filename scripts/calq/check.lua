--- calq.check: argument errors for the modules written in Lua, worded as
-- Lua's own (luaL_argerror, luaL_typeerror) so misuse reads the same whether
-- the function is C or Lua:
--   local check = require "calq.check"
--   check.argerror(2, "unmap", "number expected, got nil")
--     --> bad argument #2 to 'unmap' (number expected, got nil)
--   check.typeerror(1, "filter", "function", v)
--     --> bad argument #1 to 'filter' (function expected, got calq.Dataset)
-- level is error()'s, counted from the function that calls the helper: the
-- default 2 blames the caller of that function. A helper that checks for a
-- public function passes 3.
local check = {}

--- The name Lua's messages use for v's type: a userdata's __name, else type(v).
function check.typename(v)
  local mt = getmetatable(v)
  if type(mt) == "table" and type(mt.__name) == "string" then return mt.__name end
  return type(v)
end

--- Raise "bad argument #n to 'fname' (msg)".
function check.argerror(n, fname, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), (level or 2) + 1)
end

--- Raise "bad argument #n to 'fname' (expected expected, got <typename of v>)".
function check.typeerror(n, fname, expected, v, level)
  check.argerror(n, fname, ("%s expected, got %s"):format(expected, check.typename(v)), (level or 2) + 1)
end

return check

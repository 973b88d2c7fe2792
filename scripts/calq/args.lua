--- calq.args: a small command-line parser shared by every subcommand.
--   local args = require "calq.args"
--   local opts, rest = args.parse(argv, {
--     size = { type = "integer", default = 100 },   -- --size N
--     seed = { type = "integer" },
--     input = { type = "string", multiple = true },  -- --input A --input B -> {A, B}
--     json = { type = "boolean" },                  -- --json
--   }, "calq sample")
-- Unknown options, missing values and bad numbers raise "calq sample: ..." (no traceback).
local args = {}

local function fail(prog, fmt, ...)
  error((prog or "calq") .. ": " .. fmt:format(...), 0)
end

function args.parse(argv, spec, prog)
  local opts, rest = {}, {}
  for name, s in pairs(spec) do
    if s.multiple then opts[name] = {} elseif s.default ~= nil then opts[name] = s.default end
  end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      table.move(argv, i + 1, #argv, #rest + 1, rest)
      break
    end
    local name, inline = a:match("^%-%-([%w%-_]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w%-_]+)$") end
    if name then
      local key = name:gsub("%-", "_")
      local s = spec[key]
      if not s then fail(prog, "unknown option --%s", name) end
      local v
      if s.type == "boolean" then
        if inline then fail(prog, "--%s takes no value", name) end
        v = true
      else
        v = inline
        if not v then
          i = i + 1
          v = argv[i]
          if v == nil then fail(prog, "--%s needs a value", name) end
        end
        if s.type == "integer" then
          local n = math.tointeger(tonumber(v))
          if not n then fail(prog, "--%s: '%s' is not an integer", name, v) end
          v = n
        elseif s.type == "number" then
          local n = tonumber(v)
          if not n then fail(prog, "--%s: '%s' is not a number", name, v) end
          v = n
        end
        if s.choices then
          local ok = false
          for _, c in ipairs(s.choices) do ok = ok or c == v end
          if not ok then fail(prog, "--%s: '%s' is not one of %s", name, v, table.concat(s.choices, ", ")) end
        end
      end
      if s.multiple then table.insert(opts[key], v) else opts[key] = v end
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  for name, s in pairs(spec) do
    if s.required and opts[name] == nil then fail(prog, "--%s is required", name:gsub("_", "-")) end
  end
  return opts, rest
end

return args

--- calq.args: a small command-line parser shared by every subcommand.
--   local args = require "calq.args"
--   local opts, rest = args.parse(argv, {
--     size = { type = "integer", default = 100 },   -- --size N
--     seed = { type = "integer" },
--     input = { type = "string", multiple = true },  -- --input A --input B -> {A, B}
--     json = { type = "boolean" },                  -- --json
--   }, "calq sample")
-- Unknown options, missing values and bad numbers raise a usage error
-- {usage = "calq sample: ..."} (args.is_usage): the command line prints it
-- without a traceback and exits 2.
local args = {}

-- A usage error: a table {usage = "PROG: ..."} that prints as its message.
-- calq.cli prints it and exits 2 (bad usage); errors of the work stay strings
-- and exit 1.
local Usage = { __tostring = function(e) return e.usage end }

local function fail(prog, fmt, ...)
  error(setmetatable({ usage = (prog or "calq") .. ": " .. fmt:format(...) }, Usage), 0)
end

--- Whether err is a usage error (raised by args.parse or args.usage_error).
function args.is_usage(err)
  return type(err) == "table" and type(err.usage) == "string"
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

--- For the subcommands that take one MODEL and read a data set (calibrate,
-- quantize). Bad usage raises {usage = "PROG: ..."}: the command prints it
-- and exits 2 (args.command_error).
function args.usage_error(prog, fmt, ...)
  error(setmetatable({ usage = (prog .. ": " .. fmt):format(...) }, Usage), 0)
end

--- args.parse(argv, spec, prog) and one positional argument, opts.model.
function args.parse_model(argv, spec, prog)
  local ok, opts, rest = pcall(args.parse, argv, spec, prog)
  if not ok then error(opts, 0) end
  if not rest[1] then args.usage_error(prog, "no model given") end
  if #rest > 1 then args.usage_error(prog, "unexpected argument '%s'", rest[2]) end
  opts.model = rest[1]
  return opts
end

--- The data-set options the commands share: --batch (at least 1), --bins (a
-- power of two in 128..8192), --threads (1..1024), --preprocess (a preset).
function args.check_data_opts(opts, prog)
  if opts.batch < 1 then args.usage_error(prog, "--batch must be at least 1") end
  if opts.bins and (opts.bins < 128 or opts.bins > 8192 or opts.bins & (opts.bins - 1) ~= 0) then
    args.usage_error(prog, "--bins must be a power of two in 128..8192")
  end
  if opts.threads and (opts.threads < 1 or opts.threads > 1024) then
    args.usage_error(prog, "--threads must be 1..1024")
  end
  if opts.preprocess then
    local presets = require("calq.image").presets
    local known = false
    for _, p in ipairs(presets) do known = known or p == opts.preprocess end
    if not known then
      args.usage_error(prog, "--preprocess: '%s' is not one of %s", opts.preprocess, table.concat(presets, ", "))
    end
  end
end

--- What a command does with err, raised by args.usage_error or the parse
-- (print the usage message, return 2) or by the work (raise it again).
function args.command_error(err)
  if args.is_usage(err) then
    io.stderr:write(err.usage, "\n")
    return 2
  end
  error(err, 0)
end

--- A data set that failed to open (calq.inputs.open's message): a list of
-- images without --preprocess is bad usage (returns 2); anything else raises
-- "PROG: message" with the option's command-line name.
function args.inputs_error(prog, msg)
  if msg:match("needs a preprocessing preset") then
    io.stderr:write(prog, ": --preprocess is required for a list of images\n")
    return 2
  end
  error(prog .. ": " .. msg:gsub("skip_missing", "--skip-missing"), 0)
end

return args

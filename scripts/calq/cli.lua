--- calq.cli: the command line (`calq SUBCOMMAND ...`).
-- Each subcommand is a function(args) returning an exit code. Errors meant for
-- the user are raised as plain strings and printed by the host without a traceback.
local args = require "calq.args"
local calq = require "calq"

local cli = {}

local commands = {}
local order = {}

--- Register a subcommand: name, one-line summary, usage text, function(argv) -> exit code.
function cli.register(name, summary, usage, fn)
  commands[name] = { summary = summary, usage = usage, fn = fn }
  order[#order + 1] = name
end

local function usage()
  local lines = { "usage: calq COMMAND [ARGS]", "", "commands:" }
  for _, name in ipairs(order) do
    lines[#lines + 1] = ("  %-10s %s"):format(name, commands[name].summary)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "calq COMMAND --help shows a command's options."
  return table.concat(lines, "\n")
end

cli.register("version", "print calq's version", "usage: calq version", function()
  print("calq " .. calq.version)
  return 0
end)

cli.register("run", "run a Lua recipe with calq loaded", "usage: calq run SCRIPT.lua [ARGS]", function(argv)
  local path = argv[1]
  if not path then args.usage_error("calq run", "no script given") end
  local chunk, err = loadfile(path)
  if not chunk then error("calq run: " .. err, 0) end
  local rest = table.move(argv, 2, #argv, 1, {})
  rest[0] = path
  _G.arg = rest
  local rc = chunk(table.unpack(rest))
  return math.type(rc) == "integer" and rc or 0
end)

-- Subcommands written as modules scripts/calq/cmd/NAME.lua returning
-- { summary = "...", usage = "...", run = function(argv) -> exit code }.
-- Add a new one to this list.
local modules = {
  "sample",
  "mosaic",
  "conform",
  "infer",
  "eval",
  "calibrate",
  "merge",
  "quantize",
  "report",
  "cost",
  "probe",
  "bench",
}

for _, name in ipairs(modules) do
  local m = require("calq.cmd." .. name)
  cli.register(name, m.summary, m.usage, m.run)
end

--- Entry point used by the calq host: argv[1..n] are the words after "calq".
-- Exit codes: 0 done, 1 the work failed (the host prints the message), 2 bad
-- usage (a one-line reason on stderr).
function cli.main(argv)
  local name = argv[1]
  if name == "help" and argv[2] then
    -- `calq help CMD` is `calq CMD --help`
    name = argv[2]
    argv = { name, "--help" }
  end
  if not name or name == "-h" or name == "--help" or name == "help" then
    if name then print(usage()) else io.stderr:write(usage(), "\n") end
    return name and 0 or 2
  end
  local cmd = commands[name]
  if not cmd then
    io.stderr:write(("calq: unknown command '%s' (calq help lists them)\n"):format(name))
    return 2
  end
  local rest = table.move(argv, 2, #argv, 1, {})
  if rest[1] == "--help" or rest[1] == "-h" then
    print(cmd.usage)
    return 0
  end
  -- CALQ_TRACEBACK=1 keeps the traceback of where an error was raised
  local handler = os.getenv("CALQ_TRACEBACK") and function(e)
    if args.is_usage(e) then return e end
    return debug.traceback(tostring(e), 2)
  end or function(e) return e end
  local ok, rc = xpcall(cmd.fn, handler, rest)
  if ok then return rc or 0 end
  return args.command_error(rc)
end

return cli

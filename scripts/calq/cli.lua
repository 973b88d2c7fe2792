--- calq.cli: the command line (`calq SUBCOMMAND ...`).
-- Each subcommand is a function(args) returning an exit code. Errors meant for
-- the user are raised as plain strings and printed by the host without a traceback.
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

cli.register("version", "print calq's version", "calq version", function()
  print("calq " .. calq.version)
  return 0
end)

cli.register("run", "run a Lua recipe with calq loaded", "calq run SCRIPT.lua [ARGS]", function(argv)
  local path = argv[1]
  if not path then error("calq run: no script given", 0) end
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
}

for _, name in ipairs(modules) do
  local m = require("calq.cmd." .. name)
  cli.register(name, m.summary, m.usage, m.run)
end

--- Entry point used by the calq host: argv[1..n] are the words after "calq".
function cli.main(argv)
  local name = argv[1]
  if not name or name == "-h" or name == "--help" or name == "help" then
    print(usage())
    return name and 0 or 2
  end
  local cmd = commands[name]
  if not cmd then
    io.stderr:write(("calq: unknown command '%s'\n\n%s\n"):format(name, usage()))
    return 2
  end
  local rest = table.move(argv, 2, #argv, 1, {})
  if rest[1] == "--help" or rest[1] == "-h" then
    print(cmd.usage)
    return 0
  end
  return cmd.fn(rest) or 0
end

return cli

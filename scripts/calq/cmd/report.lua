--- calq report RUN_DIR --output report.html: one self-contained HTML page of
-- a run folder (calq.report; docs/report.md).
local args = require "calq.args"
local json = require "calq.json"
local report = require "calq.report"

local usage = [[
usage: calq report RUN_DIR --output report.html [--json]

Writes one self-contained HTML page (inline CSS and SVG; no script, no font,
nothing fetched) from the run folder calq quantize and calq eval write
(--run-dir): the calibration set's ground-truth counts before and after
balancing, per-layer activation histograms with the clipping range, per-layer
latency (measured and predicted, fp32 and int8), the precision chosen for
each layer with its sensitivity, and the accuracy table. A part the folder
lacks is said to be missing in the page; the command lists them too.

  --output FILE   the page (written to FILE.tmp, renamed)
  --json          print {output, parts = {name = "shown" | why missing}}

Exit codes: 0 done, 1 the work failed, 2 bad usage.]]

local PROG = "calq report"

local function run(argv)
  local ok, opts, rest = pcall(args.parse, argv, {
    output = { type = "string" },
    json = { type = "boolean" },
  }, PROG)
  if not ok then return args.command_error(opts) end
  local uok, uerr = pcall(function()
    if not rest[1] then args.usage_error(PROG, "no run folder given") end
    if #rest > 1 then args.usage_error(PROG, "unexpected argument '%s'", rest[2]) end
    if not opts.output then args.usage_error(PROG, "--output is required") end
  end)
  if not uok then return args.command_error(uerr) end
  local parts, err = report.write(rest[1], opts.output)
  if not parts then error(PROG .. ": " .. err, 0) end
  if opts.json then
    print(json.encode{ output = opts.output, parts = parts })
    return 0
  end
  print(("calq report: %s -> %s"):format(rest[1], opts.output))
  local names = { "run", "calib_counts", "activations", "latency", "layers", "accuracy" }
  for _, n in ipairs(names) do
    print(("  %-13s %s"):format(n, parts[n] == "shown" and "shown" or ("missing: " .. tostring(parts[n]))))
  end
  return 0
end

return { summary = "an HTML report of a run folder (quantize, eval)", usage = usage, run = run }

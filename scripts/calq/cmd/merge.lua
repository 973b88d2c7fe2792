--- calq merge STATS... --output STATS: merge calibration statistics of shards
-- (calq calibrate --shard I/N) into one file.
local args = require "calq.args"
local calib = require "calq.calib"
local json = require "calq.json"

local usage = [[
usage: calq merge STATS... --output STATS [--json]

Merges the statistics files of `calq calibrate --shard I/N` runs (in any
order) into one file, written to STATS.tmp and renamed. Min-max and
histogram statistics merge exactly: the N shards of a set merged give the
file one run over the whole set writes, byte for byte. Moving averages
depend on the order of the items and do not merge. --json prints inputs,
output, tensors and items.

Exit codes: 0 done, 1 the work failed, 2 bad usage.]]

local function fail(fmt, ...)
  error("calq merge: " .. fmt:format(...), 0)
end

local function run(argv)
  local ok, opts, rest = pcall(args.parse, argv, {
    output = { type = "string" },
    json = { type = "boolean" },
  }, "calq merge")
  local why = not ok and tostring(opts) or (#rest == 0 and "calq merge: no statistics files given")
      or (not opts.output and "calq merge: --output is required")
  if why then
    io.stderr:write(why, "\n")
    return 2
  end
  local sets = {}
  for i, path in ipairs(rest) do
    local s, msg = calib.load(path)
    if not s then fail("%s", msg) end
    sets[i] = s
  end
  -- shards of one run observe the same tensors: anything else is a mix-up
  -- (another model, another calq), not something to union silently
  local first = table.concat(sets[1]:names(), "\0")
  for i = 2, #sets do
    if table.concat(sets[i]:names(), "\0") ~= first then
      fail("%s: its tensors are not those of %s (statistics of another model?)", rest[i], rest[1])
    end
  end
  local merged, msg = calib.merge(sets)
  if not merged then fail("%s", msg) end
  local sok, werr = merged:save(opts.output)
  if not sok then fail("%s", werr) end
  -- items: the most any tensor saw (every tensor sees each item once)
  local items, names = 0, merged:names()
  for _, name in ipairs(names) do
    items = math.max(items, merged:info(name).batches)
  end
  if opts.json then
    print(json.encode{ inputs = rest, output = opts.output, tensors = #names, items = items })
  else
    print(("calq merge: %d files -> %s: %d tensors, %d items"):format(#rest, opts.output, #names, items))
  end
  for _, s in ipairs(sets) do s:close() end
  merged:close()
  return 0
end

return { summary = "merge calibration statistics of shards", usage = usage, run = run }

--- calq calibrate MODEL.onnx --calib LIST|INPUTS.npy --output STATS: observe a
-- model's activations over a calibration set (or one shard of it) and save the
-- statistics (calq.calib).
local args = require "calq.args"
local calib = require "calq.calib"
local image = require "calq.image"
local inputs = require "calq.inputs"
local json = require "calq.json"
local onnx = require "calq.onnx"

local usage = [[
usage: calq calibrate MODEL.onnx --calib LIST|INPUTS.npy [--preprocess PRESET]
                      [--shard I/N] [--batch B] [--bins N] [--observer KIND]
                      [--threads N] [--skip-missing] [--resume] [--json]
                      --output STATS

Runs MODEL in fp32 over the calibration set and writes the statistics of
every float tensor the quantized model will quantize (after a fused
Relu/Clip) to STATS, a calq tensor file (written to STATS.tmp, renamed).

  --calib LIST        image paths one a line, as `calq sample` writes them
                      (relative to the list's folder or the current one),
                      preprocessed by --preprocess; or INPUTS.npy / a calq
                      tensor file of preprocessed inputs along dimension 1
  --preprocess P      ]] .. table.concat(image.presets, ", ") .. [[

  --shard I/N         items I, I+N, I+2N, ... (I from 0); `calq merge` of
                      the N shards' files equals one run, byte for byte
  --batch B           items read and preprocessed at a time (8); the
                      statistics do not depend on it
  --bins N            histogram bins a side, a power of two in 128..8192
                      (2048)
  --observer KIND     hist (default: min, max and a histogram, which serves
                      every method), minmax, or moving_avg (does not merge)
  --threads N         kernel threads (the statistics do not depend on it)
  --skip-missing      leave missing images out (default: an error)
  --resume            a run stopped by SIGINT or SIGTERM keeps what it has
                      observed in STATS.partial (a statistics file written
                      atomically; its item count is the position); run the
                      same command again with --resume and it continues from
                      there. The result equals one uninterrupted run, byte for
                      byte (hist and minmax; moving_avg does not merge)
  --json              print the summary as JSON: model, calib, output,
                      observer, shard {index, count}, items, set_items,
                      missing, missing_examples, tensors, nan, pinf, ninf,
                      nonfinite_tensors [{name, nan, pinf, ninf}],
                      run_seconds (in the model runs), cpu_seconds

Exit codes: 0 done, 1 the work failed, 2 bad usage.]]

local PROG = "calq calibrate"

local function usage_error(fmt, ...) args.usage_error(PROG, fmt, ...) end

local function fail(fmt, ...)
  error("calq calibrate: " .. fmt:format(...), 0)
end

local function parse(argv)
  local opts = args.parse_model(argv, {
    calib = { type = "string" },
    preprocess = { type = "string" },
    shard = { type = "string" },
    batch = { type = "integer", default = 8 },
    bins = { type = "integer" },
    observer = { type = "string", default = "hist", choices = { "hist", "minmax", "moving_avg" } },
    threads = { type = "integer" },
    skip_missing = { type = "boolean" },
    resume = { type = "boolean" },
    json = { type = "boolean" },
    output = { type = "string" },
  }, PROG)
  if not opts.calib then usage_error("--calib is required") end
  if not opts.output then usage_error("--output is required") end
  args.check_data_opts(opts, PROG)
  if opts.bins and opts.observer ~= "hist" then usage_error("--bins needs --observer hist") end
  if opts.resume and opts.observer == "moving_avg" then
    usage_error("--resume needs --observer hist or minmax (moving averages do not merge)")
  end
  if opts.shard then
    local i, n = inputs.parse_shard(opts.shard)
    if not i then usage_error("--shard: %s", n) end
  end
  return opts
end

-- The checkpoint of an interrupted --resume run: its statistics and their
-- item count (every observer sees each item once), which must not pass the
-- shard's. None: nil, 0.
local function load_partial(path, count)
  local f = io.open(path, "rb")
  if not f then return nil, 0 end
  f:close()
  local p, msg = calib.load(path)
  if not p then fail("%s (remove it to start afresh)", msg) end
  local items = 0
  for _, name in ipairs(p:names()) do items = math.max(items, p:info(name).batches) end
  if items > count then
    fail("%s: %d items observed, the shard has %d (another set? remove it to start afresh)", path, items, count)
  end
  return p, items
end

-- The checkpoint's statistics and this run's, merged (exact for hist and
-- minmax): what one run over all the items so far gives. They must observe
-- the same tensors (this run none, if it fed nothing) with the same observer
-- kind and bins (the merge checks those).
local function with_partial(partial, stats, path)
  if not partial then return stats end
  local mine = stats:names()
  if #mine > 0 and table.concat(mine, "\0") ~= table.concat(partial:names(), "\0") then
    fail("%s: its tensors are not this model's (statistics of another run? remove it to start afresh)", path)
  end
  local all, msg = calib.merge{ partial, stats }
  if not all then fail("%s: %s (remove it to start afresh)", path, msg) end
  stats:close()
  return all
end

local function run(argv)
  local ok, opts = pcall(parse, argv)
  if not ok then return args.command_error(opts) end
  local t0 = os.clock()
  local model, msg = onnx.load(opts.model)
  if not model then fail("%s", msg) end
  local src, serr = inputs.open{ path = opts.calib, preprocess = opts.preprocess, shard = opts.shard,
                                 batch = opts.batch, skip_missing = opts.skip_missing }
  if not src then return args.inputs_error(PROG, serr) end
  local c, cerr = calib.new(model, { observer = opts.observer, bins = opts.bins, threads = opts.threads })
  if not c then fail("%s: %s", opts.model, cerr) end
  local partial_path = opts.output .. ".partial"
  local partial, skip = nil, 0
  if opts.resume then
    partial, skip = load_partial(partial_path, src.count)
  end
  local next_batch = src:batches(skip)
  local bar = require("calq.progress").new{ label = "calibrating", total = src.count }
  if skip > 0 then bar:set(skip) end
  local lok, lerr = pcall(function()
    while true do
      local rok, x, n, first = pcall(next_batch)
      if not rok then
        if x == "interrupted" then error(x, 0) end
        fail("%s", x) -- an image that does not decode, a short file
      end
      if not x then break end
      local fok, ferr = c:feed(x)
      if not fok then
        fail("%s: items %d..%d of the shard: %s", opts.calib, first, first + n - 1, ferr)
      end
      x:close()
      bar:add(n)
    end
  end)
  if not lok then
    -- SIGINT / SIGTERM (the calq command's hook raises "interrupted" between
    -- Lua instructions, never inside c:feed, so every item fed is whole)
    if opts.resume and lerr == "interrupted" then
      local so_far = with_partial(partial, c:stats(), partial_path)
      local sok, werr = so_far:save(partial_path)
      io.stderr:write(sok and ("calq calibrate: %d of %d items observed, kept in %s: run again with --resume\n")
        :format(skip + c:items(), src.count, partial_path)
        or ("calq calibrate: could not keep the statistics so far: %s\n"):format(werr))
    end
    error(lerr, 0)
  end
  bar:finish()
  src:close()
  local stats = with_partial(partial, c:stats(), partial_path)
  local sok, werr = stats:save(opts.output)
  if not sok then fail("%s", werr) end
  -- the checkpoint is spent (and a stale one from a run without --resume
  -- must not be resumed later)
  os.remove(partial_path)
  local names = stats:names()
  local nan, pinf, ninf, bad = 0, 0, 0, {}
  for _, name in ipairs(names) do
    local info = stats:info(name)
    nan, pinf, ninf = nan + info.nan, pinf + info.pinf, ninf + info.ninf
    if info.nan + info.pinf + info.ninf > 0 then
      bad[#bad + 1] = { name = name, nan = info.nan, pinf = info.pinf, ninf = info.ninf }
    end
  end
  local secs = c:seconds()
  local cpu = os.clock() - t0
  if opts.json then
    local examples = {}
    for i = 1, math.min(5, #src.missing) do examples[i] = src.missing[i] end
    print(json.encode{
      model = opts.model, calib = opts.calib, output = opts.output, observer = opts.observer,
      shard = { index = src.shard_i, count = src.shard_n },
      items = skip + c:items(), set_items = src.total, resumed_from = opts.resume and skip or nil,
      missing = #src.missing, missing_examples = #examples > 0 and examples or nil,
      tensors = #names, nan = nan, pinf = pinf, ninf = ninf,
      nonfinite_tensors = #bad > 0 and bad or nil,
      run_seconds = secs, cpu_seconds = cpu,
    })
  else
    print(("calq calibrate: %s -> %s"):format(opts.model, opts.output))
    print(("  %-18s %s"):format("set", opts.calib .. (src.shard_n > 1
      and (" (shard %d/%d)"):format(src.shard_i, src.shard_n) or "")))
    print(("  %-18s %d of %d%s%s"):format("items", skip + c:items(), src.total,
      #src.missing > 0 and (" (%d missing, left out)"):format(#src.missing) or "",
      skip > 0 and (" (%d from %s)"):format(skip, partial_path) or ""))
    print(("  %-18s %d (%s)"):format("tensors observed", #names, opts.observer))
    print(("  %-18s %d NaN, %d +Inf, %d -Inf%s"):format("non-finite values", nan, pinf, ninf,
      #bad > 0 and (" in %d tensors (counted, skipped)"):format(#bad) or ""))
    for k = 1, math.min(5, #bad) do
      print(("    %s: %d NaN, %d +Inf, %d -Inf"):format(bad[k].name, bad[k].nan, bad[k].pinf, bad[k].ninf))
    end
    print(("  %-18s %.2f s in the model runs (%.1f ms an item), %.2f s CPU in all"):format("time",
      secs, 1000 * secs / math.max(1, c:items()), cpu))
  end
  stats:close()
  c:close()
  model:close()
  return 0
end

return { summary = "observe activations over a calibration set (or a shard)", usage = usage, run = run }

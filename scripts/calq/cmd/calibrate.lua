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
                      [--threads N] [--skip-missing] [--json] --output STATS

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
    json = { type = "boolean" },
    output = { type = "string" },
  }, PROG)
  if not opts.calib then usage_error("--calib is required") end
  if not opts.output then usage_error("--output is required") end
  args.check_data_opts(opts, PROG)
  if opts.bins and opts.observer ~= "hist" then usage_error("--bins needs --observer hist") end
  if opts.shard then
    local i, n = inputs.parse_shard(opts.shard)
    if not i then usage_error("--shard: %s", n) end
  end
  return opts
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
  local next_batch = src:batches()
  local bar = require("calq.progress").new{ label = "calibrating", total = src.count }
  while true do
    local rok, x, n, first = pcall(next_batch)
    if not rok then fail("%s", x) end -- an image that does not decode, a short file
    if not x then break end
    local fok, ferr = c:feed(x)
    if not fok then
      fail("%s: items %d..%d of the shard: %s", opts.calib, first, first + n - 1, ferr)
    end
    x:close()
    bar:add(n)
  end
  bar:finish()
  src:close()
  local stats = c:stats()
  local sok, werr = stats:save(opts.output)
  if not sok then fail("%s", werr) end
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
      items = c:items(), set_items = src.total,
      missing = #src.missing, missing_examples = #examples > 0 and examples or nil,
      tensors = #names, nan = nan, pinf = pinf, ninf = ninf,
      nonfinite_tensors = #bad > 0 and bad or nil,
      run_seconds = secs, cpu_seconds = cpu,
    })
  else
    print(("calq calibrate: %s -> %s"):format(opts.model, opts.output))
    print(("  %-18s %s"):format("set", opts.calib .. (src.shard_n > 1
      and (" (shard %d/%d)"):format(src.shard_i, src.shard_n) or "")))
    print(("  %-18s %d of %d%s"):format("items", c:items(), src.total,
      #src.missing > 0 and (" (%d missing, left out)"):format(#src.missing) or ""))
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

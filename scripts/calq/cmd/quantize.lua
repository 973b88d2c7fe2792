--- calq quantize MODEL.onnx --calib LIST|INPUTS.npy | --stats STATS --output OUT.onnx:
-- the quantized QDQ model (calq.quantize; docs/quantize.md).
local args = require "calq.args"
local image = require "calq.image"
local json = require "calq.json"
local onnx = require "calq.onnx"
local quant = require "calq.quant"
local quantize = require "calq.quantize"

local usage = [[
usage: calq quantize MODEL.onnx --calib LIST|INPUTS.npy [--preprocess PRESET]
                     [--observer NAME] [--keep-fp32 P] ... --output OUT.onnx
       calq quantize MODEL.onnx --stats STATS [options] --output OUT.onnx

Writes OUT.onnx, a standard QDQ model (QuantizeLinear/DequantizeLinear pairs,
s8 per-channel weights, s32 biases; ONNX Runtime runs it), from calibration
data or from statistics saved by `calq calibrate` / `calq merge`. The same
command writes the same bytes every time, at any thread count.

  --calib LIST|FILE    image paths one a line (with --preprocess), or an .npy /
                       calq tensor file of preprocessed inputs along dim 1
  --preprocess P       ]] .. table.concat(image.presets, ", ") .. [[

  --stats STATS        saved statistics instead of observing --calib (which,
                       when given too, serves the sensitivity only)
  --observer NAME      ]] .. table.concat(quant.observers(), ", ") .. [[
 (default mse)
  --percentile P       for --observer percentile (99.99)
  --zero-bin Z         for the entropy observers: as_next (bin 0 counted as
                       bin 1, pytorch-quantization; default) or keep (TensorRT)
  --bins N             histogram bins a side when calibrating (2048)
  --activations T      u8 (asymmetric, default) or s8 (symmetric)
  --symmetric, --asymmetric   override the activations' default
  --weights M          minmax (default) or mse, per output channel
  --per-tensor         one scale per weight tensor instead
  --keep-fp32 P        keep the nodes P names fp32 (repeatable; P: a node or
                       value name, op:TYPE, first:TYPE, last:TYPE, a glob;
                       commas join several)
  --precision P=PREC   the same with int8, fp32 or bf16 (applied after)
  --no-default-fp32    drop calq's default exceptions (last:*, the model's
                       output layers, kept fp32)
  --auto-fp32 DB       keep fp32 the nodes whose SQNR quantized alone is below
                       DB, measured on --calib data (default 18)
  --max-auto N         at most N of them (the worst)
  --no-auto            no automatic exceptions
  --report             print each quantizable node's sensitivity (SQNR in dB
                       of its output when it alone is quantized)
  --sens-items N       items the sensitivity is measured on (32)
  --sens-integer       measure it on the integer kernels (slower; the same
                       figures within rounding ties)
  --output-qlinear F   also write calq's integer form (QLinearConv, ...)
  --batch B            items read at a time (32)
  --threads N          kernel threads (the output does not depend on them)
  --skip-missing       leave missing images out (default: an error)
  --json               print the result as JSON

Exit codes: 0 done, 1 the work failed, 2 bad usage.]]

local PROG = "calq quantize"

local function usage_error(fmt, ...) args.usage_error(PROG, fmt, ...) end

local function parse(argv)
  local opts = args.parse_model(argv, {
    calib = { type = "string" },
    preprocess = { type = "string" },
    stats = { type = "string" },
    observer = { type = "string", default = "mse" },
    percentile = { type = "number" },
    zero_bin = { type = "string", choices = { "keep", "as_next" } },
    bins = { type = "integer" },
    activations = { type = "string", choices = { "u8", "s8" } },
    symmetric = { type = "boolean" },
    asymmetric = { type = "boolean" },
    weights = { type = "string", choices = { "minmax", "mse" } },
    per_tensor = { type = "boolean" },
    keep_fp32 = { type = "string", multiple = true },
    precision = { type = "string", multiple = true },
    auto_fp32 = { type = "number" },
    max_auto = { type = "integer" },
    no_auto = { type = "boolean" },
    no_default_fp32 = { type = "boolean" },
    sens_integer = { type = "boolean" },
    report = { type = "boolean" },
    sens_items = { type = "integer" },
    output = { type = "string" },
    output_qlinear = { type = "string" },
    batch = { type = "integer", default = 32 },
    threads = { type = "integer" },
    skip_missing = { type = "boolean" },
    json = { type = "boolean" },
  }, PROG)
  if not opts.calib and not opts.stats then usage_error("--calib or --stats is required") end
  if not opts.output then usage_error("--output is required") end
  if not quant.observer(opts.observer) then
    usage_error("--observer: '%s' is not one of %s", opts.observer, table.concat(quant.observers(), ", "))
  end
  if opts.percentile and not (opts.percentile > 0 and opts.percentile <= 100) then
    usage_error("--percentile must be in (0, 100]")
  end
  if opts.symmetric and opts.asymmetric then usage_error("--symmetric and --asymmetric exclude each other") end
  args.check_data_opts(opts, PROG)
  if opts.sens_items and opts.sens_items < 1 then usage_error("--sens-items must be at least 1") end
  if opts.max_auto and opts.max_auto < 0 then usage_error("--max-auto must be at least 0") end
  if (opts.report or opts.auto_fp32) and not opts.calib then
    usage_error("--report and --auto-fp32 measure on --calib data")
  end
  if opts.no_auto and (opts.auto_fp32 or opts.max_auto) then
    usage_error("--no-auto excludes --auto-fp32 and --max-auto")
  end
  local precision = {}
  for _, s in ipairs(opts.precision) do
    local p, prec = s:match("^(.+)=([%w]+)$")
    if not p or not (prec == "int8" or prec == "fp32" or prec == "bf16") then
      usage_error("--precision wants PATTERN=int8|fp32|bf16, got '%s'", s)
    end
    precision[#precision + 1] = { p, prec }
  end
  opts.precision_list = precision
  return opts
end

-- Every pattern names a node of the planned model (a typo is bad usage).
local function check_patterns(model, opts)
  local all = {}
  for _, p in ipairs(opts.keep_fp32) do all[#all + 1] = p end
  for _, e in ipairs(opts.precision_list) do all[#all + 1] = e[1] end
  for _, p in ipairs(all) do
    local ok, hits, merr = pcall(quant.match, model, p)
    if not ok then usage_error("%s", tostring(hits):gsub("^bad argument #2 to 'match' %((.*)%)$", "%1")) end
    if not hits then error("calq quantize: " .. merr, 0) end
    if #hits == 0 then usage_error("pattern '%s' names no node of %s", p, opts.model) end
  end
end

local function print_text(r, opts)
  print(("calq quantize: %s -> %s"):format(opts.model, r.output))
  local o = r.options
  print(("  %-14s %s%s"):format("data", opts.calib or opts.stats, r.items and (" (%d items)"):format(r.items) or ""))
  print(("  %-14s %s %s, %s%s"):format("activations", o.activations,
    (o.symmetric == nil and o.activations == "s8" or o.symmetric) and "symmetric" or "asymmetric",
    o.observer, o.percentile and (" %g"):format(o.percentile) or (o.zero_bin and (", zero bin %s"):format(o.zero_bin) or "")))
  print(("  %-14s s8 symmetric, %s, %s"):format("weights", o.per_channel and "per channel" or "per tensor", o.weights))
  print(("  %-14s %d of %d quantizable nodes"):format("int8", r.int8, r.quantizable))
  local auto = 0
  for _, e in ipairs(r.exceptions) do auto = auto + (e.auto and 1 or 0) end
  print(("  %-14s %s"):format("auto fp32", r.auto and ("SQNR below %g dB%s, measured on %d items"):format(
    r.auto.sqnr, r.auto.max and (", at most %d"):format(r.auto.max) or "", r.sensitivity and r.sensitivity[1]
    and r.sensitivity[1].items or 0) or (opts.calib and "off" or "off (no --calib data to measure on)")))
  print(("  %-14s %d (%d chosen by calq: defaults and automatic)"):format("kept float", #r.exceptions, auto))
  if #r.exceptions > 0 then print(quant.format_exceptions(r.exceptions)) end
  for _, b in ipairs(r.bias_clamped) do
    print(("  bias clamped to int32: %d values of node %d '%s'"):format(b.count, b.index, b.name))
  end
  if r.sensitivity and opts.report then
    print("sensitivity (each node quantized alone, against fp32):")
    print(quant.format_sensitivity(r.sensitivity, r.nodes))
  end
end

local function print_json(r, opts)
  local ex, clamp, sens = {}, {}, nil
  for i, e in ipairs(r.exceptions) do
    ex[i] = { index = e.index, name = e.name, op_type = e.op_type, precision = e.precision,
              reason = e.reason or json.null, auto = e.auto, source = e.source }
  end
  for i, b in ipairs(r.bias_clamped) do clamp[i] = b end
  if r.sensitivity then
    sens = {}
    for i, s in ipairs(r.sensitivity) do
      sens[i] = { index = s.index, name = s.name, op_type = s.op_type, sqnr = s.sqnr or json.null,
                  items = s.items, int8 = r.nodes[s.index].int8 }
    end
  end
  local o = r.options
  print(json.encode{
    model = opts.model, output = r.output, output_qlinear = r.output_qlinear or json.null,
    data = opts.calib or opts.stats, items = r.items or json.null,
    options = { observer = o.observer, method = o.method, activations = o.activations,
                symmetric = o.symmetric == nil and json.null or o.symmetric, weights = o.weights,
                per_channel = o.per_channel, percentile = o.percentile or json.null,
                zero_bin = o.zero_bin or json.null },
    int8 = r.int8, quantizable = r.quantizable, exceptions = #ex > 0 and ex or json.null,
    auto = r.auto and { sqnr = r.auto.sqnr, max = r.auto.max or json.null } or false,
    bias_clamped = #clamp > 0 and clamp or json.null, sensitivity = sens or json.null,
  })
end

local function run(argv)
  local ok, opts = pcall(parse, argv)
  if ok then
    local model, msg = onnx.load(opts.model)
    if not model then error("calq quantize: " .. msg, 0) end
    ok, opts = pcall(function() check_patterns(model, opts) return opts end)
    opts = ok and opts or opts
    if ok then opts.model_obj = model end
  end
  if not ok then return args.command_error(opts) end
  local auto = nil -- calq's default
  if opts.no_auto then
    auto = false
  elseif opts.auto_fp32 or opts.max_auto then
    auto = { sqnr = opts.auto_fp32 or 18, max = opts.max_auto }
  end
  local sym = nil
  if opts.symmetric then sym = true elseif opts.asymmetric then sym = false end
  local r, err = quantize{
    model = opts.model_obj, calib = opts.calib, preprocess = opts.preprocess, stats = opts.stats,
    observer = opts.observer, percentile = opts.percentile, zero_bin = opts.zero_bin, bins = opts.bins,
    activations = opts.activations, symmetric = sym, weights = opts.weights,
    per_channel = not opts.per_tensor, keep_fp32 = opts.keep_fp32, precision = opts.precision_list,
    auto = auto, sensitivity = opts.report and (opts.sens_items or true) or opts.sens_items,
    sensitivity_integer = opts.sens_integer, defaults = not opts.no_default_fp32,
    output = opts.output, output_qlinear = opts.output_qlinear, batch = opts.batch,
    threads = opts.threads, skip_missing = opts.skip_missing,
  }
  if not r then return args.inputs_error(PROG, err) end
  if opts.json then print_json(r, opts) else print_text(r, opts) end
  r.quantizer:close()
  r.model:close()
  opts.model_obj:close()
  return 0
end

return { summary = "quantize a model (QDQ ONNX) from calibration data or statistics", usage = usage,
         run = run }

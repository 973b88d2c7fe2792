--- calq quantize MODEL.onnx --calib LIST|INPUTS.npy | --stats STATS --output OUT.onnx:
-- the quantized QDQ model (calq.quantize; docs/quantize.md).
local args = require "calq.args"
local image = require "calq.image"
local json = require "calq.json"
local onnx = require "calq.onnx"
local quant = require "calq.quant"
local quantize = require "calq.quantize"
local knobs = require "calq.knobs"

local usage = [[
usage: calq quantize MODEL.onnx --calib LIST|INPUTS.npy [--preprocess PRESET]
                     [--observer NAME] [--keep-fp32 P] ... --output OUT.onnx
       calq quantize MODEL.onnx --stats STATS [options] --output OUT.onnx
       calq quantize MODEL.onnx --calib DATA --knobs auto --profile P
                     --task classify|blazeface|sqnr [--tolerance 0.01]
                     [--max-trials N] --output OUT.onnx

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

Knobs (docs/cost-model.md, "Knobs"): per-node int8, bf16 or fp32 for the least
latency the cost model predicts on a profile, then the accuracy-driven loop:
quantize, evaluate, move the most sensitive nodes up a precision until the
metric is within tolerance. The best model found is always written (OUT and
OUT.knobs.json, its figures); exit 1 when no trial met the goal.
  --knobs auto         choose the precisions; --keep-fp32 and --precision fix
                       the nodes they name, the solver chooses the rest
  --profile P          a shipped profile name or a profile .lua (calq probe);
                       default $CALQ_PROFILE
  --costs SRC          estimated (the cost model on --profile; default) or
                       measured (each node timed on this host)
  --task T             classify (top-1, --eval-data/--eval-labels: Fashion-
                       MNIST's idx files), blazeface (AP on --eval-data
                       annotations) or sqnr (output SQNR against fp32 on the
                       calibration items, goal --sqnr-db)
  --tolerance X        the metric within X relative of fp32's (0.01)
  --sqnr-db DB         for --task sqnr: the output SQNR to reach (30)
  --max-trials N       quantize-and-evaluate rounds at most (10)
  --budget-db DB       the first noise budget, as an output SQNR (default: for
                       --task sqnr its --sqnr-db, else the noise of every node
                       with SQNR 18 dB or more alone in int8)
  --eval-data F, --eval-labels F, --eval-limit N   the evaluation set
  --run-dir DIR        write the run's files for `calq report` to DIR (default:
                       a new runs/quantize-YYYYmmdd-HHMMSS-N; docs/report.md)
  --no-run-dir         write no run folder

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
    run_dir = { type = "string" },
    no_run_dir = { type = "boolean" },
    knobs = { type = "string", choices = { "auto" } },
    profile = { type = "string" },
    costs = { type = "string", choices = { "estimated", "measured" } },
    task = { type = "string", choices = { "classify", "blazeface", "sqnr" } },
    tolerance = { type = "number" },
    sqnr_db = { type = "number" },
    max_trials = { type = "integer" },
    budget_db = { type = "number" },
    eval_data = { type = "string" },
    eval_labels = { type = "string" },
    eval_limit = { type = "integer" },
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
  if opts.run_dir and opts.no_run_dir then usage_error("--run-dir and --no-run-dir exclude each other") end
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
  if opts.knobs then
    opts.profile = opts.profile or os.getenv("CALQ_PROFILE")
    if not opts.calib then usage_error("--knobs auto measures sensitivity on --calib data") end
    if not opts.task then usage_error("--knobs auto needs --task (classify, blazeface or sqnr)") end
    if (opts.costs or "estimated") == "estimated" and not opts.profile then
      usage_error("--knobs auto needs --profile (or --costs measured)")
    end
    if opts.tolerance and not (opts.tolerance >= 0 and opts.tolerance < 1) then
      usage_error("--tolerance must be in [0, 1)")
    end
    if opts.max_trials and opts.max_trials < 1 then usage_error("--max-trials must be at least 1") end
  else
    for _, k in ipairs{ "profile", "costs", "task", "tolerance", "sqnr_db", "max_trials", "budget_db",
                        "eval_data", "eval_labels", "eval_limit" } do
      if opts[k] ~= nil then usage_error("--%s goes with --knobs auto", (k:gsub("_", "-"))) end
    end
  end
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
  if r.run_dir then print(("  %-14s %s"):format("run folder", r.run_dir)) end
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
    run_dir = r.run_dir or json.null,
  })
end

-- The knobs run's folder, as plain quantize writes it (docs/report.md): the
-- best choice quantized again from the same statistics, its layers with the
-- sensitivity measured (SQNR alone) and each precision's source ("knobs",
-- or "user" for a node --keep-fp32 / --precision fixed), and knobs.json (the
-- figures of OUT.knobs.json). Returns the folder (nil with --no-run-dir) or
-- nil, msg.
local function knobs_run_dir(opts, st, argv, started)
  if opts.no_run_dir then return nil end
  local r, err = quantize{ model = opts.model_obj, stats = st.stats, defaults = false, auto = false,
                           precision = st.best.list, activations = opts.activations,
                           observer = opts.observer, threads = opts.threads }
  if not r then return nil, err end
  r.sensitivity = st.sensitivity
  local fixed = {}
  for gi, p in pairs(st.fixedg or {}) do fixed[st.gs.groups[gi].node] = p end
  local by = {}
  for _, n in ipairs(r.nodes) do by[n.index] = n end
  local function why(i, prec)
    local z = st.noise[i]
    if fixed[i] then return "fixed by --keep-fp32 / --precision" end
    if not z then return "knobs" end
    return ("knobs: %s (output SQNR with it alone in int8 %s, in bf16 %s)"):format(prec,
      z.out_int8 and ("%.1f dB"):format(-10 * math.log(z.out_int8, 10)) or "-",
      z.out_bf16 and ("%.1f dB"):format(-10 * math.log(z.out_bf16, 10)) or "-")
  end
  for _, e in ipairs(r.exceptions) do
    e.source = fixed[e.index] and "user" or "knobs"
    e.auto = not fixed[e.index]
    e.reason = why(e.index, e.precision)
  end
  local ok, dir, skipped = pcall(require("calq.rundir").after_quantize, opts, r, argv, started)
  if ok and dir then
    local fig = { met = st.met, reference = st.reference, best = st.best.trial, trials = st.trials,
                  additivity = st.additivity or json.null, proxy = st.proxy, budget = st.budget }
    local wok, werr = require("calq.rundir").write(dir, "knobs", fig)
    if not wok then ok, dir = false, werr end
  end
  r.quantizer:close()
  r.model:close()
  if not ok then return nil, tostring(dir) end
  return dir, nil, skipped
end

-- --knobs auto: the accuracy-driven loop of calq.knobs; exit 0 when a trial
-- met the goal, 1 when none did (the best is written all the same).
local function run_knobs(opts, argv, started)
  local prof
  if opts.profile then
    local profile = require "calq.profile"
    local p, perr = profile.load(opts.profile)
    if not p then io.stderr:write(PROG, ": ", perr, "\n") return 1 end
    prof = p
  end
  local costs = (opts.costs or "estimated") == "measured" and knobs.measured()
    or knobs.estimated(prof, { threads = opts.threads or 1 })
  local convert = prof and knobs.profile_convert(prof, opts.threads or 1) or knobs.measured_convert()
  local metric, goal, goal_text
  if opts.task == "sqnr" then
    local db = opts.sqnr_db or 30
    metric = knobs.metric_sqnr()
    goal = function(v) return v >= db end
    goal_text = ("output SQNR >= %g dB"):format(db)
  else
    metric = knobs.metric_evaluate{ task = opts.task, data = opts.eval_data, labels = opts.eval_labels,
                                    limit = opts.eval_limit, threads = opts.threads }
  end
  -- --keep-fp32 and --precision fix their nodes (precision after keep-fp32)
  local fixed = {}
  for _, p in ipairs(opts.keep_fp32) do fixed[#fixed + 1] = { p, "fp32" } end
  for _, e in ipairs(opts.precision_list) do fixed[#fixed + 1] = { e[1], e[2] } end
  -- the proxy is the model's output noise: for --task sqnr the goal is the budget
  local budget_db = opts.budget_db or (opts.task == "sqnr" and (opts.sqnr_db or 30)) or nil
  local sched = knobs.schedule{ max_trials = opts.max_trials or 10, sens_items = opts.sens_items,
                                budget = budget_db and 10 ^ (-budget_db / 10) or nil }
  local st, err = knobs.run(sched, {
    model = opts.model_obj, calib = opts.calib, preprocess = opts.preprocess, observer = opts.observer,
    activations = opts.activations, threads = opts.threads, batch = opts.batch,
    skip_missing = opts.skip_missing, fixed = fixed, costs = costs, convert = convert, metric = metric,
    tolerance = opts.tolerance or 0.01, goal = goal, goal_text = goal_text, output = opts.output,
    eval_sqnr = opts.task == "sqnr",
    progress = not opts.json and function(t)
      io.stderr:write(("knobs trial %d: metric %.4f, predicted %.3f ms, int8 %d bf16 %d fp32 %d%s\n"):format(
        t.n, t.metric, t.predicted_ms, t.counts.int8, t.counts.bf16, t.counts.fp32, t.met and ", met" or ""))
    end or nil,
  })
  if not st then io.stderr:write(PROG, ": ", err, "\n") return 1 end
  local b = st.best.trial
  local dir, derr = knobs_run_dir(opts, st, argv, started)
  if derr then io.stderr:write(PROG, ": run folder: ", derr, "\n") knobs.close(st) return 1 end
  if opts.json then
    print(json.encode{ model = opts.model, output = opts.output, figures = st.figures, met = st.met,
                       reference = st.reference, best = b, trials = #st.trials, run_dir = dir or json.null })
  else
    print(("calq quantize --knobs auto: %s -> %s (figures %s)"):format(opts.model, opts.output, st.figures))
    print(("  reference (fp32) %.4f, best %.4f (trial %d of %d), predicted %.3f ms, int8 %d bf16 %d fp32 %d"):format(
      st.reference, b.metric, b.n, #st.trials, b.predicted_ms, b.counts.int8, b.counts.bf16, b.counts.fp32))
    if dir then print(("  %-14s %s"):format("run folder", dir)) end
  end
  knobs.close(st)
  if not st.met then
    io.stderr:write(("%s: no trial met the goal (%s) in %d trials; the best found (metric %.4f) is saved in %s\n"):format(
      PROG, st.opts.goal_text, #st.trials, b.metric, opts.output))
    return 1
  end
  return 0
end

local function run(argv)
  local started = os.time()
  local ok, opts = pcall(parse, argv)
  if ok then
    local model, msg = onnx.load(opts.model)
    if not model then error("calq quantize: " .. msg, 0) end
    ok, opts = pcall(function() check_patterns(model, opts) return opts end)
    opts = ok and opts or opts
    if ok then opts.model_obj = model end
  end
  if not ok then return args.command_error(opts) end
  if opts.knobs then
    local code = run_knobs(opts, argv, started)
    opts.model_obj:close()
    return code
  end
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
    threads = opts.threads, skip_missing = opts.skip_missing, progress = true,
  }
  if not r then return args.inputs_error(PROG, err) end
  r.run_dir = require("calq.rundir").after_quantize(opts, r, argv, started)
  if opts.json then print_json(r, opts) else print_text(r, opts) end
  r.quantizer:close()
  r.model:close()
  opts.model_obj:close()
  return 0
end

return { summary = "quantize a model (QDQ ONNX) from calibration data or statistics", usage = usage,
         run = run }

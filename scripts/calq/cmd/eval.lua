--- calq eval MODEL.onnx [MODEL2.onnx] --task classify|blazeface: accuracy of a model,
-- or of two side by side (calq.evaluate prints through here).
local args = require "calq.args"
local json = require "calq.json"
local evaluate = require "calq.evaluate"

local usage = [[
usage: calq eval MODEL.onnx [MODEL2.onnx] --task classify|blazeface [--data PATH]
                 [--engine calq|ort] [--limit N] [--json] [options]

Measures MODEL's accuracy on a test set, and MODEL2's next to it (deltas are
MODEL2 - MODEL; MODEL is the reference, usually fp32). --engine ort runs the
models in ONNX Runtime (onnxruntime-node, tools/ort/run_items.js) on the same
inputs. calq runs a QDQ model in its integer form (calq.quant.lower: QLinearConv,
QLinearAdd on the integer reference kernels; the table's "int" column counts the
nodes rewritten); --no-lower runs it as written (float ops between float
QuantizeLinear/DequantizeLinear). --json prints one JSON object instead of the
table.

  --task classify   top-1 on idx files (Fashion-MNIST layout, input x/255 NCHW),
                    and MODEL2's agreement with MODEL's predictions
    --data PATH     images idx(.gz) file or its folder
                    (default /usr/share/datasets/fashion-mnist: t10k, 10,000 images)
    --labels PATH   labels idx file (default: from the images file's name)
    --batch N       images a run (500)
  --task blazeface  BlazeFace back-256 / front-128: AP@IOU over all detections
                    down to --ap-score, recall and false positives at --score,
                    and MODEL2's match rate with MODEL's detections at --score
    --data PATH     annotations (default $CALQ_CACHE/dlib/examples/faces/testing.xml)
    --format F      their format (default from the name: .xml dlib, .json coco)
    --preprocess P  calq.image preset (default blazeface256 / blazeface128 from
                    the model's input side)
    --score S       operating threshold (0.5)
    --iou I         IoU a match needs (0.5)
    --nms-iou I     NMS IoU (0.3)
    --ap-score S    lowest score entering AP (0.05)
  --limit N         the first N images only
  --threads N       threads of the engine (1)
  --no-lower        calq: run QDQ models as written, not in the integer form
  --run-dir DIR     write the accuracy table for `calq report` to DIR (default:
                    a new runs/eval-YYYYmmdd-HHMMSS-N; docs/report.md)
  --no-run-dir      write no run folder

Exit codes: 0 done, 1 failure (the message names the file), 2 usage.]]

local function pct(x) return ("%.2f %%"):format(100 * x) end
local function signed(x, fmt) return (x >= 0 and "+" or "") .. fmt:format(x) end

-- The first column's format: as wide as the longest model name (at least 22).
local function name_col(r)
  local w = 22
  for _, m in ipairs(r.models) do w = math.max(w, #m.name + 2) end
  return "%-" .. w .. "s"
end

local function print_classify(r)
  local c = name_col(r)
  print(("calq eval: classify, %d images of %s (engine %s)"):format(r.images, r.data, r.engine))
  print((c .. " %10s %9s %10s %5s"):format("model", "top-1", "correct", "ms", "int"))
  for i, m in ipairs(r.models) do
    print((c .. " %10s %9d %10.0f %5s"):format(("%d %s"):format(i, m.name), pct(m.top1), m.correct, m.ms,
      m.lowered or "-"))
  end
  if r.delta then
    print((c .. " %10s"):format("delta (2 - 1)", signed(100 * r.delta.top1, "%.2f pt")))
    print((c .. " %10s %9s"):format("agreement of 2 with 1", pct(r.agreement.rate),
      ("%d/%d"):format(r.agreement.same, r.images)))
  end
end

local function print_faces(r)
  print(("calq eval: blazeface, %d images, %d faces of %s (engine %s, input %d)"):format(
    r.images, r.faces, r.data, r.engine, r.side))
  print(("  score >= %g, match IoU >= %g, NMS IoU %g, AP over detections >= %g"):format(
    r.score, r.iou, r.nms_iou, r.ap_score))
  local c = name_col(r)
  print((c .. " %8s %9s %5s %5s %5s %10s %5s"):format("model", ("AP@%g"):format(r.iou), "recall", "TP", "FP", "FN",
    "ms", "int"))
  for i, m in ipairs(r.models) do
    print((c .. " %8.4f %9s %5d %5d %5d %10.0f %5s"):format(("%d %s"):format(i, m.name), m.ap, pct(m.recall),
      m.tp, m.fp, m.fn, m.ms, m.lowered or "-"))
  end
  if r.delta then
    print((c .. " %8s %9s %5s %5s"):format("delta (2 - 1)", signed(r.delta.ap, "%.4f"),
      signed(100 * r.delta.recall, "%.1f pt"), "", signed(r.delta.fp, "%d")))
    print((c .. " %8s  (%d of 1's %d detections; %d of 2's unmatched)"):format("match of 2 with 1",
      pct(r.match.rate), r.match.matched, r.match.reference, r.match.extra))
  end
end

local function run(argv)
  local started = os.time()
  local ok, opts, rest = pcall(args.parse, argv, {
    task = { type = "string", choices = { "classify", "blazeface" } },
    data = { type = "string" },
    labels = { type = "string" },
    format = { type = "string" },
    preprocess = { type = "string" },
    engine = { type = "string", choices = { "calq", "ort" }, default = "calq" },
    limit = { type = "integer" },
    batch = { type = "integer" },
    threads = { type = "integer" },
    score = { type = "number" },
    iou = { type = "number" },
    nms_iou = { type = "number" },
    ap_score = { type = "number" },
    json = { type = "boolean" },
    no_lower = { type = "boolean" },
    run_dir = { type = "string" },
    no_run_dir = { type = "boolean" },
  }, "calq eval")
  local function usage_error(msg)
    io.stderr:write(msg, "\n")
    return 2
  end
  if not ok then return usage_error(tostring(opts)) end
  if not opts.task then return usage_error("calq eval: --task is required (classify or blazeface)") end
  if #rest < 1 then return usage_error("calq eval: no model given") end
  if opts.no_lower and opts.engine == "ort" then return usage_error("calq eval: --no-lower is for --engine calq") end
  if opts.run_dir and opts.no_run_dir then return usage_error("calq eval: --run-dir and --no-run-dir exclude each other") end
  if #rest > 2 then return usage_error(("calq eval: unexpected argument '%s' (one or two models)"):format(rest[3])) end
  for _, k in ipairs { "limit", "batch", "threads" } do
    if opts[k] and opts[k] < 1 then return usage_error(("calq eval: --%s must be >= 1"):format(k)) end
  end
  for _, k in ipairs { "score", "iou", "nms_iou", "ap_score" } do
    if opts[k] and (opts[k] < 0 or opts[k] > 1) then
      return usage_error(("calq eval: --%s must be in [0, 1]"):format(k:gsub("_", "-")))
    end
  end
  local classify = opts.task == "classify"
  for _, k in ipairs(classify and { "format", "preprocess", "score", "iou", "nms_iou", "ap_score" } or { "labels", "batch" }) do
    if opts[k] ~= nil then
      return usage_error(("calq eval: --%s does not apply to --task %s"):format(k:gsub("_", "-"), opts.task))
    end
  end
  local r, msg = evaluate {
    task = opts.task, model = rest[1], compare = rest[2], engine = opts.engine, data = opts.data,
    labels = opts.labels, format = opts.format, preprocess = opts.preprocess, limit = opts.limit,
    batch = opts.batch, threads = opts.threads, score = opts.score, iou = opts.iou,
    nms_iou = opts.nms_iou, ap_score = opts.ap_score, lower = not opts.no_lower, progress = true,
  }
  if not r then
    io.stderr:write("calq eval: ", msg, "\n")
    return 1
  end
  r.run_dir = require("calq.rundir").after_eval(opts, r, argv, started)
  if opts.json then
    print(json.encode(r))
  elseif classify then
    print_classify(r)
  else
    print_faces(r)
  end
  if r.run_dir and not opts.json then print("run folder: " .. r.run_dir) end
  return 0
end

return { summary = "accuracy of a model, or of two side by side", usage = usage, run = run }

--- calq infer MODEL.onnx --input NAME=FILE.npy ... --output DIR: run a model
-- and write each output as DIR/NAME.npy.
local args = require "calq.args"
local cio = require "calq.io"
local fs = require "calq.fs"
local onnx = require "calq.onnx"
local quant = require "calq.quant"

local usage = [[
usage: calq infer MODEL.onnx --input NAME=FILE ... --output DIR [--threads N] [--profile]
                  [--no-lower] [--precision bf16|fp32] [--max-tensor-bytes N]
                  [--max-model-bytes N] [--max-nodes N] [--json]

FILE is a .npy (or an ONNX TensorProto .pb). A model with one input also
takes --input FILE. Each output is written as DIR/NAME.npy (characters other
than letters, digits, '.', '-' and '_' in NAME become '_'); DIR and its
parents are created as needed. --profile prints each node's time.
--precision bf16 runs every Conv in bf16 (bf16 products, f32 sums; see
Model:set_precision).
--max-tensor-bytes, --max-model-bytes and --max-nodes set what the model may
make calq allocate (calq.onnx.load's limits; 4 GiB per tensor, 2 GiB per
model, 4000000 nodes by default): a model past one is refused with a message
naming the tensor and the limit.
--json prints {model, lowered, outputs = [{name, dtype, shape, file}], profile
(with --profile: [{op_type, name, ms, fused}]), memory = {peak_bytes,
bytes_without_reuse}, kept (float products of a QDQ model)} instead of the text.

A QDQ model (QuantizeLinear / DequantizeLinear, as `calq quantize` and other
tools write them) runs in calq's integer form (calq.quant.lower: QLinearConv,
QLinearMatMul, QLinearAdd on the integer reference kernels); the first line
then says how many nodes were rewritten, and --profile lists the products
left float and why. --no-lower runs the model as written (float ops between
float DequantizeLinear and QuantizeLinear).]]

local function fail(fmt, ...) error("calq infer: " .. fmt:format(...), 0) end
local function misuse(fmt, ...) args.usage_error("calq infer", fmt, ...) end

local function read_tensor(path)
  local t, msg
  if path:match("%.pb$") then
    t, msg = onnx.read_tensor(path)
  else
    t, msg = cio.npy_read(path)
  end
  if not t then fail("%s", msg) end
  return t
end

local function run(argv)
  local opts, rest = args.parse(argv, {
    input = { type = "string", multiple = true },
    output = { type = "string", required = true },
    threads = { type = "integer" },
    profile = { type = "boolean" },
    no_lower = { type = "boolean" },
    precision = { type = "string" },
    max_tensor_bytes = { type = "integer" },
    max_model_bytes = { type = "integer" },
    max_nodes = { type = "integer" },
    json = { type = "boolean" },
  }, "calq infer")
  for _, k in ipairs { "max_tensor_bytes", "max_model_bytes", "max_nodes" } do
    if opts[k] and opts[k] < 1 then misuse("--%s must be a positive integer", k:gsub("_", "-")) end
  end
  if opts.precision and opts.precision ~= "bf16" and opts.precision ~= "fp32" then
    misuse("--precision must be bf16 or fp32")
  end
  if opts.threads and (opts.threads < 1 or opts.threads > 1024) then
    misuse("--threads must be 1..1024")
  end
  local path = rest[1]
  if not path then misuse("no model given") end
  if #rest > 1 then misuse("unexpected argument '%s'", rest[2]) end
  local model, msg = onnx.load(path, {
    max_tensor_bytes = opts.max_tensor_bytes, max_model_bytes = opts.max_model_bytes,
    max_nodes = opts.max_nodes })
  if not model then fail("%s", msg) end
  local report, lowered = nil, 0
  if not opts.no_lower then
    local count, rep = quant.lower(model)
    if not count then fail("%s: %s", path, rep) end
    if count > 0 or #rep.kept > 0 then report = rep end -- a QDQ model
    if report and not opts.json then
      print(("%s: %d nodes lowered to calq's integer kernels"):format(path, count))
    end
    lowered = count
  end
  local names = {}
  for _, v in ipairs(model:inputs()) do names[#names + 1] = v.name or v end
  local feeds = {}
  for _, spec in ipairs(opts.input) do
    local name, file = spec:match("^(.-)=(.+)$")
    if not name then
      if #names ~= 1 then misuse("--input %s: name the input (the model has %d)", spec, #names) end
      name, file = names[1], spec
    end
    feeds[name] = read_tensor(file)
  end
  for _, n in ipairs(names) do
    if not feeds[n] then misuse("no --input for '%s'", n) end
  end
  if opts.threads then
    local _, terr = model:set_threads(opts.threads)
    if terr then fail("%s", terr) end
  end
  if opts.precision then
    local _, perr = model:set_precision(opts.precision)
    if perr then fail("%s", perr) end
  end
  local out, err = model:run(feeds)
  if not out then fail("%s", err) end
  local made, merr = fs.mkdirs(opts.output)
  if not made then fail("%s", merr) end
  local onames = {}
  for name in pairs(out) do onames[#onames + 1] = name end
  table.sort(onames)
  local written = {}
  for _, name in ipairs(onames) do
    local file = opts.output .. "/" .. name:gsub("[^%w%.%-_]", "_") .. ".npy"
    local okw, werr = cio.npy_write(file, out[name])
    if not okw then fail("%s", werr) end
    written[#written + 1] = { name = name, dtype = out[name]:dtype(), shape = out[name]:shape(), file = file }
    if not opts.json then print(("%s %s -> %s"):format(name, tostring(out[name]):match("^[^\n]*"), file)) end
  end
  if opts.json then
    local json = require "calq.json"
    local prof = json.null
    if opts.profile then
      prof = {}
      for _, p in ipairs(model:profile()) do
        prof[#prof + 1] = { op_type = p.op_type, name = p.name, ms = p.ms, fused = p.fused == true }
      end
    end
    local peak, naive = model:memory()
    local kept = {}
    for _, k in ipairs(report and report.kept or {}) do
      kept[#kept + 1] = { node = k.node, op_type = k.op_type, reason = k.reason }
    end
    print(json.encode { model = path, lowered = lowered, outputs = written, profile = prof,
                        memory = { peak_bytes = peak or 0, bytes_without_reuse = naive or 0 }, kept = kept })
    return 0
  end
  if opts.profile then
    for _, p in ipairs(model:profile()) do
      print(("%-20s %-30s %9.3f ms%s"):format(p.op_type, p.name, p.ms, p.fused and " (fused)" or ""))
    end
    local peak, naive = assert(model:memory())
    print(("memory: %d bytes in the buffer pool (%d without reuse)"):format(peak, naive))
    if report then
      print(("lowered: %d nodes (%d constants folded first, %d Casts of codes removed)")
        :format(report.lowered, report.folded, report.casts))
      for _, k in ipairs(report.kept) do
        print(("left float: %-12s %s: %s"):format(k.op_type, k.node, k.reason))
      end
    end
  end
  return 0
end

return { summary = "run a model on .npy inputs, write .npy outputs", usage = usage, run = run }

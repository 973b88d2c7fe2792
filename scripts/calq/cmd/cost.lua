--- calq cost MODEL.onnx --profile NAME|FILE.lua: the model's per-node latency
-- predicted on a hardware profile (calq.cost; docs/cost-model.md).
local args = require "calq.args"
local cost = require "calq.cost"
local profile = require "calq.profile"

local PROG = "calq cost"

local usage = [[
usage: calq cost MODEL.onnx --profile NAME|FILE.lua [--input-shape NAME=D,D,...]
                 [--precision int8|bf16|fp32|KNOBS.lua] [--threads N] [--no-memory] [--json]

Predicts each node's latency on the machine a hardware profile describes
(recipes/profiles/NAME.lua, or a file `calq probe --output` wrote) and prints
the per-node table (precision, time, compute/memory/overhead bound, level the
bytes come from, MACs, bytes) and the total. Nothing runs on that machine: the
model runs once here, on synthetic inputs, so every shape is known.

  --profile P          a shipped profile name or a profile file
  --input-shape N=D,.. the shape of input N (repeatable; default: its declared
                       shape, unknown dimensions 1)
  --precision P        int8: quantized for costing (synthetic statistics: the
                       scales do not change the cost); bf16: every Conv, Gemm
                       and MatMul in bf16; fp32; or KNOBS.lua, a Lua file
                       returning {["node name"] = "int8"|"bf16"|"fp32", ...}
                       (nodes it does not name stay fp32). A QDQ model is costed
                       at its own precisions, as `calq infer` runs it.
  --threads N          cores the model uses (default 1)
  --no-memory          without the memory/cache estimator (the ablation)
  --json               {"total_ms": T, "nodes": [{"name", "op", "precision",
                       "predicted_ms", "bound", "macs", "bytes", ...}, ...]}

The shipped profiles are recipes/profiles/*.lua (calq.profile.list());
`calq probe --output FILE.lua` writes this host's. docs/cost-model.md says
how each node's time is estimated.]]

local function fail(fmt, ...) error(PROG .. ": " .. fmt:format(...), 0) end

-- A knobs file: Lua text returning {["node name"] = precision}, run with an
-- empty environment.
local function read_knobs(path)
  local f, err = io.open(path, "rb")
  if not f then fail("%s", err) end
  local text = f:read("a")
  f:close()
  local fn, lerr = load(text, "=" .. path, "t", {})
  if not fn then fail("%s", lerr) end
  local ok, t = pcall(fn)
  if not ok then fail("%s", tostring(t)) end
  if type(t) ~= "table" then fail("%s: a knobs file returns a table, got %s", path, type(t)) end
  return t
end

local function run(argv)
  local opts, rest = args.parse(argv, {
    profile = { type = "string", required = true },
    input_shape = { type = "string", multiple = true },
    precision = { type = "string" },
    threads = { type = "integer", default = 1 },
    no_memory = { type = "boolean" },
    json = { type = "boolean" },
  }, PROG)
  local path = rest[1]
  if not path then args.usage_error(PROG, "no model given") end
  if #rest > 1 then args.usage_error(PROG, "unexpected argument '%s'", rest[2]) end
  if opts.threads < 1 or opts.threads > 1024 then args.usage_error(PROG, "--threads must be 1..1024") end
  local shapes = {}
  for _, spec in ipairs(opts.input_shape) do
    local name, dims = spec:match("^(.-)=([%d,]+)$")
    if not name or name == "" then
      args.usage_error(PROG, "--input-shape %s: expected NAME=D,D,...", spec)
    end
    local shape = {}
    for d in dims:gmatch("[^,]+") do
      local n = math.tointeger(tonumber(d))
      if not n or n < 1 then args.usage_error(PROG, "--input-shape %s: dimension '%s'", spec, d) end
      shape[#shape + 1] = n
    end
    shapes[name] = shape
  end
  local prec = opts.precision
  if prec and prec ~= "int8" and prec ~= "bf16" and prec ~= "fp32" then
    if not prec:match("%.lua$") then
      args.usage_error(PROG, "--precision must be int8, bf16, fp32 or a KNOBS.lua file")
    end
    prec = read_knobs(prec)
  end
  local p, perr = profile.load(opts.profile)
  if not p then fail("%s", perr) end
  local r, err = cost.estimate{ model = path, profile = p, precision = prec, input_shape = shapes,
                                threads = opts.threads, memory = not opts.no_memory }
  if not r then fail("%s: %s", path, err) end
  if opts.json then print(cost.json(r)) else print(cost.format(r)) end
  r.model:close()
  return 0
end

return { summary = "predict a model's per-node latency on a hardware profile", usage = usage,
         run = run }

--- calq bench MODEL.onnx [QDQ.onnx]: time a model's inference in calq (fp32, bf16,
-- and int8 from a QDQ file), medians of N runs, optionally against ONNX Runtime.
local args = require "calq.args"
local cio = require "calq.io"
local json = require "calq.json"
local onnx = require "calq.onnx"
local quant = require "calq.quant"
local rng = require "calq.rng"
local tensor = require "calq.tensor"

local PROG = "calq bench"

local usage = [[
usage: calq bench MODEL.onnx [QDQ.onnx] [--precision LIST] [--runs N] [--warmup N]
                  [--threads LIST] [--batch N] [--clock wall|cpu] [--ort] [--json]

Times one inference of MODEL (fp32) in calq, and of QDQ.onnx (a quantized model,
as calq quantize writes it) in calq's integer form (int8): --runs timed runs after
--warmup untimed ones, on uniform [-1, 1) inputs of the model's input shapes (a
free dimension is --batch; integer inputs are zeros), the same for every row.
Prints the median, the fastest and the 90th percentile of the runs, and each
median over calq fp32's at the same thread count.
  --precision LIST  which of fp32, bf16, int8 (comma-separated; default fp32, and
                    int8 when QDQ.onnx is given). bf16 is MODEL with every Conv,
                    Gemm and MatMul in bf16 (Model:set_precision); int8 needs QDQ.onnx
  --runs N          timed runs (default 20); --warmup N untimed runs first (3)
  --threads LIST    thread counts, comma-separated (default 1)
  --batch N         the size of a free input dimension (default 1)
  --clock wall|cpu  wall: the monotonic clock (default); cpu: the process's CPU
                    time (os.clock), steadier on a shared machine at one thread,
                    the sum of all threads' at more
  --ort             ONNX Runtime's time too, on the same files (node and
                    onnxruntime-node, bench/ort_latency.js from the current
                    folder or $CALQ_BENCH; its own random inputs; always the
                    wall clock): an error when it cannot run
  --json            print {model, qdq, runs, warmup, clock, batch, inputs, rows =
                    [{engine, precision, threads, median_ms, min_ms, p90_ms,
                    ratio}]}
Pin it for steady figures: taskset -c 1 calq bench ...]]

local function fail(fmt, ...) error(PROG .. ": " .. fmt:format(...), 0) end
local function misuse(fmt, ...) args.usage_error(PROG, fmt, ...) end

local function list_of(s, what, check)
  local out = {}
  for w in s:gmatch("[^,]+") do
    local v = check(w)
    if v == nil then misuse("--%s: '%s' is not %s", what, w, what == "threads" and "1..1024" or "fp32, bf16 or int8") end
    out[#out + 1] = v
  end
  if #out == 0 then misuse("--%s is empty", what) end
  return out
end

-- The inputs: {name = Tensor}, {name = shape}.
local function make_inputs(model, batch)
  local feeds, shapes = {}, {}
  local r = rng.new(1234)
  for _, v in ipairs(model:inputs()) do
    local shape = {}
    for d, n in ipairs(v.shape or {}) do shape[d] = (math.type(n) == "integer" and n > 0) and n or batch end
    local t
    if v.dtype == "f32" then
      local k = 1
      for _, n in ipairs(shape) do k = k * n end
      local vals = {}
      for i = 1, k do vals[i] = r:float() * 2 - 1 end
      t = tensor.new(vals):reshape(shape)
    else
      t = tensor.zeros(shape, v.dtype)
    end
    feeds[v.name], shapes[v.name] = t, shape
  end
  return feeds, shapes
end

local function time_runs(model, feeds, o)
  local clock = o.clock == "cpu" and os.clock or cio.clock
  for _ = 1, o.warmup do
    local ok, err = model:run(feeds)
    if not ok then fail("%s", err) end
  end
  local t = {}
  for k = 1, o.runs do
    local c = clock()
    local ok, err = model:run(feeds)
    if not ok then fail("%s", err) end
    t[k] = (clock() - c) * 1e3
  end
  table.sort(t)
  local n = #t
  local med = n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
  return med, t[1], t[math.min(n, math.floor(n * 0.9) + 1)]
end

local function find_ort_script()
  local env = os.getenv("CALQ_BENCH")
  for _, d in ipairs(env and { env, "bench" } or { "bench" }) do
    local p = d .. "/ort_latency.js"
    local f = io.open(p, "r")
    if f then f:close() return p end
  end
  return nil
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- ONNX Runtime's rows for the files, at each thread count.
local function ort_rows(files, o)
  local script = find_ort_script()
  if not script then fail("--ort: bench/ort_latency.js not found (run from calq's source tree or set CALQ_BENCH)") end
  if not os.execute("command -v node >/dev/null 2>&1") then fail("--ort: node is not installed") end
  local rows = {}
  for _, th in ipairs(o.threads) do
    local words = { "node", shell_quote(script) }
    for _, f in ipairs(files) do words[#words + 1] = shell_quote(f.path) end
    words[#words + 1] = ("--repeat %d --warmup %d --threads %d --batch %d"):format(o.runs, o.warmup, th, o.batch)
    local p = io.popen(table.concat(words, " ") .. " 2>&1")
    local text = p:read("a")
    local ok = p:close()
    if not ok then fail("--ort: %s", (text:gsub("%s+$", ""):match("[^\n]*$"))) end
    local k = 0
    for line in text:gmatch("[^\n]+") do
      local v = json.decode(line)
      if type(v) == "table" and v.median_ms then
        k = k + 1
        rows[#rows + 1] = { engine = "ort", precision = files[k].ort, threads = th, median_ms = v.median_ms,
                            min_ms = v.min_ms, p90_ms = v.p90_ms, clock = "wall" }
      end
    end
    if k ~= #files then fail("--ort: expected %d result lines from %s, got %d", #files, script, k) end
  end
  return rows
end

local function run(argv)
  local opts, rest = args.parse(argv, {
    precision = { type = "string" },
    runs = { type = "integer", default = 20 },
    warmup = { type = "integer", default = 3 },
    threads = { type = "string", default = "1" },
    batch = { type = "integer", default = 1 },
    clock = { type = "string", default = "wall", choices = { "wall", "cpu" } },
    ort = { type = "boolean" },
    json = { type = "boolean" },
  }, PROG)
  if not rest[1] then misuse("no model given") end
  if #rest > 2 then misuse("unexpected argument '%s'", rest[3]) end
  if opts.runs < 1 then misuse("--runs must be at least 1") end
  if opts.warmup < 0 then misuse("--warmup must be 0 or more") end
  if opts.batch < 1 then misuse("--batch must be at least 1") end
  local o = { runs = opts.runs, warmup = opts.warmup, batch = opts.batch, clock = opts.clock }
  o.threads = list_of(opts.threads, "threads", function(w)
    local n = math.tointeger(tonumber(w))
    return n and n >= 1 and n <= 1024 and n or nil
  end)
  local path, qdq = rest[1], rest[2]
  local precs = opts.precision and list_of(opts.precision, "precision", function(w)
    return (w == "fp32" or w == "bf16" or w == "int8") and w or nil
  end) or (qdq and { "fp32", "int8" } or { "fp32" })
  local want = {}
  for _, p in ipairs(precs) do want[p] = true end
  if want.int8 and not qdq then misuse("int8 needs a QDQ model (calq bench MODEL.onnx QDQ.onnx)") end
  if qdq and not want.int8 then misuse("a QDQ model is timed as int8: add int8 to --precision") end

  local model, msg = onnx.load(path)
  if not model then fail("%s", msg) end
  local feeds, shapes = make_inputs(model, o.batch)
  local rows = {}
  local function add(engine, prec, th, m)
    local okt, terr = m:set_threads(th)
    if not okt then fail("%s", terr) end
    local med, min, p90 = time_runs(m, feeds, o)
    rows[#rows + 1] = { engine = engine, precision = prec, threads = th, median_ms = med, min_ms = min,
                        p90_ms = p90, clock = o.clock }
  end
  local q
  if want.int8 then
    local qmsg
    q, qmsg = onnx.load(qdq)
    if not q then fail("%s", qmsg) end
    local n, rep = quant.lower(q)
    if not n then fail("%s: %s", qdq, rep) end
    if n == 0 then fail("%s: no QDQ pattern calq runs in integers (is it a quantized model?)", qdq) end
  end
  for _, th in ipairs(o.threads) do
    if want.fp32 or want.bf16 then
      local ok, err = model:set_precision("fp32")
      if not ok then fail("%s: %s", path, err) end
      if want.fp32 then add("calq", "fp32", th, model) end
      if want.bf16 then
        ok, err = model:set_precision("bf16")
        if not ok then fail("%s: %s", path, err) end
        add("calq", "bf16", th, model)
      end
    end
    if q then add("calq", "int8", th, q) end
  end
  model:close()
  if q then q:close() end
  if opts.ort then
    local files = {}
    if want.fp32 then files[#files + 1] = { path = path, ort = "fp32" } end
    if want.int8 then files[#files + 1] = { path = qdq, ort = "int8" } end
    if #files == 0 then fail("--ort times fp32 and int8 (ONNX Runtime has no bf16 mode here)") end
    for _, r in ipairs(ort_rows(files, o)) do rows[#rows + 1] = r end
  end
  -- each median over calq fp32's at the same thread count
  local base = {}
  for _, r in ipairs(rows) do
    if r.engine == "calq" and r.precision == "fp32" then base[r.threads] = r.median_ms end
  end
  for _, r in ipairs(rows) do r.ratio = base[r.threads] and r.median_ms / base[r.threads] or json.null end

  if opts.json then
    local ins = {}
    for name, s in pairs(shapes) do ins[name] = s end
    print(json.encode { model = path, qdq = qdq or json.null, runs = o.runs, warmup = o.warmup, clock = o.clock,
                        batch = o.batch, inputs = ins, rows = rows })
    return 0
  end
  local ins = {}
  for name, s in pairs(shapes) do ins[#ins + 1] = ("%s [%s]"):format(name, table.concat(s, ", ")) end
  table.sort(ins)
  print(("calq bench: %s%s; inputs %s; %d runs after %d, clock %s"):format(path, qdq and (" and " .. qdq) or "",
    table.concat(ins, ", "), o.runs, o.warmup, o.clock))
  print(("%-6s %-9s %7s %10s %10s %10s %12s"):format("engine", "precision", "threads", "median ms", "min ms",
    "p90 ms", "/ calq fp32"))
  for _, r in ipairs(rows) do
    print(("%-6s %-9s %7d %10.3f %10.3f %10.3f %12s"):format(r.engine, r.precision, r.threads, r.median_ms,
      r.min_ms, r.p90_ms, r.ratio ~= json.null and ("%.3f"):format(r.ratio) or "-"))
  end
  if opts.ort and o.clock == "cpu" then
    print("(ONNX Runtime's rows are wall-clock times, calq's CPU times: compare with --clock wall)")
  end
  return 0
end

return { summary = "time a model's inference (fp32, bf16, int8 from a QDQ file; ONNX Runtime with --ort)",
         usage = usage, run = run }

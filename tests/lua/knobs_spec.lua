-- calq.knobs: the solver binding, the accuracy-driven schedule on the
-- Fashion-MNIST classifier, and calq quantize --knobs auto's exit codes.
local core = require("calq.core").knobs
local knobs = require "calq.knobs"
local json = require "calq.json"
local h = require "tests.lua.helpers"

local MODEL = "models/fashion_mnist/fmnist_cnn.onnx"
-- 200 Fashion-MNIST training images (Debian's dataset-fashion-mnist, which
-- the bootstrap installs), written once for the specs below
local CALIB = os.tmpname() .. ".npy"
do
  local calq = require "calq"
  local x = assert(calq.data.read_idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", 1, 200))
  assert(calq.io.npy_write(CALIB, x:dequantize(1 / 255):view { 200, 1, 28, 28 }))
end

-- a chain a -> b -> c; b cheaper in int8 by 0.2, conversions 0.15 each way
local function chain(conv)
  local I = math.huge
  local c = { { 0, conv, conv }, { conv, 0, 0 }, { conv, 0, 0 } }
  return { time = { { I, I, 1 }, { 0.8, I, 1 }, { I, I, 1 } },
           noise = { { 0, 0, 0 }, { 1e-3, 0, 0 }, { 0, 0, 0 } },
           edges = { { 1, 2, cost = c }, { 2, 3, cost = c } }, budget = 1 }
end

describe("calq.knobs", function()
  describe("core.solve()", function()
    it("keeps a node fp32 when its int8 island does not pay for its conversions", function()
      local prec, r = core.solve(chain(0.15))
      assert.same({ 3, 3, 3 }, prec)
      assert.is_true(r.exact)
      assert.near(3.0, r.time, 1e-12)
      prec, r = core.solve(chain(0.05))
      assert.same({ 3, 1, 3 }, prec)
      assert.near(2.9, r.time, 1e-12)
    end)

    it("answers nil, msg, code for a budget no choice meets, and raises on a malformed table", function()
      local p = chain(0.05)
      p.noise[1][3] = 1e-2
      p.budget = 1e-3
      local prec, msg, code = core.solve(p, "greedy")
      assert.is_nil(prec)
      assert.equal("knobs: no choice meets the noise budget 0.001: the least noise is 0.01", msg)
      assert.equal("EINVAL", code)
      assert.has_error(function() core.solve({ time = {}, noise = {} }) end,
        "bad argument #1 to 'solve' (problem.budget must be a number)")
      assert.has_error(function() core.solve(chain(0.1), "fastest") end)
    end)
  end)

  describe("run()", function()
    local out = os.tmpname()
    after_each(function() os.remove(out) os.remove(out .. ".knobs.json") end)

    it("saves the best model and its figures even when no trial meets the goal", function()
      local st = assert(knobs.run(knobs.schedule{ max_trials = 2, sens_items = 8 }, {
        model = MODEL, calib = CALIB, costs = knobs.measured(3), eval_sqnr = true, eval_items = 8,
        metric = knobs.metric_sqnr(), goal = function(v) return v >= 200 end, output = out }))
      assert.is_false(st.met)
      assert.equal(2, #st.trials)
      -- move_up: the second trial is at least as precise (less noise proxy)
      assert.is_true(st.trials[2].noise <= st.trials[1].noise)
      assert.is_boolean(st.trials[2].free)
      local fig = json.decode and json.decode(h.read(out .. ".knobs.json")) or nil
      local text = h.read(out .. ".knobs.json")
      assert.truthy(text:find('"met":false', 1, true))
      assert.truthy(fig == nil or fig.best)
      local m = assert(require("calq.onnx").load(out))
      m:close()
      knobs.close(st)
    end)
  end)

  describe("the output proxy", function()
    it("measures each group's noise at the model's output; the terms add up to what the model gives", function()
      local st = { opts = { model = MODEL, calib = CALIB, batch = 8, out_items = 8 }, trials = {}, model = MODEL }
      assert(knobs.steps.observe(st, { items = 8 }))
      assert.equal("output", st.proxy)
      local add = st.additivity
      assert.equal(8, add.items)
      -- the sum of the lone terms and the all-int8 run agree within 1.5 dB
      assert.is_true(add.measured > 0 and add.sum > 0)
      assert.is_true(math.abs(10 * math.log(add.sum / add.measured, 10)) < 1.5, ("%g %g"):format(add.sum, add.measured))
      assert.near(add.measured / add.sum, add.scale, 1e-12)
      -- a configuration the scale was not taken from: the first two groups int8
      local list, z, k = {}, 0, 0
      for _, g in ipairs(st.gs.groups) do
        if g.decide then
          k = k + 1
          list[#list + 1] = { g.node, k <= 2 and "int8" or "fp32" }
          if k <= 2 then z = z + st.noise[g.node].int8 end
        end
      end
      local qdq, run = assert(knobs.realize(st, list))
      qdq:close()
      local x = {}
      local items = require("calq.inputs").open{ path = CALIB, batch = 8 }
      local xb = items:batches()()
      items:close()
      for i = 1, 8 do x[i] = xb:slice(1, i, i) end
      local ref = {}
      for i = 1, 8 do ref[i] = assert(st.model:run(x[i])) end
      local measured = assert(knobs.output_noise_of(run, x, ref))
      run:close()
      assert.is_true(math.abs(10 * math.log(z / measured, 10)) < 1.5, ("%g %g"):format(z, measured))
      knobs.close(st)
    end)
  end)

  describe("fixed nodes", function()
    it("keeps what --keep-fp32 / --precision fix and chooses the rest", function()
      local first = "/features/features.0/features.0.0/Conv"
      local last = "/head/head.3/Gemm"
      local st = assert(knobs.run(knobs.schedule{ max_trials = 1, sens_items = 4 }, {
        model = MODEL, calib = CALIB, costs = knobs.measured(3), eval_sqnr = true, eval_items = 4,
        out_items = 4, fixed = { { "first:Conv", "fp32" }, { last, "int8" } },
        metric = knobs.metric_sqnr(), goal = function() return true end }))
      local p = st.best.trial.precision
      assert.equal("fp32", p[first])
      assert.equal("int8", p[last])
      knobs.close(st)
      local ok, msg = knobs.run(knobs.schedule{ max_trials = 1, sens_items = 4 }, {
        model = MODEL, calib = CALIB, costs = knobs.measured(3), eval_sqnr = true, eval_items = 4,
        out_items = 4, fixed = { { "first:Conv", "int4" } }, metric = knobs.metric_sqnr() })
      assert.is_nil(ok)
      assert.equal("fixed[1]: precision must be int8, bf16 or fp32, not 'int4'", msg)
    end)
  end)

  describe("calq quantize --knobs auto", function()
    it("starts --task sqnr at the --sqnr-db budget: at 300 dB that is all fp32, met at once", function()
      local out = os.tmpname()
      local code, so = h.run(("quantize %s --calib %s --knobs auto --costs measured --task sqnr " ..
        "--sqnr-db 300 --max-trials 1 --sens-items 4 --no-run-dir --json --output %s"):format(MODEL, CALIB, out))
      assert.equal(0, code)
      local r = json.decode(so)
      assert.is_true(r.met)
      assert.same({ 0, 0 }, { r.best.counts.int8, r.best.counts.bf16 })
      os.remove(out) os.remove(out .. ".knobs.json")
    end)

    it("costs a model with a free batch dimension on a profile (the default, estimated costs)", function()
      local out = os.tmpname()
      local code, so, err = h.run(("quantize %s --calib %s --knobs auto --profile intel_sapphire_rapids " ..
        "--task sqnr --sqnr-db 30 --max-trials 1 --sens-items 4 --no-run-dir --json --output %s"):format(MODEL, CALIB, out))
      assert.equal(0, code, err)
      local r = json.decode(so)
      assert.is_true(r.met)
      assert.is_true(r.best.counts.int8 > 0)
      os.remove(out) os.remove(out .. ".knobs.json")
    end)

    it("fixes --keep-fp32 nodes and writes the run folder with the knobs", function()
      local dir = h.tmpdir()
      local out = dir .. "/fm.onnx"
      local code, so, err = h.run(("quantize %s --calib %s --knobs auto --costs measured --task sqnr " ..
        "--sqnr-db 20 --max-trials 2 --sens-items 4 --keep-fp32 last:Gemm --output %s --run-dir %s/run")
        :format(MODEL, CALIB, out, dir))
      assert.equal(0, code, err)
      assert.truthy(so:find("run folder", 1, true))
      local layers = json.decode(h.read(dir .. "/run/layers.json"))
      local seen = 0
      for _, l in ipairs(layers.layers) do
        assert.is_number(l.sqnr)
        if l.name == "/head/head.3/Gemm" then
          seen = seen + 1
          assert.same({ "fp32", "user" }, { l.precision, l.source })
        elseif l.precision ~= "int8" then
          assert.equal("knobs", l.source)
          assert.truthy(l.reason:find("^knobs: "))
        end
      end
      assert.equal(1, seen)
      local k = json.decode(h.read(dir .. "/run/knobs.json"))
      assert.is_true(k.met)
      assert.equal("output", k.proxy)
      assert.truthy(h.read(dir .. "/run/run.json"):find("--knobs", 1, true))
    end)

    it("exits 1 with the reason when no trial meets the goal, 2 on bad usage", function()
      local out = os.tmpname()
      -- the first budget (10 dB) lets int8 in; one trial cannot reach 300 dB
      local code, _, err = h.run(("quantize %s --calib %s --knobs auto --costs measured --task sqnr " ..
        "--sqnr-db 300 --budget-db 10 --max-trials 1 --sens-items 4 --no-run-dir --output %s"):format(MODEL, CALIB, out))
      assert.equal(1, code)
      assert.truthy(err:find("no trial met the goal (output SQNR >= 300 dB) in 1 trials", 1, true))
      assert.truthy(h.read(out .. ".knobs.json"))
      os.remove(out) os.remove(out .. ".knobs.json")
      code, _, err = h.run(("quantize %s --calib %s --knobs auto --output %s"):format(MODEL, CALIB, out))
      assert.equal(2, code)
      assert.truthy(err:find("--knobs auto needs --task", 1, true))
      code = h.run(("quantize %s --calib %s --tolerance 0.02 --output %s"):format(MODEL, CALIB, out))
      assert.equal(2, code)
    end)
  end)
end)

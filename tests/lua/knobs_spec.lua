-- calq.knobs: the solver binding, the accuracy-driven schedule on the
-- Fashion-MNIST classifier, and calq quantize --knobs auto's exit codes.
local core = require("calq.core").knobs
local knobs = require "calq.knobs"
local json = require "calq.json"
local h = require "helpers"

local MODEL = "models/fashion_mnist/fmnist_cnn.onnx"
local CALIB = (os.getenv("CALQ_CACHE") or ".cache") .. "/fmnist/calib_uniform1000.npy"

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
      local fig = json.decode and json.decode(h.read(out .. ".knobs.json")) or nil
      local text = h.read(out .. ".knobs.json")
      assert.truthy(text:find('"met":false', 1, true))
      assert.truthy(fig == nil or fig.best)
      local m = assert(require("calq.onnx").load(out))
      m:close()
      knobs.close(st)
    end)
  end)

  describe("calq quantize --knobs auto", function()
    it("exits 1 with the reason when no trial meets the goal, 2 on bad usage", function()
      local out = os.tmpname()
      local code, _, err = h.run(("quantize %s --calib %s --knobs auto --costs measured --task sqnr " ..
        "--sqnr-db 300 --max-trials 1 --sens-items 4 --output %s"):format(MODEL, CALIB, out))
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

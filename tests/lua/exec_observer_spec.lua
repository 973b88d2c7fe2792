-- The observer of Model:run/time calling back into its own model, and the
-- life cycle of a model whose observer captures it. Uses the Fashion-MNIST
-- CNN shipped in models/. Run from the repository root (make luatest).
local calq = require "calq"

local fmnist = "models/fashion_mnist/fmnist_cnn.onnx"

local function load()
  local m = assert(calq.onnx.load(fmnist))
  return m, calq.tensor.full({1, 1, 28, 28}, 0.5)
end

describe("calq.exec", function()
  describe("Model:set_observer()", function()
    it("refuses close from inside the observer and the model stays usable", function()
      local m, x = load()
      local want = assert(m:run(x))
      m:set_observer(function() m:close() end)
      assert.has_error(function() m:run(x) end,
        "calling 'close' on bad self (model is running)")
      m:set_observer(nil)
      local got = assert(m:run(x))
      local name = m:outputs()[1].name
      assert.equal(0, got[name]:maxdiff(want[name]))
      m:close()
    end)

    it("refuses run, time, save and set_observer from inside the observer", function()
      local m, x = load()
      for _, call in ipairs{
        {"run", function() m:run(x) end},
        {"time", function() m:time(x, 1, 0) end},
        {"save", function() m:save("/nonexistent/never.onnx") end},
        {"set_observer", function() m:set_observer(nil) end},
      } do
        local calls = 0
        m:set_observer(function() calls = calls + 1; call[2]() end)
        assert.has_error(function() m:run(x) end,
          ("calling '%s' on bad self (model is running)"):format(call[1]))
        assert.equal(1, calls)
      end
      m:set_observer(nil)
      assert.is_table(m:run(x))
      m:close()
    end)

    it("is called by Model:time() too", function()
      local m, x = load()
      local calls = 0
      m:set_observer(function() calls = calls + 1 end)
      assert(m:run(x))
      local per_run = calls
      assert.is_true(per_run > 0)
      calls = 0
      assert.is_number((m:time(x, 2, 1)))
      assert.equal(3 * per_run, calls)
    end)

    it("raises the observer's error out of Model:time()", function()
      local m, x = load()
      m:set_observer(function() error("boom", 0) end)
      assert.has_error(function() m:time(x, 2, 0) end, "boom")
      m:set_observer(nil)
      assert.is_number((m:time(x, 1, 0)))
    end)

    it("lets a model whose observer captures it be collected", function()
      local live = setmetatable({}, {__mode = "k"})
      for _ = 1, 3 do
        local m, x = load()
        m:set_observer(function() return m ~= nil end)
        assert(m:run(x))
        live[m] = true
      end
      collectgarbage()
      collectgarbage()
      assert.is_nil(next(live))
    end)
  end)
end)

-- calq.cost and `calq cost`: the per-node table of a float model at each
-- precision, a QDQ model at its own, knobs files, the JSON contract, the
-- ablation and the errors.
local calq = require "calq"
local h = require "tests.lua.helpers"

local fmnist = "models/fashion_mnist/fmnist_cnn.onnx"
local qdq = "tests/data/fmnist_torch_qdq.onnx"

-- A profile of a made-up machine: every figure chosen, none measured.
local PROFILE = [[
return {
  name = "spec_machine", cores = 4, ghz = 2.0, vector_bits = 512, amx = false,
  macs = { f32 = 32, bf16 = 64, s8 = 128, s8_novnni = 64 },
  caches = {
    { size = 32 * 1024, bw = 64, latency = 5, shared = false },
    { size = 1 << 20, bw = 32, latency = 14, shared = false },
    { size = 16 << 20, bw = 8, latency = 50, shared = true },
  },
  mem_bw = 40, mem_bw_core = 10,
  cvt = { quant = 16, dequant = 16, requant = 16, f32_bf16 = 32, bf16_f32 = 32 },
  node_ns = 200,
  efficiency = { f32_conv = 0.8, f32_gemm = 0.8, s8_conv = 0.5, eltwise = 0.7 },
}
]]

local function run(cmd)
  local p = io.popen(h.calq_bin .. " " .. cmd .. " 2>&1; echo rc=$?")
  local out = p:read("a")
  p:close()
  return out:gsub("rc=(%d+)\n$", ""), tonumber(out:match("rc=(%d+)\n$"))
end

describe("calq.cost", function()
  local dir, prof
  setup(function()
    dir = h.tmpdir()
    prof = h.write(dir .. "/spec_machine.lua", PROFILE)
  end)

  it("costs a float model node by node, as model:profile() lists them", function()
    local r = assert(calq.cost.estimate{ model = fmnist, profile = prof })
    local m = r.model
    local ran = {}
    for _, p in ipairs(m:profile()) do
      if p.runs > 0 then ran[#ran + 1] = p end
    end
    assert.equal(#ran, #r.nodes)
    local sum = 0
    for k, n in ipairs(r.nodes) do
      assert.equal(ran[k].name, n.name)
      assert.equal(ran[k].op_type, n.op)
      assert.equal("fp32", n.precision)
      assert.truthy(n.bound == "compute" or n.bound == "memory" or n.bound == "overhead")
      assert.truthy(n.predicted_ms >= 200e-6 - 1e-12) -- node_ns at least
      sum = sum + n.predicted_ms
    end
    assert.near(r.total_ms, sum, 1e-9)
    m:close()
  end)

  it("costs int8 and bf16 from the same float model, and the ablation is cheaper", function()
    local f = assert(calq.cost.estimate{ model = fmnist, profile = prof })
    local q = assert(calq.cost.estimate{ model = fmnist, profile = prof, precision = "int8" })
    local b = assert(calq.cost.estimate{ model = fmnist, profile = prof, precision = "bf16" })
    local a = assert(calq.cost.estimate{ model = fmnist, profile = prof, memory = false })
    assert.is_true(q.quantized)
    local seen = {}
    for _, n in ipairs(q.nodes) do seen[n.precision] = true end
    assert.is_true(seen.int8)
    local bf = 0
    for _, n in ipairs(b.nodes) do if n.precision == "bf16" then bf = bf + 1 end end
    assert.is_true(bf > 0)
    assert.is_true(a.total_ms < f.total_ms)
    for _, r in ipairs{ f, q, b, a } do r.model:close() end
  end)

  it("prices the probe's units apart from the MACs: s8_out and s8_row on int8 convs", function()
    local q = assert(calq.cost.estimate{ model = fmnist, profile = prof, precision = "int8" })
    local units = prof:gsub("%.lua$", "_units.lua")
    h.write(units, (PROFILE:gsub("node_ns = 200,", "node_ns = 200, call_ns = { s8_out = 1000, s8_row = 1000 },")))
    local u = assert(calq.cost.estimate{ model = fmnist, profile = units, precision = "int8" })
    assert.equal(#q.nodes, #u.nodes)
    local more = 0
    for k, n in ipairs(q.nodes) do
      local d = u.nodes[k].predicted_ms - n.predicted_ms
      if n.class == "s8_conv" then
        assert.is_true(d > 0)
        more = more + 1
      else
        assert.near(0, d, 1e-12)
      end
    end
    assert.is_true(more > 0)
    q.model:close()
    u.model:close()
  end)

  it("takes a knobs table of node names", function()
    local m = assert(calq.onnx.load(fmnist))
    local convs = {}
    for n in m:nodes() do
      if n.op_type == "Conv" then convs[#convs + 1] = n.name end
    end
    m:close()
    assert.is_true(#convs >= 2)
    local knobs = { [convs[1]] = "int8", [convs[2]] = "bf16" }
    local r = assert(calq.cost.estimate{ model = fmnist, profile = prof, precision = knobs })
    local by = {}
    for _, n in ipairs(r.nodes) do by[n.name] = n end
    assert.equal("int8", by[convs[1]].precision)
    assert.equal("QLinearConv", by[convs[1]].op)
    assert.equal("bf16", by[convs[2]].precision)
    r.model:close()
    local bad, msg = calq.cost.estimate{ model = fmnist, profile = prof,
                                         precision = { ["no such node"] = "int8" } }
    assert.is_nil(bad)
    assert.matches("no node named 'no such node'", msg, 1, true)
  end)

  it("prices conversions and says which edges need one", function()
    local p = assert(calq.profile.load(prof))
    local small, big = calq.cost.convert(p, "quant", 1000), calq.cost.convert(p, "quant", 100000)
    assert.is_true(small > 0 and big > small)
    assert.equal("dequant", calq.cost.edge_cvt("int8", "fp32"))
    assert.equal("quant", calq.cost.edge_cvt("bf16", "int8"))
    assert.is_nil(calq.cost.edge_cvt("fp32", "bf16"))
    assert.has_error(function() calq.cost.convert(p, "nope", 1) end)
  end)

  it("calq cost prints the table, and JSON with the contract's fields first", function()
    local out, rc = run(("cost %s --profile %s"):format(fmnist, prof))
    assert.equal(0, rc, out)
    assert.matches("total [%d.]+ ms", out)
    out, rc = run(("cost %s --profile %s --json"):format(qdq, prof))
    assert.equal(0, rc, out)
    assert.matches('^{"total_ms": [%d.e-]+, "nodes": %[{"name": ', out)
    local first = out:match('"nodes": %[(%b{})')
    local keys = {}
    for k in first:gmatch('"([%w_]+)": ') do keys[#keys + 1] = k end
    assert.same({ "name", "op", "precision", "predicted_ms", "bound", "macs", "bytes" },
      { table.unpack(keys, 1, 7) })
    assert.matches('"precision": "int8"', out, 1, true) -- a QDQ model at its own precisions
  end)

  it("costs the input shape it is given", function()
    local one = assert(calq.cost.estimate{ model = fmnist, profile = prof })
    local four = assert(calq.cost.estimate{ model = fmnist, profile = prof,
                                            input_shape = { input = { 4, 1, 28, 28 } } })
    local m1, m4 = 0, 0
    for _, n in ipairs(one.nodes) do m1 = m1 + n.macs end
    for _, n in ipairs(four.nodes) do m4 = m4 + n.macs end
    assert.is_true(m1 > 0)
    assert.equal(4 * m1, m4)
    assert.is_true(four.total_ms > one.total_ms)
    one.model:close()
    four.model:close()
    local out, rc = run(("cost %s --profile %s --input-shape input=4,1,28,28 --json"):format(fmnist, prof))
    assert.equal(0, rc, out)
    out, rc = run(("cost %s --profile %s --input-shape input=4,x"):format(fmnist, prof))
    assert.equal(2, rc)
  end)

  it("calq cost reads a knobs file and refuses what it cannot do", function()
    local m = assert(calq.onnx.load(fmnist))
    local conv
    for n in m:nodes() do
      if n.op_type == "Conv" then conv = conv or n.name end
    end
    m:close()
    local kf = h.write(dir .. "/knobs.lua", ('return { [%q] = "int8" }'):format(conv))
    local out, rc = run(("cost %s --profile %s --precision %s --json"):format(fmnist, prof, kf))
    assert.equal(0, rc, out)
    assert.matches('"op": "QLinearConv", "precision": "int8"', out, 1, true)
    out, rc = run(("cost %s --profile %s --precision bf16"):format(qdq, prof))
    assert.equal(1, rc)
    assert.matches("costed at its own precisions", out, 1, true)
    out, rc = run(("cost %s --profile %s --precision int4"):format(fmnist, prof))
    assert.equal(2, rc)
    out, rc = run(("cost %s --profile %s/missing.lua"):format(fmnist, dir))
    assert.equal(1, rc)
    assert.matches("missing.lua", out, 1, true)
    out, rc = run(("cost %s"):format(fmnist))
    assert.equal(2, rc)
    assert.matches("--profile", out, 1, true)
  end)
end)

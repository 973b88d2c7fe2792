-- `calq infer` and `calq sample`: option values checked with calq's own
-- messages (no internal "bad argument" leaking out).
local calq_bin = "./" .. (os.getenv("BUILD") or "build") .. "/calq"
local fmnist = "models/fashion_mnist/fmnist_cnn.onnx"

local function run(cmd)
  local p = io.popen(calq_bin .. " " .. cmd .. " 2>&1; echo rc=$?")
  local text = p:read("a")
  p:close()
  return text
end

describe("calq.cli", function()
  describe("calq help", function()
    it("calq help CMD is calq CMD --help, for every command", function()
      local list = run("help")
      assert.truthy(list:find("\nrc=0\n$"), list)
      local n = 0
      for name in list:gmatch("\n  (%l+) ") do
        n = n + 1
        assert.equal(run(name .. " --help"), run("help " .. name), name)
        assert.truthy(run("help " .. name):find("^usage: calq " .. name), name)
      end
      assert.is_true(n >= 10, list)
    end)

    it("exits 2 with a reason for no command, an unknown one, or an unknown option", function()
      assert.truthy(run(""):find("^usage: calq COMMAND.*\nrc=2\n$"))
      assert.equal("calq: unknown command 'frobnicate' (calq help lists them)\nrc=2\n", run("frobnicate"))
      assert.equal("calq: unknown command 'frobnicate' (calq help lists them)\nrc=2\n", run("help frobnicate"))
      for _, c in ipairs{ "sample", "mosaic", "conform", "infer", "eval", "calibrate", "merge", "quantize", "bench" } do
        assert.equal(("calq %s: unknown option --frobnicate\nrc=2\n"):format(c), run(c .. " x --frobnicate"), c)
      end
    end)
  end)

  describe("calq infer", function()
    it("checks --threads before loading anything", function()
      for _, n in ipairs{ "0", "-3", "1025" } do
        assert.equal("calq infer: --threads must be 1..1024\nrc=2\n",
          run(("infer %s --input x.npy --output /tmp/never --threads %s"):format(fmnist, n)))
      end
    end)
  end)

  describe("calq sample", function()
    it("lists tsv among the formats", function()
      assert.equal("calq sample: --format: 'parquet' is not one of coco, voc, yolo, dlib, csv, tsv\nrc=2\n",
        run("sample --annotations x --format parquet --size 1 --output x"))
    end)

    it("takes its format and policy names from calq.data and calq.sampler", function()
      local data, sampler = require "calq.data", require "calq.sampler"
      local help = run("sample --help")
      assert.truthy(help:find("--format FORMAT   " .. table.concat(data.formats, ", ") .. "\n", 1, true), help)
      local names = {}
      for i, p in ipairs(sampler.policies) do names[i] = p:gsub("_", "-") end
      assert.truthy(help:find("--policy NAME     " .. table.concat(names, ", ") .. " (default balanced)", 1, true),
        help)
      assert.equal(("calq sample: --policy: unknown policy 'best' (%s, FILE.lua)\nrc=2\n")
        :format(table.concat(names, ", ")),
        run("sample --annotations x --format coco --size 1 --policy best --output x"))
    end)
  end)
end)

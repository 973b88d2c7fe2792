-- `calq infer` and `calq sample`: option values checked with calq's own
-- messages (no internal "bad argument" leaking out).
local calq_bin = "./build/calq"
local fmnist = "models/fashion_mnist/fmnist_cnn.onnx"

local function run(cmd)
  local p = io.popen(calq_bin .. " " .. cmd .. " 2>&1; echo rc=$?")
  local text = p:read("a")
  p:close()
  return text
end

describe("calq.cli", function()
  describe("calq infer", function()
    it("checks --threads before loading anything", function()
      for _, n in ipairs{ "0", "-3", "1025" } do
        assert.equal("calq infer: --threads must be 1..1024\nrc=1\n",
          run(("infer %s --input x.npy --output /tmp/never --threads %s"):format(fmnist, n)))
      end
    end)
  end)

  describe("calq sample", function()
    it("lists tsv among the formats", function()
      assert.equal("calq sample: --format: 'parquet' is not one of coco, voc, yolo, dlib, csv, tsv\nrc=1\n",
        run("sample --annotations x --format parquet --size 1 --output x"))
      assert.matches("--format coco|voc|yolo|dlib|csv|tsv", run("sample --help"), 1, true)
    end)
  end)
end)

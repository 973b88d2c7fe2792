-- fmnist.lua - a ten-line recipe: the Fashion-MNIST CNN, fp32, on the first N test
-- images (Debian's dataset-fashion-mnist); prints the top-1 accuracy.
--   calq run examples/embed/fmnist.lua [MODEL.onnx [N]]      (or lua5.4, or the host)
local calq = require "calq"
local model = assert(calq.onnx.load(arg[1] or "models/fashion_mnist/fmnist_cnn.onnx"))
local n, dir = tonumber(arg[2]) or 256, "/usr/share/datasets/fashion-mnist/t10k-"
local x = assert(calq.data.read_idx(dir .. "images-idx3-ubyte.gz", 1, n))
local labels = assert(calq.data.read_idx(dir .. "labels-idx1-ubyte.gz", 1, n)):totable()
local out = assert(model:run { input = x:dequantize(1 / 255):view(n, 1, 28, 28) })
local acc, hits = calq.eval.top1(calq.eval.argmax(out.logits), labels)
print(("calq %s: %d of %d right (%.2f%%)"):format(calq.version, hits, n, 100 * acc))
return acc > 0.85 and 0 or 1

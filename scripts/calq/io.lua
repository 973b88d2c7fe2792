--- calq.io: tensor files.
--   local cio = require "calq.io"
--   assert(cio.save("stats.cqt", { w = t, t2 }, { note = "x" }))  -- calq's container
--   local tensors, meta = assert(cio.load("stats.cqt"))
--   local x = assert(cio.npy_read("x.npy")); assert(cio.npy_write("y.npy", x))
-- Failures return nil, message, code; misuse raises.
return require("calq.core").io

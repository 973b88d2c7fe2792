--- calq.hw: hardware profiles on the C side (core/cost/hw.h): the checks every
-- profile passes and the measurements of `calq probe`. Profiles are loaded,
-- derived and written by calq.profile; these are the functions it stands on.
--   local hw = require "calq.hw"
--   local ok, msg = hw.check(tbl)         -- true | nil, "caches[2].bw: ...", "ERANGE"
--   hw.efficiency(tbl, "s8_dw")           -- the class's factor, 1.0 when absent
return require("calq.core").hw

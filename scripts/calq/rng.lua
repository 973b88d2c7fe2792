--- calq.rng: the core's PRNG (xoshiro256** seeded by SplitMix64, core/base/rng.h),
-- the one every random choice in calq draws from, C and Lua alike.
--   local r = require("calq.rng").new(7)
--   r:next()  r:below(n)  r:int(lo, hi)  r:float()  r:shuffle(list [, k])
-- r:shuffle settles positions front to back as the C sampler does, so
-- calq.rng.new(s):shuffle({1, ..., n}, k) lists the "uniform" policy's picks.
return require("calq.core").rng

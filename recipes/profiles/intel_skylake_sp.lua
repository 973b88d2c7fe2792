-- Intel Skylake-SP (1st gen Xeon Scalable), as the Xeon Platinum 8180: AVX-512 F/BW/DQ/VL
-- with two FMA units, no VNNI (that came with Cascade Lake), no BF16, no AMX. int8 without
-- a dot instruction multiplies u8 x s8 with vpmaddubsw (macs.s8 = 0).
-- The figures of calq's own kernels (efficiency, call_ns, cvt, node_ns) mean what
-- docs/cost-model.md says (the estimator's tile fill, the per-unit work apart): calq has
-- measured nothing on this machine, so each is derived from calq probe on the Sapphire
-- Rapids host (recipes/profiles/intel_sapphire_rapids.lua) where the same AVX-512 code
-- runs, the comment saying how. Fixed costs are taken as the same cycles: the Sapphire
-- Rapids host's ns at its probe clock (4.0 GHz) x 4.0 / 2.3.
local KiB, MiB = 1024, 1024 * 1024
return {
  name = "intel_skylake_sp",
  description = "Intel Xeon Platinum 8180 (Skylake-SP), 28 cores, AVX-512 without VNNI",
  cores = 28,   -- Intel ARK, Xeon Platinum 8180: 28 cores
  ghz = 2.3,    -- Intel Xeon Scalable specification update: 8180 AVX-512 all-core turbo 2.3 GHz (base 2.5, AVX-512 base 1.7)
  vector_bits = 512,
  amx = false,
  macs = {
    f32 = 32,       -- 2 x 512-bit FMA (ports 0+1 fused, port 5) on Platinum/Gold 6xxx (Tom's Hardware, "Intel Xeon Platinum 8176 Scalable Processor Review", p. 3: 64 single-precision FLOPs a cycle a core)
    bf16 = 0,       -- no AVX512-BF16 (Cooper Lake added it)
    s8 = 0,         -- no AVX512-VNNI (Cascade Lake added it)
    s8_novnni = 42, -- vpmaddubsw + vpmaddwd + vpaddd zmm: 3 uops on ports 0/5 per 64 MACs (uops.info, SKX)
  },
  caches = {
    { size = 32 * KiB, bw = 128, latency = 4, shared = false },  -- L1D 32 KiB, 4 cycles, two 64-byte loads a cycle (AnandTech, "The Intel Skylake-X Review", p. 4 "I Keep My Cache Private"; Tom's Hardware 8176 review p. 3)
    { size = 1 * MiB, bw = 64, latency = 13, shared = false },   -- L2 1 MiB private, 11-13 cycles (AnandTech, same page); 64 B/cycle from L2 (Travis Downs, RWT forum "L2 bandwidth on Skylake", 2018: the SKL/SKX L2 interface sustains 64 bytes a cycle)
    { size = 38.5 * MiB, bw = 8, latency = 77, shared = true },  -- L3 38.5 MiB non-inclusive (1.375 MiB x 28, Intel ARK), 77 cycles (AnandTech, same page); bw ~8 B/cycle one core over the mesh (WikiChip; Chips and Cheese mesh measurements)
  },
  mem_bw = 128,     -- 6 channels DDR4-2666 x 21.3 GB/s (Intel ARK 8180)
  mem_bw_core = 12, -- assumption: one Skylake-SP core draws ~12 GB/s (its mesh latency limits the misses in flight)
  cvt = {            -- derived: calq's AVX-512 conversion kernels at the per-cycle rates calq probe measured on Sapphire Rapids (same instructions)
    quant = 1.0, dequant = 1.3, requant = 8.9, f32_bf16 = 0.33, bf16_f32 = 0.63,
  },
  node_ns = 350,     -- derived: the executor's ~800 cycles a node (201 ns at 4.0 GHz on Sapphire Rapids) at 2.3 GHz
  efficiency = {     -- derived: calq's AVX-512 fp32 kernels (the same code, two FMA ports as there) at the fractions calq probe measured on Sapphire Rapids, each over the same tile fill
    f32_conv = 0.76,   -- the pixel-major kernel over its tile fill (Sapphire Rapids 0.72-0.80 over probes)
    f32_grp = 0.65,    -- the direct grouped kernel's tiles, a group's fill and copy-out apart (call_ns)
    f32_grp_s2 = 0.43, -- the same at stride 2
    f32_stem = 0.75,
    f32_dw = 0.28,     -- the plane kernel over its tile fill (rows of 56 fill 56 / 64)
    f32_dw_cb = 0.55,  -- the 16-channel-block kernel's MAC part (call_ns.f32_dw_elem the rest)
    f32_gemm = 0.72,
    bf16_conv = 0.76,  -- no bf16 hardware: calq runs the fp32 kernels on rounded operands (kern.h), against the f32 peak: f32_conv's figure, the rounding priced apart (call_ns.bf16_elem)
    bf16_gemm = 0.65,  -- assumption (unchanged): f32_gemm's 0.72 less the operands' rounding, unmeasured
    s8_conv = 0.13, s8_gemm = 0.13,     -- assumption: calq's exact AVX2 int8 path, 33-48 GOP/s on the Xeon host (bench/RESULTS.md, int8 GEMM) = 4.6-6.7 MACs/cycle, over the 42 of s8_novnni; the whole time (no call_ns.s8_out / s8_row: those are the AMX fit's)
    s8_dw = 0.1,       -- assumption: the AVX2 channel-vector depthwise loop over s8_novnni
    eltwise = 0.55,    -- Relu 1 MB in + 1 MB out counted 3 MB (the write twice, as cost.c counts it) over the L2 bandwidth: Sapphire Rapids' probed fraction
    s8_gap = 0.23,     -- the int8 global average pool on NHWC codes (AVX-512BW sums, no VNNI) over the L2 bandwidth: Sapphire Rapids' probed fraction
  },
  call_ns = {        -- derived: Sapphire Rapids' probed fixed costs as cycles at 4.0 GHz, here at 2.3 GHz (x 1.74); the fp32 classes only (its int8 costs are the AMX / VNNI kernels')
    f32_conv = 913,    -- 525 ns there: the pixel-major kernel on a 1x1 map of 16 channels
    f32_grp = 574,     -- 330 ns there: a group of the direct grouped kernel
    f32_stem = 899,    -- 517 ns there
    f32_dw = 577,      -- 332 ns there
    f32_gemm = 466,    -- 268 ns there: a 1x16x16 GEMM
    im2col_row = 9.0,  -- 5.2 ns there: a row copy of the im2col path's column matrix
    f32_dw_elem = 0.16, -- 0.09 ns there: an element the depthwise block kernel copies in or stores
    bf16_elem = 0.23,  -- 0.13 ns there (an element a bf16 conv rounds in or writes out, AVX-512); without bf16 instructions the rounding is longer: a lower bound
    blk_px = 2.0,      -- 1.15 ns there (64 channels at 28x28 by 2x2; 800 KB out, in this L2 too): an output pixel of the NCHW16c nearest upsampling
  },
}

-- AMD Zen 4 server core, as the EPYC 9654 (Genoa): AVX-512 with VNNI and BF16,
-- executed "double-pumped" on 256-bit units (a 512-bit op takes two of the four
-- 256-bit FP/vector pipes). The project's nominal machine; note that the build
-- host of bench/RESULTS.md's first sections was a Zen 5 EPYC (family 26), whose
-- AVX-512 units are full width: its figures are not this profile's.
local KiB, MiB = 1024, 1024 * 1024
return {
  name = "amd_zen4",
  description = "AMD EPYC 9654 (Genoa, Zen 4), 96 cores, AVX-512 double-pumped",
  cores = 96,   -- AMD EPYC 9654 product page: 96 cores
  ghz = 3.55,   -- AMD EPYC 9654: all-core boost 3.55 GHz (base 2.4, max 3.7); Zen 4 keeps its clock under AVX-512 (Numberworld, "Zen4 AVX512 teardown")
  vector_bits = 512,
  amx = false,
  macs = {
    f32 = 16,       -- 2 x 256-bit FMA pipes = one 512-bit FMA a cycle, 16 MACs (Chips and Cheese, "AMD's Zen 4 Part 1: Frontend and Execution Engine"; Numberworld Zen4 teardown)
    bf16 = 32,      -- vdpbf16ps: 2 bf16 pairs per f32 lane at the FMA rate (Numberworld Zen4 teardown: 512-bit BF16 dot at one a cycle)
    s8 = 64,        -- vpdpbusd zmm one a cycle (two 256-bit halves), 64 MACs (Agner Fog instruction tables, Zen 4: VPDPBUSD throughput)
    s8_novnni = 32, -- vpmaddubsw + vpmaddwd both on the two multiply pipes: 2 x 256-bit ops per 32 MACs (assumption from Agner Fog's Zen 4 pipe table)
  },
  caches = {
    { size = 32 * KiB, bw = 64, latency = 4, shared = false },    -- L1D 32 KiB, 2 x 256-bit loads a cycle, 4 cycles (AMD Zen 4 software optimization guide; Chips and Cheese Zen 4 part 2)
    { size = 1 * MiB, bw = 32, latency = 14, shared = false },    -- L2 1 MiB private, 32 B/cycle to L1, 14 cycles (AMD Zen 4 optimization guide; Chips and Cheese)
    { size = 32 * MiB, bw = 24, latency = 50, shared = true },    -- L3 32 MiB per CCD of 8 cores (384 MiB in 12 CCDs; a core sees its CCD's), ~50 cycles, ~24 B/cycle one core (Chips and Cheese, "AMD's Zen 4 Part 2: Memory Subsystem")
  },
  mem_bw = 460.8,   -- 12 channels DDR5-4800 x 38.4 GB/s (AMD EPYC 9004 series product brief)
  mem_bw_core = 40, -- assumption: one Zen 4 core draws ~40 GB/s (limited by its outstanding misses; Chips and Cheese single-thread DRAM bandwidth on Genoa is of that order)
  cvt = {            -- assumption: calq's AVX-512 conversion kernels at the rates calq probe measured on Sapphire Rapids (same instructions; Zen 4 splits the zmm ones, so 0.6x)
    quant = 0.6, dequant = 0.8, requant = 8.9,   -- requant is a byte table lookup (scalar): not split
    f32_bf16 = 0.33, bf16_f32 = 0.63,             -- scalar loops: as measured on Sapphire Rapids per cycle
  },
  node_ns = 230,     -- assumption: the executor's ~800 cycles a node (calq probe, Sapphire Rapids: 201 ns at 4.0 GHz) at 3.55 GHz
  efficiency = {     -- the meanings of docs/cost-model.md (the estimator's tile fill, per-unit work apart in call_ns); calq has measured nothing on Zen 4
    f32_conv = 0.85,   -- assumption from calq's own figures on the Zen 5 EPYC (bench/RESULTS.md, "Arithmetic ceilings": ResNet-18's 3x3 layers at 90-95 % of the FMA peak), no Zen 4 run
    -- derived: the other fp32 AVX-512 classes (the same code) at Sapphire Rapids' probed figure x 0.85 / 0.76 (this profile's f32_conv over the probed one there)
    f32_grp = 0.73, f32_grp_s2 = 0.48, f32_stem = 0.84, f32_dw = 0.31, f32_dw_cb = 0.61,
    f32_gemm = 0.8,    -- assumption (Zen 5 figures, as f32_conv)
    bf16_conv = 0.6, bf16_gemm = 0.7,     -- assumption: the vdpbf16ps paths (no AMX), the whole time (no call_ns.bf16_elem: the AMX fit's)
    s8_conv = 0.7, s8_gemm = 0.8,         -- assumption from calq's int8 GEMM at 78-86 % of vpdpbusd on the Xeon (bench/RESULTS.md), the VNNI paths (no AMX), the whole time (no call_ns.s8_out / s8_row: the AMX fit's)
    -- derived: calq's vpdpbusd kernels (the same code) at the fraction of the VNNI peak calq probe measured on Sapphire Rapids, over the same tile fill
    s8_grp = 0.42, s8_stem = 0.35, s8_grp1 = 0.27, s8_dw = 0.26, s8_dw_s2 = 0.08,
    eltwise = 0.55,    -- derived: Sapphire Rapids' probed fraction of the L2 bandwidth (Relu 1 MB in + 1 MB out counted 3 MB, the write twice, as cost.c counts it)
    s8_gap = 0.23,     -- derived: Sapphire Rapids' probed fraction of the L2 bandwidth for the int8 global average pool on NHWC codes
  },
  call_ns = {        -- derived: Sapphire Rapids' probed fixed costs as cycles at 4.0 GHz, here at 3.55 GHz (x 1.13), for calq's AVX-512 / VNNI kernels that run here too
    f32_conv = 592, f32_grp = 373, f32_stem = 583, f32_dw = 374, f32_gemm = 302, -- 525, 330, 517, 332, 268 ns there
    s8_grp = 301, s8_stem = 353, s8_grp1 = 252, s8_dw = 337, -- 267, 313, 224, 299 ns there (the vpdpbusd kernels; s8_conv's and s8_gemm's are AMX calls there)
    im2col_row = 5.9,   -- 5.2 ns there
    f32_dw_elem = 0.10, -- 0.09 ns there
    s8_nchw = 0.73,     -- 0.65 ns there: an element an int8 conv converts between NCHW and NHWC
    s8_mul_call = 1.7,  -- 1.5 ns there: a row of the int8 Mul (a per-channel scale on NHWC codes)
    s8_mul_elem = 0.17, -- 0.15 ns there: an element of the int8 Mul's loop (vpmulld; double-pumped here, so a lower bound)
    blk_px = 1.3,       -- 1.15 ns there: an output pixel of the NCHW16c nearest upsampling (in L2)
  },
}

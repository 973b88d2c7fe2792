-- Arm Neoverse N1, as the Ampere Altra Q80-30: Armv8.2 with NEON (128-bit) and the dot
-- product extension (sdot/udot), no SVE, no BF16 (macs.bf16 = 0). calq has no Arm kernels
-- of its own yet: fp32 GEMMs go to OpenBLAS, the rest runs calq's portable C (the
-- efficiency factors below say so).
local KiB, MiB = 1024, 1024 * 1024
return {
  name = "arm_neoverse_n1",
  description = "Ampere Altra Q80-30 (Neoverse N1), 80 cores, NEON + dot product",
  cores = 80,   -- Ampere Altra Q80-30 datasheet: 80 cores
  ghz = 3.0,    -- Ampere Altra Q80-30: 3.0 GHz sustained on all cores (datasheet: no turbo)
  vector_bits = 128,
  amx = false,
  macs = {
    f32 = 8,        -- 2 x 128-bit FMA pipes (V0, V1) x 4 lanes (Arm Neoverse N1 software optimization guide)
    bf16 = 0,       -- Armv8.2: no BF16 (bfmmla came with Armv8.6)
    s8 = 32,        -- sdot 128-bit: 16 MACs, 2 a cycle (Neoverse N1 software optimization guide: SDOT throughput 2)
    s8_novnni = 16, -- smull/smlal(2) 8 x 16-bit lanes a pipe, 2 pipes (N1 optimization guide), before the widening adds: an upper bound
  },
  caches = {
    { size = 64 * KiB, bw = 32, latency = 4, shared = false },   -- L1D 64 KiB, 2 x 128-bit loads a cycle, 4 cycles (Arm N1 TRM; optimization guide)
    { size = 1 * MiB, bw = 19, latency = 11, shared = false },   -- L2 1 MiB private, 11 cycles; one thread reads 19.3 B/cycle (Chips and Cheese, "Deep Diving Neoverse N1")
    { size = 32 * MiB, bw = 8, latency = 100, shared = true },   -- system level cache 32 MiB on the CMN-600 mesh at 1.8 GHz (Ampere Altra datasheet; Chips and Cheese: below Zen 2's L3, ~100 cycles)
  },
  mem_bw = 204.8,   -- 8 channels DDR4-3200 x 25.6 GB/s (Ampere Altra datasheet)
  mem_bw_core = 15, -- assumption from Chips and Cheese's single-thread DRAM bandwidth on Altra (of that order)
  cvt = {            -- assumption: calq's portable C conversions (no NEON kernels): about a scalar element a cycle, the byte lookup faster
    quant = 0.5, dequant = 0.7, requant = 2.0, f32_bf16 = 0.33, bf16_f32 = 0.63,
  },
  node_ns = 350,     -- assumption: ~1000 cycles a node at 3.0 GHz (the executor's bookkeeping, a narrower core than Golden Cove)
  efficiency = {     -- the meanings of docs/cost-model.md; calq has measured nothing on Arm. assumptions: fp32 GEMMs by OpenBLAS's NEON kernels (~0.8), conv by im2col + that GEMM; depthwise and every int8 kernel are calq's portable C loops (the reference paths), far below sdot's peak
    f32_conv = 0.55, f32_dw = 0.12, f32_gemm = 0.8,
    -- no f32_grp_gemm / f32_stem: their stand-in f32_conv prices the im2col + GEMM these run (the direct grouped kernel and the stem kernel are AVX-512 only)
    bf16_conv = 0.5, bf16_gemm = 0.7,   -- no bf16 hardware: the fp32 paths on rounded operands, against the f32 peak
    s8_conv = 0.03, s8_dw = 0.03, s8_gemm = 0.03,
    eltwise = 0.45,    -- assumption: the earlier 0.3 of the L2 bandwidth over 2 MB, now over the 3 MB cost.c counts for the Relu loop (the write twice): x 1.5
  },
  -- no call_ns: Sapphire Rapids' fixed costs are calq's AVX-512 kernels', which do not run here; unmeasured, so none
}

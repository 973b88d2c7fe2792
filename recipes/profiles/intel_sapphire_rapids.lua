-- Intel Sapphire Rapids (4th gen Xeon Scalable), as the Xeon Platinum 8480+: AVX-512
-- with VNNI, BF16 and FP16, AMX-INT8/BF16 tiles. THIS MACHINE'S CPU CLASS: the build
-- host is a KVM guest whose /proc/cpuinfo shows "Intel(R) Xeon(R) Processor" with
-- amx_tile/amx_int8/amx_bf16, avx512_fp16, 48 KiB L1D and 2 MiB L2 (Sapphire or
-- Emerald Rapids; both are Golden Cove / Raptor Cove cores with these figures).
-- Figures "measured by calq" are `calq probe` on that host (bench/RESULTS.md,
-- "Hardware profile of this host"), at its measured 4.0 GHz scalar clock.
local KiB, MiB = 1024, 1024 * 1024
return {
  name = "intel_sapphire_rapids",
  description = "Intel Xeon Platinum 8480+ (Sapphire Rapids), 56 cores, AMX",
  cores = 56,   -- Intel ARK, Xeon Platinum 8480+: 56 cores
  ghz = 3.0,    -- Intel ARK 8480+: all-core turbo 3.0 GHz (base 2.0, max 3.8); heavy AVX-512/AMX may run lower
  vector_bits = 512,
  amx = true,   -- Intel ARK: Intel AMX (tiles, TMUL)
  macs = {
    f32 = 32,       -- 2 x 512-bit FMA (ports 0, 5) x 16 lanes (Intel optimization manual, Golden Cove); calq measured 29.6/cycle at the 4.0 GHz scalar clock (the AVX-512 clock is lower)
    bf16 = 16,      -- vdpbf16ps zmm: calq measured half the FMA rate (bench/peak: 0.5x, 14.4-15 MACs/cycle at the scalar clock)
    s8 = 128,       -- vpdpbusd zmm, 2 a cycle x 64 MACs (uops.info VPDPBUSD zmm, ADL-P/SPR: throughput 0.5); calq measured 117-121
    s8_novnni = 42, -- vpmaddubsw + vpmaddwd + vpaddd: 3 uops on ports 0/5 per 64 MACs (uops.info); calq measured 38-40
  },
  amx_macs = {
    bf16 = 512,  -- Intel: 1024 BF16 operations per cycle per core (AMX overview, "Accelerate AI Workloads with Intel AMX"); calq measured 427-466 at the scalar clock
    s8 = 1024,   -- Intel: 2048 INT8 operations per cycle per core (same); calq measured 864-940
  },
  caches = {
    { size = 48 * KiB, bw = 128, latency = 5, shared = false },   -- Golden Cove L1D: 48 KiB, 2 x 64 B loads/cycle, 5 cycles (Intel optimization manual; Chips and Cheese "Golden Cove's lopsided vector register file"); calq's streaming read reached 82 B/cycle
    { size = 2 * MiB, bw = 64, latency = 16, shared = false },    -- SPR L2: 2 MiB per core, 64 B/cycle, 16 cycles (Intel optimization manual, Sapphire Rapids); calq measured 43 B/cycle
    { size = 105 * MiB, bw = 8, latency = 100, shared = true },   -- L3: 105 MiB (1.875 MiB x 56, Intel ARK); ~33 ns (Chips and Cheese, "Sapphire Rapids: Golden Cove hits the server"); bw: calq measured 7.2 B/cycle from one core
  },
  mem_bw = 307,     -- 8 channels DDR5-4800 x 38.4 GB/s (Intel ARK 8480+)
  mem_bw_core = 16, -- calq probe on this host: 15.8 GB/s one core streaming 1 GiB
  cvt = {            -- calq probe on this host (calq's kernels on 64 K elements), elements/cycle
    quant = 1.03,    -- cq_quantize_f32_8 into NHWC
    dequant = 1.29,  -- cq_dequantize_8_f32 from NHWC
    requant = 8.9,   -- cq_lut_8 with a requantizing table
    f32_bf16 = 0.33, -- cq_f32_to_bf16 loop (tensor conversion)
    bf16_f32 = 0.63, -- cq_bf16_to_f32 loop
  },
  node_ns = 200,     -- calq probe on this host: 201 ns per executor node (64 chained Adds)
  efficiency = {     -- calq probe on this host, calq's kernels on its reference shapes (docs/cost-model.md, "Probe")
    f32_conv = 0.72,  -- 3x3 64>64 + 1x1 256>64 at 56x56: 86 GMAC/s over the FMA peak
    f32_dw = 0.26,    -- depthwise 3x3 144 at 56x56
    f32_gemm = 0.72,  -- 256x512x512
    bf16_conv = 0.12, -- AMX-BF16 conv over the AMX-BF16 peak
    bf16_gemm = 0.35, -- AMX-BF16 GEMM over the AMX-BF16 peak
    s8_conv = 0.20,   -- AMX-INT8 (via the int8 GEMM's units) over the AMX-INT8 peak
    s8_dw = 0.11,     -- vpdpbusd depthwise over the VNNI peak
    s8_gemm = 0.36,   -- AMX-INT8 GEMM over the AMX-INT8 peak
    eltwise = 0.28,   -- Relu 1 MB in + 1 MB out over calq's measured L2 read bandwidth
  },
}

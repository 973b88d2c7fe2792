-- Intel Skylake-SP (1st gen Xeon Scalable), as the Xeon Platinum 8180: AVX-512 F/BW/DQ/VL
-- with two FMA units, no VNNI (that came with Cascade Lake), no BF16, no AMX. int8 without
-- a dot instruction multiplies u8 x s8 with vpmaddubsw (macs.s8 = 0).
local KiB, MiB = 1024, 1024 * 1024
return {
  name = "intel_skylake_sp",
  description = "Intel Xeon Platinum 8180 (Skylake-SP), 28 cores, AVX-512 without VNNI",
  cores = 28,   -- Intel ARK, Xeon Platinum 8180: 28 cores
  ghz = 2.3,    -- Intel Xeon Scalable specification update: 8180 AVX-512 all-core turbo 2.3 GHz (base 2.5, AVX-512 base 1.7)
  vector_bits = 512,
  amx = false,
  macs = {
    f32 = 32,       -- 2 x 512-bit FMA (ports 0+1 fused, port 5) on Platinum/Gold 6xxx (Intel optimization manual, Skylake Server; WikiChip "Skylake (server)")
    bf16 = 0,       -- no AVX512-BF16 (Cooper Lake added it)
    s8 = 0,         -- no AVX512-VNNI (Cascade Lake added it)
    s8_novnni = 42, -- vpmaddubsw + vpmaddwd + vpaddd zmm: 3 uops on ports 0/5 per 64 MACs (uops.info, SKX)
  },
  caches = {
    { size = 32 * KiB, bw = 128, latency = 4, shared = false },  -- L1D 32 KiB, 2 x 64 B loads a cycle, 4-5 cycles (Intel optimization manual; WikiChip Skylake (server))
    { size = 1 * MiB, bw = 64, latency = 14, shared = false },   -- L2 1 MiB private, 64 B/cycle, 14 cycles (WikiChip Skylake (server))
    { size = 38.5 * MiB, bw = 8, latency = 70, shared = true },  -- L3 38.5 MiB non-inclusive (1.375 MiB x 28), ~70 cycles over the mesh, ~8 B/cycle one core (WikiChip; Chips and Cheese mesh measurements)
  },
  mem_bw = 128,     -- 6 channels DDR4-2666 x 21.3 GB/s (Intel ARK 8180)
  mem_bw_core = 12, -- assumption: one Skylake-SP core draws ~12 GB/s (its mesh latency limits the misses in flight)
  cvt = {            -- assumption: calq's AVX-512 conversion kernels at the per-cycle rates calq probe measured on Sapphire Rapids (same instructions)
    quant = 1.0, dequant = 1.3, requant = 8.9, f32_bf16 = 0.33, bf16_f32 = 0.63,
  },
  node_ns = 350,     -- assumption: the executor's ~800 cycles a node (201 ns at 4.0 GHz on Sapphire Rapids) at 2.3 GHz
  efficiency = {     -- assumption: calq's AVX-512 fp32 kernels as measured on Sapphire Rapids by calq probe
    f32_conv = 0.72, f32_dw = 0.26, f32_gemm = 0.72,
    bf16_conv = 0.65, bf16_gemm = 0.65, -- no bf16 hardware: calq runs the fp32 paths on rounded operands (kern.h), against the f32 peak
    s8_conv = 0.13, s8_gemm = 0.13,     -- calq's exact AVX2 int8 path, 33-48 GOP/s on the Xeon host (bench/RESULTS.md, int8 GEMM) = 4.6-6.7 MACs/cycle, over the 42 of s8_novnni
    s8_dw = 0.1,
    eltwise = 0.28,
  },
}

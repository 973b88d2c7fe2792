-- Intel Haswell-EP, as the Xeon E5-2699 v3: AVX2 and FMA3 (256-bit), no AVX-512, no
-- VNNI, no BF16. calq runs its AVX2 paths here (fp32: im2col + OpenBLAS sgemm; int8: the
-- exact vpmaddwd path).
local KiB, MiB = 1024, 1024 * 1024
return {
  name = "intel_haswell",
  description = "Intel Xeon E5-2699 v3 (Haswell-EP), 18 cores, AVX2 + FMA",
  cores = 18,   -- Intel ARK, Xeon E5-2699 v3: 18 cores
  ghz = 2.3,    -- Intel ARK: base 2.3 GHz (max 3.6); AVX2 all-core runs near base (Intel Xeon E5 v3 specification update: AVX base 1.9)
  vector_bits = 256,
  amx = false,
  macs = {
    f32 = 16,       -- 2 x 256-bit FMA (ports 0, 1) x 8 lanes (Intel optimization manual, Haswell; Agner Fog microarchitecture guide)
    bf16 = 0,
    s8 = 0,
    s8_novnni = 16, -- vpmaddubsw ymm and vpmaddwd ymm both port 0 only on Haswell (uops.info HSW): 2 cycles per 32 MACs
  },
  caches = {
    { size = 32 * KiB, bw = 64, latency = 4, shared = false },   -- L1D 32 KiB, 2 x 32 B loads a cycle, 4 cycles (Intel optimization manual, Haswell)
    { size = 256 * KiB, bw = 32, latency = 12, shared = false }, -- L2 256 KiB, 11-12 cycles (Intel optimization manual; Agner Fog); 32 B/cycle: Haswell and earlier sustain no more than 32 bytes a cycle from L2 (Travis Downs, RWT forum "L2 bandwidth on Skylake", 2018)
    { size = 45 * MiB, bw = 10, latency = 50, shared = true },   -- L3 45 MiB (2.5 MiB x 18), ~50 cycles on the ring (Intel ARK; Anandtech Haswell-EP review)
  },
  mem_bw = 68,      -- 4 channels DDR4-2133 x 17 GB/s (Intel ARK E5-2699 v3)
  mem_bw_core = 10, -- assumption: one Haswell-EP core draws ~10 GB/s
  cvt = {            -- assumption: calq's AVX2 conversion paths at half the per-cycle rates measured on Sapphire Rapids (half the vector width); the scalar ones as measured
    quant = 0.5, dequant = 0.65, requant = 8.9, f32_bf16 = 0.33, bf16_f32 = 0.63,
  },
  node_ns = 400,     -- assumption: ~900 cycles a node (Sapphire Rapids' 800, older core) at 2.3 GHz
  efficiency = {     -- the meanings of docs/cost-model.md; calq has measured nothing on Haswell. assumptions: calq's AVX2 fp32 conv is im2col + OpenBLAS sgemm (bench/RESULTS.md: OpenBLAS's Haswell kernels), int8 the exact vpmaddwd path (4.6-6.7 MACs/cycle on the Xeon host) over s8_novnni's 16
    f32_conv = 0.6, f32_dw = 0.2, f32_gemm = 0.75,
    -- no f32_grp_gemm / f32_stem: their stand-in f32_conv prices the im2col + GEMM these run (the direct grouped kernel and the stem kernel are AVX-512 only)
    bf16_conv = 0.5, bf16_gemm = 0.6,     -- no bf16 hardware: the fp32 paths on rounded operands, against the f32 peak
    s8_conv = 0.3, s8_dw = 0.15, s8_gemm = 0.35, -- the whole time (no call_ns.s8_out / s8_row: those are the AMX fit's on Sapphire Rapids)
    eltwise = 0.45,    -- assumption: the earlier 0.3 of the L2 bandwidth over 2 MB, now over the 3 MB cost.c counts for the Relu loop (the write twice): x 1.5 (Sapphire Rapids' probe: 0.55 so counted)
  },
  -- no call_ns: Sapphire Rapids' fixed costs are calq's AVX-512 kernels', which do not run here (AVX2: OpenBLAS and calq's AVX2 loops); unmeasured, so none
}

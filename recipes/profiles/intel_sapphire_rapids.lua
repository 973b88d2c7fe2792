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
  efficiency = {     -- calq probe on this host, calq's kernels on its reference shapes as the executor runs them (docs/cost-model.md, "Probe")
    f32_conv = 0.76,  -- the pixel-major kernel on five generic shapes (3x3 64>64 at 40x40, 128>128 at 20x20, 1x1 256>64, 64>256 at 40x40, 3x3 16>16 at 96x96) at its tile fill (the 6-pixel x 64-channel tiles where c_out comes in whole 64-channel panels), NCHW16c, Relu fused: 0.72-0.80 over probes at load 7-10 (84-93 GMAC/s)
    f32_grp = 0.65,   -- grouped 3x3 128 g16 at 28x28, 14x14, 7x7, the direct kernel's tiles over their lanes' fill (a group's fill and copy-out apart, call_ns): 0.65-0.66 over probes
    f32_grp_s2 = 0.43, -- the same at stride 2 on 28x28 (its groups' fixed cost apart)
    f32_stem = 0.75,  -- 3x3/2 3>32 + 7x7/2 3>64 at 224
    f32_dw = 0.28,    -- depthwise 3x3 144 at 56x56, NCHW16c, MACs over the plane kernel's tile fill (56 / 64): 0.28-0.29 over probes
    f32_dw_cb = 0.55, -- depthwise 16-channel-block kernel, the MAC part of the probe's fit over five shapes (call_ns.f32_dw_elem the rest)
    f32_gemm = 0.72,  -- 256x512x512
    bf16_conv = 0.65, -- AMX-BF16 conv, the MAC part of the probe's fit over five shapes (call_ns.bf16_elem the rest), over the AMX-BF16 peak: 0.63-0.67 over probes
    bf16_gemm = 0.35, -- AMX-BF16 GEMM over the AMX-BF16 peak
    s8_conv = 0.45,   -- AMX-INT8 (the int8 GEMM's units), the MAC part of the probe's fit over five shapes (call_ns.s8_out, s8_row the rest): 0.37-0.48 over probes
    s8_grp = 0.42,    -- vpdpbusd grp path, grouped 3x3 128 g16 28x28 + 256 g16 14x14 (every lane used: 8-channel groups in lane mode), over the VNNI peak (calq probe, one run)
    s8_stem = 0.35,   -- the same path on the stems 3x3/2 3>32 + 7x7/2 3>64 at 224, MACs over the tile fill (calq probe, one run)
    s8_grp1 = 0.27,   -- vpdpbusd grp path, narrow 1x1s (1x1 32>32 at 64x64 + 16>16 at 96x96): 0.26-0.29 over probes
    s8_dw = 0.26,     -- vpdpbusd depthwise 3x3 144 at 56x56, MACs over the tile fill (3 of 4 kernel-row quads), over the VNNI peak: 0.25-0.27 over probes
    s8_dw_s2 = 0.08,  -- vpdpbusd depthwise at stride 2 (3x3/2 96 at 80x80), MACs over the tile fill: 0.078-0.085 over probes
    s8_gemm = 0.40,   -- AMX-INT8 GEMM over the AMX-INT8 peak
    eltwise = 0.55,   -- Relu 1 MB in + 1 MB out, counted 3 MB as cost.c does (the write twice), over calq's measured L2 read bandwidth: 0.50-0.57 over probes
    s8_gap = 0.23,    -- QLinearGlobalAveragePool on NHWC codes, 96 channels at 56x56 (301 KB in L2), over the same bandwidth: 0.231-0.236 over probes
  },
  call_ns = {        -- calq probe on this host: fixed costs apart from the work a MAC (docs/cost-model.md, "Probe")
    f32_conv = 525,   -- a call: the same kernel on a 1x1 map of 16 channels
    f32_grp = 330,    -- a group of the direct kernel: its phase planes filled, its sums copied out (the fit of f32_grp's three maps; 325-356 over probes)
    f32_stem = 517,
    f32_dw = 332,
    f32_gemm = 268,   -- a 1x16x16 GEMM
    bf16_conv = 740,
    bf16_gemm = 383,
    s8_conv = 245,    -- 1x1 64>64 on a 1x1 map (gemm1x1)
    s8_grp = 267,
    s8_stem = 313,    -- a call: a 3>16 3x3 on a 1x1 map
    s8_dw = 299,
    s8_gemm = 266,
    im2col_row = 5.2, -- one row copy of the im2col path's column matrix (grouped convs the direct kernel does not take; probed with the im2col path before the direct kernel: 4.9-5.5)
    bf16_nchw = 0.44, -- an input element a bf16 conv converts from NCHW (the ResNet pair in NCHW against NCHW16c)
    f32_dw_elem = 0.09, -- an element the depthwise block kernel copies in or stores (the fit's)
    bf16_elem = 0.13, -- an element a bf16 conv rounds in (c_in padded to 32) or writes out (the fit's; 0.11-0.14 over probes)
    s8_out = 0.19,    -- an output an int8 GEMM-path conv requantizes and stores (the fit's; 0.17-0.21)
    s8_row = 6.0,     -- an input row (kh a pixel) the int8 implicit GEMM gathers (the fit's; 5.5-6.7)
    s8_acopy = 0.033, -- a byte of a 1x1's input AMX copies to padded rows (c_in no multiple of 64): 1x1 96>64 against 128>64 at 64x64 (calq probe; bench/qconv's 72>24 against 128>24 at 56x56: 13 us over 3136 x 128 bytes)
    s8_res = 0.14,    -- an output of an int8 conv with a QLinearAdd fused (1x1 32>32 with and without; 0.12-0.2)
    s8_nchw = 0.65,   -- an element an int8 conv converts between NCHW and NHWC in scratch (0.62-0.73)
    s8_mul_call = 1.5, -- a row of the int8 Mul (a per-channel scale on NHWC codes runs one a pixel, cq_qmul_8_rows): 1.47-1.59 over probes
    s8_mul_elem = 0.15, -- an element of the int8 Mul's loop (cq_qmul_8 on 131072 codes in L2; the requantizing table's rate is several times faster)
    page = 1450,      -- the first write to a page fresh from the system (a large graph output's, every run): 16 MiB mapped anew, a byte a 4 KiB page: 1450-1500 over probes at load 5 (this KVM guest)
    blk_px = 1.15,    -- an output pixel (16 floats) of the nearest upsampling on NCHW16c, 64 channels at 28x28 by 2x2 in L2 (ConvTranspose's shuffle on NCHW16c is priced the same): 1.07-1.22 over probes
    s8_grp1 = 224,    -- a call: 1x1 16>16 on a 1x1 map
    f32_act_exp = 0.39, -- an output of an fp32 conv through SiLU (or Sigmoid, Tanh, HardSigmoid) in its epilogue: 1x1 64>64 at 56x56 with SiLU against Relu (calq probe on this host class)
    f32_dw_act_exp = 0.27, -- the same in the depthwise kernels' pass over a plane: dw 3x3 144 at 56x56
  },
}

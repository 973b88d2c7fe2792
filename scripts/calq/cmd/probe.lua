--- calq probe [--output FILE.lua] [--quick] [--json]: measure this host and
-- write its hardware profile (docs/cost-model.md, "Probe").
local args = require "calq.args"
local hw = require "calq.hw"
local json = require "calq.json"
local profile = require "calq.profile"

local PROG = "calq probe"

local usage = [[
usage: calq probe [--output FILE.lua] [--name NAME] [--quick] [--json]

Measures the CPU it runs on, one core at a time (pin it: taskset -c N calq probe),
and writes a hardware profile that calq.profile.load and calq cost read:
  - the clock (a chain of dependent register adds against the thread's CPU time);
  - MACs per cycle of the fp32 FMA, vdpbf16ps, vpdpbusd, vpmaddubsw (s8 without
    VNNI) and, where the CPU and OS allow them, AMX tdpbusd / tdpbf16ps chains
    (the kernels of bench/peak);
  - the data caches sysfs lists, each level's read bandwidth (AVX-512 loads over a
    buffer inside it) and load latency (a pointer chase), cross-checked by a
    bandwidth sweep over buffer sizes; memory bandwidth, one core and all;
  - conversions (quantize, dequantize, requantize, f32<->bf16) with calq's kernels;
  - the executor's fixed cost per node;
  - each kernel class's efficiency: calq's own kernels on reference shapes, the
    rate they reach over the peak of the instructions they run, and its fixed
    cost a call (the same kernel on a 1x1 map).
Times are the thread's CPU time, so a core shared with other jobs slows the run
but not the figures (much). Under 30 s of CPU on a current server; --quick
measures each figure for a quarter of the time.

  --output FILE.lua  write the profile there (FILE.lua.tmp, then renamed);
                     without it only the summary is printed
  --name NAME        the profile's name (default "probed_host")
  --quick            shorter timings (noisier figures)
  --json             print {profile = {...}, seconds, sweep = [...], kernels = [...]}
]]

local function fail(fmt, ...) error(PROG .. ": " .. fmt:format(...), 0) end

local KiB, MiB, GiB = 1024, 1024 * 1024, 1024 * 1024 * 1024

local function online_cpus()
  local f = io.open("/sys/devices/system/cpu/online", "r")
  local s = f and f:read("l")
  if f then f:close() end
  local n = 0
  for a, b in (s or ""):gmatch("(%d+)%-?(%d*)") do
    n = n + (b ~= "" and (tonumber(b) - tonumber(a) + 1) or 1)
  end
  return n > 0 and n or 1
end

local function cpu_model()
  local f = io.open("/proc/cpuinfo", "r")
  if not f then return "unknown CPU" end
  local text = f:read("a")
  f:close()
  return text:match("model name%s*:%s*([^\n]+)") or "unknown CPU"
end

-- Round to 3 significant digits: the probe's figures are not better than that.
local function r3(x)
  if x == 0 then return 0 end
  local e = math.floor(math.log(math.abs(x), 10)) - 2
  local v = math.floor(x / 10 ^ e + 0.5) * 10 ^ e
  return tonumber(("%.6g"):format(v))
end

local function clamp(x, lo, hi) return math.max(lo, math.min(hi, x)) end

-- what each unit a kernel class pays for apart is, and where its figure comes from
local unit_notes = {
  im2col_row = "measured by calq probe: one row copy of the im2col path's column matrix",
  f32_dw_elem = "measured by calq probe: an element the fp32 depthwise block kernel copies in (its padded block) or stores, from the fit of its five shapes",
  bf16_elem = "measured by calq probe: an element a bf16 conv rounds in (channels padded to 32 on AMX) or writes out, from the fit of its five shapes",
  s8_out = "measured by calq probe: an output an int8 conv (the GEMM paths) requantizes and stores, from the fit of its five shapes",
  s8_row = "measured by calq probe: an input row (kh a pixel) the int8 implicit GEMM gathers, from the fit of its five shapes",
  s8_acopy = "measured by calq probe: a byte of a 1x1's input AMX copies to padded 64-byte rows (channels no multiple of 64), 1x1 96>64 against 128>64 at 64x64",
  s8_nchw = "measured by calq probe: an element an int8 conv converts between NCHW and NHWC in its scratch, from dw 3x3 144 at 56x56 with NCHW against NHWC in and out",
  s8_mul_call = "measured by calq probe: a row of the int8 Mul beyond its elements (a per-channel scale on NHWC codes runs one a pixel), 4096 rows of 32 against one call of 131072",
  s8_res = "measured by calq probe: an output of an int8 conv with a residual added (QLinearAdd fused), from 1x1 32>32 at 64x64 with and without it",
  s8_mul_elem = "measured by calq probe: an element of the int8 Mul's loop (cq_qmul_8 on 131072 codes, in L2)",
  blk_px = "measured by calq probe: an output pixel (16 floats) of the nearest upsampling on NCHW16c, 64 channels at 28x28 by 2x2 (in L2)",
  f32_act_exp = "measured by calq probe: an output of an fp32 conv through an exp activation (SiLU, Sigmoid, Tanh, HardSigmoid) in its epilogue, 1x1 64>64 at 56x56 with SiLU against Relu",
  f32_dw_act_exp = "measured by calq probe: an output of an fp32 depthwise conv through an exp activation (its pass over the plane), dw 3x3 144 at 56x56 with SiLU against Relu",
}

--- knees_of(sweep, bw_at) -> knees: where a bandwidth sweep ({bytes, bw} by
--- growing size) falls below two thirds of the plateau it was on (the plateau:
--- the first size after the last knee), each {lo, hi, plateau, floor, fit}.
--- floor: the least of the sweep's bandwidths at the knee's end and two steps on
--- (the level below, the knee's tail passed). fit: the
--- capacity the cost model's cache simulation reproduces the knee with. That
--- simulation is an LRU stack: a buffer of S bytes read again and again finds
--- min(1, C / S) of it in a level of C bytes, the rest in the level below, so its
--- time a byte is h / plateau + (1 - h) / floor. The knee is swept again in
--- eighths (bw_at(bytes) measures one size), and fit is the C (in 64ths of the
--- knee, lo to hi) whose times a byte come closest, in least squares, to those
--- measured at the eighths, lo, hi and the step past. A real cache loses lines
--- well before its nominal size, gradually (shared with the core's other hardware
--- thread, the page tables and the code; an Emerald Rapids guest's 2 MiB L2 read
--- at 175 GB/s up to 1.25 MiB, 90-107 at 1.5, 65 at 2, 33 at 3): a cut where the
--- sweep first leaves its plateau put that L2 anywhere from 1.0 to 1.5 MiB from
--- one probe to the next, the fit at 1.1-1.45 (bench/NOTES.md, session 18).
local function fit_knee(k, past, bw_at)
  local pts = { { bytes = k.lo, bw = k.plateau } }
  for j = 1, 8 do
    local b = (k.lo + j * (k.hi - k.lo) // 8) // 512 * 512
    pts[#pts + 1] = { bytes = b, bw = bw_at(b) }
  end
  if past then pts[#pts + 1] = past end
  local best, fit = math.huge, k.lo
  for j = 0, 64 do
    local c = k.lo + j * (k.hi - k.lo) / 64
    local err = 0
    for _, p in ipairs(pts) do
      if p.bw > 0 then
        local h = math.min(1, c / p.bytes)
        local d = h / k.plateau + (1 - h) / k.floor - 1 / p.bw
        err = err + d * d
      end
    end
    if err < best then best, fit = err, c end
  end
  return math.floor(fit) // 512 * 512
end

local function knees_of(sweep, bw_at)
  local knees, plateau = {}, sweep[1].bw
  for i = 2, #sweep do
    if sweep[i].bw < plateau * 0.67 then
      local floor = sweep[i].bw
      for j = i + 1, math.min(i + 2, #sweep) do floor = math.min(floor, sweep[j].bw) end
      local k = { lo = sweep[i - 1].bytes, hi = sweep[i].bytes, plateau = plateau, floor = floor }
      k.fit = fit_knee(k, sweep[i + 1], bw_at)
      knees[#knees + 1] = k
      plateau = sweep[i].bw
    end
  end
  return knees
end

local function measure(opts)
  local q = opts.quick and 0.25 or 1
  local ms = 20 * q
  local reps = opts.quick and 3 or 5
  local t0 = os.clock()
  local wall0 = os.time()
  local notes, sweep = {}, {}
  hw.probe_set_clock(true)

  local ghz = hw.probe_clock(ms, reps)
  if not (ghz > 0.1 and ghz < 10) then fail("measured a %.3g GHz clock: the timer or the add chain is off", ghz) end

  -- the peaks: rounds that go round the chains, each chain its best round, so
  -- that a spell in which the host slows the core costs every chain a round,
  -- not one chain all of its rounds (a ratio of peaks off by 20 %)
  local rate = {}
  for _ = 1, reps do
    for _, k in ipairs{ "f32", "bf16", "s8", "s8_novnni", "amx_s8", "amx_bf16" } do
      local r = hw.probe_chain(k, ms, 1)
      if r and (not rate[k] or r > rate[k]) then rate[k] = r end
    end
  end
  if not rate.f32 then
    fail("the peak chains need AVX-512 (this CPU has none): write the profile by hand from its manual")
  end
  local amx = rate.amx_s8 ~= nil and rate.amx_bf16 ~= nil

  -- the kernels, a first pass (the second, after the memory's figures, below;
  -- --quick: that one only)
  local kernels0, kmsg0 = {}, nil
  if not opts.quick then
    kernels0, kmsg0 = hw.probe_kernels(100 * q)
    if not kernels0 then fail("%s", kmsg0) end
  end

  -- the weight streams' first measure (the second, below)
  local wline0 = {}
  if not opts.quick then
    for which = 1, 2 do
      local ns, wmsg = hw.probe_wline_ns(which - 1, 50 * q)
      if not ns then fail("%s", wmsg) end
      wline0[which] = ns
    end
  end

  -- caches: sysfs, then the sweep
  local sys = hw.probe_caches()
  if #sys == 0 then fail("/sys/devices/system/cpu/cpu0/cache lists no data cache") end
  local last = sys[#sys].size
  local dram_bytes = math.min(math.max(4 * last, 256 * MiB), opts.quick and 256 * MiB or GiB)
  local size = 16 * KiB
  local step = opts.quick and 4 or 2
  while size <= dram_bytes do
    sweep[#sweep + 1] = { bytes = size, bw = hw.probe_read_bw(size, 10 * q, 1) / (ghz * 1e9) }
    size = size * step
  end
  local knees = knees_of(sweep, function(bytes) return hw.probe_read_bw(bytes, 10 * q, 2) / (ghz * 1e9) end)
  -- bounds: each level's end for matching the next level's knee (sysfs's
  -- size, or the sweep's knee where sysfs lists more than twice it)
  local caches, bounds, next_knee = {}, {}, 1
  for i, c in ipairs(sys) do
    local size_used = c.size
    bounds[i] = c.size
    -- the knee between this level and the next: the sweep's view of its size
    local prev = i > 1 and bounds[i - 1] or 0
    local knee
    while next_knee <= #knees and not knee do
      local k = knees[next_knee]
      next_knee = next_knee + 1
      if k.lo >= prev and k.hi > 2 * prev then knee = k end
    end
    local note = ("L%d: sysfs %s"):format(c.level, c.size >= MiB and ("%d MiB"):format(c.size // MiB) or ("%d KiB"):format(c.size // KiB))
    if knee then
      note = note .. ("; the sweep's bandwidth falls between %d and %d KiB, as an LRU level of %d KiB would"):format(
        knee.lo // KiB, knee.hi // KiB, knee.fit // KiB)
      -- a virtual machine's sysfs can list a cache the core does not get
      -- whole: the sweep is what this core sees
      if c.size > 2 * knee.hi then bounds[i] = knee.hi end
      if knee.fit < c.size then
        size_used = knee.fit
        note = note .. ": the profile takes the sweep's size"
      end
    end
    local inside = math.max(8 * KiB, math.min(size_used // 2, 16 * MiB)) // 512 * 512
    if i > 1 then inside = math.max(inside, 4 * caches[i - 1].size) end
    if i < #sys then inside = math.min(inside, size_used) end
    inside = inside // 512 * 512
    local bw = hw.probe_read_bw(inside, ms, reps) / (ghz * 1e9)
    local lat = hw.probe_latency(inside, math.floor(200000 * q)) * ghz
    caches[i] = { size = size_used, bw = r3(bw), latency = r3(math.max(lat, 1)), shared = c.shared }
    notes[("caches[%d]"):format(i)] = note .. ("; bw and latency measured by calq probe over %d KiB"):format(inside // KiB)
  end
  -- sizes must grow: a sweep-cut level never below the previous one
  for i = 2, #caches do
    if caches[i].size <= caches[i - 1].size then caches[i].size = caches[i - 1].size * 2 end
  end

  local cores = online_cpus()
  local mem_core = hw.probe_read_bw(dram_bytes, 4 * ms, math.min(reps, 3)) / 1e9
  local mem_all = cores > 1 and hw.probe_read_bw(dram_bytes, 10 * ms, 1, cores) / 1e9 or mem_core
  notes.mem_bw_core = ("measured by calq probe: one core streaming %d MiB"):format(dram_bytes // MiB)
  notes.mem_bw = ("measured by calq probe: %d threads streaming %d MiB (wall clock; %.3g GB/s)"):format(cores, dram_bytes // MiB, mem_all)
  if mem_all < mem_core then
    notes.mem_bw = notes.mem_bw .. ", below one core's: the other cores were busy; one core's figure kept"
    mem_all = mem_core
  end
  local mem_lat = hw.probe_latency(math.min(dram_bytes, 256 * MiB), math.floor(100000 * q))

  local cvt = {}
  for _, k in ipairs{ "quant", "dequant", "requant", "f32_bf16", "bf16_f32" } do
    local r, msg = hw.probe_cvt(k, ms)
    if not r then fail("%s", msg) end
    cvt[k] = r3(r / (ghz * 1e9))
  end
  local node_ns, nmsg = hw.probe_node_ns(64, 50 * q)
  if not node_ns then fail("%s", nmsg) end
  local page_ns, pmsg = hw.probe_page_ns(50 * q)
  if not page_ns then fail("%s", pmsg) end

  -- the kernels again, seconds after the first pass, each kernel's fastest pass kept
  -- (its call cost with it; its units below): a host's other load slows a core for spells
  -- of a second or more, and one pass's int8 kernels all ran 30 % slow in one
  -- (bench/NOTES.md, "a new host, OpenBLAS's kernels")
  local kernels, kmsg = hw.probe_kernels(100 * q)
  if not kernels then fail("%s", kmsg) end
  local function keep_faster(other)
    for i, k in ipairs(kernels) do
      local a = other[i]
      if a and a.name == k.name and a.macs / a.seconds > k.macs / k.seconds then kernels[i] = a end
    end
  end
  local passes = { kernels0, { table.unpack(kernels) } }
  keep_faster(kernels0)
  -- and a third pass: one probe's two passes both had the fp32 kernels at
  -- 0.6-0.8 of their usual rates (every fp32 model then 25-40 % over)
  if not opts.quick then
    local k3, m3 = hw.probe_kernels(100 * q)
    if not k3 then fail("%s", m3) end
    passes[3] = k3
    keep_faster(k3)
  end
  -- a unit priced by the difference of two timings or by a fit (bf16_nchw:
  -- NCHW against NCHW16c) is the median of the passes' that priced it, not the
  -- fastest pass's: one pass read 0.725 ns against 0.158 in the next probe,
  -- and BlazeFace bf16 moved from -14 % to +14 %; a pass whose fit failed has
  -- none, and the unit was then missing from the profile
  for i, k in ipairs(kernels) do
    for _, u in ipairs{ "unit", "unit2", "unit3" } do
      local f, v = u .. "_seconds", {}
      for _, ps in ipairs(passes) do
        local a = ps[i]
        if a and a.name == k.name and a[u] and a[f] and a[f] > 0 then
          v[#v + 1] = a[f]
          k[u] = a[u]
        end
      end
      if #v > 0 then
        table.sort(v)
        local h = (#v + 1) // 2
        k[f] = #v % 2 == 1 and v[h] or (v[h] + v[h + 1]) / 2
      end
    end
  end
  local eff, call = {}, { page = r3(page_ns) }
  notes["call_ns.page"] = "measured by calq probe: the first write to a page fresh from the system (16 MiB mapped anew, a byte a 4 KiB page), per page"
  -- the weights' stream of the kernels that prefetch them (0: the kernel
  -- does not run here, no key), the faster of two measures seconds apart
  -- (one probe's read 16 ns a line in a slow spell against 10.8-11.1)
  for which, key in ipairs{ "f32_wline", "s8_wline" } do
    local ns, wmsg = hw.probe_wline_ns(which - 1, 50 * q)
    if not ns then fail("%s", wmsg) end
    if ns > 0 and wline0[which] and wline0[which] < ns then ns = wline0[which] end
    if ns > 0 then
      call[key] = r3(ns)
      notes["call_ns." .. key] = ("measured by calq probe: a 64-byte line of weights from memory, %s on 3x3 512>512 at 7x7 with its packed weights flushed before each run, the run over their lines (%.3g GB/s)"):format(
        which == 1 and "the fp32 pixel-major conv" or "the int8 GEMM (AVX-512)", 64 / ns)
    end
  end
  local l2 = caches[math.min(2, #caches)].bw * ghz * 1e9
  for _, k in ipairs(kernels) do
    local peak = k.peak == "bw_l2" and l2 or rate[k.peak]
    k.rate = k.macs / k.seconds
    k.efficiency = peak and peak > 0 and r3(clamp(k.rate / peak, 0.001, 2)) or nil
    eff[k.name] = k.efficiency
    if k.call_seconds and k.call_seconds > 0 then
      call[k.name] = r3(k.call_seconds * 1e9)
      notes["call_ns." .. k.name] = k.name == "f32_grp"
        and "measured by calq probe: a group's fixed cost (its phase planes filled, its sums copied out), from 3x3 128 g16 at 28x28, 14x14, 7x7"
        or k.name == "s8_dwf" and "measured by calq probe: the same kernel on a 1x1 map of 48 channels"
        or "measured by calq probe: the same kernel on a 1x1 map of 16 channels (a 1-row GEMM)"
    end
    for _, u in ipairs{ { k.unit, k.unit_seconds }, { k.unit2, k.unit2_seconds }, { k.unit3, k.unit3_seconds } } do
      if u[1] and u[2] > 0 then
        call[u[1]] = r3(u[2] * 1e9)
        notes["call_ns." .. u[1]] = unit_notes[u[1]]
          or ("measured by calq probe: a unit of %s's work apart (%s)"):format(k.name, u[1])
      end
    end
    notes["efficiency." .. k.name] = ("measured by calq probe: %s, %.4g %s/s over the %s peak%s"):format(
      k.shape, k.rate / 1e9, k.peak == "bw_l2" and "GB" or "GMAC", k.peak,
      k.name == "f32_gemm" and (" (OpenBLAS's %s kernels)"):format(hw.blas_core()) or "")
  end

  local function per_cycle(r) return r and r3(r / (ghz * 1e9)) or 0 end
  local p = {
    name = opts.name or "probed_host",
    description = ("%s, probed by calq probe%s"):format(cpu_model(), opts.quick and " --quick" or ""),
    cores = cores,
    ghz = r3(ghz),
    vector_bits = 512,
    amx = amx,
    amx_macs = amx and { bf16 = per_cycle(rate.amx_bf16), s8 = per_cycle(rate.amx_s8) } or nil,
    macs = { f32 = per_cycle(rate.f32), bf16 = per_cycle(rate.bf16), s8 = per_cycle(rate.s8),
             s8_novnni = per_cycle(rate.s8_novnni) },
    caches = caches,
    mem_bw = r3(mem_all),
    mem_bw_core = r3(mem_core),
    cvt = cvt,
    node_ns = r3(node_ns),
    efficiency = eff,
    call_ns = next(call) and call or nil,
  }
  notes.ghz = "measured by calq probe: 8 dependent register adds a loop round against the thread's CPU time (one core, best of runs)"
  notes.macs = "measured by calq probe: chains of independent zmm instructions (bench/peak's), MACs per cycle at the clock above"
  notes.amx_macs = amx and "measured by calq probe: 4 independent tdpbf16ps / tdpbusd tile chains" or nil
  notes.cvt = "measured by calq probe: calq's kernels (cq_quantize_f32_8, cq_dequantize_8_f32, cq_lut_8, cq_f32_to_bf16 / cq_bf16_to_f32 loops) on 64 K elements"
  notes.node_ns = "measured by calq probe: the executor running 64 chained Adds on 16 floats, per node"
  notes.cores = "the CPUs online here (/sys/devices/system/cpu/online)"
  notes.vector_bits = "AVX-512 (the probe's chains run zmm)"
  return {
    profile = p, notes = notes, sweep = sweep, kernels = kernels, rate = rate,
    mem_latency_ns = mem_lat, seconds = os.clock() - t0, wall = os.time() - wall0,
  }
end

local function summary(r, out)
  local p = r.profile
  local lines = {
    ("calq probe: %s, %d cores, %.3g GHz (measured), %.1f s of CPU (%d s wall)"):format(
      p.description, p.cores, p.ghz, r.seconds, r.wall),
    ("  MACs/cycle/core: f32 %.4g  bf16 %.4g  s8 %.4g  s8 without VNNI %.4g%s"):format(
      p.macs.f32, p.macs.bf16, p.macs.s8, p.macs.s8_novnni,
      p.amx and ("  AMX bf16 %.4g  AMX s8 %.4g"):format(p.amx_macs.bf16, p.amx_macs.s8) or ""),
  }
  for i, c in ipairs(p.caches) do
    lines[#lines + 1] = ("  L%d %8d KiB %s: %.3g B/cycle, %.3g cycles  (%s)"):format(i, c.size // 1024,
      c.shared and "shared " or "private", c.bw, c.latency, r.notes[("caches[%d]"):format(i)])
  end
  lines[#lines + 1] = ("  memory: %.3g GB/s one core, %.3g GB/s all, %.0f ns latency"):format(
    p.mem_bw_core, p.mem_bw, r.mem_latency_ns)
  local sw = {}
  for _, s in ipairs(r.sweep) do
    sw[#sw + 1] = ("%s:%.3g"):format(s.bytes >= 1048576 and (s.bytes // 1048576) .. "M" or (s.bytes // 1024) .. "K", s.bw)
  end
  lines[#lines + 1] = "  sweep (size:B/cycle): " .. table.concat(sw, " ")
  lines[#lines + 1] = ("  conversions (elements/cycle): quant %.3g dequant %.3g requant %.3g f32>bf16 %.3g bf16>f32 %.3g"):format(
    p.cvt.quant, p.cvt.dequant, p.cvt.requant, p.cvt.f32_bf16, p.cvt.bf16_f32)
  lines[#lines + 1] = ("  node overhead: %.3g ns"):format(p.node_ns)
  for _, k in ipairs(r.kernels) do
    lines[#lines + 1] = ("  %-9s %5.3f of the %-8s peak  (%s: %.4g G%s/s)%s"):format(k.name, k.efficiency or 0, k.peak,
      k.shape, k.rate / 1e9, k.peak == "bw_l2" and "B" or "MAC",
      ((k.call_seconds or 0) > 0 and ("; %.0f ns a %s"):format(k.call_seconds * 1e9, k.name == "f32_grp" and "group" or "call") or "") ..
      (k.unit and (", %s %.2f ns"):format(k.unit, k.unit_seconds * 1e9) or "") ..
      (k.unit2 and (", %s %.2f ns"):format(k.unit2, k.unit2_seconds * 1e9) or ""))
  end
  if out then lines[#lines + 1] = "  written: " .. out end
  return table.concat(lines, "\n")
end

local function run(argv)
  local opts, rest = args.parse(argv, {
    output = { type = "string" },
    name = { type = "string" },
    quick = { type = "boolean" },
    json = { type = "boolean" },
  }, PROG)
  if #rest > 0 then args.usage_error(PROG, "unexpected argument '%s'", rest[1]) end
  if opts.name and not opts.name:match("^[%w_%-%.%+]+$") then
    args.usage_error(PROG, "--name '%s': letters, digits, _ - . + only", opts.name)
  end
  local r = measure(opts)
  local ok, msg = hw.check(r.profile)
  if not ok then fail("the measured profile is not valid (%s): a measurement went wrong", msg) end
  if opts.output then
    local comments = r.notes
    comments.header = ("Hardware profile of this host, measured by `calq probe%s` (%.1f s of CPU).\n"
      .. "Format: docs/cost-model.md. Every figure below is measured, none looked up.")
      :format(opts.quick and " --quick" or "", r.seconds)
    local wok, werr = profile.write(r.profile, opts.output, comments)
    if not wok then fail("%s", werr) end
    local back, lerr = profile.load(opts.output)
    if not back then fail("wrote %s but it does not load back: %s", opts.output, lerr) end
  end
  if opts.json then
    print(json.encode{ profile = r.profile, seconds = r.seconds, sweep = r.sweep, kernels = r.kernels,
      output = opts.output or json.null, mem_latency_ns = r.mem_latency_ns })
  else
    print(summary(r, opts.output))
  end
  return 0
end

return { summary = "measure this host and write its hardware profile", usage = usage, run = run,
         knees_of = knees_of }

--- calq.report: one self-contained HTML page from a run folder (calq.rundir;
-- docs/report.md). Inline CSS and SVG only: no script, no font, nothing
-- fetched (a Content-Security-Policy of default-src 'none' says so to the
-- browser). `calq report` is its command.
--   local report = require "calq.report"
--   local html, parts = assert(report.html("runs/quantize-20261206-101500-1"))
--   assert(report.write("runs/quantize-20261206-101500-1", "report.html"))
-- Figures: the ground-truth counts of the calibration set before and after
-- balancing (calib_counts.json), per-layer activation histograms with the
-- clipping range (activations.json), per-layer latency, measured and
-- predicted, fp32 and int8 (latency.json), the precision chosen for each
-- layer with its sensitivity (layers.json), the accuracy table
-- (accuracy.json). A part the folder lacks is said to be missing, with why,
-- in the page.
local check = require "calq.check"
local fs = require "calq.fs"
local rundir = require "calq.rundir"

local report = {}

local function esc(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ['"'] = "&quot;", ["'"] = "&#39;" }))
end

local function num(x)
  return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge
end

-- A number for the page: g with d significant digits, "-" for none.
local function fmt(x, d)
  if not num(x) then return "-" end
  return ("%." .. (d or 4) .. "g"):format(x)
end

local function ms(x)
  if not num(x) then return "-" end
  if x >= 1 then return ("%.2f ms"):format(x) end
  return ("%.1f µs"):format(x * 1000)
end

local function svg_open(w, h, label)
  return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">')
    :format(w, h, w, h, esc(label))
end

local function rect(x, y, w, h, class, title)
  return ('<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" class="%s">%s</rect>'):format(
    x, y, math.max(w, 0), math.max(h, 0), class, title and ("<title>" .. esc(title) .. "</title>") or "")
end

local function text(x, y, s, class, anchor)
  return ('<text x="%.2f" y="%.2f" class="%s"%s>%s</text>'):format(x, y, class or "",
    anchor and (' text-anchor="%s"'):format(anchor) or "", esc(s))
end

local function missing(id, title, why)
  return ('<figure id="%s" class="figure missing" data-missing="%s"><figcaption>%s</figcaption>'
    .. '<p class="note">Not in this run: %s</p></figure>'):format(id, esc(why), esc(title), esc(why))
end

-- ---- the ground-truth counts ---------------------------------------------------------

local function counts_figure(c)
  local id, title = "fig-counts", "Ground-truth objects per calibration image, before and after balancing"
  if not c then return nil, id, title end
  local before, after, bins = c.before or {}, c.after or {}, c.bins or {}
  local n = math.max(#before, #after)
  local last = 1
  for i = 1, n do if (before[i] or 0) > 0 or (after[i] or 0) > 0 then last = i end end
  local tb, ta = 0, 0
  for i = 1, n do tb, ta = tb + (before[i] or 0), ta + (after[i] or 0) end
  -- shares of each set, so a 5,000-image pool and a 100-image set compare
  local top = 0
  for i = 1, last do
    top = math.max(top, tb > 0 and (before[i] or 0) / tb or 0, ta > 0 and (after[i] or 0) / ta or 0)
  end
  if top <= 0 then top = 1 end
  local W, H, L, B = 720, 260, 50, 40
  local slot = (W - L - 10) / last
  local out = { svg_open(W, H, title) }
  for k = 0, 4 do
    local y = H - B - (H - B - 20) * k / 4
    out[#out + 1] = ('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/>'):format(L, W - 10, y, y)
    out[#out + 1] = text(L - 6, y + 4, ("%d %%"):format(math.floor(100 * top * k / 4 + 0.5)), "axis", "end")
  end
  for i = 1, last do
    local x = L + (i - 1) * slot
    local hb = tb > 0 and (before[i] or 0) / tb / top * (H - B - 20) or 0
    local ha = ta > 0 and (after[i] or 0) / ta / top * (H - B - 20) or 0
    out[#out + 1] = rect(x + slot * 0.1, H - B - hb, slot * 0.4, hb, "before",
      ("%s objects: %d images before"):format(bins[i] or i - 1, before[i] or 0))
    out[#out + 1] = rect(x + slot * 0.5, H - B - ha, slot * 0.4, ha, "after",
      ("%s objects: %d images after"):format(bins[i] or i - 1, after[i] or 0))
    out[#out + 1] = text(x + slot / 2, H - B + 16, bins[i] or tostring(i - 1), "axis", "middle")
  end
  out[#out + 1] = text((W + L) / 2, H - 6, "ground-truth objects in the image", "axis", "middle")
  out[#out + 1] = "</svg>"
  local legend = ('<p class="legend"><span class="key before"></span> before: %d candidate images'
    .. ' &nbsp; <span class="key after"></span> after: %d chosen (%s%s)</p>'):format(tb, ta,
    esc(c.policy or "?"), num(c.threshold) and (", threshold " .. c.threshold) or "")
  return ('<figure id="%s" class="figure"><figcaption>%s</figcaption>%s%s<p class="src">%s</p></figure>'):format(
    id, esc(title), table.concat(out), legend, esc(c.source or ""))
end

-- ---- activations ----------------------------------------------------------------------

local function hist_svg(t)
  local h = t.hist
  local W, H, B = 300, 120, 18
  local out = { svg_open(W, H, "histogram of " .. t.value) }
  local counts = type(h) == "table" and h.counts or {}
  if #counts == 0 then
    out[#out + 1] = text(W / 2, H / 2, "no finite values", "axis", "middle")
    out[#out + 1] = "</svg>"
    return table.concat(out)
  end
  local lo = h.lo
  local hi = h.lo + #counts * h.width
  local clo, chi = t.clip_lo, t.clip_hi
  -- the x range covers the data and the clipping range
  local xlo, xhi = lo, hi
  if num(clo) then xlo = math.min(xlo, clo) end
  if num(chi) then xhi = math.max(xhi, chi) end
  if xhi <= xlo then xhi = xlo + 1 end
  local function X(v) return 4 + (W - 8) * (v - xlo) / (xhi - xlo) end
  -- counts on a log scale: a ReLU's zeros would flatten everything else
  local top = 0
  for _, c in ipairs(counts) do top = math.max(top, math.log(1 + c)) end
  if top <= 0 then top = 1 end
  local path = { ("M%.2f,%.2f"):format(X(lo), H - B) }
  for i, c in ipairs(counts) do
    local y = H - B - (H - B - 8) * math.log(1 + c) / top
    local x0, x1 = X(lo + (i - 1) * h.width), X(lo + i * h.width)
    path[#path + 1] = ("L%.2f,%.2fL%.2f,%.2f"):format(x0, y, x1, y)
  end
  path[#path + 1] = ("L%.2f,%.2fZ"):format(X(hi), H - B)
  out[#out + 1] = ('<path d="%s" class="hist"><title>%s: %d bins of %s</title></path>'):format(
    table.concat(path), esc(t.value), #counts, fmt(h.width, 3))
  if num(clo) and num(chi) then
    out[#out + 1] = ('<rect x="%.2f" y="2" width="%.2f" height="%d" class="cliprange"/>'):format(
      X(clo), math.max(0.5, X(chi) - X(clo)), H - B - 2)
    for _, v in ipairs{ clo, chi } do
      out[#out + 1] = ('<line x1="%.2f" x2="%.2f" y1="2" y2="%d" class="clip"><title>clip %s</title></line>'):format(
        X(v), X(v), H - B, fmt(v))
    end
  end
  out[#out + 1] = ('<line x1="4" x2="%d" y1="%d" y2="%d" class="base"/>'):format(W - 4, H - B, H - B)
  out[#out + 1] = text(4, H - 4, fmt(xlo, 3), "axis", "start")
  out[#out + 1] = text(W - 4, H - 4, fmt(xhi, 3), "axis", "end")
  out[#out + 1] = "</svg>"
  return table.concat(out)
end

local function activations_figure(a)
  local id, title = "fig-activations", "Activation histograms per layer, with the clipping range chosen"
  if not a then return nil, id, title end
  local cells = {}
  for _, t in ipairs(a.tensors or {}) do
    local clipped = ""
    if num(t.clip_hi) and num(t.max) and t.max > t.clip_hi then
      clipped = (" · max %s clipped"):format(fmt(t.max, 3))
    end
    cells[#cells + 1] = ('<div class="cell" data-value="%s"><div class="name" title="%s">%s</div>%s'
      .. '<div class="meta">%s %s · %s · clip [%s, %s] · range [%s, %s]%s</div></div>'):format(
      esc(t.value), esc(t.value), esc(t.name or t.value), hist_svg(t), esc(t.op_type or ""),
      esc(t.precision or ""), esc(t.dtype or ""), fmt(t.clip_lo, 3), fmt(t.clip_hi, 3),
      fmt(t.min, 3), fmt(t.max, 3), clipped)
  end
  if #cells == 0 then return nil, id, title, "the run folder lists no quantized activation" end
  local legend = ('<p class="legend">observer %s (%s), activations %s; counts on a log scale; '
    .. '<span class="key clipkey"></span> the clipping range, <span class="key histkey"></span> the values seen '
    .. 'in calibration</p>'):format(esc(a.observer or "?"), esc(a.method or "?"), esc(a.activations or "?"))
  return ('<figure id="%s" class="figure"><figcaption>%s</figcaption>%s<div class="grid-cells">%s</div></figure>')
    :format(id, esc(title), legend, table.concat(cells))
end

-- ---- latency -------------------------------------------------------------------------------

local SERIES = {
  { key = "fp32_ms", class = "fp32", label = "fp32 measured" },
  { key = "int8_ms", class = "int8", label = "int8 measured" },
  { key = "predicted_fp32_ms", class = "pfp32", label = "fp32 predicted" },
  { key = "predicted_int8_ms", class = "pint8", label = "int8 predicted" },
}

local function latency_figure(l)
  local id, title = "fig-latency", "Latency per layer: measured and predicted, fp32 and int8"
  if not l then return nil, id, title end
  local rows = {}
  local top = 0
  local present = {}
  for _, r in ipairs(l.layers or {}) do
    local any = false
    for _, s in ipairs(SERIES) do
      if num(r[s.key]) then
        top, any, present[s.key] = math.max(top, r[s.key]), true, true
      end
    end
    if any then rows[#rows + 1] = r end
  end
  if #rows == 0 or top <= 0 then return nil, id, title, "latency.json holds no timed layer" end
  local series = {}
  for _, s in ipairs(SERIES) do if present[s.key] then series[#series + 1] = s end end
  local bar, gap, L, W = 7, 6, 250, 820
  local rowh = bar * #series + gap
  local H = 24 + #rows * rowh + 24
  local out = { svg_open(W, H, title) }
  local function X(v) return L + (W - L - 70) * v / top end
  for k = 0, 4 do
    local x = X(top * k / 4)
    out[#out + 1] = ('<line x1="%.1f" x2="%.1f" y1="16" y2="%d" class="grid"/>'):format(x, x, H - 22)
    out[#out + 1] = text(x, H - 8, ms(top * k / 4), "axis", "middle")
  end
  for i, r in ipairs(rows) do
    local y = 20 + (i - 1) * rowh
    local name = r.name or "?"
    if #name > 38 then name = "…" .. name:sub(-37) end
    out[#out + 1] = text(L - 6, y + rowh / 2, name .. " (" .. (r.op_type or "") .. ")", "label", "end")
    for j, s in ipairs(series) do
      local v = r[s.key]
      if num(v) then
        local yy = y + (j - 1) * bar
        out[#out + 1] = rect(L, yy, X(v) - L, bar - 1, s.class, ("%s %s: %s"):format(r.name or "", s.label, ms(v)))
      end
    end
  end
  out[#out + 1] = "</svg>"
  local keys = {}
  for _, s in ipairs(series) do
    keys[#keys + 1] = ('<span class="key %s"></span> %s'):format(s.class, s.label)
  end
  local pred = l.predicted or {}
  local why = pred.missing and (" Predicted: not in this run (" .. esc(pred.missing) .. ").") or
    (" Predicted on profile " .. esc(pred.profile or "?") .. (": fp32 %s, int8 %s in all."):format(
      ms(pred.fp32_total_ms), ms(pred.int8_total_ms)))
  local legend = ('<p class="legend">%s</p><p class="note">Measured: the mean of %d runs after %d, on %s, '
    .. '%d thread(s); median whole-model run fp32 %s, int8 %s.%s</p>'):format(table.concat(keys, " &nbsp; "),
    l.runs or 0, l.warmup or 0, esc(l.input or "?"), l.threads or 1, ms(l.fp32_median_ms),
    ms(l.int8_median_ms), why)
  return ('<figure id="%s" class="figure"><figcaption>%s</figcaption>%s%s</figure>'):format(id, esc(title),
    table.concat(out), legend)
end

-- ---- knobs and sensitivity ---------------------------------------------------------------

local function layers_figure(k)
  local id, title = "fig-knobs", "Precision chosen per layer, with its sensitivity (SQNR quantized alone)"
  if not k then return nil, id, title end
  local layers = k.layers or {}
  if #layers == 0 then return nil, id, title, "layers.json lists no quantizable layer" end
  local top = 0
  for _, r in ipairs(layers) do if num(r.sqnr) then top = math.max(top, r.sqnr) end end
  if top <= 0 then top = 1 end
  local rows = {}
  for _, r in ipairs(layers) do
    local bar
    if num(r.sqnr) then
      local w = 160 * math.max(0, r.sqnr) / top
      bar = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 170 12" width="170" height="12" class="sqnr">'
        .. '<rect x="0" y="1" width="%.1f" height="10" class="%s"><title>%s dB</title></rect></svg> %s dB'):format(
        w, (num(k.auto and k.auto.sqnr) and r.sqnr < k.auto.sqnr) and "low" or "ok", fmt(r.sqnr, 3),
        fmt(r.sqnr, 3))
    else
      bar = '<span class="note">not measured</span>'
    end
    rows[#rows + 1] = ('<tr><td class="num">%s</td><td>%s</td><td>%s</td><td><span class="badge %s">%s</span></td>'
      .. '<td>%s</td><td>%s</td><td class="why">%s</td></tr>'):format(esc(r.index or ""), esc(r.name or ""),
      esc(r.op_type or ""), esc(r.precision or "?"), esc(r.precision or "?"), esc(r.source or ""), bar,
      esc(type(r.reason) == "string" and r.reason or ""))
  end
  local head = ('<p class="legend">%d of %d quantizable layers in int8%s.</p>'):format(k.int8 or 0,
    k.quantizable or #layers, (type(k.auto) == "table" and num(k.auto.sqnr))
      and ("; automatic fp32 below " .. fmt(k.auto.sqnr) .. " dB") or "")
  return ('<figure id="%s" class="figure"><figcaption>%s</figcaption>%s<table class="layers"><thead><tr>'
    .. '<th>node</th><th>name</th><th>op</th><th>precision</th><th>chosen by</th><th>sensitivity</th>'
    .. '<th>reason</th></tr></thead><tbody>%s</tbody></table></figure>'):format(id, esc(title), head,
    table.concat(rows))
end

-- ---- accuracy ---------------------------------------------------------------------------------

local function pct(x) return num(x) and ("%.2f %%"):format(100 * x) or "-" end

local function accuracy_figure(a)
  local id, title = "fig-accuracy", "Accuracy"
  if not a then return nil, id, title end
  local models = a.models or {}
  if #models == 0 then return nil, id, title, "accuracy.json lists no model" end
  local head, rows = {}, {}
  if a.task == "classify" then
    head = { "model", "top-1", "correct", "ms", "integer nodes" }
    for i, m in ipairs(models) do
      rows[i] = { m.name, pct(m.top1), m.correct, fmt(m.ms, 5), m.lowered or "-" }
    end
    if a.delta then rows[#rows + 1] = { "delta (2 - 1)", ("%+.2f pt"):format(100 * a.delta.top1), "", "", "" } end
    if a.agreement then
      rows[#rows + 1] = { "agreement of 2 with 1", pct(a.agreement.rate), a.agreement.same, "", "" }
    end
  else
    head = { "model", ("AP@%s"):format(fmt(a.iou, 2)), "recall", "TP", "FP", "FN", "ms", "integer nodes" }
    for i, m in ipairs(models) do
      rows[i] = { m.name, fmt(m.ap, 4), pct(m.recall), m.tp, m.fp, m.fn, fmt(m.ms, 5), m.lowered or "-" }
    end
    if a.delta then
      rows[#rows + 1] = { "delta (2 - 1)", ("%+.4f"):format(a.delta.ap), ("%+.1f pt"):format(100 * a.delta.recall),
        "", ("%+d"):format(a.delta.fp), "", "", "" }
    end
    if a.match then
      rows[#rows + 1] = { "match of 2 with 1", pct(a.match.rate), "", "", "", "", "", "" }
    end
  end
  local th = {}
  for i, h in ipairs(head) do th[i] = "<th>" .. esc(h) .. "</th>" end
  local tr = {}
  for i, r in ipairs(rows) do
    local td = {}
    for j = 1, #head do td[j] = ('<td%s>%s</td>'):format(j > 1 and ' class="num"' or "", esc(r[j] == nil and "" or r[j])) end
    tr[i] = "<tr>" .. table.concat(td) .. "</tr>"
  end
  local what = ("%s, %d images of %s, engine %s"):format(a.task or "?", a.images or 0, a.data or "?", a.engine or "?")
  return ('<figure id="%s" class="figure"><figcaption>%s</figcaption><p class="legend">%s</p><table class="acc">'
    .. '<thead><tr>%s</tr></thead><tbody>%s</tbody></table></figure>'):format(id, esc(title), esc(what),
    table.concat(th), table.concat(tr))
end

-- ---- the page -------------------------------------------------------------------------------------

local CSS = [[
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
code,.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
.figure{margin:0 0 12px}figcaption{font-weight:600;margin-bottom:6px}
.note{color:#666;font-size:12px}.missing .note{color:#9a4b00;background:#fff6e5;padding:8px;border-radius:4px}
.legend{font-size:12px;color:#444;margin:4px 0}.src{font-size:11px;color:#888}
.key{display:inline-block;width:10px;height:10px;vertical-align:middle;border-radius:2px}
svg text{font-size:11px;fill:#333}svg .axis{fill:#666;font-size:10px}svg .label{font-size:10px}
.grid{stroke:#eee}.base{stroke:#999}
.before,.key.before{fill:#9db4d3;background:#9db4d3}.after,.key.after{fill:#2b6cb0;background:#2b6cb0}
.hist,.key.histkey{fill:#7aa6d8;background:#7aa6d8;stroke:#2b6cb0;stroke-width:.5}
.cliprange,.key.clipkey{fill:rgba(220,90,40,.10);background:rgba(220,90,40,.25)}.clip{stroke:#d9480f;stroke-width:1.5}
.fp32,.key.fp32{fill:#4a5568;background:#4a5568}.int8,.key.int8{fill:#2f855a;background:#2f855a}
.pfp32,.key.pfp32{fill:#a0aec0;background:#a0aec0}.pint8,.key.pint8{fill:#9ae6b4;background:#9ae6b4}
.grid-cells{display:grid;grid-template-columns:repeat(auto-fill,minmax(310px,1fr));gap:10px}
.cell{border:1px solid #e5e5e5;border-radius:4px;padding:6px}.cell .name{font-size:11px;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.cell .meta{font-size:10.5px;color:#555}
table{border-collapse:collapse;font-size:12px}th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:middle}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.why{color:#666;font-size:11px}
.badge{padding:1px 6px;border-radius:8px;font-size:11px;color:#fff}.badge.int8{background:#2f855a}.badge.fp32{background:#4a5568}.badge.bf16{background:#805ad5}
.sqnr .ok{fill:#2f855a}.sqnr .low{fill:#d9480f}
.steps li{margin:2px 0}
]]

-- The parts of the page, in order: {id, title, builder, file}.
local PARTS = {
  { "calib_counts", counts_figure, "The calibration set" },
  { "activations", activations_figure, "Activations" },
  { "latency", latency_figure, "Latency" },
  { "layers", layers_figure, "Knobs and sensitivity" },
  { "accuracy", accuracy_figure, "Accuracy" },
}

local WHY_ABSENT = {
  calib_counts = "the calibration data was not a list written by calq sample (no LIST.sample.json), or no calq quantize ran in this folder",
  activations = "no calq quantize ran in this folder",
  latency = "no calq quantize ran in this folder",
  layers = "no calq quantize ran in this folder",
  accuracy = "no calq eval ran in this folder (calq eval MODEL.onnx QDQ.onnx --task T --run-dir DIR)",
}

--- The page for run folder dir: html text, and {name = "shown" | why
-- missing} for each part; or nil, msg when dir is not a folder. A damaged
-- file makes its part missing (with the parse error), not the whole page.
function report.html(dir)
  if type(dir) ~= "string" then check.typeerror(1, "html", "string", dir) end
  local lfs = require "lfs"
  if lfs.attributes(dir, "mode") ~= "directory" then return nil, dir .. ": not a folder" end
  local parts = {}
  local body = {}
  local run, rerr, rabsent = rundir.read(dir, "run")
  local steps = {}
  if run and type(run.steps) == "table" then
    for _, s in ipairs(run.steps) do
      steps[#steps + 1] = ("<li><code>%s</code> <span class=\"note\">%s, %s s, in %s</span></li>"):format(
        esc(s.command or "?"), esc(s.started or "?"), esc(s.seconds or "?"), esc(s.cwd or "?"))
    end
  end
  local runinfo
  if run then
    runinfo = ('<p class="note">calq %s, %s</p><ul class="steps">%s</ul>'):format(esc(run.calq or "?"),
      esc(run.lua or "?"), table.concat(steps))
    parts.run = "shown"
  else
    local why = rabsent and "run.json is absent" or rerr
    runinfo = ('<p class="note missing">The commands are not known: %s.</p>'):format(esc(why))
    parts.run = why
  end
  for _, p in ipairs(PARTS) do
    local name, build, heading = p[1], p[2], p[3]
    local v, err, absent = rundir.read(dir, name)
    local html, id, title, why
    if v then
      local ok, h, i2, t2, w2 = pcall(build, v)
      if not ok then
        html, why = nil, ("%s/%s.json: cannot be drawn: %s"):format(dir, name, tostring(h))
        _, id, title = build(nil)
      else
        html, id, title, why = h, i2, t2, w2
      end
    else
      _, id, title = build(nil)
      why = absent and (name .. ".json is absent: " .. WHY_ABSENT[name]) or err
    end
    if html then
      parts[name] = "shown"
    else
      parts[name] = why
      html = missing(id, title, why)
    end
    body[#body + 1] = ("<section><h2>%s</h2>%s</section>"):format(esc(heading), html)
  end
  local page = table.concat{
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
    [[<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">]],
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>calq report: ", esc(dir), "</title><style>", CSS, "</style></head><body>",
    "<h1>calq report</h1><p class=\"mono\">", esc(dir), "</p>", runinfo,
    table.concat(body, "\n"), "</body></html>\n",
  }
  return page, parts
end

--- Write the page of dir to output (atomically). Returns parts as
-- report.html does, or nil, msg.
function report.write(dir, output)
  if type(output) ~= "string" then check.typeerror(2, "write", "string", output) end
  local page, parts = report.html(dir)
  if not page then return nil, parts end
  local ok, err = fs.write_atomic(output, page)
  if not ok then return nil, err end
  return parts
end

return report

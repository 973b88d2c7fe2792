--- calq sample: choose a calibration set from annotations and write its image paths.
local args = require "calq.args"
local data = require "calq.data"
local fs = require "calq.fs"
local sampler = require "calq.sampler"

-- The names the modules take, as the command spells them (class-balanced).
local format_names = table.concat(data.formats, ", ")
local policy_names = {}
for i, p in ipairs(sampler.policies) do policy_names[i] = (p:gsub("_", "-")) end
policy_names = table.concat(policy_names, ", ")

local usage = [[
usage: calq sample --annotations FILE --format FORMAT --size N
                   [--threshold T] [--seed S] [--policy NAME] --output LIST [--json]

Reads the annotations (repeat --annotations to merge several sets; give one
--format for all or one per --annotations), chooses a calibration set and
writes the chosen image paths to LIST, one a line; prints the report. Beside
LIST, LIST.sample.json holds the ground-truth-count histograms before and
after (calq quantize copies them into its run folder for calq report).

  --format FORMAT   ]] .. format_names .. [[

  --policy NAME     ]] .. policy_names .. [[ (default balanced);
                    several joined by ',' run in turn
                    (e.g. uniform,balanced); or FILE.lua returning a
                    calq.sampler policy (or a function(ds, idx)).
  --threshold T     balanced: images with more than T objects are replaced (1)
  --seed S          PRNG seed (0); the same seed gives the same set everywhere
  --pool-count A[-B]  balanced: pool = images with A..B objects (default 1)
  --per-class K     class-balanced: images per category (1)
  --image-root DIR  image folder (default: next to the annotations)
                    (random = uniform, first-n = first, label-balanced =
                    balanced are accepted too)
  --keep-missing    keep images whose file is missing (default: left out,
                    with their count and a few of their paths on stderr)
  --allow-short     write a set smaller than --size (or empty) and exit 0;
                    by default that is an error (exit 1) and nothing is written
  --json            print {annotations, images, boxes, missing, missing_examples,
                    policy, seed, size, threshold, candidates, chosen, before,
                    after (images by object count 0..16+), output, counts_file}
                    instead of the report

Exit codes: 0 done, 1 bad input (the message names the file and place), 2 usage.]]

-- How many missing paths the command prints before "... and N more".
local MISSING_SHOWN = 5

-- Bad usage: exit 2 with the reason (calq.args).
local function misuse(fmt, ...)
  args.usage_error("calq sample", fmt, ...)
end

local function fail(fmt, ...)
  error("calq sample: " .. fmt:format(...), 0)
end

local function load_sets(opts)
  local files, formats = opts.annotations, opts.format
  if #files == 0 then misuse("--annotations is required") end
  if #formats == 0 then misuse("--format is required") end
  if #formats ~= 1 and #formats ~= #files then
    misuse("give one --format, or one per --annotations (%d formats for %d files)", #formats, #files)
  end
  local ds
  for i, f in ipairs(files) do
    local one, msg = data.open(f, formats[#formats == 1 and 1 or i], { image_root = opts.image_root })
    if not one then error("calq sample: " .. msg, 0) end
    if ds then ds:append(one); one:close() else ds = one end
  end
  return ds
end

local function make_policy(opts)
  local pmin, pmax = 1, 1
  if opts.pool_count then
    local a, b = opts.pool_count:match("^(%d+)%-(%d+)$")
    if not a then a = opts.pool_count:match("^(%d+)$"); b = a end
    if not a then misuse("--pool-count: '%s' is not N or A-B", opts.pool_count) end
    pmin, pmax = tonumber(a), tonumber(b)
  end
  local o = { size = opts.size, threshold = opts.threshold, seed = opts.seed,
              pool_min = pmin, pool_max = pmax, per_class = opts.per_class }
  if opts.policy:match("%.lua$") then
    local chunk, err = loadfile(opts.policy)
    if not chunk then fail("%s", err) end
    local p = chunk(o)
    if type(p) == "function" then p = sampler.fn(p, opts.policy) end
    if not sampler.is_policy(p) then fail("%s: must return a calq.sampler policy or a function", opts.policy) end
    return p
  end
  local list = {}
  for name in opts.policy:gmatch("[^,]+") do
    local p, err = sampler.by_name(name, o)
    if not p then misuse("--policy: %s (%s, FILE.lua)", err, policy_names) end
    list[#list + 1] = p
  end
  if #list == 0 then misuse("--policy is empty") end
  return #list == 1 and list[1] or sampler.compose(list)
end

local function write_list(path, ds, idx)
  local lines = {}
  for i = 1, #idx do lines[i] = ds:record(idx[i]).path .. "\n" end
  local ok, err = fs.write_atomic(path, table.concat(lines))
  if not ok then fail("%s", err) end
end

-- LIST.sample.json next to the list: the ground-truth-count histograms of the
-- candidates and of the chosen set, which calq quantize copies into its run
-- folder for calq report (docs/report.md).
local function write_counts(opts, ds, cand, idx, name)
  local json = require "calq.json"
  local function list(h)
    local t = {}
    for c = 0, 16 do t[c + 1] = h[c] or 0 end
    return t
  end
  local bins = {}
  for c = 0, 16 do bins[c + 1] = c == 16 and "16+" or tostring(c) end
  local ok, err = fs.write_atomic(require("calq.rundir").sample_report_path(opts.output), json.encode{
    annotations = opts.annotations, policy = name, seed = opts.seed, size = opts.size or json.null,
    threshold = opts.threshold, candidates = cand and #cand or #ds, chosen = #idx, bins = bins,
    before = list(ds:histogram(cand)), after = list(ds:histogram(idx)),
  } .. "\n")
  if not ok then fail("%s", err) end
end

local function run(argv)
  local opts = args.parse(argv, {
    annotations = { type = "string", multiple = true },
    format = { type = "string", multiple = true },
    size = { type = "integer" },
    threshold = { type = "integer", default = 1 },
    seed = { type = "integer", default = 0 },
    policy = { type = "string", default = "balanced" },
    output = { type = "string", required = true },
    pool_count = { type = "string" },
    per_class = { type = "integer", default = 1 },
    image_root = { type = "string" },
    keep_missing = { type = "boolean" },
    allow_short = { type = "boolean" },
    json = { type = "boolean" },
  }, "calq sample")
  for _, f in ipairs(opts.format) do
    local known = false
    for _, name in ipairs(data.formats) do known = known or name == f end
    if not known then misuse("--format: '%s' is not one of %s", f, format_names) end
  end
  local needs_size = not opts.policy:match("class%-balanced") and not opts.policy:match("class_balanced")
      and not opts.policy:match("%.lua$")
  if needs_size and not opts.size then misuse("--size is required") end
  if opts.size and opts.size < 0 then misuse("--size must be >= 0") end
  if opts.threshold < 0 then misuse("--threshold must be >= 0") end
  local policy = make_policy(opts)
  local ds = load_sets(opts)

  -- with --json the text lines are dropped and one JSON object is printed at the end
  local out = opts.json and { write = function() end } or io.stdout
  out:write(("calq sample: %d images, %d boxes from %s\n"):format(
    #ds, ds:issues().boxes, table.concat(opts.annotations, ", ")))
  local issues = ds:issues()
  if issues.boxes_outside > 0 then
    out:write(("  %d box%s reach outside their image (kept)\n"):format(
      issues.boxes_outside, issues.boxes_outside == 1 and "" or "es"))
  end
  if issues.boxes_ignored > 0 then
    out:write(("  %d box%s marked ignore/crowd/difficult (not counted)\n"):format(
      issues.boxes_ignored, issues.boxes_ignored == 1 and "" or "es"))
  end
  if issues.boxes_dropped > 0 then
    out:write(("  %d annotation%s name no known image (dropped)\n"):format(
      issues.boxes_dropped, issues.boxes_dropped == 1 and "" or "s"))
  end
  local missing, missing_idx = ds:missing()
  local cand
  if #missing > 0 then
    local shown = math.min(#missing, MISSING_SHOWN)
    io.stderr:write(("calq sample: %d of %d image files are missing (%s), e.g.:\n"):format(
      #missing, #ds, opts.keep_missing and "kept: --keep-missing" or "left out; --keep-missing keeps them"))
    for i = 1, shown do io.stderr:write("  ", missing[i], "\n") end
    if shown < #missing then io.stderr:write(("  ... and %d more\n"):format(#missing - shown)) end
    if not opts.keep_missing then
      local gone = {}
      for _, r in ipairs(missing_idx) do gone[r] = true end
      local keep = {}
      for r = 1, #ds do if not gone[r] then keep[#keep + 1] = r end end
      cand = data.index(keep)
      out:write(("  %d missing image%s left out\n"):format(#missing, #missing == 1 and "" or "s"))
    end
  end
  local idx, rep = policy(ds, cand)
  if not idx then error("calq sample: " .. tostring(rep), 0) end
  local want = opts.size or 1
  if #idx < want and not opts.allow_short then
    local total = #ds
    ds:close()
    fail("chose %d image%s where %s %d (%d of %d images on disk); nothing written to %s"
         .. " (--allow-short writes it anyway)", #idx, #idx == 1 and "" or "s",
         opts.size and "--size asks for" or "at least", want,
         total - (opts.keep_missing and 0 or #missing), total, opts.output)
  end
  write_list(opts.output, ds, idx)
  write_counts(opts, ds, cand, idx, policy.name)
  if opts.json then
    local json = require "calq.json"
    local function counts(h)
      local t = {}
      for c = 0, 16 do t[c + 1] = h[c] or 0 end
      return t
    end
    print(json.encode {
      annotations = opts.annotations, images = #ds, boxes = issues.boxes,
      boxes_outside = issues.boxes_outside, boxes_ignored = issues.boxes_ignored,
      boxes_dropped = issues.boxes_dropped, missing = #missing,
      missing_examples = table.move(missing, 1, math.min(#missing, MISSING_SHOWN), 1, {}),
      missing_kept = opts.keep_missing == true, policy = policy.name, seed = opts.seed,
      size = opts.size or json.null, threshold = opts.threshold, candidates = cand and #cand or #ds,
      chosen = #idx, before = counts(ds:histogram(cand)), after = counts(ds:histogram(idx)),
      output = opts.output, counts_file = require("calq.rundir").sample_report_path(opts.output),
    })
    ds:close()
    return 0
  end
  out:write(("  seed %d, policy %s\n"):format(opts.seed, policy.name))
  out:write(sampler.format_report(rep, "  "), "\n")
  out:write(("  wrote %d path%s to %s\n"):format(#idx, #idx == 1 and "" or "s", opts.output))
  ds:close()
  return 0
end

return { summary = "choose a calibration set from annotations", usage = usage, run = run }

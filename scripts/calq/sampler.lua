--- calq.sampler: choosing the calibration set, one policy or a chain of them.
--
--   local calq = require "calq"
--   local sampler = require "calq.sampler"
--   local ds = assert(calq.data.open("faces/training.xml", "dlib"))
--   local pick = sampler.compose{
--     sampler.filter(function(rec) return rec.width >= 200 end), -- any Lua predicate
--     sampler.balanced{ size = 100, threshold = 1, seed = 7 },   -- the C core does the work
--   }
--   local idx, report = pick(ds)          -- idx: calq.Index of record numbers
--   print(sampler.format_report(report))
--
-- A policy is a callable object: policy(ds [, idx]) -> calq.Index, report
-- (or nil, message on failure). idx, when given, is the candidate list (a
-- calq.Index); nil means every record. Policies:
--   balanced{size, threshold = 1, seed = 0, pool_min = 1, pool_max = pool_min, pool}
--       the label-balanced algorithm (core/data/sampler.h has the exact draw order);
--       pool = function(rec, i) -> bool, or a calq.Index, replaces the count range.
--   first{size}                   the first N candidates (Intel Neural Compressor)
--   uniform{size, seed = 0}       uniform random without replacement (NNCF)
--   class_balanced{per_class = 1, seed = 0}   up to k images per category
--   stratified{size, seed = 0}    proportional to the ground-truth-count strata
--   filter(fn)                    keep candidates with fn(rec, i) true
--   fn(f)                         any f(ds, idx) -> Index or {record numbers} [, report]
-- compose{p1, p2, ...} runs them in turn, each on the previous one's output.
-- sampler.policies lists the C policies by name (by_name takes them).
local check = require "calq.check"
local data = require "calq.data"

local typename = check.typename

local sampler = {}

--- The C policies, in the order messages list them.
sampler.policies = { "balanced", "first", "uniform", "class_balanced", "stratified" }

local Policy = {}
Policy.__index = Policy

function Policy.__call(self, ds, idx)
  if typename(ds) ~= "calq.Dataset" then check.typeerror(1, self.name, "calq.Dataset", ds) end
  if idx ~= nil and typename(idx) ~= "calq.Index" then
    check.typeerror(2, self.name, "calq.Index or nil", idx)
  end
  return self.run(ds, idx)
end

function Policy.__tostring(self)
  return "calq.sampler policy " .. self.name
end

local function policy(name, run)
  return setmetatable({ name = name, run = run }, Policy)
end

--- Is v a policy made by this module?
function sampler.is_policy(v)
  return getmetatable(v) == Policy
end

local function c_policy(cname)
  return function(o)
    if type(o) ~= "table" then check.typeerror(1, cname, "table", o) end
    return policy(cname, function(ds, idx)
      return ds:sample(cname, o, idx)
    end)
  end
end

for _, name in ipairs(sampler.policies) do sampler[name] = c_policy(name) end

--- Keep the candidates for which fn(rec, i) is true (rec: the record table).
function sampler.filter(fn)
  if type(fn) ~= "function" then check.typeerror(1, "filter", "function", fn) end
  return policy("filter", function(ds, idx)
    local out = ds:filter(fn, idx)
    return out, { policy = "filter", candidates = idx and #idx or #ds, chosen = #out,
                  hist_after = ds:histogram(out) }
  end)
end

--- Any Lua function f(ds, idx) -> calq.Index or table of record numbers [, report].
function sampler.fn(f, name)
  if type(f) ~= "function" then check.typeerror(1, "fn", "function", f) end
  name = name or "lua"
  return policy(name, function(ds, idx)
    local out, rep = f(ds, idx)
    if out == nil then return nil, rep end
    -- a bad result is the policy's fault: say so, before histogram() sees it
    local kind = typename(out)
    if kind ~= "table" and kind ~= "calq.Index" then
      return nil, ("policy '%s' returned a %s, not a calq.Index or a list of record numbers")
        :format(name, kind)
    end
    for i = 1, #out do
      local r = out[i]
      if math.type(r) ~= "integer" or r < 1 or r > #ds then
        return nil, ("policy '%s' returned record %s (entry %d), not a record number in 1..%d")
          :format(name, tostring(r), i, #ds)
      end
    end
    if kind == "table" then out = data.index(out) end
    rep = rep or {}
    rep.policy = rep.policy or name
    rep.candidates = rep.candidates or (idx and #idx or #ds)
    rep.chosen = #out
    rep.hist_after = rep.hist_after or ds:histogram(out)
    return out, rep
  end)
end

--- Chain policies: each one's output is the next one's candidates.
-- The report is { policy = "compose", stages = {report, ...}, chosen = n }.
function sampler.compose(list)
  if type(list) ~= "table" or #list == 0 then
    check.argerror(1, "compose", "non-empty list of policies expected")
  end
  local stages = {}
  for i, p in ipairs(list) do
    if type(p) == "function" then p = sampler.fn(p) end
    if not sampler.is_policy(p) then
      check.argerror(1, "compose", ("entry %d is not a policy"):format(i))
    end
    stages[i] = p
  end
  local names = {}
  for i, p in ipairs(stages) do names[i] = p.name end
  return policy(table.concat(names, "+"), function(ds, idx)
    local reports = {}
    for i, p in ipairs(stages) do
      local out, rep = p(ds, idx)
      if not out then return nil, ("stage %d (%s): %s"):format(i, p.name, tostring(rep)) end
      reports[i] = rep
      idx = out
    end
    return idx, { policy = "compose", stages = reports, chosen = #idx,
                  candidates = reports[1].candidates }
  end)
end

-- Other names people use for the policies: by_name takes these too.
local aliases = {
  random = "uniform", first_n = "first", head = "first",
  label_balanced = "balanced", class = "class_balanced", per_class = "class_balanced",
  stratify = "stratified",
}

--- Policy by name, for the command line: one of sampler.policies or a
-- common name for one (random = uniform, first-n = first, label-balanced =
-- balanced, class = class-balanced, stratify = stratified), any case ('-' may stand for '_': class-balanced).
-- opts as for the constructors.
function sampler.by_name(name, opts)
  local key = name:lower():gsub("%-", "_")
  key = aliases[key] or key
  for _, p in ipairs(sampler.policies) do
    if p == key then return sampler[p](opts) end
  end
  return nil, ("unknown policy '%s'"):format(name)
end

local function hist_line(label, h, top)
  local cells = { ("  %-8s"):format(label) }
  for c = 0, top do cells[#cells + 1] = ("%5d"):format(h[c] or 0) end
  return table.concat(cells)
end

--- Human-readable lines for a report (nested for compose).
function sampler.format_report(rep, indent)
  if type(rep) ~= "table" then check.typeerror(1, "format_report", "report table", rep) end
  if indent ~= nil and type(indent) ~= "string" then
    check.typeerror(2, "format_report", "string or nil", indent)
  end
  indent = indent or ""
  local out = {}
  local function add(s) out[#out + 1] = indent .. s end
  if rep.policy == "compose" then
    add(("compose: %d stages, %d chosen"):format(#rep.stages, rep.chosen))
    for i, r in ipairs(rep.stages) do
      add(("stage %d:"):format(i))
      out[#out + 1] = sampler.format_report(r, indent .. "  ")
    end
    return table.concat(out, "\n")
  end
  add(("policy %s: %d candidates, %s requested, %d chosen"):format(
    rep.policy, rep.candidates or 0, rep.requested and tostring(rep.requested) or "-", rep.chosen))
  local top = 0
  for _, h in ipairs{ rep.hist_before or {}, rep.hist_after or {} } do
    for c = 0, 16 do if (h[c] or 0) > 0 and c > top then top = c end end
  end
  if rep.hist_after then
    local head = { "  count   " }
    for c = 0, top do head[#head + 1] = c == 16 and "  16+" or ("%5d"):format(c) end
    add(table.concat(head))
    if rep.hist_before and rep.replaced then add(hist_line("before", rep.hist_before, top)) end
    add(hist_line("after", rep.hist_after, top))
  end
  if rep.replaced then
    add(("threshold %d: replaced %d, pool %d after the draw, %d left"):format(
      rep.threshold, rep.replaced, rep.pool_start, rep.pool_left))
    if rep.pool_dry then
      add(("pool ran dry: %d image%s above the threshold kept"):format(
        rep.above_left, rep.above_left == 1 and "" or "s"))
    end
  end
  if rep.requested and rep.chosen < rep.requested and rep.policy ~= "class_balanced" then
    add(("only %d candidates: the set is smaller than requested"):format(rep.chosen))
  end
  return table.concat(out, "\n")
end

return sampler

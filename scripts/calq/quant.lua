--- calq.quant: the quantizer (core/quant/quant.h; docs/quantize.md).
--   local quant = require "calq.quant"
--   local q = assert(quant.new(model, stats, {activations = "u8", method = "mse",
--                                              weights = "minmax", per_channel = true,
--                                              precision = {{"first:Conv", "fp32"}}}))
--   local qdq = q:model()              -- a new calq.Model: the QDQ graph
--   q:nodes()                          -- what was decided, node by node
--   assert(q:measure(x)); q:sensitivity()   -- SQNR of each node quantized alone
--   quant.lower(qdq)                   -- calq's integer form (before qdq runs)
--   quant.match(model, "last:Conv")    -- the nodes a pattern names
-- calq.quantize{...} (calq/quantize.lua) does the whole job in one call.
-- The C half holds new, lower and match; this file adds the observer names
-- and the report tables.
local quant = require("calq.core").quant

-- Observer names of the command line: how to calibrate (calq.calib's
-- observer kind) and which method turns the statistics into a range.
local observers = {
  minmax = { kind = "hist", method = "minmax" },
  movavg = { kind = "moving_avg", method = "minmax" },
  percentile = { kind = "hist", method = "percentile" },
  entropy = { kind = "hist", method = "entropy" },
  ["entropy-asym"] = { kind = "hist", method = "entropy_asym" },
  mse = { kind = "hist", method = "mse" },
}
local observer_names = { "minmax", "movavg", "percentile", "entropy", "entropy-asym", "mse" }

--- quant.observer(name) -> {kind, method} | nil, message. Names: minmax, movavg
-- (PyTorch's moving-average min-max), percentile, entropy (TensorRT's KL),
-- entropy-asym (each side of zero on its own), mse (PyTorch's L2 search);
-- moving_avg and entropy_asym are taken too.
function quant.observer(name)
  if type(name) ~= "string" then
    error(("bad argument #1 to 'observer' (string expected, got %s)"):format(type(name)), 2)
  end
  local key = name == "moving_avg" and "movavg" or name:gsub("_", "-")
  local o = observers[key]
  if not o then
    return nil, ("unknown observer '%s' (%s)"):format(name, table.concat(observer_names, ", "))
  end
  return { kind = o.kind, method = o.method, name = key }
end

--- quant.observers() -> the observer names, in a list
function quant.observers()
  return table.move(observer_names, 1, #observer_names, 1, {})
end

local function short(s, n)
  if #s <= n then return s end
  return "..." .. s:sub(#s - n + 4)
end

--- quant.format_sensitivity(list [, nodes]) -> text: the table of
-- q:sensitivity() (index, op, SQNR in dB, items, int8 or why not when nodes,
-- q:nodes(), is given), in graph order.
function quant.format_sensitivity(list, nodes)
  if type(list) ~= "table" then
    error(("bad argument #1 to 'format_sensitivity' (table expected, got %s)"):format(type(list)), 2)
  end
  local lines = { ("%5s  %-8s %9s %6s  %-6s %s"):format("node", "op", "SQNR dB", "items", "int8", "name") }
  for _, s in ipairs(list) do
    local db = s.sqnr and (s.sqnr == math.huge and "inf" or ("%.2f"):format(s.sqnr)) or "-"
    local n = nodes and nodes[s.index]
    local state = n and (n.int8 and "yes" or n.precision) or ""
    lines[#lines + 1] = ("%5d  %-8s %9s %6d  %-6s %s"):format(s.index, s.op_type, db, s.items or 0,
      state, short(s.name ~= "" and s.name or "?", 70))
  end
  return table.concat(lines, "\n")
end

--- quant.format_exceptions(exceptions) -> text: one line per node kept out of
-- int8 ({index, op_type, name, precision, reason, source}; source "default" or
-- "auto" is shown).
function quant.format_exceptions(ex)
  if type(ex) ~= "table" then
    error(("bad argument #1 to 'format_exceptions' (table expected, got %s)"):format(type(ex)), 2)
  end
  local lines = {}
  for _, e in ipairs(ex) do
    local tag = (e.source == "default" or e.source == "auto") and ("(" .. e.source .. ") ") or ""
    lines[#lines + 1] = ("%5d  %-8s %-5s %s%s: %s"):format(e.index, e.op_type, e.precision, tag,
      short(e.name ~= "" and e.name or "?", 60), e.reason or "")
  end
  return table.concat(lines, "\n")
end

return quant

--- calq.json: JSON text for the commands' --json output (encoding only).
--   local json = require "calq.json"
--   print(json.encode{ top1 = 0.9173, models = { "a.onnx", "b.onnx" } })
--   --> {"models":["a.onnx","b.onnx"],"top1":0.9173}
-- Tables with keys 1..n (n >= 1) are arrays, other tables objects with their keys
-- sorted, so the same value always gives the same text; an empty table is {}.
-- json.null is JSON's null. Numbers: integers as integers, floats with 17
-- significant digits trimmed ("%.17g" round-trips); NaN and infinities have no
-- JSON form and become null. Raises on a function, a userdata or a cycle.
local json = { null = setmetatable({}, { __tostring = function() return "null" end }) }

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function string_text(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function number_text(x)
  if math.type(x) == "integer" then return tostring(x) end
  if x ~= x or x == math.huge or x == -math.huge then return "null" end
  if x == math.floor(x) and math.abs(x) < 2 ^ 53 then return ("%d"):format(x) end
  local s = ("%.15g"):format(x)
  if tonumber(s) ~= x then s = ("%.17g"):format(x) end
  return s
end

local function is_array(t)
  local n = #t
  if n == 0 then return false end
  local k = 0
  for _ in pairs(t) do k = k + 1 end
  return k == n
end

local function encode(v, out, seen)
  local ty = type(v)
  if v == nil or v == json.null then
    out[#out + 1] = "null"
  elseif ty == "boolean" then
    out[#out + 1] = tostring(v)
  elseif ty == "number" then
    out[#out + 1] = number_text(v)
  elseif ty == "string" then
    out[#out + 1] = string_text(v)
  elseif ty == "table" then
    if seen[v] then error("calq.json: a table contains itself", 0) end
    seen[v] = true
    if is_array(v) then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], out, seen)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" and type(k) ~= "number" then
          error(("calq.json: a %s key has no JSON form"):format(type(k)), 0)
        end
        keys[#keys + 1] = tostring(k)
      end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        local val = v[k]
        if val == nil then val = v[math.tointeger(tonumber(k))] end
        out[#out + 1] = string_text(k) .. ":"
        encode(val, out, seen)
      end
      out[#out + 1] = "}"
    end
    seen[v] = nil
  else
    error(("calq.json: a %s has no JSON form"):format(ty), 0)
  end
end

--- The JSON text of v (one line).
function json.encode(v)
  local out = {}
  encode(v, out, {})
  return table.concat(out)
end

return json

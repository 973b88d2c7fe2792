--- calq.json: JSON text for the commands' --json output, and the reading
-- of it back (a run folder's files: calq report).
--   local json = require "calq.json"
--   print(json.encode{ top1 = 0.9173, models = { "a.onnx", "b.onnx" } })
--   --> {"models":["a.onnx","b.onnx"],"top1":0.9173}
--   local v = assert(json.decode('{"a":[1,2.5,null]}'))   -- v.a[3] == json.null
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

-- ---- decoding ----------------------------------------------------------------

local unescapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
  r = "\r", t = "\t" }

local function decode_error(text, pos, what)
  local line, col = 1, 1
  for i = 1, pos - 1 do
    if text:byte(i) == 10 then line, col = line + 1, 1 else col = col + 1 end
  end
  error({ json = ("line %d, column %d: %s"):format(line, col, what) }, 0)
end

local decode_value

local function skip(text, pos)
  return text:find("[^ \t\r\n]", pos) or #text + 1
end

local function decode_string(text, pos)
  local out, i = {}, pos + 1
  while true do
    local a, b = text:find('["\\%c]', i)
    if not a then decode_error(text, pos, "unterminated string") end
    out[#out + 1] = text:sub(i, a - 1)
    local c = text:sub(a, a)
    if c == '"' then return table.concat(out), b + 1 end
    if c ~= "\\" then decode_error(text, a, "control character in a string") end
    local e = text:sub(a + 1, a + 1)
    if e == "u" then
      local hex = text:match("^%x%x%x%x", a + 2)
      if not hex then decode_error(text, a, "bad \\u escape") end
      local cp = tonumber(hex, 16)
      local nxt = a + 6
      if cp >= 0xD800 and cp <= 0xDBFF then
        local lo = text:match("^\\u(%x%x%x%x)", nxt)
        local l = lo and tonumber(lo, 16)
        if not l or l < 0xDC00 or l > 0xDFFF then decode_error(text, a, "unpaired surrogate") end
        cp = 0x10000 + (cp - 0xD800) * 0x400 + (l - 0xDC00)
        nxt = nxt + 6
      end
      out[#out + 1] = utf8.char(cp)
      i = nxt
    elseif unescapes[e] then
      out[#out + 1] = unescapes[e]
      i = a + 2
    else
      decode_error(text, a, "bad escape")
    end
  end
end

function decode_value(text, pos, depth)
  if depth > 200 then decode_error(text, pos, "nested too deep") end
  pos = skip(text, pos)
  local c = text:sub(pos, pos)
  if c == "{" then
    local obj = {}
    pos = skip(text, pos + 1)
    if text:sub(pos, pos) == "}" then return obj, pos + 1 end
    while true do
      if text:sub(pos, pos) ~= '"' then decode_error(text, pos, "a key (string) expected") end
      local k
      k, pos = decode_string(text, pos)
      pos = skip(text, pos)
      if text:sub(pos, pos) ~= ":" then decode_error(text, pos, "':' expected") end
      obj[k], pos = decode_value(text, pos + 1, depth + 1)
      pos = skip(text, pos)
      local d = text:sub(pos, pos)
      if d == "}" then return obj, pos + 1 end
      if d ~= "," then decode_error(text, pos, "',' or '}' expected") end
      pos = skip(text, pos + 1)
    end
  elseif c == "[" then
    local arr, n = {}, 0
    pos = skip(text, pos + 1)
    if text:sub(pos, pos) == "]" then return arr, pos + 1 end
    while true do
      n = n + 1
      arr[n], pos = decode_value(text, pos, depth + 1)
      pos = skip(text, pos)
      local d = text:sub(pos, pos)
      if d == "]" then return arr, pos + 1 end
      if d ~= "," then decode_error(text, pos, "',' or ']' expected") end
      pos = pos + 1
    end
  elseif c == '"' then
    return decode_string(text, pos)
  elseif text:find("^true", pos) then
    return true, pos + 4
  elseif text:find("^false", pos) then
    return false, pos + 5
  elseif text:find("^null", pos) then
    return json.null, pos + 4
  end
  local num = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if not num or num == "" or num == "-" then decode_error(text, pos, pos > #text and "unexpected end" or "a value expected") end
  local v = math.tointeger(tonumber(num)) or tonumber(num)
  if not v then decode_error(text, pos, "bad number") end
  return v, pos + #num
end

--- The value of JSON text: objects as tables, arrays as lists, null as
-- json.null. Returns value, or nil and "line L, column C: problem".
function json.decode(text)
  if type(text) ~= "string" then
    error(("bad argument #1 to 'decode' (string expected, got %s)"):format(type(text)), 2)
  end
  local ok, v, pos = pcall(decode_value, text, 1, 0)
  if not ok then
    if type(v) == "table" and v.json then return nil, v.json end
    error(v, 0)
  end
  pos = skip(text, pos)
  if pos <= #text then
    local okc, msg = pcall(decode_error, text, pos, "text after the value")
    return nil, okc and "" or msg.json
  end
  return v
end

return json

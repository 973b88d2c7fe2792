--- calq.profile: hardware profiles, the machines the cost model knows
-- (docs/cost-model.md, "Hardware profiles", gives the format).
--   local profile = require "calq.profile"
--   local p = assert(profile.load("amd_zen4"))          -- a shipped profile
--   local q = assert(profile.load("my_host.lua"))       -- a file (calq probe --output)
--   local half = assert(profile.derive(p, { name = "zen4_half_bw", mem_bw = p.mem_bw / 2 }))
--   assert(profile.write(half, "half.lua"))
--   for _, name in ipairs(profile.list()) do print(name) end
-- A profile file is Lua text returning a table. It runs in a sandbox: no
-- globals but math and a few string methods, no bytecode, at most a million
-- instructions and 64 MB, so a broken or hostile file is an error naming the
-- file, never a hang. The checks themselves are the C ones (core.hw.check,
-- cq_hw_check), so Lua and the estimators agree on what a valid profile is.
local lfs = require "lfs"
local check = require "calq.check"
local fs = require "calq.fs"
local hw = require("calq.core").hw

local profile = {}

local MAX_FILE = 1 << 20          -- bytes of profile text
local MAX_STEPS = 1000000         -- Lua VM instructions a profile chunk may run
local MAX_KB = 64 * 1024          -- memory a profile chunk may grow the state by
local HOOK_EVERY = 4              -- instructions between checks (few, so a
                                  -- doubling string cannot pass the memory cap by much)

-- Methods a profile's strings keep (("%d"):format(n)); no rep, and no pattern
-- matching, whose backtracking runs inside one instruction the hook cannot stop.
local safe_string = {}
for _, k in ipairs{ "byte", "char", "format", "len", "lower", "upper", "sub", "reverse" } do
  safe_string[k] = string[k]
end

local function sandbox_env()
  local m = {}
  for k, v in pairs(math) do
    if k ~= "random" and k ~= "randomseed" then m[k] = v end
  end
  return { math = m }
end

--- Run profile text in the sandbox: the value it returns | nil, msg.
local function run_sandboxed(text, chunkname)
  local fn, err = load(text, "=" .. chunkname, "t", sandbox_env())
  if not fn then
    if err:sub(1, #chunkname) ~= chunkname then err = chunkname .. ": " .. err end
    return nil, err
  end
  local co = coroutine.create(fn)
  collectgarbage("collect")
  local base_kb, steps = collectgarbage("count"), 0
  debug.sethook(co, function()
    steps = steps + HOOK_EVERY
    if steps > MAX_STEPS then
      error(("%s: runs more than %d instructions (a loop that never ends?)"):format(chunkname, MAX_STEPS), 0)
    end
    if collectgarbage("count") - base_kb > MAX_KB then
      error(("%s: uses more than %d MB of memory"):format(chunkname, MAX_KB // 1024), 0)
    end
  end, "", HOOK_EVERY)
  local smt = getmetatable("")
  local saved = smt.__index
  smt.__index = safe_string
  local ok, res, extra = pcall(coroutine.resume, co)
  smt.__index = saved
  if not ok then return nil, ("%s: %s"):format(chunkname, tostring(res)) end
  if not res then
    local msg = tostring(extra)
    -- errors raised by the chunk carry "chunkname:line:" already; the hook's name the file
    if msg:sub(1, #chunkname) ~= chunkname then msg = chunkname .. ": " .. msg end
    return nil, msg
  end
  if coroutine.status(co) ~= "dead" then return nil, chunkname .. ": yielded instead of returning" end
  return extra
end

-- The folders shipped profiles are looked up in, first match wins:
-- $CALQ_PROFILES; recipes/profiles of the source tree this module (or the calq
-- command running it) belongs to; calq/profiles/ on package.path, where
-- `make install` puts them.
local function search_dirs()
  local dirs, seen = {}, {}
  local function add(d)
    if d and d ~= "" and not seen[d] and lfs.attributes(d, "mode") == "directory" then
      seen[d] = true
      dirs[#dirs + 1] = d
    end
  end
  add(os.getenv("CALQ_PROFILES"))
  local src = debug.getinfo(1, "S").source
  local root = src:match("^@(.-)scripts/calq/profile%.lua$")
  if root then add((root == "" and "." or root:gsub("/$", "")) .. "/recipes/profiles") end
  local exe = lfs.symlinkattributes("/proc/self/exe", "target")
  local exe_dir = exe and exe:match("^(.*)/[^/]+$")
  if exe_dir then
    local up = exe_dir:match("^(.*)/[^/]+$") or ""
    add(up .. "/recipes/profiles")                   -- build-x/calq in a source tree
    add(up .. "/share/lua/5.4/calq/profiles")        -- PREFIX/bin/calq, installed
  end
  for tmpl in package.path:gmatch("[^;]+") do
    local d = tmpl:match("^(.*)/%?%.lua$")
    if d then add(d .. "/calq/profiles") end
  end
  return dirs
end

--- Names of the shipped profiles (sorted), from every folder searched.
function profile.list()
  local names, seen = {}, {}
  for _, dir in ipairs(search_dirs()) do
    for f in lfs.dir(dir) do
      local n = f:match("^([%w_%-%.]+)%.lua$")
      if n and not seen[n] then
        seen[n] = true
        names[#names + 1] = n
      end
    end
  end
  table.sort(names)
  return names
end

local function resolve(name_or_path)
  if name_or_path:find("/", 1, true) or name_or_path:match("%.lua$") then return name_or_path end
  if not name_or_path:match("^[%w_%-%.]+$") then
    return nil, ("profile '%s': not a profile name (letters, digits, _ - .) or a path"):format(name_or_path)
  end
  local dirs = search_dirs()
  for _, dir in ipairs(dirs) do
    local p = dir .. "/" .. name_or_path .. ".lua"
    if lfs.attributes(p, "mode") == "file" then return p end
  end
  return nil, ("no profile '%s' (shipped: %s; looked in %s)"):format(name_or_path,
    table.concat(profile.list(), ", "), #dirs > 0 and table.concat(dirs, ", ") or "no folder")
end

--- Load a profile by name (recipes/profiles/NAME.lua) or path: table | nil, msg, code.
function profile.load(name_or_path)
  if type(name_or_path) ~= "string" then check.typeerror(1, "load", "string", name_or_path) end
  local path, rerr = resolve(name_or_path)
  if not path then return nil, rerr, "EIO" end
  local f, oerr = io.open(path, "rb")
  if not f then return nil, oerr, "EIO" end
  local text = f:read(MAX_FILE + 1)
  f:close()
  if not text then return nil, path .. ": empty file (a profile returns a table)", "EFORMAT" end
  if #text > MAX_FILE then
    return nil, ("%s: larger than %d bytes (not a profile)"):format(path, MAX_FILE), "EFORMAT"
  end
  local t, err = run_sandboxed(text, path)
  if err then return nil, err, "EFORMAT" end
  if type(t) ~= "table" then
    return nil, ("%s: returns %s, not a table"):format(path, type(t)), "EFORMAT"
  end
  local ok, msg = hw.check(t)
  if not ok then return nil, ("%s: %s"):format(path, msg), "ERANGE" end
  return t
end

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = deep_copy(x) end
  return c
end

local function merge(dst, src)
  for k, v in pairs(src) do
    if type(v) == "table" and type(dst[k]) == "table" then merge(dst[k], v)
    else dst[k] = deep_copy(v) end
  end
end

--- A new profile: base with overrides merged in key by key (nested tables too:
-- { caches = { [3] = { bw = 8 } } } changes L3's bandwidth only). Neither
-- argument is changed. Returns the table | nil, msg, "ERANGE" when the result is
-- not a valid profile.
function profile.derive(base, overrides)
  if type(base) ~= "table" then check.typeerror(1, "derive", "table", base) end
  if type(overrides) ~= "table" then check.typeerror(2, "derive", "table", overrides) end
  local t = deep_copy(base)
  merge(t, overrides)
  local ok, msg = hw.check(t)
  if not ok then return nil, "derived profile: " .. msg, "ERANGE" end
  return t
end

-- Writing: keys in the format's order, numbers that read back exactly.
local function num(v)
  if math.type(v) == "integer" then return tostring(v) end
  for _, prec in ipairs{ 6, 10, 14, 17 } do
    local s = ("%." .. prec .. "g"):format(v)
    if tonumber(s) == v then
      if not s:find("[%.eEn]") then s = s .. ".0" end
      return s
    end
  end
end

local function value(v)
  if type(v) == "number" then return num(v) end
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

local function with_comment(line, c)
  if not c then return line end
  return line .. " -- " .. tostring(c):gsub("\n", " ")
end

local TOP = { "name", "description", "cores", "ghz", "vector_bits", "amx" }
local MACS = { "f32", "bf16", "s8", "s8_novnni" }
local CVT = { "quant", "dequant", "requant", "f32_bf16", "bf16_f32" }

--- Write profile t to path as Lua source (path.tmp, then rename): true | nil, msg, code.
-- comments (optional) maps keys to the comment written after them: "ghz",
-- "macs.s8", "caches[2]", "cvt.quant", "efficiency.s8_dw", ...; comments.header
-- is written at the top (a line each).
function profile.write(t, path, comments)
  if type(t) ~= "table" then check.typeerror(1, "write", "table", t) end
  if type(path) ~= "string" then check.typeerror(2, "write", "string", path) end
  if comments ~= nil and type(comments) ~= "table" then check.typeerror(3, "write", "table", comments) end
  comments = comments or {}
  local ok, msg = hw.check(t)
  if not ok then return nil, ("%s: not written: %s"):format(path, msg), "ERANGE" end
  local out = {}
  local function emit(s) out[#out + 1] = s end
  for line in tostring(comments.header or ""):gmatch("[^\n]+") do emit("-- " .. line) end
  emit("return {")
  for _, k in ipairs(TOP) do
    if t[k] ~= nil then emit(with_comment(("  %s = %s,"):format(k, value(t[k])), comments[k])) end
  end
  local function group(key, order)
    emit(with_comment(("  %s = {"):format(key), comments[key]))
    for _, k in ipairs(order) do
      emit(with_comment(("    %s = %s,"):format(k, value(t[key][k])), comments[key .. "." .. k]))
    end
    emit("  },")
  end
  group("macs", MACS)
  if t.amx_macs ~= nil then group("amx_macs", { "bf16", "s8" }) end
  emit(with_comment("  caches = {  -- L1 first: bytes, bytes/cycle/core, cycles", comments.caches))
  for i, c in ipairs(t.caches) do
    emit(with_comment(("    { size = %s, bw = %s, latency = %s, shared = %s },"):format(
      value(c.size), value(c.bw), value(c.latency), tostring(c.shared == true)), comments[("caches[%d]"):format(i)]))
  end
  emit("  },")
  emit(with_comment(("  mem_bw = %s,"):format(value(t.mem_bw)), comments.mem_bw))
  if t.mem_bw_core ~= nil then
    emit(with_comment(("  mem_bw_core = %s,"):format(value(t.mem_bw_core)), comments.mem_bw_core))
  end
  group("cvt", CVT)
  emit(with_comment(("  node_ns = %s,"):format(value(t.node_ns)), comments.node_ns))
  if t.efficiency then
    local names = {}
    for k in pairs(t.efficiency) do names[#names + 1] = k end
    table.sort(names)
    group("efficiency", names)
  end
  if t.call_ns then
    local names = {}
    for k in pairs(t.call_ns) do names[#names + 1] = k end
    table.sort(names)
    group("call_ns", names)
  end
  emit("}")
  local wok, werr = fs.write_atomic(path, table.concat(out, "\n") .. "\n")
  if not wok then return nil, werr, "EIO" end
  return true
end

return profile

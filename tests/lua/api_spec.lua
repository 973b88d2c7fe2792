-- The shape of the calq module: each function has one name, the C half is
-- not a second API, and docs/lua-api.md lists exactly what is there.
local calq = require "calq"
local core = require "calq.core"

-- Walk t's tables (each once): fn -> {names}; also the list of leaf names.
local function names_of(root, prefix)
  local byfn, leaves, seen = {}, {}, {}
  local function walk(t, path)
    if seen[t] then return end
    seen[t] = true
    if #t > 0 then -- a list of names (calq.data.formats): one leaf
      leaves[#leaves + 1] = path
      return
    end
    for k, v in pairs(t) do
      local name = path .. "." .. tostring(k)
      if type(v) == "function" then
        byfn[v] = byfn[v] or {}
        table.insert(byfn[v], name)
        leaves[#leaves + 1] = name
      elseif type(v) == "table" then
        walk(v, name)
      else
        leaves[#leaves + 1] = name
      end
    end
  end
  walk(root, prefix)
  return byfn, leaves
end

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local function sorted_keys(s)
  local t = {}
  for k in pairs(s) do t[#t + 1] = k end
  table.sort(t)
  return t
end

-- The methods of each userdata type, as "Type:name".
local function methods()
  local out = {}
  for _, ty in ipairs{ "Tensor", "Model", "Dataset", "Index", "Image", "Rng", "Calibrator", "Stats",
                       "NpyReader", "Quantizer" } do
    local mt = debug.getregistry()["calq." .. ty]
    assert.is_table(mt, "no metatable calq." .. ty)
    local m = mt.__methods or mt.__index
    for k, v in pairs(m) do
      if type(v) == "function" then out[#out + 1] = ty .. ":" .. k end
    end
  end
  return out
end

describe("the calq module", function()
  it("gives each function exactly one name", function()
    local byfn = names_of(calq, "calq")
    local twice = {}
    for _, names in pairs(byfn) do
      if #names > 1 then
        table.sort(names)
        twice[#twice + 1] = table.concat(names, " = ")
      end
    end
    table.sort(twice)
    assert.are.same({}, twice)
  end)

  it("does not re-export calq.core: the core's groups are calq's tables", function()
    assert.is_nil(calq.core)
    for k, v in pairs(core) do
      if type(v) == "table" then
        assert.are.equal(v, calq[k], "calq." .. k)
      elseif type(v) == "function" then
        error("calq.core." .. k .. " is a function outside any group")
      end
    end
    -- and every function of the C half is reachable from calq, under one name
    local from_calq = names_of(calq, "calq")
    local from_core = names_of(core, "core")
    for fn, names in pairs(from_core) do
      assert.is_table(from_calq[fn], names[1] .. " is not reachable from calq")
    end
  end)

  it("has each group as a module of its own", function()
    for k, v in pairs(calq) do
      if type(v) == "table" then assert.are.equal(v, require("calq." .. k), "calq." .. k) end
    end
  end)

  it("is described by docs/lua-api.md, name for name", function()
    local f = assert(io.open("docs/lua-api.md", "rb"))
    local doc = f:read("a")
    f:close()
    local documented = {}
    for name in doc:gmatch("\n| `([%w_.:]+)` |") do documented[name] = true end
    local _, leaves = names_of(calq, "calq")
    local actual = set(leaves)
    for _, m in ipairs(methods()) do actual[m] = true end
    local missing, stale = {}, {}
    for name in pairs(actual) do if not documented[name] then missing[#missing + 1] = name end end
    for name in pairs(documented) do if not actual[name] then stale[#stale + 1] = name end end
    table.sort(missing)
    table.sort(stale)
    assert.are.same({}, missing, "in calq, not in docs/lua-api.md")
    assert.are.same({}, stale, "in docs/lua-api.md, not in calq")
    assert.is_true(#sorted_keys(documented) > 100)
  end)
end)

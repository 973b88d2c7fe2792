-- calq.progress: what it prints, driven by a clock the spec moves; and
-- calq.json.decode, which the run folders are read back with.
local calq = require "calq"
local json = require "calq.json"
local progress = calq.progress

-- A file-like sink and a clock the spec sets.
local function sink()
  local s = { text = "" }
  function s.write(self, ...) for _, v in ipairs{ ... } do self.text = self.text .. v end return self end
  function s.flush() end
  return s
end

local function lines_of(text)
  local t = {}
  for l in text:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

describe("calq.progress", function()
  it("prints a plain line every 10 % of the total, with rate and time left, then a last one", function()
    local t = 0
    local out = sink()
    local p = progress.new{ label = "calibrating", total = 200, out = out, mode = "lines", now = function() return t end }
    for k = 1, 200 do
      t = k * 0.05 -- 20 items a second: 10 s in all
      p:add(1)
    end
    p:finish()
    local l = lines_of(out.text)
    -- nothing in the first second (items 1..19), then at 10 %, 20 %, ... of the total
    assert.are.equal("calibrating: 20/200 items (10 %), 20.0 items/s, 0:09 left", l[1])
    assert.are.equal("calibrating: 40/200 items (20 %), 20.0 items/s, 0:08 left", l[2])
    assert.are.equal(10, #l)
    assert.are.equal("calibrating: 200/200 items in 0:10, 20.0 items/s", l[10])
    p:finish() -- a second call adds nothing
    assert.are.equal(10, #lines_of(out.text))
  end)

  it("prints a line every 10 s when the work moves slowly, and none for work over within a second", function()
    local t = 0
    local out = sink()
    local p = progress.new{ label = "evaluating", total = 10000, unit = "images", out = out, mode = "lines",
                            now = function() return t end }
    for k = 1, 30 do t = k; p:set(k) end -- one image a second
    p:finish()
    local l = lines_of(out.text)
    assert.are.same({
      "evaluating: 10/10000 images (0 %), 1.0 images/s, 2:46:30 left",
      "evaluating: 20/10000 images (0 %), 1.0 images/s, 2:46:20 left",
      "evaluating: 30/10000 images (0 %), 1.0 images/s, 2:46:10 left",
      "evaluating: 30/10000 images in 0:30, 1.0 images/s",
    }, l)
    local quick = sink()
    t = 0
    local q = progress.new{ label = "x", total = 5, out = quick, mode = "lines", now = function() return t end }
    for k = 1, 5 do t = k * 0.1; q:set(k) end
    q:finish()
    assert.are.equal("", quick.text)
  end)

  it("draws a bar in place on a terminal: done/total, rate, time left", function()
    local t = 0
    local out = sink()
    local p = progress.new{ label = "calibrating", total = 100, out = out, mode = "bar", width = 80,
                            now = function() return t end }
    t = 2
    p:set(40)
    local last = out.text:match("\r([^\r]*)$")
    assert.are.equal("calibrating [##########................]  40/100 items  20.0 items/s  0:03 left\27[K", last)
    assert.is_true(#last - 3 <= 79)
    t = 5
    p:set(100)
    p:finish()
    assert.truthy(out.text:find("\rcalibrating %[#+%]  100/100 items  20%.0 items/s  in 0:05\27%[K\n$"), out.text)
    assert.is_nil(out.text:find("\n.", 1))  -- one line, redrawn
  end)

  it("shows count and rate without a total, nothing when off, and CALQ_PROGRESS chooses the mode", function()
    local t = 0
    local out = sink()
    local p = progress.new{ label = "scanning", out = out, mode = "lines", every = 10, now = function() return t end }
    t = 12
    p:set(600)
    assert.are.equal("scanning: 600 items, 50.0 items/s\n", out.text)
    local off = sink()
    local q = progress.new{ label = "x", total = 3, out = off, mode = "off" }
    q:add(3)
    q:finish()
    assert.are.equal("", off.text)
    assert.are.equal("off", progress.none().mode)
    -- busted's stderr is not a terminal here unless it is: the choice follows isatty
    assert.are.equal(calq.io.isatty(io.stderr) and "bar" or "lines", progress.mode(io.stderr))
    local f = assert(io.tmpfile())
    assert.is_false(calq.io.isatty(f))
    f:close()
    assert.is_true(calq.io.clock() > 0)
  end)

  it("raises on misuse", function()
    assert.has_error(function() progress.new{ total = 3 } end, "bad argument #1 to 'new' (option 'label' must be a string)")
    assert.has_error(function() progress.new{ label = "x", total = -1 } end)
    assert.has_error(function() progress.new{ label = "x", mode = "fancy" } end)
    assert.has_error(function() progress.none():add(-1) end)
  end)
end)

describe("calq.json.decode", function()
  it("reads back what encode writes, and says where bad text goes wrong", function()
    local v = { a = { 1, 2.5, json.null, "x\"\\\n\u{e9}" }, b = { c = true, d = false }, e = -1.5e-3, f = {} }
    local text = json.encode(v)
    assert.are.equal(text, json.encode(assert(json.decode(text))))
    assert.are.equal("\u{1F600}", json.decode('"\\ud83d\\ude00"'))
    assert.are.same({ 1, { k = {} } }, json.decode(' [ 1 , { "k" : [ ] } ] '))
    assert.are.same({ nil, "line 1, column 5: ',' or ']' expected" }, { json.decode("[1,2") })
    assert.are.same({ nil, "line 2, column 1: text after the value" }, { json.decode('{"a":1}\nx') })
    assert.are.same({ nil, "line 1, column 2: a key (string) expected" }, { json.decode("{1:2}") })
  end)
end)

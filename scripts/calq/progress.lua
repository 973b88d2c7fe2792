--- calq.progress: progress of long work on stderr (calibration, evaluation,
-- the knob search).
--   local progress = require "calq.progress"
--   local p = progress.new{ label = "calibrating", total = 500, unit = "items" }
--   for ... do ...; p:add(8) end          -- or p:set(done)
--   p:finish()
-- On a terminal it draws one line it redraws in place:
--   calibrating [########..........]  200/500 items  41.3 items/s  0:07 left
-- Elsewhere (a log, a pipe, a batch job) it prints plain lines, one each time
-- the work has moved on by `step` of the total (10 %) or `every` seconds (10)
-- have gone by, whichever comes first, and a last line when finished:
--   calibrating: 200/500 items (40 %), 41.3 items/s, 0:07 left
-- Work over in less than `quiet` seconds (1) prints no line at all: only
-- long work talks. The environment variable CALQ_PROGRESS
-- (bar, lines or off) overrides the choice; `mode` in the options overrides
-- that. A total of nil or 0 shows the count and the rate only.
local check = require "calq.check"

local progress = {}

local Progress = {}
Progress.__index = Progress

-- Seconds as m:ss or h:mm:ss.
local function clock(s)
  s = math.max(0, math.floor(s + 0.5))
  if s >= 3600 then return ("%d:%02d:%02d"):format(s // 3600, s // 60 % 60, s % 60) end
  return ("%d:%02d"):format(s // 60, s % 60)
end


local function rate_text(rate, unit)
  if not rate then return "-- " .. unit .. "/s" end
  return (rate >= 100 and "%.0f %s/s" or "%.1f %s/s"):format(rate, unit)
end

--- The mode new() picks for file f without an explicit one: "bar" on a
-- terminal, else "lines"; CALQ_PROGRESS=bar|lines|off overrides.
function progress.mode(f)
  local env = os.getenv("CALQ_PROGRESS")
  if env == "bar" or env == "lines" or env == "off" then return env end
  local isatty = require("calq.io").isatty
  return isatty(f or io.stderr) and "bar" or "lines"
end

--- A progress display. Options: label (what is being done), total (nil:
-- unknown), unit ("items"), out (io.stderr), mode ("bar" | "lines" | "off";
-- default progress.mode(out)), every (seconds between plain lines, 10),
-- step (fraction of the total between plain lines, 0.1), width (the bar
-- line's width; default $COLUMNS or 80), quiet (seconds before the first
-- plain line, 1), now (a function returning seconds, calq.io.clock by
-- default: tests give their own clock).
function progress.new(o)
  if type(o) ~= "table" then check.typeerror(1, "new", "table", o) end
  if type(o.label) ~= "string" then check.argerror(1, "new", "option 'label' must be a string") end
  local total = o.total
  if total ~= nil and (math.type(total) ~= "integer" or total < 0) then
    check.argerror(1, "new", "option 'total' must be an integer >= 0 or nil")
  end
  local mode = o.mode or progress.mode(o.out)
  if mode ~= "bar" and mode ~= "lines" and mode ~= "off" then
    check.argerror(1, "new", "option 'mode' must be \"bar\", \"lines\" or \"off\"")
  end
  local now = o.now or require("calq.io").clock
  local p = setmetatable({
    label = o.label, total = total ~= 0 and total or nil, unit = o.unit or "items",
    out = o.out or io.stderr, mode = mode, every = o.every or 10, step = o.step or 0.1,
    width = o.width or tonumber(os.getenv("COLUMNS") or "") or 80, now = now, quiet = o.quiet or 1,
    done = 0, t0 = now(), finished = false, shown_at = nil, shown_done = 0, drawn = nil,
  }, Progress)
  p.shown_at = p.t0
  if mode == "bar" then p:draw(true) end
  return p
end

-- Items a second and seconds left, from the start (nil while nothing is done).
function Progress:rates()
  local dt = self.now() - self.t0
  if dt <= 0 or self.done <= 0 then return nil, nil end
  local rate = self.done / dt
  local left = self.total and (self.total - self.done) / rate or nil
  return rate, left
end

-- The line of the bar mode, at most self.width characters.
function Progress:bar_line()
  local rate, left = self:rates()
  local tail
  if self.total then
    tail = ("  %d/%d %s  %s  %s"):format(self.done, self.total, self.unit, rate_text(rate, self.unit),
      self.finished and ("in " .. clock(self.now() - self.t0)) or (left and (clock(left) .. " left") or "--:-- left"))
  else
    tail = ("  %d %s  %s"):format(self.done, self.unit, rate_text(rate, self.unit))
  end
  local head = self.label .. " "
  local room = self.width - 1 - #head - #tail - 2
  if self.total and room >= 10 then
    local fill = math.floor(room * math.min(1, self.done / self.total))
    return head .. "[" .. ("#"):rep(fill) .. ("."):rep(room - fill) .. "]" .. tail
  end
  return (head .. tail):sub(1, self.width - 1)
end

-- The text of a plain line.
function Progress:plain_line()
  local rate, left = self:rates()
  local elapsed = self.now() - self.t0
  if self.finished then
    return ("%s: %d%s %s in %s, %s"):format(self.label, self.done, self.total and ("/" .. self.total) or "",
      self.unit, clock(elapsed), rate_text(rate or (elapsed > 0 and self.done / elapsed or nil), self.unit))
  end
  if self.total then
    return ("%s: %d/%d %s (%d %%), %s, %s"):format(self.label, self.done, self.total, self.unit,
      math.floor(100 * self.done / self.total), rate_text(rate, self.unit),
      left and (clock(left) .. " left") or "time left unknown")
  end
  return ("%s: %d %s, %s"):format(self.label, self.done, self.unit, rate_text(rate, self.unit))
end

-- Redraw the bar: at most ten times a second (always when forced), and only
-- when its text changed.
function Progress:draw(force)
  local t = self.now()
  if not force and self.drawn_at and t - self.drawn_at < 0.1 then return end
  local line = self:bar_line()
  if line == self.drawn then return end
  self.drawn, self.drawn_at = line, t
  self.out:write("\r", line, "\27[K")
  self.out:flush()
end

--- Set the count of what is done (clamped to the total) and show it when due.
function Progress:set(done)
  if math.type(done) ~= "integer" then check.typeerror(1, "set", "integer", done) end
  if self.finished or self.mode == "off" then
    self.done = done
    return
  end
  self.done = self.total and math.min(done, self.total) or done
  if self.mode == "bar" then
    self:draw()
    return
  end
  local t = self.now()
  local moved = self.total and (self.done - self.shown_done) >= self.step * self.total
  if (moved or t - self.shown_at >= self.every) and t - self.t0 >= self.quiet
      and self.done < (self.total or math.huge) then
    self.out:write(self:plain_line(), "\n")
    self.out:flush()
    self.shown_at, self.shown_done = t, self.done
  end
end

--- Add n (an integer >= 0) to what is done.
function Progress:add(n)
  if math.type(n) ~= "integer" or n < 0 then check.typeerror(1, "add", "integer >= 0", n) end
  self:set(self.done + n)
end

--- The work is over: the bar gets its final text and a newline; plain mode
-- prints a last line. Calling it again does nothing.
function Progress:finish()
  if self.finished then return end
  self.finished = true
  if self.mode == "bar" then
    self.drawn = nil
    self:draw(true)
    self.out:write("\n")
  elseif self.mode == "lines" and (self.shown_done > 0 or self.now() - self.t0 >= self.quiet) then
    self.out:write(self:plain_line(), "\n")
  end
  if self.mode ~= "off" then self.out:flush() end
end

--- A progress that shows nothing (for library calls that were not asked to).
function progress.none()
  return progress.new{ label = "", mode = "off" }
end

return progress

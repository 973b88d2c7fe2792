--- calq conform DIR...: run ONNX backend test folders (model.onnx +
-- test_data_set_*/{input,output}_*.pb) through the executor. Ends with one
-- line "N passed, M failed, K skipped"; skipped tests are listed by the
-- operator or dtype calq lacks.
local exec = require "calq.exec"
local args = require "calq.args"

local usage = [[
usage: calq conform DIR... [--rtol R] [--atol A] [--verbose] [--json]

Each DIR is a test folder (holding model.onnx) or a folder of them, such as
/usr/share/libonnx-testdata/data/node. A test passes when every output
agrees: |got - want| <= atol + rtol * |want| (defaults 1e-4, 1e-5).
Exit status 0 when nothing failed, 1 otherwise. --json prints {passed, failed,
skipped, failures = [{test, why}], skipped_ops = {OP = tests}, skipped_dtype =
[{test, why}]} instead of the lines.]]

local function run(argv)
  local opts, dirs = args.parse(argv, {
    rtol = { type = "number", default = 1e-4 },
    atol = { type = "number", default = 1e-5 },
    verbose = { type = "boolean" },
    json = { type = "boolean" },
  }, "calq conform")
  local print = opts.json and function() end or print
  local failures, dtype_list = {}, {}
  if #dirs == 0 then args.usage_error("calq conform", "no test folder given") end
  local passed, failed, skipped = 0, 0, 0
  local by_op, dtype_skips = {}, {}
  for _, dir in ipairs(dirs) do
    local cases, msg = exec.conform_dirs(dir)
    if not cases then error("calq conform: " .. msg, 0) end
    if #cases == 0 then error("calq conform: " .. dir .. ": no test folders", 0) end
    for _, case in ipairs(cases) do
      local verdict, why = exec.conform_case(case, opts.rtol, opts.atol)
      local name = case:match("([^/]+)/*$")
      if verdict == "pass" then
        passed = passed + 1
        if opts.verbose then print("pass " .. name) end
      elseif verdict == "fail" then
        failed = failed + 1
        failures[#failures + 1] = { test = name, why = why }
        print("FAIL " .. name .. ": " .. why)
      else
        skipped = skipped + 1
        local ops = why:match("unsupported operators: (.*)$")
        if ops then
          for op in ops:gmatch("[^, ]+") do by_op[op] = (by_op[op] or 0) + 1 end
        else
          dtype_skips[#dtype_skips + 1] = name .. ": " .. why
          dtype_list[#dtype_list + 1] = { test = name, why = why }
        end
        if opts.verbose then print("skip " .. name .. ": " .. why) end
      end
    end
  end
  if opts.json then
    local json = require "calq.json"
    _G.print(json.encode { passed = passed, failed = failed, skipped = skipped, failures = failures,
                           skipped_ops = next(by_op) and by_op or json.null, skipped_dtype = dtype_list })
    return failed == 0 and 0 or 1
  end
  local ops = {}
  for op, n in pairs(by_op) do ops[#ops + 1] = ("%s (%d)"):format(op, n) end
  table.sort(ops)
  if #ops > 0 then
    print(("skipped for operators calq lacks (%d): %s"):format(#ops, table.concat(ops, ", ")))
  end
  for _, s in ipairs(dtype_skips) do print("skipped (dtype): " .. s) end
  print(("%d passed, %d failed, %d skipped"):format(passed, failed, skipped))
  return failed == 0 and 0 or 1
end

return { summary = "run ONNX backend conformance test folders", usage = usage, run = run }

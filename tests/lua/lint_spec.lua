-- tools/lint.sh (make lint): the layer rules of docs/design.md, public headers,
-- file lengths and dates, each shown failing on a small fake tree and passing on a
-- clean one.
local lint = "tools/lint.sh"

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  assert(ok and how == "exit" and code == 0, "failed: " .. cmd)
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- A fresh directory holding files {path = text}.
local function tree(files)
  local p = io.popen("mktemp -d")
  local root = p:read("l")
  p:close()
  for path, text in pairs(files) do
    sh("mkdir -p " .. q(root .. "/" .. path:match("^(.*)/")))
    local f = assert(io.open(root .. "/" .. path, "w"))
    f:write(text)
    f:close()
  end
  return root
end

-- Lint root; return the printed lines (stdout) and the exit code.
local function run(root)
  -- without the sanitizer runtime that make asan preloads: bash and awk leak by design
  local p = io.popen("env -u LD_PRELOAD " .. lint .. " --root " .. q(root) .. " 2>/dev/null")
  local text = p:read("a")
  local _, _, code = p:close()
  sh("rm -rf " .. q(root))
  return text, code
end

-- A clean tree, one file per folder, each including what its layer allows.
local function clean()
  return {
    ["core/base/tensor.h"] = "#include <stdint.h>\n",
    ["core/base/tensor.c"] = '#include "base/tensor.h"\n#include "tensor.h"\n',
    ["core/kern/kern.h"] = '#include "base/tensor.h"\n',
    ["core/kern/kern_internal.h"] = '#include "kern/kern.h"\n',
    ["core/kern/x86/kern_simd.h"] = '#include "kern/kern_internal.h"\n',
    ["core/kern/x86/kern_avx2.c"] = '#include "kern/x86/kern_simd.h"\n#include "kern_simd.h"\n',
    ["core/graph/graph.h"] = '#include "base/tensor.h"\n',
    ["core/graph/graph_internal.h"] = '#include "graph/graph.h"\n',
    ["core/ops/ops.h"] = '#include "graph/graph.h"\n#include "kern/kern.h"\n',
    ["core/onnx/onnx.c"] = '#include "graph/graph.h"\n',
    ["core/exec/exec.c"] = '#include "ops/ops.h"\n#include "onnx/onnx.h"\n',
    ["core/data/dataset.c"] = '#include "base/tensor.h"\n',
    ["bindings/lcalq.h"] = '#include "base/tensor.h"\n',
    ["bindings/l_exec.c"] = '#include "lcalq.h"\n#include "ops/ops.h"\n#include <lua.h>\n',
    ["scripts/calq/init.lua"] = "-- no dates here\n",
  }
end

local function with(extra)
  local files = clean()
  for k, v in pairs(extra) do files[k] = v end
  return files
end

describe("tools/lint.sh", function()
  it("passes a tree that keeps the layers", function()
    assert.same({ "", 0 }, { run(tree(clean())) })
  end)

  it("fails when base/ includes a higher folder", function()
    local text, code = run(tree(with{ ["core/base/x.c"] = '#include <stdio.h>\n#include "graph/graph.h"\n' }))
    assert.equal(1, code)
    assert.equal("core/base/x.c:2: folder base may not include graph (layer rule: base may include base)\n", text)
  end)

  it("fails when data/ includes exec/ and kern/ includes ops/", function()
    local text, code = run(tree(with{
      ["core/data/ds_x.c"] = '#include "data/dataset.h"\n#include "exec/exec.h"\n',
      ["core/kern/x86/k.c"] = '#include "ops/ops.h"\n',
    }))
    assert.equal(1, code)
    assert.equal("core/data/ds_x.c:2: folder data may not include exec (layer rule: data may include base data)\n"
      .. "core/kern/x86/k.c:1: folder kern may not include ops (layer rule: kern may include base kern)\n", text)
  end)

  it("fails when bindings/ includes an internal header or kern/x86/", function()
    local text, code = run(tree(with{
      ["bindings/l_kern.c"] = '#include "kern/kern_internal.h"\n#include "kern/x86/kern_simd.h"\n',
    }))
    assert.equal(1, code)
    assert.equal("bindings/l_kern.c:1: folder bindings may not include kern/kern_internal.h "
      .. "(not a public header: *_internal.h and kern/x86/ stay inside their folder)\n"
      .. "bindings/l_kern.c:2: folder bindings may not include kern/x86/kern_simd.h "
      .. "(not a public header: *_internal.h and kern/x86/ stay inside their folder)\n", text)
  end)

  it("fails when a folder reaches into a lower folder's internal header", function()
    local text, code = run(tree(with{ ["core/onnx/onnx_read.c"] = '#include "graph/graph_internal.h"\n' }))
    assert.equal(1, code)
    assert.matches("^core/onnx/onnx_read.c:1: folder onnx may not include graph/graph_internal.h %(not a public", text)
  end)

  it("fails on an include that climbs folders and on a folder outside the table", function()
    local text, code = run(tree(with{
      ["core/base/y.c"] = '#include "../graph/graph.h"\n',
      ["core/misc/z.c"] = '#include "base/tensor.h"\n',
    }))
    assert.equal(1, code)
    assert.equal('core/base/y.c:1: include "../graph/graph.h" climbs folders (name the folder: "base/tensor.h")\n'
      .. "core/misc/z.c:1: folder misc is not in the layer table (tools/lint.sh RULES)\n", text)
  end)

  it("lets quant include calib but not calib include quant", function()
    local text, code = run(tree(with{
      ["core/quant/q.c"] = '#include "calib/calib.h"\n#include "exec/exec.h"\n#include "data/dataset.h"\n',
      ["core/calib/c.c"] = '#include "quant/quant.h"\n',
    }))
    assert.equal(1, code)
    assert.matches("^core/calib/c.c:1: folder calib may not include quant %(layer rule", text)
    assert.equal(1, select(2, text:gsub("\n", "")))
  end)

  it("fails on a .c file over 800 lines, not on one of 800", function()
    local text, code = run(tree(with{
      ["core/ops/long.c"] = ("x;\n"):rep(801),
      ["core/ops/ok.c"] = ("x;\n"):rep(800),
    }))
    assert.equal(1, code)
    assert.equal("core/ops/long.c: 801 lines, over 800 (split it by concern, STYLE.md 7)\n", text)
  end)

  it("fails on a date in core/, bindings/ or scripts/, not elsewhere", function()
    local text, code = run(tree(with{
      ["core/exec/exec.h"] = "/* measured on 2026-11-26 */\n",
      ["scripts/calq/x.lua"] = "local a = 1\n-- 2025-01-31 run\n",
      ["bench/NOTES.md"] = "## 2026-11-26\n",
    }))
    assert.equal(1, code)
    assert.equal("core/exec/exec.h:1: a date in code (dated notes go in bench/NOTES.md)\n"
      .. "scripts/calq/x.lua:2: a date in code (dated notes go in bench/NOTES.md)\n", text)
  end)

  it("refuses an unknown argument", function()
    local p = io.popen("env -u LD_PRELOAD " .. lint .. " --frobnicate 2>&1")
    local text = p:read("a")
    local _, _, code = p:close()
    assert.equal(2, code)
    assert.equal("lint.sh: unknown argument '--frobnicate'\n", text)
  end)
end)

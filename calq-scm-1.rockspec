package = "calq"
version = "scm-1"
source = {
   url = "git+https://example.invalid/calq.git",
}
description = {
   summary = "Post-training quantization engine for CNNs on CPUs (C core, Lua 5.4 face)",
   detailed = [[
calq takes a trained ONNX model and a data set, builds a label-balanced calibration
set, calibrates, picks per-layer precisions with a hardware-aware cost model, runs the
int8 model with its own kernels and exports QDQ ONNX. This rock installs the Lua module
(require "calq"), its C part (calq.core) and the calq command.
]],
   license = "Apache-2.0",
}
dependencies = {
   "lua >= 5.4, < 5.5",
   "luafilesystem",  -- calq.fs, calq.mosaic: folders (Debian: lua-filesystem)
}
-- Built through the project's Makefile; external C libraries (lz4, OpenBLAS,
-- libjpeg, libpng, yajl, expat, zlib) come from the system (Debian's -dev packages).
-- The C module calq/core.so is not linked against liblua (the interpreter that
-- loads it provides Lua); the calq command is a program and links liblua5.4.
-- install-lua puts scripts/calq/*.lua in LUADIR, calq/core.so in LIBDIR and the calq
-- command in BINDIR. The build folder is the Makefile's (BUILD, default build; set
-- it in the environment to use another).
build = {
   type = "make",
   build_target = "all",
   build_variables = {
      CALQ_NO_BOOTSTRAP = "1",
      LUA_INCDIR = "$(LUA_INCDIR)",
   },
   install_target = "install-lua",
   install_variables = {
      PREFIX = "$(PREFIX)",
      LUADIR = "$(LUADIR)",
      LIBDIR = "$(LIBDIR)",
      BINDIR = "$(BINDIR)",
   },
}

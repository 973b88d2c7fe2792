#!/usr/bin/env bash
# Decode + preprocess throughput (images/s, one thread, CPU time) on the dlib
# photos: calq's blazeface-256 preset next to PIL + numpy doing the same work
# in the same run (PIL is the anchor: ratios > 1 mean calq is faster).
#   bench/image.sh [ROUNDS]     (CALQ_CACHE as for the tests)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${CALQ_CACHE:-$top/.cache}
faces=$cache/dlib/examples/faces
rounds=${1:-5}
[ -f "$faces/training.xml" ] || { echo "bench/image.sh: skipped, no dlib photos under $cache"; exit 0; }
export LUA_PATH="$top/scripts/?.lua;$top/scripts/?/init.lua;;" LUA_CPATH="$top/build/lua/?.so;;"

calq=$(lua5.4 - "$faces" "$rounds" <<'EOF'
local image = require "calq.image"
local dir, rounds = arg[1], tonumber(arg[2])
local paths = {}
for l in io.popen("ls " .. dir .. "/*.jpg"):lines() do paths[#paths + 1] = l end
local function run(fn)
  fn() -- warm the page cache
  collectgarbage()
  local t0 = os.clock()
  for _ = 1, rounds do fn() end
  return rounds * #paths / (os.clock() - t0)
end
local dec = run(function() for _, p in ipairs(paths) do assert(image.load(p)):close() end end)
-- tensors are closed at once: the Lua GC does not see their C memory
local bf = run(function() for _, p in ipairs(paths) do assert(image.preprocess(p, "blazeface")):close() end end)
local bfp = run(function()
  for _, p in ipairs(paths) do assert(image.preprocess(p, { preset = "blazeface", interp = "pil" })):close() end
end)
print(("%d %.2f %.2f %.2f"):format(#paths, dec, bf, bfp))
EOF
)
pil=$(/usr/bin/python3 - "$faces" "$rounds" <<'EOF'
import glob, sys, time
import numpy as np
from PIL import Image
paths = sorted(glob.glob(sys.argv[1] + "/*.jpg")); rounds = int(sys.argv[2])
def run(fn):
    fn()
    t0 = time.process_time()
    for _ in range(rounds): fn()
    return rounds * len(paths) / (time.process_time() - t0)
def decode():
    for p in paths:
        im = Image.open(p); im.load()
def blazeface():  # pad right/bottom to a square, bilinear to 256, x/127.5 - 1, NHWC f32
    for p in paths:
        im = Image.open(p).convert("RGB")
        s = max(im.size); sq = Image.new("RGB", (s, s)); sq.paste(im, (0, 0))
        x = np.asarray(sq.resize((256, 256), Image.BILINEAR), dtype=np.float32) / 127.5 - 1.0
print("%.2f %.2f" % (run(decode), run(blazeface)))
EOF
)
read -r n c_dec c_bf c_bfp <<<"$calq"
read -r p_dec p_bf <<<"$pil"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "image decode + preprocess, $n dlib photos x $rounds rounds, images/s (CPU time, 1 thread)"
printf '  %-46s %8s %8s %8s\n' "" calq PIL calq/PIL
printf '  %-46s %8.1f %8.1f %8s\n' "decode (libjpeg-turbo in both)" "$c_dec" "$p_dec" "$(ratio "$c_dec" "$p_dec")"
printf '  %-46s %8.1f %8.1f %8s\n' "blazeface-256 (calq half-pixel, PIL BILINEAR)" "$c_bf" "$p_bf" "$(ratio "$c_bf" "$p_bf")"
printf '  %-46s %8.1f %8.1f %8s\n' "blazeface-256, both PIL BILINEAR" "$c_bfp" "$p_bf" "$(ratio "$c_bfp" "$p_bf")"

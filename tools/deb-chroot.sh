#!/usr/bin/env bash
# The Debian packages (make deb) installed in a fresh Debian chroot and run there
# (tests/lua/deb_chroot_spec.lua, make test-slow). Needs root, debootstrap and the
# network to Debian's mirror.
#
#   tools/deb-chroot.sh DEBDIR
#
# A minimal bookworm made by debootstrap is kept in $CALQ_CACHE/chroot-bookworm (once,
# a few minutes); each run copies it, installs DEBDIR's calq, libcalq0 and libcalq-dev
# with apt-get (their dependencies from the mirror), then runs `calq version`, and
# examples/embed/fmnist.lua by the command and by lua5.4 on the Fashion-MNIST model and
# the host's Fashion-MNIST test files copied in. The copy is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
debs=$(cd "${1:?usage: tools/deb-chroot.sh DEBDIR}" && pwd)
cache=${CALQ_CACHE:-$top/.cache}
suite=bookworm
base=$cache/chroot-$suite
mirror=${CALQ_DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ ! -x "$base/usr/bin/apt-get" ]; then
    echo "deb-chroot: debootstrap $suite into $base" >&2
    rm -rf "$base.tmp"
    debootstrap --variant=minbase "$suite" "$base.tmp" "$mirror" >"$cache/chroot-$suite.log" 2>&1 ||
        { tail -20 "$cache/chroot-$suite.log" >&2; echo "deb-chroot: debootstrap failed" >&2; exit 1; }
    mv "$base.tmp" "$base"
fi

work=$(mktemp -d /tmp/calq-chroot.XXXXXX)
cleanup() {
    umount "$work/root/proc" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cp -a "$base" "$work/root"
root=$work/root
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc" 2>/dev/null || true
mkdir -p "$root/tmp/calq" "$root/usr/share/datasets/fashion-mnist"
cp "$debs"/calq_*.deb "$debs"/libcalq0_*.deb "$debs"/libcalq-dev_*.deb "$root/tmp/calq/"
cp models/fashion_mnist/fmnist_cnn.onnx examples/embed/fmnist.lua "$root/tmp/calq/"
cp /usr/share/datasets/fashion-mnist/t10k-*-ubyte.gz "$root/usr/share/datasets/fashion-mnist/"

chroot "$root" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    /tmp/calq/calq_*.deb /tmp/calq/libcalq0_*.deb /tmp/calq/libcalq-dev_*.deb' >"$work/apt.log" 2>&1 ||
    { tail -20 "$work/apt.log" >&2; echo "deb-chroot: apt-get install failed" >&2; exit 1; }
chroot "$root" /bin/sh -c 'cd /tmp && calq version &&
    calq run calq/fmnist.lua calq/fmnist_cnn.onnx 256 &&
    lua5.4 calq/fmnist.lua calq/fmnist_cnn.onnx 256 &&
    dpkg-query -W -f="\${Package} \${Version} \${Status}\n" calq libcalq0 libcalq-dev'

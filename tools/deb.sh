#!/usr/bin/env bash
# make deb: the Debian packages (debian/) built by dpkg-buildpackage, out of the tree.
# The source (git's tracked and untracked-but-not-ignored files, as they are in the
# working tree, with their times) is copied to $BUILD/deb/calq-$VERSION and built there;
# the .deb, .buildinfo and .changes files land in $BUILD/deb.
#
#   BUILD            the build folder (as for make; default build)
#   VERSION          calq's version (the Makefile's)
#   CALQ_DEB_REUSE=1 the package's build uses the objects of $BUILD (absolute path)
#                    instead of compiling again: make's times say they are up to date
#                    (the copy keeps the sources' times). For the test; a real package
#                    is built from scratch with dpkg-buildflags' hardening flags.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
build=${BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
version=${VERSION:?VERSION is the Makefile\'s}
out=$build/deb
src=$out/calq-$version
# the changelog's upstream version must be the Makefile's
deb_version=$(dpkg-parsechangelog -S Version)
[ "${deb_version%-*}" = "$version" ] ||
    { echo "make deb: debian/changelog says $deb_version, the Makefile $version" >&2; exit 1; }

rm -rf "$src" && mkdir -p "$src"
rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.buildinfo "$out"/*.changes
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$src"
else
    tar --exclude='./build*' --exclude=./.cache -cf - . | tar -xf - -C "$src"
fi
if [ "${CALQ_DEB_REUSE:-}" = 1 ]; then
    export CALQ_DEB_BUILD=$build
fi
cd "$src"
dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1 ||
    { tail -40 "$out/build.log" >&2; echo "make deb: dpkg-buildpackage failed ($out/build.log)" >&2; exit 1; }
cd "$out"
rm -rf "$src"
ls -1 "$out"/*.deb

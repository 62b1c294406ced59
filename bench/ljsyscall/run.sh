#!/bin/sh
# Runs Debian's ljsyscall test suite (luajit + lua-ljsyscall) for the benchmark.
# It expects syscall.lua, syscall/, test/ and include/ side by side in the current
# directory: assemble them in a temporary directory and run test/test.lua there.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r /usr/share/lua/5.1/syscall.lua /usr/share/lua/5.1/syscall "$work/"
cp -r /usr/share/doc/lua-ljsyscall/test "$work/test"
cp -r "$here/include" "$work/include"
cd "$work"
luajit test/test.lua "$@"

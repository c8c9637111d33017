#!/usr/bin/env bash
# Builds the release dockhand: a Native AOT, self-contained linux-x64 executable (no .NET needed where it runs), and
# writes it to DIR/dockhand (default artifacts/publish/), with the two native libraries it loads beside it
# (libe_sqlite3.so for SQLite, libsodium.so for Ed25519). Copy the directory as a whole.
#
#   scripts/publish.sh [DIR]
#
# Needs the .NET 10 SDK, clang and zlib1g-dev (installed here from Debian when missing). The compiler package comes
# from NuGet like every other package; the SDK picks its version. A first publish takes minutes on 2 cores (most of it
# the native compiler), so two things make a second one cheap: the intermediate files stay in the projects' obj/
# folders (a small change recompiles only what changed), and when the checkout's build inputs are committed and
# unchanged the result is reused from a cache keyed by their git tree hashes (~/.cache/dockhand/publish/, or
# DOCKHAND_PUBLISH_CACHE; set it to an empty value to turn the cache off). A fresh clone of the same commit (CI, the
# tests) then copies instead of compiling.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-artifacts/publish}"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "publish: the .NET 10 SDK is needed (https://learn.microsoft.com/dotnet/core/install/linux-debian)" >&2
  exit 2
fi
scripts/prereqs.sh clang zlib1g-dev

files=(dockhand libe_sqlite3.so libsodium.so)
started=$(date +%s)
inputs=(src Directory.Build.props Directory.Packages.props global.json)
cache_root="${DOCKHAND_PUBLISH_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/dockhand/publish}"
cache=""
if [ -n "$cache_root" ] && git rev-parse --git-dir >/dev/null 2>&1 && [ -z "$(git status --porcelain -- "${inputs[@]}" 2>/dev/null)" ]; then
  key=$( { dotnet --version; for input in "${inputs[@]}"; do git rev-parse "HEAD:$input"; done; } | sha256sum | cut -c1-32)
  cache="$cache_root/$key"
  if [ -f "$cache/dockhand" ]; then
    mkdir -p "$out"
    for file in "${files[@]}"; do cp -p "$cache/$file" "$out/$file"; done
    echo "publish: $out/dockhand (Native AOT linux-x64) from the cache for these sources ($cache)"
    exit 0
  fi
fi

staging="artifacts/obj/publish-linux-x64"
# MSBUILDDISABLENODEREUSE: no build server is left running after the script (it is also run from the tests).
MSBUILDDISABLENODEREUSE=1 dotnet publish src/Dockhand/Dockhand.csproj -c Release -r linux-x64 --nologo -v quiet -clp:NoSummary \
  -p:UseSharedCompilation=false -o "$staging"

mkdir -p "$out"
for file in "${files[@]}"; do
  [ -f "$staging/$file" ] || { echo "publish: $staging/$file is missing after dotnet publish" >&2; exit 1; }
  cp -p "$staging/$file" "$out/$file"
done
if [ -n "$cache" ]; then
  mkdir -p "$cache.tmp.$$" && cp -p "${files[@]/#/$staging/}" "$cache.tmp.$$/" && mv -T "$cache.tmp.$$" "$cache" 2>/dev/null || rm -rf "$cache.tmp.$$"
fi
echo "publish: $out/dockhand ($(du -h "$out/dockhand" | cut -f1), Native AOT linux-x64) in $(( $(date +%s) - started )) s"

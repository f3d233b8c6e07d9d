#!/bin/sh
# Runtime layer of the TalkingFace images: what .NET needs (already there on the .NET base images,
# missing on CUDA/L4T bases), the packages given as arguments (e.g. ffmpeg), a /usr/bin/dotnet link and
# the non-root user "app" (uid/gid 1654, as on the .NET images; the Helm chart runs pods as 1654).
# An argument "a|b" installs the first of a, b that the distribution has (libgtk-3-0t64 on Ubuntu 24.04,
# libgtk-3-0 on Debian 12).
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update
packages="ca-certificates tzdata zlib1g libstdc++6 libgcc-s1"
for wanted in "$@"; do
  chosen=
  for candidate in $(echo "$wanted" | tr '|' ' '); do
    if apt-cache show "$candidate" >/dev/null 2>&1; then chosen=$candidate; break; fi
  done
  [ -n "$chosen" ] || { echo "none of $wanted is available" >&2; exit 1; }
  packages="$packages $chosen"
done
# libssl3 was renamed libssl3t64 in Ubuntu 24.04 / Debian 13.
for candidate in libssl3t64 libssl3; do
  if apt-cache show "$candidate" >/dev/null 2>&1; then packages="$packages $candidate"; break; fi
done
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $packages
rm -rf /var/lib/apt/lists/*
[ -e /usr/bin/dotnet ] || ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
if ! getent passwd 1654 >/dev/null; then
  getent group 1654 >/dev/null || groupadd --gid 1654 app
  useradd --uid 1654 --gid 1654 --no-create-home --home-dir /app --shell /usr/sbin/nologin app
fi
mkdir -p /app/.data && chown 1654:1654 /app/.data

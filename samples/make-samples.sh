#!/usr/bin/env bash
# Regenerates the sample audio committed beside this script.
#
# Needs espeak-ng (Debian/Ubuntu: apt-get install espeak-ng).
#
# hello.wav: a ~3 s English sentence, written by espeak-ng as it always writes: 22,050 Hz, mono, 16-bit PCM.
# It exercises the converter's non-integer resampling ratio (22,050 -> 16,000 Hz) and is small enough to commit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v espeak-ng >/dev/null 2>&1; then
    echo "espeak-ng is not installed: apt-get install espeak-ng" >&2
    exit 1
fi

espeak-ng -v en-us -s 160 -w "$here/hello.wav" "TalkingFace turns a voice into a moving face."
echo "wrote $here/hello.wav"

#!/usr/bin/python3
"""Reference for the C# resampler: torchaudio's default resampler on the channel average of a PCM WAV file.

Usage: /usr/bin/python3 tests/reference/resample_reference.py IN.wav OUT.f32 [TARGET_RATE=16000]

Reads 8/16/24/32-bit PCM with the standard `wave` module (scaled like torchaudio.load: int / 2^(bits-1)),
averages the channels in float32, runs torchaudio.functional.resample(x, source_rate, target_rate) with its
defaults (sinc_interp_hann, lowpass_filter_width=6, rolloff=0.99) and writes the result as raw float32
little-endian. Needs Debian's python3-torchaudio (apt-get install python3-torchaudio), i.e. /usr/bin/python3.
Exit status 3 means torchaudio (or numpy) cannot be imported.
"""
import sys
import wave

try:
    import numpy as np
    import torch
    import torchaudio
except ImportError as error:
    sys.stderr.write(f"cannot import torchaudio/numpy ({error}); install them with: apt-get install python3-torchaudio\n")
    sys.exit(3)


def read_pcm_wav(path):
    with wave.open(path, "rb") as wav:
        channels, width, rate, frames = wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()
        raw = wav.readframes(frames)
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 3:
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (bytes3[:, 0] << 8 | bytes3[:, 1] << 16 | bytes3[:, 2] << 24) >> 8
        samples = ints.astype(np.float32) / np.float32(2 ** 23)
    else:
        dtype = {2: "<i2", 4: "<i4"}[width]
        samples = (np.frombuffer(raw, dtype=dtype).astype(np.float64) / float(2 ** (8 * width - 1))).astype(np.float32)
    return samples.reshape(-1, channels), rate


def main():
    if len(sys.argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    source, destination = sys.argv[1], sys.argv[2]
    target_rate = int(sys.argv[3]) if len(sys.argv) == 4 else 16000
    frames, rate = read_pcm_wav(source)
    mono = frames.mean(axis=1, dtype=np.float32)
    resampled = torchaudio.functional.resample(torch.from_numpy(mono).unsqueeze(0), rate, target_rate)
    resampled.squeeze(0).numpy().astype("<f4").tofile(destination)
    print(f"{source}: {frames.shape[1]} channel(s) at {rate} Hz, {frames.shape[0]} frames -> "
          f"{resampled.shape[-1]} samples at {target_rate} Hz (torchaudio {torchaudio.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

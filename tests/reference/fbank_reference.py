#!/usr/bin/python3
"""Reference for the C# KaldiFbank: torchaudio.compliance.kaldi.fbank on exactly the given samples.

Usage: /usr/bin/python3 tests/reference/fbank_reference.py IN.f32 OUT_PREFIX [NUM_MEL_BINS=80] [SAMPLE_RATE=16000]

IN.f32 holds mono samples as raw float32 little-endian (the C# test writes the samples it feeds its own fbank).
Runs torchaudio.compliance.kaldi.fbank(waveform, num_mel_bins=NUM_MEL_BINS, dither=0.0,
sample_frequency=SAMPLE_RATE), everything else at torchaudio 0.13.1's defaults, twice:
  OUT_PREFIX.f32.npy  on the float32 waveform (what Fast-HuBERT's front end computes), saved as '<f4';
  OUT_PREFIX.f64.npy  on the same samples as float64, saved as '<f8'. torchaudio keeps the float32 epsilon
                      (1.1920929e-07) as the log floor and float32-valued mel filters in this mode, so it differs
                      from the float32 run only by float32 rounding inside the computation.
Needs Debian's python3-torchaudio (apt-get install python3-torchaudio), i.e. /usr/bin/python3.
Exit status 3 means torchaudio (or numpy) cannot be imported.
"""
import sys

try:
    import numpy as np
    import torch
    import torchaudio
    import torchaudio.compliance.kaldi as kaldi
except ImportError as error:
    sys.stderr.write(f"cannot import torchaudio/numpy ({error}); install them with: apt-get install python3-torchaudio\n")
    sys.exit(3)


def main():
    if len(sys.argv) not in (3, 4, 5):
        sys.stderr.write(__doc__)
        return 2
    source, prefix = sys.argv[1], sys.argv[2]
    bins = int(sys.argv[3]) if len(sys.argv) > 3 else 80
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 16000.0
    samples = np.fromfile(source, dtype="<f4")
    for dtype, suffix, npdtype in ((torch.float32, "f32", "<f4"), (torch.float64, "f64", "<f8")):
        waveform = torch.from_numpy(samples.astype(npdtype)).unsqueeze(0).to(dtype)
        features = kaldi.fbank(waveform, num_mel_bins=bins, dither=0.0, sample_frequency=rate)
        np.save(f"{prefix}.{suffix}.npy", features.numpy().astype(npdtype))
    print(f"{source}: {samples.shape[0]} samples at {rate:g} Hz -> fbank {tuple(features.shape)} "
          f"(torchaudio {torchaudio.__version__}, torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

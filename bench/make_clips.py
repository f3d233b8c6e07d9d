#!/usr/bin/python3
"""Makes the 50 speech clips of the paper's test set shape (GeneFace++ on-device study, Table 3): real synthetic
speech from espeak-ng, 2.37 s to 10.73 s long, mean 4.64 s, 22.05 kHz mono 16-bit WAV.

Deterministic: the same espeak-ng/sox versions give byte-identical files. Voices, variants and rates rotate over
the clips; every clip is synthesised from enough text to be longer than its target and then cut to exactly its
target length (a whole number of samples) with a 20 ms fade-out, so no clip is padded with silence.

Usage: /usr/bin/python3 bench/make_clips.py OUT_DIR [COUNT]   (needs the Debian packages espeak-ng and sox; COUNT: only the first COUNT clips, for smoke runs)
Writes OUT_DIR/clip00.wav ... clip49.wav and OUT_DIR/clips.tsv (file, seconds, voice, rate, pitch).
"""
import os
import subprocess
import sys
import tempfile
import wave

COUNT = 50
MIN_S, MAX_S, MEAN_S = 2.37, 10.73, 4.64
RATE = 22050

# Our own sentences (no third-party text), chosen for varied phonemes.
SENTENCES = [
    "The morning train left the station a few minutes before the rain began to fall.",
    "Please check the numbers twice before you send the report to the whole team.",
    "A small boat drifted slowly along the river while children waved from the bridge.",
    "Our kitchen smells of fresh bread, roasted garlic and a little too much pepper.",
    "She measured the length of the table and decided it would never fit through the door.",
    "Bright yellow leaves covered the path that winds up the hill behind the old school.",
    "If the signal is weak, move closer to the window and try the call again.",
    "Seven quick foxes jumped over the fence as the farmer shouted from the barn.",
    "The museum opens at nine, but the best exhibits are quiet after lunch.",
    "He practised the piano every evening until the neighbours knew every single note.",
    "Thousands of tiny lights reflected on the water as the ferry approached the harbour.",
    "Remember to water the tomatoes, feed the cat and lock the back gate.",
    "A sudden gust of wind lifted the kite high above the crowded beach.",
    "The engineer explained why the bridge needs new cables before the winter storms.",
    "Every Thursday the market fills with cheese, honey, apples and hand made baskets.",
    "Sound travels faster through water than through air, which surprises many people.",
]

VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan"]
VARIANTS = ["", "+m3", "+f2", "+f4", "+m1"]
RATES = [130, 145, 160, 175, 190]
PITCHES = [40, 50, 60]


def durations():
    """50 durations in 10 ms steps: min 2.37, max 10.73, mean exactly 4.64 (sum 232.00), skewed short like speech
    corpora: d_i = min + (max - min) * (a * x + (1 - a) * x ** 8), x = i / 49, with a solved for the mean, rounded,
    the rounding error spread over the middle clips, then put in a fixed shuffled order."""
    span = MAX_S - MIN_S

    def shape(a, i):
        x = i / (COUNT - 1)
        return a * x + (1 - a) * x ** 8

    def mean_for(a):
        return sum(MIN_S + span * shape(a, i) for i in range(COUNT)) / COUNT

    lo, hi = 0.0, 1.0  # mean_for grows with a
    for _ in range(200):
        mid = (lo + hi) / 2
        if mean_for(mid) < MEAN_S:
            lo = mid
        else:
            hi = mid
    a = (lo + hi) / 2
    cs = [round(100 * (MIN_S + span * shape(a, i))) for i in range(COUNT)]
    cs[0], cs[-1] = round(100 * MIN_S), round(100 * MAX_S)
    error = round(100 * MEAN_S) * COUNT - sum(cs)
    step = 1 if error > 0 else -1
    i = COUNT // 4
    while error != 0:
        cs[i] += step
        error -= step
        i = i + 1 if i < 3 * COUNT // 4 else COUNT // 4
    cs.sort()
    # fixed permutation (multiplicative, 17 is coprime with 50) so lengths do not follow the voice rotation
    order = [cs[(17 * k) % COUNT] for k in range(COUNT)]
    assert min(order) == 237 and max(order) == 1073 and sum(order) == 23200, (min(order), max(order), sum(order))
    return [c / 100 for c in order]


def frames_of(path):
    with wave.open(path, "rb") as w:
        return w.getnframes(), w.getframerate()


def make(out_dir, count=None):
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, seconds in enumerate(durations()[:count]):
            voice = VOICES[i % len(VOICES)] + VARIANTS[(i // len(VOICES)) % len(VARIANTS)]
            rate = RATES[(i * 3) % len(RATES)]
            pitch = PITCHES[i % len(PITCHES)]
            target = round(seconds * RATE)
            raw = os.path.join(tmp, f"raw{i:02d}.wav")
            n_sentences = 1
            while True:
                text = " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(n_sentences))
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", raw, text],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                frames, sr = frames_of(raw)
                if frames * RATE >= target * sr:
                    break
                n_sentences += 1
                if n_sentences > 3 * len(SENTENCES):
                    raise RuntimeError(f"espeak-ng voice {voice} does not reach {seconds} s")
            out = os.path.join(out_dir, f"clip{i:02d}.wav")
            subprocess.run(["sox", "-D", raw, "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", out,
                            "trim", "0", f"{target}s", "fade", "t", "0", f"{target}s", "0.02"],
                           check=True, stderr=subprocess.PIPE)
            frames, sr = frames_of(out)
            if sr != RATE or frames != target:
                raise RuntimeError(f"{out}: {frames} frames at {sr} Hz, expected {target} at {RATE}")
            rows.append((os.path.basename(out), f"{frames / RATE:.4f}", voice, rate, pitch))
    with open(os.path.join(out_dir, "clips.tsv"), "w") as f:
        f.write("file\tseconds\tvoice\trate_wpm\tpitch\n")
        for r in rows:
            f.write("\t".join(str(x) for x in r) + "\n")
    secs = [float(r[1]) for r in rows]
    print(f"{len(rows)} clips in {out_dir}: min {min(secs):.2f} s, max {max(secs):.2f} s, "
          f"mean {sum(secs) / len(secs):.2f} s, total {sum(secs):.1f} s, {RATE} Hz mono 16-bit")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    make(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else None)

# Reference F0 for the C# PraatPitch tests (tests/TalkingFace.Tests/Features/PraatPitchTests.cs).
#
# Usage: praat --run tests/reference/f0.praat IN.wav OUT.txt
#
# Runs Praat's autocorrelation pitch analysis ("To Pitch (ac)") at GeneFace++'s settings: time step 0.02 s,
# pitch floor 80 Hz, 15 candidates, not very accurate, silence threshold 0.03, voicing threshold 0.6,
# octave cost 0.01, octave-jump cost 0.35, voiced/unvoiced cost 0.14, pitch ceiling 750 Hz, and writes one
# line per frame: frame time in seconds, TAB, F0 in Hz (0 for unvoiced frames), both with 17 significant digits.
# The first line is "frames N first T step DT". Needs Debian's praat (apt-get install praat).

form F0 reference
    sentence Input_file in.wav
    sentence Output_file out.txt
endform

sound = Read from file: input_file$
pitch = To Pitch (ac): 0.02, 80, 15, "no", 0.03, 0.6, 0.01, 0.35, 0.14, 750
frames = Get number of frames
first = Get time from frame number: 1
step = Get time step
deleteFile: output_file$
appendFileLine: output_file$, "frames ", frames, " first ", fixed$ (first, 17), " step ", fixed$ (step, 17)
for frame to frames
    time = Get time from frame number: frame
    f0 = Get value in frame: frame, "Hertz"
    if f0 = undefined
        f0 = 0
    endif
    appendFileLine: output_file$, fixed$ (time, 17), tab$, fixed$ (f0, 17)
endfor

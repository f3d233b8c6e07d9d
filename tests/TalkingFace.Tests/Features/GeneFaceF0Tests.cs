using TalkingFace.Tests.Audio;
using TalkingFace.Workers.Audio.Features;
using Xunit.Abstractions;

namespace TalkingFace.Tests.Features;

/// <summary>GeneFaceF0: GeneFace++'s padding and frame alignment around the Praat pitch.</summary>
public class GeneFaceF0Tests(ITestOutputHelper output)
{
    /// <summary>HuBERT / wav2vec2's conv front end: 400-sample receptive field, 320-sample stride.</summary>
    private static int HubertFrames(int samples) => samples < 400 ? 0 : (samples - 400) / 320 + 1;

    [Theory]
    [InlineData(0, 320)]
    [InlineData(1, 320)]
    [InlineData(319, 320)]
    [InlineData(320, 640)]
    [InlineData(189782, 190080)]
    public void Padding_is_to_the_next_whole_hop_plus_one(int samples, int padded) =>
        Assert.Equal(padded, GeneFaceF0.PaddedLength(samples));

    [Theory]
    [InlineData(0)]
    [InlineData(319)]
    [InlineData(320)]
    [InlineData(639)]
    [InlineData(640)]
    [InlineData(1000)]
    [InlineData(16000)]
    [InlineData(48_123)]
    [InlineData(189781)]
    [InlineData(189782)]
    public void Praat_gives_len_over_320_frames_on_the_padded_wave_from_20_ms(int samples)
    {
        var expected = samples / 320;
        Assert.Equal(expected, GeneFaceF0.TrackLength(samples));
        var track = PraatPitch.Compute(new float[GeneFaceF0.PaddedLength(samples)], 16000);
        Assert.Equal(expected, track.FrameCount);
        if (expected > 0) Assert.Equal(0.02, track.FirstTime, 9);
        // Never fewer Praat frames than HuBERT frames: nothing needs inventing in the normal case.
        Assert.True(track.FrameCount >= HubertFrames(samples));
    }

    [Fact]
    public async Task MacronSpeech_keeps_every_hubert_frame_and_matches_praat_on_the_padded_wave()
    {
        var samples = await FeatureReferences.MacronSpeech16k();
        var padded = new float[GeneFaceF0.PaddedLength(samples.Length)];
        samples.CopyTo(padded, 0);
        var praat = FeatureReferences.Praat(padded, 16000);
        var hubert = HubertFrames(samples.Length);

        var f0 = GeneFaceF0.Extract(samples, hubert);

        Assert.Equal((190080, 593, 0.02), (padded.Length, praat.F0.Length, Math.Round(praat.FirstTime, 9)));
        Assert.Equal((592, 592), (hubert, GeneFaceF0.MelLength(samples.Length)));
        Assert.Equal(hubert, f0.Length);
        var agreement = PraatPitchTests.Agreement.Measure(new PitchTrack(0.02, 0.02, f0), praat with
        {
            Times = praat.Times[..hubert],
            F0 = praat.F0[..hubert],
        });
        output.WriteLine($"GeneFaceF0 on MacronSpeech, {hubert} HuBERT frames vs Praat on the padded wave: {agreement}");
        agreement.AssertAtLeast(voicing: 0.97, medianCents: 10);

        // Index by index what GeneFace++ computes: the track cut to the mel length, then to the HuBERT length.
        var track = PraatPitch.Compute(padded, 16000).F0;
        Assert.Equal(GeneFaceLike(track, GeneFaceF0.MelLength(samples.Length), hubert), f0);
    }

    [Fact]
    public void More_frames_than_praat_has_repeat_the_last_value_and_fewer_cut_the_end()
    {
        var voice = PraatPitchTests.SyntheticVoice(16000, out _)[..24000];   // 1.5 s ending voiced
        var track = PraatPitch.Compute(voice.Concat(new float[GeneFaceF0.PaddedLength(voice.Length) - voice.Length]).ToArray(), 16000).F0;
        Assert.Equal(75, track.Length);

        var longer = GeneFaceF0.Extract(voice, 80);
        var shorter = GeneFaceF0.Extract(voice, 70);

        Assert.Equal(track, longer[..75]);
        Assert.All(longer[75..], v => Assert.Equal(track[^1], v));
        Assert.Equal(track[..70], shorter);
        Assert.Empty(GeneFaceF0.Extract(voice, 0));
    }

    [Theory]
    [InlineData(0, 3)]
    [InlineData(100, 1)]
    [InlineData(319, 4)]
    public void Audio_too_short_for_one_window_gives_unvoiced_frames(int samples, int frames)
    {
        var f0 = GeneFaceF0.Extract(SignalMath.Sine(200, 16000, samples), frames);

        Assert.Equal(frames, f0.Length);
        Assert.All(f0, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_steady_tone_is_found_in_every_interior_frame()
    {
        var tone = SignalMath.Sine(180, 16000, 16000, amplitude: 0.3);

        var f0 = GeneFaceF0.Extract(tone, HubertFrames(tone.Length));

        Assert.Equal(49, f0.Length);
        // Frame i is centred at (i + 1) * 20 ms of the padded wave; the last ones reach into the zero padding.
        Assert.All(f0[..47], v => Assert.InRange(v, 179.5f, 180.5f));
    }

    /// <summary>
    /// GeneFace++'s extract_f0_from_wav_and_mel followed by genefacepp_infer's alignment to the HuBERT length:
    /// pad with the last value or cut to the mel length, then cut or zero-pad to the HuBERT length.
    /// </summary>
    private static float[] GeneFaceLike(float[] track, int melLength, int hubertLength)
    {
        var mel = new float[melLength];
        for (var i = 0; i < melLength; i++) mel[i] = i < track.Length ? track[i] : track[^1];
        var result = new float[hubertLength];
        mel.AsSpan(0, Math.Min(melLength, hubertLength)).CopyTo(result);
        return result;
    }
}

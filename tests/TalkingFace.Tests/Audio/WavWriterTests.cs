using TalkingFace.Workers.Audio.Conversion;

namespace TalkingFace.Tests.Audio;

public class WavWriterTests
{
    [Fact]
    public async Task Float32_round_trips_bit_for_bit_with_a_fact_chunk()
    {
        float[] samples = [-1f, -0.333f, 0f, 1e-20f, 0.75f, 1.25f];
        using var file = new MemoryStream();

        WavWriter.WriteFloat32(file, samples, 16000);

        var bytes = file.ToArray();
        Assert.Equal(58 + 4 * samples.Length, bytes.Length);
        Assert.Equal("fact", System.Text.Encoding.ASCII.GetString(bytes, 38, 4));
        var audio = await WavReader.ReadAsync(new MemoryStream(bytes));
        Assert.Equal(samples, audio.InterleavedSamples);
        Assert.Equal((16000, 1, "wav float32"), (audio.SampleRate, audio.ChannelCount, audio.Format));
        Assert.Empty(audio.Warnings);
    }

    [Fact]
    public async Task Pcm16_rounds_and_clips()
    {
        float[] samples = [-2f, -1f, -0.5f, 100.4f / 32768, 0.999f, 1f, 3f];
        using var file = new MemoryStream();

        WavWriter.WritePcm16(file, samples, 22050);

        var audio = await WavReader.ReadAsync(new MemoryStream(file.ToArray()));
        Assert.Equal(new short[] { -32768, -32768, -16384, 100, 32735, 32767, 32767 }.Select(v => v / 32768f), audio.InterleavedSamples);
        Assert.Equal((22050, "wav pcm16"), (audio.SampleRate, audio.Format));
        Assert.Empty(audio.Warnings);
    }

    [Fact]
    public async Task Files_are_readable_by_sox()
    {
        var path = Path.Combine(Path.GetTempPath(), $"talkingface-writer-{Guid.NewGuid():N}.wav");
        try
        {
            await using (var file = File.Create(path)) WavWriter.WriteFloat32(file, SignalMath.Sine(440, 16000, 8000), 16000);
            var info = ExternalTool.Run("soxi", ["-D", path]) ?? throw new Xunit.Sdk.XunitException("sox is not installed: apt-get install sox");
            Assert.Equal("0.500000", info.Trim());
        }
        finally
        {
            File.Delete(path);
        }
    }
}

using System.Globalization;

namespace TalkingFace.Workers.Audio.Conversion;

/// <summary>Durations written for people: "10 h 0 min", "30 min", "2 min 5 s", "11.9 s".</summary>
internal static class DurationText
{
    public static string Format(TimeSpan duration)
    {
        if (duration >= TimeSpan.FromHours(1))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{(long)duration.TotalHours} h {duration.Minutes} min");
        }
        if (duration >= TimeSpan.FromMinutes(1))
        {
            return duration.Seconds == 0
                ? string.Create(CultureInfo.InvariantCulture, $"{(long)duration.TotalMinutes} min")
                : string.Create(CultureInfo.InvariantCulture, $"{(long)duration.TotalMinutes} min {duration.Seconds} s");
        }
        return string.Create(CultureInfo.InvariantCulture, $"{duration.TotalSeconds:0.###} s");
    }

    /// <summary>A byte or sample count with thousands separators, e.g. "1,000,000".</summary>
    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}

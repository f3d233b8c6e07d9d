using System.Text.Json;

namespace TalkingFace.Gateway.Pipeline;

/// <summary>Options of a talking-face job, validated at submit and stored with the job.</summary>
/// <param name="AudioSeconds">Length of the input audio when the gateway could read it at submit (WAV); the scheduler's unit of work.</param>
public sealed record TalkingFaceOptions(string FeatureModel, string MotionModel, int Seed, double Temperature, double? AudioSeconds = null)
{
    public static readonly IReadOnlyList<string> FeatureModels = ["hubert-large", "hubert-large-int8", "hubert-base", "fast-hubert", "fast-hubert-int8"];
}

/// <summary>Options of a hair job.</summary>
public sealed record HairOptions(string Mode, string? ShapeGalleryId, string? ColorGalleryId)
{
    public static readonly IReadOnlyList<string> Modes = ["shape", "color", "both"];
}

internal static class JobOptionsJson
{
    public static string Write<T>(T options) => JsonSerializer.Serialize(options, JsonSerializerOptions.Web);
    public static T Read<T>(string json) => JsonSerializer.Deserialize<T>(json, JsonSerializerOptions.Web)
        ?? throw new InvalidOperationException("job options are empty");
}

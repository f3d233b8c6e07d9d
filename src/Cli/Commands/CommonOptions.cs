using System.CommandLine;

namespace TalkingFace.Cli.Commands;

/// <summary>Options several commands share.</summary>
public static class CommonOptions
{
    public static Option<string> Server() => new("--server", "-s")
    {
        Description = "Gateway URL, e.g. http://127.0.0.1:5000 (or set TALKINGFACE_SERVER)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TALKINGFACE_SERVER") ?? "http://127.0.0.1:5000",
    };

    /// <summary>A client for the --server URL, or an error that says what is wrong with it.</summary>
    public static GatewayClient Client(ParseResult result, Option<string> server)
    {
        var text = result.GetValue(server);
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new IOException($"--server '{text}' is not an http(s) URL, e.g. http://127.0.0.1:5000");
        return GatewayClient.For(uri, new GatewayRetry { Log = result.InvocationConfiguration.Error });
    }

    public static Option<bool> Json() => new("--json") { Description = "Print JSON instead of text" };

    public static Argument<Guid> JobId() => new("job-id") { Description = "The job's id" };

    public static Option<string> FeatureModel() => new("--feature-model")
    {
        Description = "hubert-large | hubert-large-int8 | fast-hubert | fast-hubert-int8 (the motion model that reads it is picked for you)",
        DefaultValueFactory = _ => "hubert-large",
    };

    public static Option<int> Seed() => new("--seed") { Description = "Seed of the motion model's latent noise", DefaultValueFactory = _ => 0 };

    public static Option<double> Temperature() => new("--temperature") { Description = "Scale of the latent noise", DefaultValueFactory = _ => 0.2 };

    public static Dictionary<string, string?> TalkingFaceForm(ParseResult r, Option<string> featureModel, Option<int> seed, Option<double> temperature) => new()
    {
        ["featureModel"] = r.GetValue(featureModel),
        ["seed"] = r.GetValue(seed).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["temperature"] = r.GetValue(temperature).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Runs a command body, turning gateway and file errors into a message and exit code 1.</summary>
    public static async Task<int> Guard(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e) when (e is GatewayException or HttpRequestException or IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return 1;
        }
    }
}

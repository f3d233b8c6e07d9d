namespace TalkingFace.Tests.Infrastructure;

/// <summary>Where the repository and the read-only <c>../shared</c> folder (test data, test models) are.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The shared folder beside the checkout; CI always has it.</summary>
    public static string Shared { get; } = Path.GetFullPath(
        Environment.GetEnvironmentVariable("TALKINGFACE_SHARED") ?? Path.Combine(RepoRoot, "..", "shared"));

    public static string TestData(params string[] parts) =>
        RequireFile(Path.Combine([Shared, "testdata", .. parts]));

    public static string SharedModel(string name) => RequireFile(Path.Combine(Shared, "models", name));

    public static string MacronSpeech => TestData("audio", "MacronSpeech.wav");

    private static string RequireFile(string path) =>
        File.Exists(path) ? path : throw new FileNotFoundException(
            $"Test input '{path}' is missing: the shared folder must sit beside the checkout (or set TALKINGFACE_SHARED).", path);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TalkingFace.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Cannot find TalkingFace.sln above " + AppContext.BaseDirectory);
    }
}

using Microsoft.ML.OnnxRuntime;

namespace TalkingFace.Workers;

/// <summary>The ONNX Runtime execution providers this build can actually load.</summary>
public static class ExecutionProviders
{
    private static readonly Lazy<IReadOnlyList<string>> Lazy = new(() =>
    {
        try { return OrtEnv.Instance().GetAvailableProviders(); }
        catch (Exception) { return ["CPUExecutionProvider"]; }
    });

    public static IReadOnlyList<string> Available => Lazy.Value;
}

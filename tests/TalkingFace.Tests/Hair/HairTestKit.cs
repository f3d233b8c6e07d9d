using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenCvSharp;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers;
using TalkingFace.Workers.Hair;
using TalkingFace.Workers.Hair.Detection;
using TalkingFace.Workers.Hair.Imaging;

namespace TalkingFace.Tests.Hair;

/// <summary>The shared face photos, a model store holding the shared YOLOv8-face detector, and detector set-ups.</summary>
public static class HairTestKit
{
    public static string OneFace => TestPaths.TestData("faces", "one-face-a.jpg");
    public static string TwoFaces => TestPaths.TestData("faces", "two-faces.jpg");
    public static string Gorilla => TestPaths.TestData("faces", "no-human-face-rgba.png");

    public static Mat Load(string path) => ImageCodec.DecodeBgr(File.ReadAllBytes(path));

    /// <summary>
    /// Writes <c>face-detector/1/</c> into <paramref name="modelsRoot"/>: a copy of the shared yolov8-lite-t-face.onnx
    /// (outside the repository) and its manifest, as a user would install their own detector.
    /// </summary>
    public static void InstallYoloDetector(string modelsRoot)
    {
        var source = TestPaths.SharedModel("yolov8-lite-t-face.onnx");
        var folder = Path.Combine(modelsRoot, "face-detector", "1");
        Directory.CreateDirectory(folder);
        File.Copy(source, Path.Combine(folder, "model.onnx"), overwrite: true);
        var bytes = File.ReadAllBytes(source);
        var manifest = new
        {
            name = "face-detector",
            version = "1",
            task = "face-detection",
            architecture = "yolov8-lite-t-face",
            file = "model.onnx",
            sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)),
            sizeBytes = bytes.LongLength,
            precision = "fp32",
            demo = false,
            source = "../shared/models/yolov8-lite-t-face.onnx (test detector)",
            input = new { name = "images", kind = "image" },
            output = new { name = "output0" },
        };
        File.WriteAllText(Path.Combine(folder, "manifest.json"), JsonSerializer.Serialize(manifest));
    }

    /// <summary>A temporary model store with the YOLOv8-face detector; deleted with the returned handle.</summary>
    public static TempFolder YoloModelStore()
    {
        var folder = new TempFolder();
        InstallYoloDetector(folder.Path);
        return folder;
    }

    /// <summary>The hair stage's <see cref="FaceDetectors"/> as a worker builds them, from the given settings.</summary>
    public static (ServiceProvider Services, FaceDetectors Detectors) Detectors(string modelsRoot, string detector = "auto")
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Models:Root"] = modelsRoot,
            ["Hair:Detection:Detector"] = detector,
        });
        builder.Services.AddLogging();
        builder.Services.AddOptions<WorkerOptions>();
        builder.AddHairStage();
        var services = builder.Services.BuildServiceProvider();
        return (services, services.GetRequiredService<FaceDetectors>());
    }
}

/// <summary>A temporary folder deleted on dispose.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "talkingface-hair-" + Guid.NewGuid().ToString("N"));

    public TempFolder() => Directory.CreateDirectory(Path);

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}

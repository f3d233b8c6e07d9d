using OpenCvSharp;
using TalkingFace.Contracts;
using TalkingFace.Models;
using TalkingFace.Storage;
using TalkingFace.Workers.Hair.Alignment;
using TalkingFace.Workers.Hair.Detection;
using TalkingFace.Workers.Hair.Imaging;
using TalkingFace.Workers.Hair.Transfer;

namespace TalkingFace.Workers.Hair;

/// <summary>
/// The hair stage: the face photo is searched for exactly one human face (<c>detections.json</c> either way) and
/// uploaded references likewise; then the face is aligned FFHQ-style to the transfer's resolution
/// (<c>aligned.png</c>), uploaded references the same way, gallery references (pre-aligned) are only resized; the
/// transfer makes <c>result.png</c>, which is pasted back into the photo (<c>pasted.png</c>). Refusals come before
/// the transfer is touched. A transfer that is not configured (or not registered) fails the stage saying so.
/// </summary>
public sealed class HairStageRunner(FaceDetectors detectors, IHairTransfer? transfer = null) : IStageRunner<RunHairStage>
{
    public async Task<StageOutcome> RunAsync(RunHairStage command, StageRun run, CancellationToken ct)
    {
        if (!HairModes.All.Contains(command.Mode))
            throw new StageFailedException($"hair mode '{command.Mode}' is not one of {string.Join(", ", HairModes.All)}");
        var search = detectors.Get();

        using var photo = await ReadImageAsync(run, command.FaceKey, "face photo", ct);
        run.Report(0.05, Steps.FaceDetection);
        var found = run.Time(Steps.FaceDetection, () => Find(search, photo, "photo"));
        await run.SaveAsync(ArtifactNames.Detections, new MemoryStream(found.Report.ToJson()), "application/json", ct);
        if (found.Face is null) throw new StageFailedException(found.Report.Reason!);

        var wantsShape = command.Mode is HairModes.Shape or HairModes.Both;
        var wantsColor = command.Mode is HairModes.Color or HairModes.Both;
        using var shapeSource = wantsShape ? await ReferenceAsync(run, search, command.ShapeGalleryId, command.ShapeKey, "shape", ct) : null;
        using var colorSource = wantsColor ? await ReferenceAsync(run, search, command.ColorGalleryId, command.ColorKey, "color", ct) : null;

        if (transfer is null) throw new StageFailedException("hair transfer is not available in this build: no IHairTransfer is registered");
        int size;
        try
        {
            size = transfer.Resolution;
        }
        catch (ModelStoreException e)
        {
            throw new StageFailedException($"hair transfer is not available: {e.Message}");
        }
        using var aligned = run.Time(Steps.FaceAlignment, () => FfhqAlignment.Align(photo, found.Face.Keypoints, size));
        await SavePngAsync(run, ArtifactNames.AlignedFace, aligned.Image, ct);
        using var shape = shapeSource is null ? null : run.Time(Steps.FaceAlignment, () => shapeSource.AlignTo(size));
        using var color = colorSource is null ? null : run.Time(Steps.FaceAlignment, () => colorSource.AlignTo(size));
        run.Report(0.3, Steps.HairTransfer);

        var request = new HairTransferRequest(ImageCodec.ToRgb(aligned.Image),
            shape is null ? null : ImageCodec.ToRgb(shape), color is null ? null : ImageCodec.ToRgb(color), command.Mode);
        var result = await transfer.TransferAsync(request, ct);
        foreach (var step in result.Timings) run.Record(step.Step, step.Seconds);
        if (result.Image.Width != size || result.Image.Height != size)
            throw new InvalidOperationException($"the hair transfer returned {result.Image.Width}x{result.Image.Height}, expected {size}x{size}");
        run.Report(0.85, Steps.PasteBack);

        using var resultBgr = ImageCodec.FromRgb(result.Image);
        await SavePngAsync(run, ArtifactNames.HairResult, resultBgr, ct);
        using var pasted = run.Time(Steps.PasteBack, () =>
        {
            using var mask = PasteBack.Mask(result.HairMask, size);
            return PasteBack.Paste(photo, resultBgr, mask, aligned.Matrix);
        });
        await SavePngAsync(run, ArtifactNames.PastedPhoto, pasted, ct);
        run.Report(1);
        return new StageOutcome(result.Provider, result.Model);
    }

    /// <summary>A reference image before alignment: a pre-aligned gallery item, or an upload with its one face.</summary>
    private sealed class Reference(Mat image, DetectedFace? face) : IDisposable
    {
        public Mat AlignTo(int size)
        {
            if (face is null) return ImageCodec.ResizeSquare(image, size);
            using var aligned = FfhqAlignment.Align(image, face.Keypoints, size);
            return aligned.Image.Clone();
        }

        public void Dispose() => image.Dispose();
    }

    private static async Task<Reference> ReferenceAsync(StageRun run, FaceSearch search, string? galleryId, string? key, string kind, CancellationToken ct)
    {
        if (galleryId is not null)
        {
            if (!GalleryKeys.IsValidId(galleryId)) throw new StageFailedException($"gallery id '{galleryId}' is not valid");
            return new Reference(await ReadImageAsync(run, GalleryKeys.Image(galleryId), $"gallery {kind} reference '{galleryId}'", ct), null);
        }
        if (key is null) throw new StageFailedException($"this hair mode needs a {kind} reference: give a gallery id or upload an image");
        var upload = await ReadImageAsync(run, key, $"{kind} reference", ct);
        var found = run.Time(Steps.FaceDetection, () => Find(search, upload, $"{kind} reference"));
        if (found.Face is null)
        {
            upload.Dispose();
            throw new StageFailedException(found.Report.Reason!);
        }
        return new Reference(upload, found.Face);
    }

    /// <summary>The search, with a cascade the human-face check needs for a grey photo but is not installed as the job's reason.</summary>
    private static FaceSearchResult Find(FaceSearch search, Mat image, string what)
    {
        try
        {
            return search.Find(image, what);
        }
        catch (CascadeMissingException e)
        {
            throw new StageFailedException($"face detection is not available for the {what}: {e.Message}");
        }
    }

    private static async Task<Mat> ReadImageAsync(StageRun run, string key, string what, CancellationToken ct)
    {
        byte[] bytes;
        try
        {
            await using var stream = await run.OpenAsync(key, ct);
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, ct);
            bytes = buffer.ToArray();
        }
        catch (ArtifactNotFoundException)
        {
            throw new StageFailedException($"the {what} is not in the store ({key})");
        }
        try
        {
            return ImageCodec.DecodeBgr(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new StageFailedException($"the {what} cannot be used: {e.Message}");
        }
    }

    private static Task SavePngAsync(StageRun run, string name, Mat image, CancellationToken ct) =>
        run.SaveAsync(name, new MemoryStream(ImageCodec.EncodePng(image)), "image/png", ct);
}

using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OpenCvSharp;
using TalkingFace.Models;

namespace TalkingFace.Workers.Hair.Detection;

/// <summary>
/// Decodes a YOLOv8-face ONNX model (e.g. yolov8-lite-t-face) loaded from the model store.
/// Input: one RGB image letterboxed into the model's square input (scaled, zero padding right and bottom), /255.
/// Outputs: one [1, 64 + 1 + 15, H, W] map per stride (the stride is the input side / H: the names differ between
/// exports). Per cell: 4 sides x 16-bin distance distributions (softmax, expectation over 0..15, times the stride,
/// measured from the cell centre), one face logit (sigmoid), five keypoints as (x, y, visibility) with
/// x = (2v + column) * stride. NMS is not in the graph, so it is done here.
/// </summary>
public sealed class YoloFaceDetector : IFaceDetector
{
    private const int Bins = 16;
    private const int BoxChannels = 4 * Bins;
    private const int KeypointCount = 5;
    private const int Channels = BoxChannels + 1 + KeypointCount * 3;

    private readonly InferenceSession _session;
    private readonly string _inputName;
    private readonly int _inputSize;
    private readonly float _confidence;
    private readonly float _iou;

    public YoloFaceDetector(LoadedModel model, float confidence, float iou)
    {
        _session = model.Session;
        var input = _session.InputMetadata.First();
        _inputName = input.Key;
        var dims = input.Value.Dimensions;
        if (dims.Length != 4 || dims[1] != 3)
            throw new ModelStoreException($"{model.Manifest.Id}: expected an image input [1,3,H,W], the graph has {input.Key} [{string.Join(",", dims)}]");
        _inputSize = dims[2] > 0 ? dims[2] : 640;
        foreach (var (name, meta) in _session.OutputMetadata)
        {
            if (meta.Dimensions.Length != 4 || meta.Dimensions[1] != Channels)
                throw new ModelStoreException($"{model.Manifest.Id}: output {name} is [{string.Join(",", meta.Dimensions)}], a YOLOv8-face head has [1,{Channels},H,W]");
        }
        _confidence = confidence;
        _iou = iou;
        Name = $"yolov8-face ({model.Manifest.Id})";
        Provider = model.Provider;
    }

    public string Name { get; }
    public string Provider { get; }

    public IReadOnlyList<DetectedFace> Detect(Mat bgr)
    {
        var (tensor, scale) = Letterbox(bgr);
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(_inputName, tensor)]);
        var candidates = new List<DetectedFace>();
        foreach (var output in results)
        {
            var map = output.AsTensor<float>();
            var dims = map.Dimensions;
            int h = dims[2], w = dims[3];
            var stride = (float)_inputSize / h;
            var data = map is DenseTensor<float> dense ? dense.Buffer.Span : map.ToArray();
            Decode(data, h, w, stride, scale, candidates);
        }
        return Suppress(candidates, _iou);
    }

    private (DenseTensor<float> Tensor, float Scale) Letterbox(Mat bgr)
    {
        var scale = Math.Min((float)_inputSize / bgr.Width, (float)_inputSize / bgr.Height);
        var w = Math.Max(1, (int)Math.Round(bgr.Width * scale));
        var h = Math.Max(1, (int)Math.Round(bgr.Height * scale));
        using var resized = new Mat();
        Cv2.Resize(bgr, resized, new Size(w, h), 0, 0, scale < 1 ? InterpolationFlags.Area : InterpolationFlags.Linear);
        var tensor = new DenseTensor<float>([1, 3, _inputSize, _inputSize]); // zeros: the padding
        var plane = _inputSize * _inputSize;
        var buffer = tensor.Buffer.Span;
        var pixels = new byte[w * h * 3];
        using (var continuous = resized.Clone()) // a clone is continuous
            System.Runtime.InteropServices.Marshal.Copy(continuous.Data, pixels, 0, pixels.Length);
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var p = (y * w + x) * 3;
                var i = y * _inputSize + x;
                buffer[i] = pixels[p + 2] / 255f;             // R
                buffer[plane + i] = pixels[p + 1] / 255f;     // G
                buffer[2 * plane + i] = pixels[p] / 255f;     // B
            }
        }
        return (tensor, scale);
    }

    private void Decode(ReadOnlySpan<float> data, int h, int w, float stride, float scale, List<DetectedFace> into)
    {
        var plane = h * w;
        Span<float> distance = stackalloc float[4];
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var cell = y * w + x;
                var score = Sigmoid(data[BoxChannels * plane + cell]);
                if (score < _confidence) continue;
                for (var side = 0; side < 4; side++)
                {
                    var max = float.MinValue;
                    for (var b = 0; b < Bins; b++) max = Math.Max(max, data[(side * Bins + b) * plane + cell]);
                    float sum = 0, expectation = 0;
                    for (var b = 0; b < Bins; b++)
                    {
                        var e = MathF.Exp(data[(side * Bins + b) * plane + cell] - max);
                        sum += e;
                        expectation += e * b;
                    }
                    distance[side] = expectation / sum * stride;
                }
                var cx = (x + 0.5f) * stride;
                var cy = (y + 0.5f) * stride;
                var x1 = (cx - distance[0]) / scale;
                var y1 = (cy - distance[1]) / scale;
                var x2 = (cx + distance[2]) / scale;
                var y2 = (cy + distance[3]) / scale;
                var keypoints = new FacePoint[KeypointCount];
                for (var k = 0; k < KeypointCount; k++)
                {
                    var kx = data[(BoxChannels + 1 + k * 3) * plane + cell];
                    var ky = data[(BoxChannels + 2 + k * 3) * plane + cell];
                    keypoints[k] = new FacePoint((kx * 2 + x) * stride / scale, (ky * 2 + y) * stride / scale);
                }
                into.Add(new DetectedFace(new FaceBox(x1, y1, x2 - x1, y2 - y1), score, keypoints));
            }
        }
    }

    /// <summary>Greedy non-maximum suppression, best score first.</summary>
    internal static IReadOnlyList<DetectedFace> Suppress(List<DetectedFace> candidates, float iou)
    {
        var kept = new List<DetectedFace>();
        foreach (var c in candidates.OrderByDescending(c => c.Score))
        {
            if (kept.All(k => k.Box.IoU(c.Box) < iou)) kept.Add(c);
        }
        return kept;
    }

    private static float Sigmoid(float v) => 1f / (1f + MathF.Exp(-v));
}

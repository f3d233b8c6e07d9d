"""HairFastGAN's inference chain (AIRI-Institute/HairFastGAN, `hair_swap.py` and `models/`), rebuilt as five
export-friendly stages for the hair worker. Needs Debian's python3-torch (run with /usr/bin/python3).

The stages and what each reproduces of HairFastGAN (read from its sources; see tools/models/README.md, "Hair"):

  parsing    BiSeNet face parsing (`models/face_parsing/model.py`, zllrunning's 19-class net) on the image
             downsampled x2 (`BicubicDownSample(2)`) and ImageNet-normalised, argmax, relabelled to CelebA-Mask
             order (`swap_parsing_label_to_celeba_mask`, hair = 13), nearest-resized to R/4 (`get_segmentation`).
  embedding  `Embedding.embedding_images`: e4e (W+ from the image downsampled x4) and the FS encoder
             (`FeatureEncoderMult`: S latents + a content map at 16x16) -> F = generator layer 3 at 32x32 from the
             content; with more than one distinct image, F is mixed towards the F of W+ inside the hair mask
             (`F + mixing * hair32 * (F_W - F)`, mixing 0.95).
  shape      `Alignment.shape_module` + `align_images`: a shape adaptor turns (face parsing, shape-reference
             parsing) into the target parsing (hair = 13), then F is aligned with HairFastGAN's dilate/erode masks.
  blend      `Blending.blend_images` up to the blended latents: hair masks dilated/eroded, a CLIP-ViT image embedding
             of the masked face and of the colour reference's hair, five modulation modules -> S[:, 6:].
  synthesis  the StyleGAN2 generator from layer 4 on (`start_layer=4, layer_in=F`) with the blended S.

Export rewrites (the numbers are the same, checked by build_hair.verify):
  * StyleGAN2's modulated conv as modulate (x * s) -> conv (shared weight) -> demodulate (out * d), instead of a
    per-sample weight and a grouped conv;
  * upfirdn2d as zero insertion + padding + a depthwise conv (rosinality's `upfirdn2d_native`, equal);
  * adaptive average pools whose sizes do not divide (FS encoder 3x3 heads, CLIP's 256 -> 224 face pool) as fixed
    averaging windows written as two constant matrices (exactly PyTorch's window rule);
  * every noise of the generator is an explicit input, so a run is deterministic.

Simplifications, all named in the manifest (`config.simplified`): the rotation of the shape reference (RotateModel
+ a full generator pass + parsing), SEAN inpainting and the e4e re-encoding of the inpainted images are not part of
the shape stage (the aligned F blends the face's and the reference's own F); the post-process model after blending
(`PostProcessModel`, a second generator pass from layer 5) is not built; e4e, the FS encoder and the shape adaptor are
narrower in the demo; in `--full` the generator, BiSeNet, e4e (IR-SE-50), the FS encoder trunk (iresnet50) and CLIP
ViT-B/32 have their published sizes, the shape adaptor stays a small stand-in.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

STAGES = ("parsing", "embedding", "shape", "blend", "synthesis")
HAIR_LABEL = 13  # CelebA-Mask-HQ order (HairFastGAN's PARSING_LABEL_LIST)
NUM_CLASSES = 19
# BiSeNet (zllrunning face-parsing) label order -> CelebA-Mask order, HairFastGAN's swap_parsing_label_to_celeba_mask
BISENET_LABELS = ['background', 'skin_other', 'l_brow', 'r_brow', 'l_eye', 'r_eye', 'eye_g', 'l_ear', 'r_ear', 'ear_r',
                  'nose', 'mouth', 'u_lip', 'l_lip', 'neck', 'neck_l', 'cloth', 'hair', 'hat']
CELEBA_LABELS = ['background', 'skin_other', 'nose', 'eye_g', 'l_eye', 'r_eye', 'l_brow', 'r_brow', 'l_ear', 'r_ear',
                 'mouth', 'u_lip', 'l_lip', 'hair', 'hat', 'ear_r', 'neck_l', 'neck', 'cloth']
BISENET_TO_CELEBA = [CELEBA_LABELS.index(name) for name in BISENET_LABELS]


def _rosinality_channels(cm):
    return {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm, 1024: 16 * cm}


# size -> hyper-parameters. "full": HairFastGAN's published sizes where this module builds the published network.
CONFIGS = {
    "full": {
        "size": 1024, "style_dim": 512, "channels": _rosinality_channels(2),
        "encoder_size": 256,            # e4e / FS encoder input (HairFastGAN: im_256, transform_to_256)
        "parsing_size": 512,            # BiSeNet input (downsample_512)
        "mask_size": 256,               # get_segmentation resizes to 256
        "bisenet_width": 1,             # 1 = published widths (64..512)
        "ir_blocks": [(64, 3), (128, 4), (256, 14), (512, 3)],  # e4e's IR-SE-50 body
        "fs_blocks": [(64, 3), (128, 4), (256, 14), (512, 3)],  # the FS encoder's iresnet50 trunk
        "adaptor_width": 64, "adaptor_code": 256,
        "clip": {"width": 768, "layers": 12, "heads": 12, "patch": 32, "output_dim": 512},
        "blend_middle": 1024, "smooth": 5, "mixing": 0.95,
    },
    "demo": {
        "size": 128, "style_dim": 32,
        "channels": {4: 32, 8: 32, 16: 32, 32: 32, 64: 16, 128: 16},
        "encoder_size": 64, "parsing_size": 64, "mask_size": 32,
        "bisenet_width": 8,             # every BiSeNet width divided by 8
        "ir_blocks": [(8, 1), (16, 1), (32, 1), (32, 1)],
        "fs_blocks": [(8, 1), (16, 1), (32, 1), (32, 1)],
        "adaptor_width": 8, "adaptor_code": 16,
        "clip": {"width": 32, "layers": 1, "heads": 2, "patch": 4, "output_dim": 32},
        "blend_middle": 32, "smooth": 1, "mixing": 0.95,
    },
}
F_SIZE = 32          # HairFastGAN's F space: generator output after layer 3 (32x32)
F_LAYER = 3
BLEND_FROM = 6       # Blending keeps S[:, :6] of the face and blends S[:, 6:]


def derived(cfg):
    size = cfg["size"]
    log_size = int(math.log2(size))
    assert 2 ** log_size == size and size >= 64, "size must be a power of two >= 64"
    num_layers = (log_size - 2) * 2 + 1
    n_latent = log_size * 2 - 2
    # noise_i: [1, 1, r, r], r = 2 ** ((i + 5) // 2) (rosinality's Generator)
    noise_sizes = [2 ** ((i + 5) // 2) for i in range(num_layers)]
    return {"log_size": log_size, "num_layers": num_layers, "n_latent": n_latent, "noise_sizes": noise_sizes,
            "f_channels": cfg["channels"][F_SIZE], "embed_noises": list(range(0, 2 * F_LAYER + 1)),
            "synthesis_noises": list(range(2 * F_LAYER + 1, num_layers))}


# ================================================================================================ StyleGAN2 (rosinality)
def make_kernel(k):
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x, kernel, up=1, pad=(0, 0)):
    """rosinality's upfirdn2d_native for down = 1 and square padding: zero insertion, pad, FIR (depthwise conv)."""
    b, c, h, w = x.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(b, c, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    # the FIR per channel: channels folded into the batch, one [1, 1, kh, kw] kernel (flipped, as upfirdn2d convolves)
    hp, wp = x.shape[2], x.shape[3]
    k = torch.flip(kernel, [0, 1]).reshape(1, 1, kernel.shape[0], kernel.shape[1])
    out = F.conv2d(x.reshape(b * c, 1, hp, wp), k)
    return out.reshape(b, c, out.shape[2], out.shape[3])


class Upsample(nn.Module):
    def __init__(self, kernel, factor=2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(kernel) * (factor ** 2))
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class Blur(nn.Module):
    def __init__(self, kernel, pad, upsample_factor=1):
        super().__init__()
        k = make_kernel(kernel)
        if upsample_factor > 1:
            k = k * (upsample_factor ** 2)
        self.register_buffer("kernel", k)
        self.pad = pad

    def forward(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, bias_init=0.0, lr_mul=1.0, activation=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_dim).fill_(bias_init)) if bias else None
        self.activation = activation
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x):
        if self.activation:
            out = F.linear(x, self.weight * self.scale)
            return F.leaky_relu(out + self.bias * self.lr_mul, 0.2) * math.sqrt(2)
        return F.linear(x, self.weight * self.scale, bias=self.bias * self.lr_mul if self.bias is not None else None)


class ModulatedConv2d(nn.Module):
    """Parameters as rosinality's (weight [1, out, in, k, k], modulation EqualLinear(style, in, bias_init=1)); forward
    rewritten as modulate -> conv -> demodulate: conv(x * s, scale * W) * rsqrt((s^2) (scale^2 sum_k W^2)^T + 1e-8),
    which equals the per-sample weight scale * W * s demodulated over (in, k, k)."""

    def __init__(self, in_channel, out_channel, kernel_size, style_dim, demodulate=True, upsample=False,
                 blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.kernel_size = kernel_size
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.upsample = upsample
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(list(blur_kernel), pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)
        self.demodulate = demodulate

    def forward(self, x, style):
        s = self.modulation(style)                      # [B, in]
        w = self.weight[0] * self.scale                 # [out, in, k, k]
        x = x * s.unsqueeze(-1).unsqueeze(-1)
        if self.upsample:
            out = F.conv_transpose2d(x, w.transpose(0, 1), stride=2, padding=0)
            out = self.blur(out)
        else:
            out = F.conv2d(x, w, padding=self.padding)
        if self.demodulate:
            d = torch.rsqrt(torch.matmul(s * s, w.pow(2).sum([2, 3]).t()) + 1e-8)   # [B, out]
            out = out * d.unsqueeze(-1).unsqueeze(-1)
        return out

    def forward_reference(self, x, style):
        """rosinality's original (per-sample weights, grouped conv), for the equivalence check only."""
        batch, in_channel, height, width = x.shape
        style = self.modulation(style).view(batch, 1, in_channel, 1, 1)
        weight = self.scale * self.weight * style
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(batch, self.out_channel, 1, 1, 1)
        weight = weight.view(batch * self.out_channel, in_channel, self.kernel_size, self.kernel_size)
        if self.upsample:
            x = x.view(1, batch * in_channel, height, width)
            weight = weight.view(batch, self.out_channel, in_channel, self.kernel_size, self.kernel_size)
            weight = weight.transpose(1, 2).reshape(batch * in_channel, self.out_channel, self.kernel_size,
                                                    self.kernel_size)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=batch)
            out = out.view(batch, self.out_channel, out.shape[2], out.shape[3])
            return self.blur(out)
        x = x.view(1, batch * in_channel, height, width)
        out = F.conv2d(x, weight, padding=self.padding, groups=batch)
        return out.view(batch, self.out_channel, out.shape[2], out.shape[3])


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, image, noise):
        return image + self.weight * noise


class FusedLeakyReLU(nn.Module):
    def __init__(self, channel):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel))

    def forward(self, x):
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), 0.2) * math.sqrt(2)


class StyledConv(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, upsample=False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x, style, noise):
        return self.activate(self.noise(self.conv(x, style), noise))


class ToRGB(nn.Module):
    def __init__(self, in_channel, style_dim, upsample=True):
        super().__init__()
        if upsample:
            self.upsample = Upsample([1, 3, 3, 1])
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConstantInput(nn.Module):
    def __init__(self, channel, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, batch):
        return self.input.repeat(batch, 1, 1, 1)


class Generator(nn.Module):
    """rosinality's StyleGAN2 synthesis network with HairFastGAN's start_layer / end_layer / layer_in run, state-dict
    compatible with `g_ema` minus the mapping network (`style.*`, not needed from W+) and the stored noises."""

    def __init__(self, size, style_dim, channels):
        super().__init__()
        self.size = size
        self.style_dim = style_dim
        self.channels = dict(channels)
        self.input = ConstantInput(channels[4])
        self.conv1 = StyledConv(channels[4], channels[4], 3, style_dim)
        self.to_rgb1 = ToRGB(channels[4], style_dim, upsample=False)
        self.log_size = int(math.log2(size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_channel = channels[4]
        for i in range(3, self.log_size + 1):
            out_channel = channels[2 ** i]
            self.convs.append(StyledConv(in_channel, out_channel, 3, style_dim, upsample=True))
            self.convs.append(StyledConv(out_channel, out_channel, 3, style_dim))
            self.to_rgbs.append(ToRGB(out_channel, style_dim))
            in_channel = out_channel
        self.n_latent = self.log_size * 2 - 2

    def run(self, latent, noise, start_layer=0, end_layer=None, layer_in=None):
        """HairFastGAN's Generator.forward for W+ input (input_is_latent, one style): returns (out, skip); `noise` is
        a list indexed like rosinality's noises (entries a stage does not use may be None)."""
        end_layer = self.log_size - 2 if end_layer is None else end_layer
        out, skip = None, None
        if start_layer == 0:
            out = self.conv1(self.input(latent.shape[0]), latent[:, 0], noise[0])
            skip = self.to_rgb1(out, latent[:, 1])
        if end_layer == 0:
            return out, skip
        i = 1
        for layer, (conv1, conv2, to_rgb) in enumerate(zip(self.convs[::2], self.convs[1::2], self.to_rgbs), start=1):
            if layer < start_layer:
                pass
            elif layer > end_layer:
                return out, skip
            else:
                x = layer_in if layer == start_layer and start_layer > 0 else out
                out = conv1(x, latent[:, i], noise[2 * layer - 1])
                out = conv2(out, latent[:, i + 1], noise[2 * layer])
                skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip, None   # ran to the last layer: the image (HairFastGAN's `image = skip`)


# ================================================================================================ image helpers
class BicubicDownSample(nn.Module):
    """HairFastGAN's utils/bicubic.py BicubicDownSample (a = -0.5, kernel 4 * factor, reflect padding, separable)."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor
        size = factor * 4

        def kern(x, a=-0.5):
            ax = abs(x)
            if ax <= 1.0:
                return (a + 2.0) * ax ** 3 - (a + 3.0) * ax ** 2 + 1
            if 1.0 < ax < 2.0:
                return a * ax ** 3 - 5.0 * a * ax ** 2 + 8.0 * a * ax - 4.0 * a
            return 0.0
        k = torch.tensor([kern((i - math.floor(size / 2) + 0.5) / factor) for i in range(size)], dtype=torch.float32)
        k = k / k.sum()
        self.register_buffer("k1", k.reshape(1, 1, size, 1).repeat(3, 1, 1, 1))
        self.register_buffer("k2", k.reshape(1, 1, 1, size).repeat(3, 1, 1, 1))

    def forward(self, x):
        if self.factor == 1:
            return x
        f = self.factor * 4
        pad = max(f - self.factor, 0)
        top, bottom = pad // 2, pad - pad // 2
        x = F.pad(x, (0, 0, top, bottom), "reflect")
        x = F.conv2d(x, self.k1, stride=(self.factor, 1), groups=3)
        x = F.pad(x, (top, bottom, 0, 0), "reflect")
        return F.conv2d(x, self.k2, stride=(1, self.factor), groups=3)


def adaptive_pool_matrix(n_in, n_out):
    """PyTorch's adaptive average pool windows [floor(i n/m), ceil((i+1) n/m)) as a fixed [n_out, n_in] matrix."""
    m = torch.zeros(n_out, n_in)
    for i in range(n_out):
        start = (i * n_in) // n_out
        end = -((-(i + 1) * n_in) // n_out)
        m[i, start:end] = 1.0 / (end - start)
    return m


class FixedAdaptiveAvgPool(nn.Module):
    """nn.AdaptiveAvgPool2d((out, out)) for a known input size, as P x P^T with constant windows (exported as MatMul)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.register_buffer("p", adaptive_pool_matrix(n_in, n_out))

    def forward(self, x):
        return torch.matmul(torch.matmul(self.p, x), self.p.t())


def normalize(x, mean, std):
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - m) / s


def to_minus1_1(x):
    return (x - 0.5) / 0.5


def dilate_erode(mask, iterations):
    """HairFastGAN's DilateErosion.mask: `iterations` passes of a 3x3 cross, dilate = any, erode = all (zero padding)."""
    w = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    d, e = mask, mask
    for _ in range(iterations):
        d = (F.conv2d(d, w, padding=1) > 0).float()
        e = (F.conv2d(e, w, padding=1) == 5.0).float()
    return d, e


# ================================================================================================ BiSeNet (zllrunning)
class ConvBNReLU(nn.Module):
    def __init__(self, in_chan, out_chan, ks=3, stride=1, padding=1):
        super().__init__()
        self.conv = nn.Conv2d(in_chan, out_chan, kernel_size=ks, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_chan)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class BasicBlock(nn.Module):
    def __init__(self, in_chan, out_chan, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_chan, out_chan, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_chan)
        self.conv2 = nn.Conv2d(out_chan, out_chan, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_chan)
        self.downsample = None
        if in_chan != out_chan or stride != 1:
            self.downsample = nn.Sequential(nn.Conv2d(in_chan, out_chan, 1, stride, bias=False), nn.BatchNorm2d(out_chan))

    def forward(self, x):
        r = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu((x if self.downsample is None else self.downsample(x)) + r)


class Resnet18(nn.Module):
    def __init__(self, w):
        super().__init__()
        c = [64 // w, 128 // w, 256 // w, 512 // w]
        self.conv1 = nn.Conv2d(3, c[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(c[0])
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(c[0], c[0]), BasicBlock(c[0], c[0]))
        self.layer2 = nn.Sequential(BasicBlock(c[0], c[1], 2), BasicBlock(c[1], c[1]))
        self.layer3 = nn.Sequential(BasicBlock(c[1], c[2], 2), BasicBlock(c[2], c[2]))
        self.layer4 = nn.Sequential(BasicBlock(c[2], c[3], 2), BasicBlock(c[3], c[3]))

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        feat8 = self.layer2(self.layer1(x))
        feat16 = self.layer3(feat8)
        return feat8, feat16, self.layer4(feat16)


class AttentionRefinementModule(nn.Module):
    def __init__(self, in_chan, out_chan):
        super().__init__()
        self.conv = ConvBNReLU(in_chan, out_chan)
        self.conv_atten = nn.Conv2d(out_chan, out_chan, 1, bias=False)
        self.bn_atten = nn.BatchNorm2d(out_chan)

    def forward(self, x):
        feat = self.conv(x)
        atten = torch.sigmoid(self.bn_atten(self.conv_atten(feat.mean([2, 3], keepdim=True))))
        return feat * atten


class ContextPath(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.resnet = Resnet18(w)
        self.arm16 = AttentionRefinementModule(256 // w, 128 // w)
        self.arm32 = AttentionRefinementModule(512 // w, 128 // w)
        self.conv_head32 = ConvBNReLU(128 // w, 128 // w)
        self.conv_head16 = ConvBNReLU(128 // w, 128 // w)
        self.conv_avg = ConvBNReLU(512 // w, 128 // w, ks=1, padding=0)

    def forward(self, x):
        feat8, feat16, feat32 = self.resnet(x)
        avg = self.conv_avg(feat32.mean([2, 3], keepdim=True))   # avg_pool2d over the whole map, then nearest back
        feat32_sum = self.arm32(feat32) + avg
        feat32_up = self.conv_head32(F.interpolate(feat32_sum, size=feat16.shape[2:], mode="nearest"))
        feat16_sum = self.arm16(feat16) + feat32_up
        feat16_up = self.conv_head16(F.interpolate(feat16_sum, size=feat8.shape[2:], mode="nearest"))
        return feat8, feat16_up, feat32_up


class FeatureFusionModule(nn.Module):
    def __init__(self, in_chan, out_chan):
        super().__init__()
        self.convblk = ConvBNReLU(in_chan, out_chan, ks=1, padding=0)
        self.conv1 = nn.Conv2d(out_chan, out_chan // 4, 1, bias=False)
        self.conv2 = nn.Conv2d(out_chan // 4, out_chan, 1, bias=False)

    def forward(self, fsp, fcp):
        feat = self.convblk(torch.cat([fsp, fcp], dim=1))
        atten = torch.sigmoid(self.conv2(F.relu(self.conv1(feat.mean([2, 3], keepdim=True)))))
        return feat * atten + feat


class BiSeNetOutput(nn.Module):
    def __init__(self, in_chan, mid_chan, n_classes):
        super().__init__()
        self.conv = ConvBNReLU(in_chan, mid_chan)
        self.conv_out = nn.Conv2d(mid_chan, n_classes, 1, bias=False)

    def forward(self, x):
        return self.conv_out(self.conv(x))


class BiSeNet(nn.Module):
    """zllrunning's face-parsing BiSeNet (the spatial path deleted, res3b1 in its place), keys as its 79999_iter.pth.
    Only the main output is used at inference (HairFastGAN takes `bise_net(img)[0]`), so the two auxiliary heads
    (conv_out16 / conv_out32) are built for state-dict compatibility and left out of the graph."""

    def __init__(self, w=1, n_classes=NUM_CLASSES):
        super().__init__()
        self.cp = ContextPath(w)
        self.ffm = FeatureFusionModule(256 // w, 256 // w)
        self.conv_out = BiSeNetOutput(256 // w, 256 // w, n_classes)
        self.conv_out16 = BiSeNetOutput(128 // w, 64 // w, n_classes)
        self.conv_out32 = BiSeNetOutput(128 // w, 64 // w, n_classes)

    def forward(self, x):
        feat_res8, feat_cp8, _ = self.cp(x)
        out = self.conv_out(self.ffm(feat_res8, feat_cp8))
        return F.interpolate(out, size=x.shape[2:], mode="bilinear", align_corners=True)


# ================================================================================================ encoders
class SEModule(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, max(channels // reduction, 1), 1, bias=False)
        self.fc2 = nn.Conv2d(max(channels // reduction, 1), channels, 1, bias=False)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean([2, 3], keepdim=True)))))


class BottleneckIRSE(nn.Module):
    """e4e's bottleneck_IR_SE unit (keys shortcut_layer / res_layer as in e4e's model_irse.py)."""

    def __init__(self, in_channel, depth, stride):
        super().__init__()
        if in_channel == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(in_channel, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_channel), nn.Conv2d(in_channel, depth, 3, 1, 1, bias=False), nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False), nn.BatchNorm2d(depth), SEModule(depth))

    def forward(self, x):
        return self.shortcut_layer(x) + self.res_layer(x)


class GradualStyleBlock(nn.Module):
    def __init__(self, in_c, out_c, spatial):
        super().__init__()
        self.out_c = out_c
        pools = int(math.log2(spatial))
        mods = [nn.Conv2d(in_c, out_c, 3, 2, 1), nn.LeakyReLU()]
        for _ in range(pools - 1):
            mods += [nn.Conv2d(out_c, out_c, 3, 2, 1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*mods)
        self.linear = EqualLinear(out_c, out_c, lr_mul=1)

    def forward(self, x):
        return self.linear(self.convs(x).reshape(-1, self.out_c))


class Encoder4Editing(nn.Module):
    """e4e's Encoder4Editing at inference (all progressive stages on): IR-SE body, FPN (c3, p2, p1), one
    GradualStyleBlock per W+ latent, w = w0 + delta_i, + latent_avg (start_from_latent_avg)."""

    def __init__(self, n_styles, style_dim, blocks, input_size):
        super().__init__()
        c0 = blocks[0][0]
        self.input_layer = nn.Sequential(nn.Conv2d(3, c0, 3, 1, 1, bias=False), nn.BatchNorm2d(c0), nn.PReLU(c0))
        units, in_c = [], c0
        self.stage_ends = []
        for depth, count in blocks:
            for u in range(count):
                units.append(BottleneckIRSE(in_c, depth, 2 if u == 0 else 1))
                in_c = depth
            self.stage_ends.append(len(units) - 1)
        self.body = nn.Sequential(*units)
        self.n_styles = n_styles
        self.coarse_ind, self.middle_ind = 3, 7
        top = blocks[-1][0]
        self.styles = nn.ModuleList()
        for i in range(n_styles):
            spatial = input_size // 16 if i < self.coarse_ind else input_size // 8 if i < self.middle_ind else input_size // 4
            self.styles.append(GradualStyleBlock(top, style_dim, spatial))
        self.latlayer1 = nn.Conv2d(blocks[2][0], top, 1)
        self.latlayer2 = nn.Conv2d(blocks[1][0], top, 1)
        self.register_buffer("latent_avg", torch.zeros(style_dim))

    def forward(self, x):
        x = self.input_layer(x)
        c1 = c2 = c3 = None
        for idx, unit in enumerate(self.body):
            x = unit(x)
            if idx == self.stage_ends[1]:
                c1 = x
            elif idx == self.stage_ends[2]:
                c2 = x
            elif idx == self.stage_ends[3]:
                c3 = x
        w0 = self.styles[0](c3)
        p2 = F.interpolate(c3, size=c2.shape[2:], mode="bilinear", align_corners=True) + self.latlayer1(c2)
        p1 = F.interpolate(p2, size=c1.shape[2:], mode="bilinear", align_corners=True) + self.latlayer2(c1)
        ws = [w0]
        for i in range(1, self.n_styles):
            feats = c3 if i < self.coarse_ind else p2 if i < self.middle_ind else p1
            ws.append(w0 + self.styles[i](feats))
        return torch.stack(ws, dim=1) + self.latent_avg.view(1, 1, -1)


class IBasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class FeatureEncoderMult(nn.Module):
    """HairFastGAN's FS encoder (models/Net.py FeatureEncoderMult, fs_layers (5,)): an iresnet trunk, 3x3 average
    pools of the four stages -> one Linear per S latent; a content branch (BN, conv, BN, PReLU, stride-2 conv, BN)
    from the stage whose output is 32x32 -> the 16x16 map the generator's layer 3 upsamples to F."""

    def __init__(self, n_styles, style_dim, blocks, input_size, f_channels):
        super().__init__()
        c0 = blocks[0][0]
        self.conv = nn.Sequential(nn.Conv2d(3, c0, 3, 1, 1, bias=False), nn.BatchNorm2d(c0), nn.PReLU(c0))
        layers, inplanes, size = [], c0, input_size
        self.sizes = []
        for planes, count in blocks:
            mods = [IBasicBlock(inplanes, planes, 2)] + [IBasicBlock(planes, planes) for _ in range(count - 1)]
            layers.append(nn.Sequential(*mods))
            inplanes, size = planes, size // 2
            self.sizes.append(size)
        self.block_1, self.block_2, self.block_3, self.block_4 = layers
        self.content_from = self.sizes.index(2 * (F_SIZE // 2))   # the stage at 32x32
        cin = blocks[self.content_from][0]
        self.content_layer = nn.Sequential(
            nn.BatchNorm2d(cin), nn.Conv2d(cin, f_channels, 3, 1, 1, bias=False), nn.BatchNorm2d(f_channels),
            nn.PReLU(f_channels), nn.Conv2d(f_channels, f_channels, 3, 2, 1, bias=False), nn.BatchNorm2d(f_channels))
        self.pools = nn.ModuleList([FixedAdaptiveAvgPool(s, 3) for s in self.sizes])
        total = sum(b[0] for b in blocks) * 9
        self.styles = nn.ModuleList([nn.Linear(total, style_dim) for _ in range(n_styles)])

    def forward(self, x):
        x = self.conv(x)
        features, content = [], None
        for idx, block in enumerate((self.block_1, self.block_2, self.block_3, self.block_4)):
            x = block(x)
            if idx == self.content_from:
                content = self.content_layer(x)
            features.append(self.pools[idx](x))
        flat = torch.cat(features, dim=1).reshape(x.shape[0], -1)
        return torch.stack([s(flat) for s in self.styles], dim=1), content


# ================================================================================================ shape adaptor
class ShapeAdaptor(nn.Module):
    """Stand-in for CtrlHair's shape branch as HairFastGAN calls it (get_hair_face_code on both parsings, get_new_shape
    from the face's face code and the reference's hair code): one-hot parsings -> a face encoder (hair channel removed)
    and a hair encoder (hair channel only) -> decoder -> 19-class target parsing at the mask size."""

    def __init__(self, mask_size, width, code):
        super().__init__()
        self.down = int(math.log2(mask_size)) - 2   # encode down to 4x4

        def encoder(cin):
            mods, c = [], cin
            for i in range(self.down):
                out = min(width * 2 ** i, code)
                mods += [nn.Conv2d(c, out, 4, 2, 1), nn.LeakyReLU(0.2)]
                c = out
            mods += [nn.Conv2d(c, code, 3, 1, 1)]
            return nn.Sequential(*mods)
        self.face_encoder = encoder(NUM_CLASSES)
        self.hair_encoder = encoder(1)
        dec, c = [nn.Conv2d(2 * code, code, 3, 1, 1), nn.LeakyReLU(0.2)], code
        for i in reversed(range(self.down)):
            out = min(width * 2 ** i, code)
            dec += [nn.ConvTranspose2d(c, out, 4, 2, 1), nn.LeakyReLU(0.2)]
            c = out
        dec += [nn.Conv2d(c, NUM_CLASSES, 3, 1, 1)]
        self.decoder = nn.Sequential(*dec)

    def forward(self, face_onehot, ref_hair):
        face_only = torch.cat([face_onehot[:, :HAIR_LABEL], torch.zeros_like(face_onehot[:, HAIR_LABEL:HAIR_LABEL + 1]),
                               face_onehot[:, HAIR_LABEL + 1:]], dim=1)
        code = torch.cat([self.face_encoder(face_only), self.hair_encoder(ref_hair)], dim=1)
        return self.decoder(code)


# ================================================================================================ CLIP ViT + blending
class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model, n_head):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(d_model, d_model * 4))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(d_model * 4, d_model))
        self.ln_2 = nn.LayerNorm(d_model)

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    """OpenAI CLIP's VisionTransformer (keys as `visual.*` of ViT-B/32), encode_image only."""

    def __init__(self, input_resolution, patch_size, width, layers, heads, output_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch_size, patch_size, bias=False)
        scale = width ** -0.5
        grid = input_resolution // patch_size
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.view(1, 1, -1).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.ln_pre(x).permute(1, 0, 2)
        x = self.transformer(x).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 1e-8)


class ModulationModule(nn.Module):
    """HairFastGAN's models/Encoders.py ModulationModule (LayerNorm over [layernum, dim])."""

    def __init__(self, layernum, dim, last=False, inp=None, middle=None):
        super().__init__()
        inp, middle = inp or dim, middle or dim
        self.last = last
        self.fc = nn.Linear(dim, dim)
        self.norm_shape = (layernum, dim)   # LayerNorm([layernum, dim], elementwise_affine=False): no parameters
        self.gamma_function = nn.Sequential(nn.Linear(inp, middle), nn.LayerNorm([middle]), nn.LeakyReLU(), nn.Linear(middle, dim))
        self.beta_function = nn.Sequential(nn.Linear(inp, middle), nn.LayerNorm([middle]), nn.LeakyReLU(), nn.Linear(middle, dim))

    def forward(self, x, embedding):
        x = self.fc(x)
        mean = x.mean(dim=(-2, -1), keepdim=True)
        var = (x - mean).pow(2).mean(dim=(-2, -1), keepdim=True)
        x = (x - mean) / torch.sqrt(var + 1e-5)   # written out: torch 1.13 exports an affine-free LayerNorm badly at opset 17
        out = x * (1 + self.gamma_function(embedding)) + self.beta_function(embedding)
        return out if self.last else F.leaky_relu(out, 0.01)


class ClipBlendingModel(nn.Module):
    """HairFastGAN's ClipBlendingModel: CLIP image embeddings of the masked face and the colour reference's hair, with
    the colour latents, drive five modulation modules on the face latents S[:, 6:]; output = S + 0.1 * delta."""

    def __init__(self, n_blend, style_dim, image_size, clip_cfg, middle):
        super().__init__()
        self.pixelnorm = PixelNorm()
        pool_to = image_size * 224 // 256          # HairFastGAN: AdaptiveAvgPool2d((224, 224)) on the 256 image
        self.face_pool = FixedAdaptiveAvgPool(image_size, pool_to)
        self.visual = VisionTransformer(pool_to, clip_cfg["patch"], clip_cfg["width"], clip_cfg["layers"],
                                        clip_cfg["heads"], clip_cfg["output_dim"])
        self.n_blend = n_blend
        self.modulation_module_list = nn.ModuleList(
            [ModulationModule(n_blend, style_dim, i == 4, inp=style_dim + 2 * clip_cfg["output_dim"], middle=middle)
             for i in range(5)])

    def image_embed(self, x):
        x = self.face_pool(x) * 0.5 + 0.5
        x = normalize(x, (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
        return self.visual(x)

    def forward(self, latent_face, latent_color, target_face, hair_color):
        ef = self.image_embed(target_face).unsqueeze(1).expand(-1, self.n_blend, -1)
        ec = self.image_embed(hair_color).unsqueeze(1).expand(-1, self.n_blend, -1)
        latent_in = torch.cat((latent_color, ef, ec), dim=-1)
        dt = self.pixelnorm(latent_face)
        for module in self.modulation_module_list:
            dt = module(dt, latent_in)
        return latent_face + 0.1 * dt


# ================================================================================================ the chain
class HairFastChain(nn.Module):
    """Every network of the chain; the stage wrappers below are what gets exported."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        d = derived(cfg)
        self.d = d
        self.generator = Generator(cfg["size"], cfg["style_dim"], cfg["channels"])
        self.bisenet = BiSeNet(cfg["bisenet_width"])
        self.e4e = Encoder4Editing(d["n_latent"], cfg["style_dim"], cfg["ir_blocks"], cfg["encoder_size"])
        self.fs_encoder = FeatureEncoderMult(d["n_latent"], cfg["style_dim"], cfg["fs_blocks"], cfg["encoder_size"], d["f_channels"])
        self.shape_adaptor = ShapeAdaptor(cfg["mask_size"], cfg["adaptor_width"], cfg["adaptor_code"])
        self.blending = ClipBlendingModel(d["n_latent"] - BLEND_FROM, cfg["style_dim"], cfg["mask_size"], cfg["clip"], cfg["blend_middle"])
        size = cfg["size"]
        self.down_parsing = BicubicDownSample(size // cfg["parsing_size"])
        self.down_encoder = BicubicDownSample(size // cfg["encoder_size"])
        self.down_mask = BicubicDownSample(size // cfg["mask_size"])
        self.register_buffer("label_map", torch.tensor(BISENET_TO_CELEBA, dtype=torch.int64))


class ParsingStage(nn.Module):
    """image [1, 3, R, R] RGB in [0, 1] -> labels [1, 1, M, M] int64 (CelebA order), hair_mask [1, 1, M, M] float."""

    def __init__(self, chain):
        super().__init__()
        self.c = chain

    def forward(self, image):
        c = self.c
        x = normalize(c.down_parsing(image), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        logits = c.bisenet(x)
        labels = torch.gather(c.label_map, 0, logits.argmax(dim=1).reshape(-1)).reshape(logits.shape[0], 1, logits.shape[2], logits.shape[3])
        step = c.cfg["parsing_size"] // c.cfg["mask_size"]
        labels = labels[:, :, ::step, ::step]     # transforms.functional.resize(..., NEAREST) by an integer factor
        return labels, (labels == HAIR_LABEL).float()


class EmbeddingStage(nn.Module):
    """image, hair_mask (from parsing), mixing [1] (0.95 when the call has more than one distinct image, else 0),
    noise_0..noise_6 -> latent_w [1, L, D] (e4e W+), latent_s [1, L, D] (FS S), latent_f [1, C, 32, 32] (F)."""

    def __init__(self, chain):
        super().__init__()
        self.c = chain

    def forward(self, image, hair_mask, mixing, *noise):
        c = self.c
        noise = list(noise)
        latent_w = c.e4e(to_minus1_1(c.down_encoder(image)))
        x = to_minus1_1(image)
        if c.cfg["encoder_size"] != c.cfg["size"]:
            x = F.interpolate(x, size=(c.cfg["encoder_size"], c.cfg["encoder_size"]), mode="bilinear", align_corners=False)
        latent_s, content = c.fs_encoder(x)
        latent_f, _ = c.generator.run(latent_s, [None] * 5 + noise[5:7], start_layer=F_LAYER, end_layer=F_LAYER, layer_in=content)
        f_from_w, _ = c.generator.run(latent_w, noise, start_layer=0, end_layer=F_LAYER)
        hair32 = F.interpolate(hair_mask, size=(F_SIZE, F_SIZE), mode="bicubic", align_corners=False)
        latent_f = latent_f + mixing.view(1, 1, 1, 1) * hair32 * (f_from_w - latent_f)
        return latent_w, latent_s, latent_f


class ShapeStage(nn.Module):
    """face_labels, face_latent_f, shape_labels, shape_latent_f -> target_hair_mask [1, 1, M, M], latent_f_align."""

    def __init__(self, chain):
        super().__init__()
        self.c = chain

    def forward(self, face_labels, face_latent_f, shape_labels, shape_latent_f):
        c = self.c
        classes = torch.arange(NUM_CLASSES, dtype=torch.int64).view(1, NUM_CLASSES, 1, 1)
        face_onehot = (face_labels == classes).float()
        hair1 = (face_labels == HAIR_LABEL).float()
        hair2 = (shape_labels == HAIR_LABEL).float()
        logits = c.shape_adaptor(face_onehot, hair2)
        target = logits.argmax(dim=1, keepdim=True)
        hair_x = (target == HAIR_LABEL).float()
        masks = torch.cat([1 - (1 - hair1) * (1 - hair_x), hair_x, hair2 * hair_x], dim=0)
        dilate, erode = dilate_erode(masks, c.cfg["smooth"])
        free = torch.cat([dilate[0:1], erode[1:2], erode[2:3]], dim=0)
        low = 1 - F.interpolate(free, size=(F_SIZE, F_SIZE), mode="bicubic", align_corners=False)
        # HairFastGAN: F = inter + low0 (F1 - inter); F = out_new + low1 (F - out_new); F = F2 + low2 (F - F2), where
        # inter / out_new are e4e re-encodings of SEAN inpaintings (not built): inter = F1, out_new = F2 here.
        f = shape_latent_f + low[1:2] * (face_latent_f - shape_latent_f)
        f = shape_latent_f + low[2:3] * (f - shape_latent_f)
        return hair_x, f


class BlendStage(nn.Module):
    """face_image, color_image (RGB [0, 1]), face_latent_s, color_latent_s, face_labels, color_labels,
    target_hair_mask (HM_X of the colour alignment) -> latent_s_blend [1, L, D]."""

    def __init__(self, chain):
        super().__init__()
        self.c = chain

    def forward(self, face_image, color_image, face_latent_s, color_latent_s, face_labels, color_labels, target_hair_mask):
        c = self.c
        i1 = to_minus1_1(c.down_mask(face_image))
        i3 = to_minus1_1(c.down_mask(color_image))
        hair = torch.cat([(face_labels == HAIR_LABEL).float(), (color_labels == HAIR_LABEL).float()], dim=0)
        dil, ero = dilate_erode(hair, c.cfg["smooth"])
        hm_xd, _ = dilate_erode(target_hair_mask, c.cfg["smooth"])
        target_mask = (1 - dil[0:1]) * (1 - dil[1:2]) * (1 - hm_xd)
        blended = c.blending(face_latent_s[:, BLEND_FROM:], color_latent_s[:, BLEND_FROM:], i1 * target_mask, i3 * ero[1:2])
        return torch.cat([face_latent_s[:, :BLEND_FROM], blended], dim=1)


class SynthesisStage(nn.Module):
    """latent_s [1, L, D], latent_f [1, C, 32, 32], noise_7.. -> image [1, 3, R, R] RGB in [0, 1]."""

    def __init__(self, chain):
        super().__init__()
        self.c = chain

    def forward(self, latent_s, latent_f, *noise):
        first = self.c.d["synthesis_noises"][0]
        image, _ = self.c.generator.run(latent_s, [None] * first + list(noise), start_layer=F_LAYER + 1, layer_in=latent_f)
        return ((image + 1) / 2).clamp(0, 1)


STAGE_CLASSES = {"parsing": ParsingStage, "embedding": EmbeddingStage, "shape": ShapeStage, "blend": BlendStage,
                 "synthesis": SynthesisStage}


def stage_io(cfg):
    """Each stage's ONNX inputs and outputs (name, dtype, shape), batch 1."""
    d = derived(cfg)
    R, M, L, D, C = cfg["size"], cfg["mask_size"], d["n_latent"], cfg["style_dim"], d["f_channels"]
    img = lambda n: (n, "float32", [1, 3, R, R])
    lab = lambda n: (n, "int64", [1, 1, M, M])
    msk = lambda n: (n, "float32", [1, 1, M, M])
    lat = lambda n: (n, "float32", [1, L, D])
    fsp = lambda n: (n, "float32", [1, C, F_SIZE, F_SIZE])
    noise = lambda i: (f"noise_{i}", "float32", [1, 1, d["noise_sizes"][i], d["noise_sizes"][i]])
    return {
        "parsing": ([img("image")], [lab("labels"), msk("hair_mask")]),
        "embedding": ([img("image"), msk("hair_mask"), ("mixing", "float32", [1])] + [noise(i) for i in d["embed_noises"]],
                      [lat("latent_w"), lat("latent_s"), fsp("latent_f")]),
        "shape": ([lab("face_labels"), fsp("face_latent_f"), lab("shape_labels"), fsp("shape_latent_f")],
                  [msk("target_hair_mask"), fsp("latent_f_align")]),
        "blend": ([img("face_image"), img("color_image"), lat("face_latent_s"), lat("color_latent_s"), lab("face_labels"),
                   lab("color_labels"), msk("target_hair_mask")], [lat("latent_s_blend")]),
        "synthesis": ([lat("latent_s"), fsp("latent_f")] + [noise(i) for i in d["synthesis_noises"]], [img("image")]),
    }


# ================================================================================================ deterministic noise
def noise_tensors(seed, sizes):
    """The noises the C# side draws for a seed: splitmix64 -> 53-bit uniforms -> Box-Muller (cos branch), float32,
    one stream over all noise maps in index order. OnnxHairTransfer implements the same (HairNoise.cs)."""
    mask = (1 << 64) - 1
    state = seed & mask

    def next_u64():
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    out = []
    for r in sizes:
        n = r * r
        vals = []
        for _ in range(n):
            u1 = ((next_u64() >> 11) + 1) * (1.0 / 9007199254740993.0)   # (0, 1]
            u2 = (next_u64() >> 11) * (1.0 / 9007199254740992.0)         # [0, 1)
            vals.append(math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2))
        out.append(torch.tensor(vals, dtype=torch.float32).reshape(1, 1, r, r))
    return out

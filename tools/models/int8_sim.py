"""A PyTorch mirror of the INT8 graphs quantize.py writes, for parity fixtures.

Every nn.Linear whose weight has >= min_elements elements (exactly the MatMuls quantize.py rewrites, since each
Linear exports to one MatMul with its weight as an initializer) is replaced by a module that does what
DynamicQuantizeLinear + MatMulInteger + Cast + Mul do in ONNX Runtime:

    x_min = min(0, min x), x_max = max(0, max x), s = (x_max - x_min) / 255
    zp = saturate_uint8(round_half_even(-x_min / s)), xq = saturate_uint8(round_half_even(x / s) + zp)
    y = float32(int32 sum (xq - zp) * (wq - wzp)) * float32(s * w_scale) + bias

NB the activation scale is per tensor over the WHOLE input, batch included, so an INT8 model's output for one
clip depends (slightly) on what else is in the batch.

Needs Debian's python3-torch and python3-numpy.
"""
import numpy as np
import torch
from torch import nn

from quantize import quantize_weight


class SimulatedDynamicInt8Linear(nn.Module):
    def __init__(self, linear, weight_type="int8", per_channel=False):
        super().__init__()
        w = linear.weight.detach().numpy().T.copy()  # [in, out], as the exported MatMul initializer
        q, scale, zp = quantize_weight(w, weight_type, per_channel)
        self.register_buffer("wq", torch.from_numpy(q.astype(np.float64) - zp.astype(np.float64)))  # exact ints
        self.register_buffer("w_scale", torch.from_numpy(np.asarray(scale, dtype=np.float32)))
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)

    def forward(self, x):
        x_min = torch.clamp(x.min(), max=0.0)
        x_max = torch.clamp(x.max(), min=0.0)
        s = (x_max - x_min) / torch.tensor(255.0)
        zp = torch.clamp(torch.round(-x_min / s), 0, 255)
        xq = torch.clamp(torch.round(x / s) + zp, 0, 255)
        acc = (xq.double() - zp.double()) @ self.wq            # exact integer arithmetic in float64
        y = acc.float() * (s * self.w_scale)
        if self.bias is not None:
            y = y + self.bias
        return y


def simulate(model, min_elements=4096, weight_type="int8", per_channel=False):
    """Replace the eligible Linear layers of `model` IN PLACE (pass a fresh copy). Returns (model, number replaced)."""
    sim = model
    count = 0
    for name, module in list(sim.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and child.weight.numel() >= min_elements:
                setattr(module, child_name, SimulatedDynamicInt8Linear(child, weight_type, per_channel))
                count += 1
    return sim.eval(), count

"""kornia.filters.gaussian_blur2d with kornia 0.5.0's semantics (lamac's own implementation)."""
import torch
import torch.nn.functional as F


def _gauss1d(size, sigma):
    # the default dtype (float32), as kornia builds it when sigma is a Python number
    t = torch.arange(size, dtype=torch.get_default_dtype()) - size // 2
    if size % 2 == 0:
        t = t + 0.5
    g = torch.exp(-t.pow(2.0) / (2 * sigma ** 2))
    return g / g.sum()


def gaussian_blur2d(input, kernel_size, sigma, border_type='reflect'):
    if input.dim() != 4:
        raise ValueError(f'expected (B, C, H, W), got {tuple(input.shape)}')
    kh, kw = kernel_size
    k2 = torch.matmul(_gauss1d(kh, sigma[0]).unsqueeze(-1), _gauss1d(kw, sigma[1]).unsqueeze(-1).t())
    b, c, h, w = input.shape
    weight = k2.to(input).expand(c, 1, kh, kw)
    pad = [(kw - 1) // 2, kw - 1 - (kw - 1) // 2, (kh - 1) // 2, kh - 1 - (kh - 1) // 2]
    x = F.pad(input, pad, mode=border_type)
    return F.conv2d(x, weight, groups=c)

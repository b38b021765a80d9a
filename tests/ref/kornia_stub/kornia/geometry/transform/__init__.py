"""kornia.geometry.transform.resize with kornia 0.5.0's semantics (lamac's own implementation)."""
import torch.nn.functional as F


def resize(input, size, interpolation='bilinear', align_corners=None, side='short'):
    if isinstance(size, int):
        raise NotImplementedError('the stand-in resizes to an explicit (h, w) only')
    size = tuple(int(s) for s in size)
    if tuple(input.shape[-2:]) == size:
        return input
    return F.interpolate(input, size=size, mode=interpolation, align_corners=align_corners)


def rotate(*args, **kwargs):  # imported by saicinpainting/training/modules/spatial_transform.py only
    raise NotImplementedError('kornia stand-in: rotate is not implemented')

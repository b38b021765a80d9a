"""kornia.morphology.erosion with kornia 0.5.0's semantics (lamac's own implementation)."""
import torch.nn.functional as F


def erosion(tensor, kernel):
    if tensor.dim() != 4 or kernel.dim() != 2:
        raise ValueError('expected a (B, C, H, W) tensor and an (H, W) kernel')
    b, c, h, w = tensor.shape
    kh, kw = kernel.shape
    x = tensor.reshape(b * c, 1, h, w)
    x = F.pad(x, [kw // 2, kw - 1 - kw // 2, kh // 2, kh - 1 - kh // 2], mode='constant', value=1.0)
    patches = F.unfold(x, (kh, kw))                    # (B*C, kh*kw, h*w)
    on = kernel.reshape(-1) > 0
    out = patches[:, on.to(patches.device)].min(dim=1).values
    if not bool(on.all()):
        out = out.clamp(max=1.0)
    return out.reshape(b, c, h, w)

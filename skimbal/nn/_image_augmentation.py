"""Batched image augmentation and normalisation that run on the data's device.

Both are ``torch.nn.Module``s meant to sit at the input of a network (the
``transform`` of :class:`skimbal.nn.CifarResNet`), so the images stay on the
device as one tensor and the whole batch is transformed by a few kernels, with
no Python loop over samples and no host synchronisation (they can be captured
in a CUDA graph).
"""

import torch
from torch import nn

__all__ = ["ChannelNormalize", "RandomCropFlip"]


def _memory_format(x):
    """The memory format a 4-d result should keep to match ``x``."""
    channels_last = torch.channels_last
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=channels_last):
        return channels_last
    return torch.contiguous_format


class RandomCropFlip(nn.Module):
    """Random crop with zero padding and random horizontal flip, per sample.

    In training mode every image of a batch ``x`` of shape (n, C, H, W) is padded
    with ``padding`` zeros on each side, cropped back to H x W at an offset drawn
    uniformly from ``{0, ..., 2 * padding}`` along each axis, and mirrored left to
    right with probability ``flip_probability``; offsets and flips are drawn
    independently per image. This is ``RandomCrop(32, padding=4)`` followed by
    ``RandomHorizontalFlip()`` of torchvision, the augmentation of the
    long-tailed CIFAR protocol (Cao et al., NeurIPS 2019, Appendix). In
    evaluation mode the module is the identity.

    The batch is transformed by one ``gather`` over the padded images: the output
    pixel ``(i, j)`` of image ``k`` reads the padded pixel
    ``(dy_k + i, dx_k + j)`` (or ``dx_k + W - 1 - j`` when flipped). Randomness
    comes from the global generator of the data's device, so a seeded fit is
    reproducible and the module can be captured in a CUDA graph.

    Parameters
    ----------
    padding : int, default=4
        Zero padding on each side before cropping; 0 disables the crop.
    flip_probability : float in [0, 1], default=0.5
        Probability of a horizontal flip; 0 disables it.

    Examples
    --------
    >>> import torch
    >>> from skimbal.nn import RandomCropFlip
    >>> augment = RandomCropFlip()
    >>> x = torch.rand(8, 3, 32, 32)
    >>> augment(x).shape
    torch.Size([8, 3, 32, 32])
    >>> bool((augment.eval()(x) == x).all())
    True
    """

    def __init__(self, padding=4, flip_probability=0.5):
        super().__init__()
        if int(padding) != padding or padding < 0:
            raise ValueError(f"padding must be a non-negative integer; got {padding!r}.")
        if not 0.0 <= flip_probability <= 1.0:
            raise ValueError(f"flip_probability must be in [0, 1]; got {flip_probability!r}.")
        self.padding = int(padding)
        self.flip_probability = float(flip_probability)

    def forward(self, x):
        if not self.training or (self.padding == 0 and self.flip_probability == 0.0):
            return x
        if x.dim() != 4:
            raise ValueError(
                f"RandomCropFlip expects images (n, C, H, W); got shape {tuple(x.shape)}."
            )
        n, channels, height, width = x.shape
        pad = self.padding
        device = x.device
        padded = nn.functional.pad(x, (pad, pad, pad, pad)) if pad else x
        padded_width = width + 2 * pad
        if pad:
            dy = torch.randint(0, 2 * pad + 1, (n, 1, 1), device=device)
            dx = torch.randint(0, 2 * pad + 1, (n, 1, 1), device=device)
        else:
            dy = dx = torch.zeros((n, 1, 1), dtype=torch.long, device=device)
        rows = torch.arange(height, device=device).view(1, height, 1)
        cols = torch.arange(width, device=device).view(1, 1, width)
        if self.flip_probability > 0.0:
            flip = (torch.rand((n, 1, 1), device=device) < self.flip_probability)
            cols = torch.where(flip, width - 1 - cols, cols)
        index = (dy + rows) * padded_width + (dx + cols)  # (n, H, W)
        index = index.view(n, 1, height * width).expand(n, channels, height * width)
        out = padded.reshape(n, channels, -1).gather(2, index)
        return out.view(n, channels, height, width).contiguous(memory_format=_memory_format(x))

    def extra_repr(self):
        return f"padding={self.padding}, flip_probability={self.flip_probability}"


class ChannelNormalize(nn.Module):
    """Per-channel standardisation ``(x - mean_c) / std_c`` of image batches.

    Active in training and evaluation mode alike. ``mean`` and ``std`` are in
    the scale of the input (for CIFAR-10 in [0, 1], the usual values of the
    LDAM-DRW code are ``mean=(0.4914, 0.4822, 0.4465)``,
    ``std=(0.2023, 0.1994, 0.2010)``). They are buffers, so they move with the
    module to its device.

    Parameters
    ----------
    mean : sequence of float
        Per-channel means.
    std : sequence of float
        Per-channel standard deviations, all positive.

    Examples
    --------
    >>> import torch
    >>> from skimbal.nn import ChannelNormalize
    >>> norm = ChannelNormalize(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    >>> norm(torch.ones(1, 3, 2, 2))[0, :, 0, 0]
    tensor([2., 2., 2.])
    """

    def __init__(self, mean, std):
        super().__init__()
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        if mean.shape != std.shape:
            raise ValueError(
                f"mean and std must have one value per channel; got {len(mean)} and {len(std)}."
            )
        if not bool((std > 0).all()):
            raise ValueError(f"std must be positive; got {std.tolist()!r}.")
        self.register_buffer("mean", mean.view(1, -1, 1, 1))
        self.register_buffer("std", std.view(1, -1, 1, 1))

    def forward(self, x):
        if x.dim() != 4 or x.shape[1] != self.mean.shape[1]:
            raise ValueError(
                f"ChannelNormalize expects images (n, {self.mean.shape[1]}, H, W); "
                f"got shape {tuple(x.shape)}."
            )
        return (x - self.mean) / self.std

"""CIFAR ResNets (He et al., CVPR 2016, Sec. 4.2), the backbone of the long-tailed protocol."""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CifarResNet", "ResNet32"]


class _OptionAShortcut(nn.Module):
    """Parameter-free shortcut: stride-2 subsampling and zero channels (option A)."""

    def __init__(self, in_planes, planes):
        super().__init__()
        extra = planes - in_planes
        self.pad_front = extra // 2
        self.pad_back = extra - extra // 2

    def forward(self, x):
        x = x[:, :, ::2, ::2]
        return F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))


class _BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut = _OptionAShortcut(in_planes, planes)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet for 32x32 images with three stages of basic blocks.

    The CIFAR variant of He et al. (CVPR 2016, Sec. 4.2): a 3x3 convolution with
    16 channels, three stages of ``(depth - 2) / 6`` basic blocks with 16, 32 and
    64 channels (the last two start with stride 2), global average pooling and a
    linear head. Shortcuts that change the shape are option A: stride-2
    subsampling and zero-padded channels, no parameters. Convolutions and the head
    use Kaiming-normal initialisation, as in the code of LDAM-DRW (Cao et al.,
    NeurIPS 2019) that defines the long-tailed CIFAR protocol.

    Parameters
    ----------
    depth : int
        ``6 k + 2``: 20, 32, 44, 56, 110, ...
    n_classes : int
        Number of logits; the estimators fill it in from the data.
    in_channels : int, default=3
        Channels of the input images.
    widths : tuple of 3 int, default=(16, 32, 64)
        Channels of the three stages.
    transform : torch.nn.Module, default=None
        Applied to the input before the first convolution, in
        :meth:`forward_features`: on-device augmentation and normalisation such as
        ``nn.Sequential(RandomCropFlip(), ChannelNormalize(mean, std))`` (see
        :mod:`skimbal.nn`). Being a submodule, it follows the train/eval mode of
        the network, so augmentation is active during training only.

    Attributes
    ----------
    head : torch.nn.Linear
        The classifier, ``widths[-1]`` to ``n_classes``.
    n_embedding : int
        Size of the embedding (``widths[-1]``).

    Notes
    -----
    Follows the embedding protocol of :class:`skimbal.nn.MLP`:
    ``forward(x) == forward_head(forward_features(x))``; the embedding is the
    pooled output of the last stage.

    Examples
    --------
    >>> import torch
    >>> from skimbal.nn import CifarResNet
    >>> net = CifarResNet(20, n_classes=10)
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, depth, n_classes, in_channels=3, widths=(16, 32, 64), transform=None):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6 k + 2 with k >= 1 (20, 32, 44, ...); got {depth!r}.")
        if len(widths) != 3:
            raise ValueError(f"widths must hold 3 channel counts; got {widths!r}.")
        n_blocks = (depth - 2) // 6
        self.transform = transform
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages = []
        in_planes = widths[0]
        for stage, planes in enumerate(widths):
            blocks = []
            for block in range(n_blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append(_BasicBlock(in_planes, planes, stride))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.n_embedding = widths[-1]
        self.head = nn.Linear(widths[-1], n_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)

    def forward_features(self, x):
        """Return the embedding of images ``x`` (shape (n, n_embedding))."""
        return _pool(self.layer3(self._stem_and_stages(x)))

    def _stem_and_stages(self, x):
        if self.transform is not None:
            x = self.transform(x)
        out = F.relu(self.bn1(self.conv1(x)))
        return self.layer2(self.layer1(out))

    def split_last_block(self):
        """Split the feature extractor for two-branch methods such as BBN.

        Returns
        -------
        trunk, last_block : torch.nn.Module
            ``forward_features(x) == last_block(trunk(x))``; the trunk runs the
            ``transform``, the stem and every residual block but the last of the
            third stage; the last block is that block followed by the average
            pooling. Both share this network's parameters.
        """
        return _Trunk(self), _LastBlock(self.layer3[-1])

    def forward_head(self, z):
        """Return the logits for embeddings ``z``."""
        return self.head(z)

    def forward(self, x):
        return self.head(self.forward_features(x))


def _pool(x):
    return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class _Trunk(nn.Module):
    def __init__(self, resnet):
        super().__init__()
        self.transform = resnet.transform
        self.conv1, self.bn1 = resnet.conv1, resnet.bn1
        self.layers = nn.Sequential(resnet.layer1, resnet.layer2, resnet.layer3[:-1])

    def forward(self, x):
        if self.transform is not None:
            x = self.transform(x)
        return self.layers(F.relu(self.bn1(self.conv1(x))))


class _LastBlock(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return _pool(self.block(x))


class ResNet32(CifarResNet):
    """ResNet-32 for CIFAR: 3 stages of 5 basic blocks, widths 16/32/64.

    The backbone of the long-tailed CIFAR protocol (Cao et al., NeurIPS 2019 and
    the methods compared with it); about 0.46 M parameters for 10 classes. See
    :class:`CifarResNet` for the architecture and the parameters.

    Parameters
    ----------
    n_classes : int
        Number of logits; the estimators fill it in from the data.
    in_channels : int, default=3
        Channels of the input images.
    transform : torch.nn.Module, default=None
        Applied to the input first (augmentation and normalisation).

    Examples
    --------
    >>> import numpy as np
    >>> from skimbal import CrossEntropyClassifier
    >>> from skimbal.nn import ResNet32
    >>> X = np.random.default_rng(0).random((16, 3, 32, 32), dtype=np.float32)
    >>> y = np.arange(16) % 2
    >>> clf = CrossEntropyClassifier(ResNet32, max_epochs=1, random_state=0).fit(X, y)
    >>> clf.predict(X[:4]).shape
    (4,)
    """

    def __init__(self, n_classes, in_channels=3, transform=None):
        super().__init__(32, n_classes, in_channels=in_channels, transform=transform)

"""Neural network modules: the default MLP, CIFAR ResNets and classifier heads.

All modules follow the embedding protocol documented in :class:`MLP`:
``forward_features`` returns the embedding, ``forward_head`` the logits and the
head is the attribute ``head``.
"""

from ._bbn import BilateralBranchNetwork, split_last_block
from ._heads import LargeMarginLinear, LargeMarginSoftmaxNetwork, NormedLinear, replace_head
from ._image_augmentation import ChannelNormalize, RandomCropFlip
from ._mlp import MLP, has_embedding
from ._resnet import CifarResNet, ResNet32

__all__ = [
    "ChannelNormalize",
    "CifarResNet",
    "RandomCropFlip",
    "ResNet32",
    "BilateralBranchNetwork",
    "MLP",
    "LargeMarginLinear",
    "LargeMarginSoftmaxNetwork",
    "NormedLinear",
    "has_embedding",
    "replace_head",
    "split_last_block",
]

"""Neural network modules: the default MLP, CIFAR ResNets and classifier heads.

All modules follow the embedding protocol documented in :class:`MLP`:
``forward_features`` returns the embedding, ``forward_head`` the logits and the
head is the attribute ``head``.
"""

from ._mlp import MLP, has_embedding

__all__ = ["MLP", "has_embedding"]

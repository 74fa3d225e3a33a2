"""MAP oracles: one module per problem family, an :class:`Oracle` base class.

Oracles know nothing of torch autograd; the numpy core of each works on host
arrays, and device-native ones (``topk``, ``onehot``, ``ranking``) also run
torch ops on the tensor's own device.
"""

from .base import Oracle, format_index
from .function import FunctionOracle
from .selection import OneHot, TopK

__all__ = ["Oracle", "FunctionOracle", "TopK", "OneHot", "format_index"]

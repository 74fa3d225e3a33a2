"""The one adapter between torch tensors and the numpy core of the oracles.

Oracles work on numpy arrays. This module turns a torch tensor into a host
array (one device-to-host copy) and a host array back into a tensor on the
original device and dtype (one host-to-device copy). It never imports torch
itself: a tensor can only exist if torch was imported by the caller.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["is_tensor", "to_host", "like_input", "torch_module", "few_kernels"]


def torch_module():
    """The torch module when it is already imported, else ``None``."""
    return sys.modules.get("torch")


def is_tensor(value: Any) -> bool:
    """True when ``value`` is a ``torch.Tensor`` (without importing torch)."""
    torch = torch_module()
    return torch is not None and isinstance(value, torch.Tensor)


# torch's wide unsigned types have few kernels (no argmax, no scatter on the CPU)
_FEW_KERNELS = ("torch.uint16", "torch.uint32", "torch.uint64")


def few_kernels(tensor: Any) -> bool:
    """True for a tensor whose dtype torch barely supports (``uint16``,
    ``uint32``, ``uint64``): device-native oracles solve it on the host."""
    return str(tensor.dtype) in _FEW_KERNELS


# numpy has no bfloat16; such tensors travel as float32.
_HOST_DTYPE_FALLBACK = "float32"


def to_host(value: Any) -> np.ndarray:
    """A numpy view or copy of ``value`` on the host.

    Tensors are detached and copied to the host once; dtypes numpy lacks
    (bfloat16) are cast to float32 on their device first.
    """
    if is_tensor(value):
        torch = torch_module()
        tensor = value.detach()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.to(getattr(torch, _HOST_DTYPE_FALLBACK))
        if tensor.is_conj():
            tensor = tensor.resolve_conj()
        return tensor.cpu().numpy()
    return np.asarray(value)


def like_input(result: np.ndarray, reference: Any, *, dtype: Any = None) -> Any:
    """``result`` converted to the type, device and dtype of ``reference``.

    ``dtype`` overrides the reference's dtype (a numpy dtype for arrays, a
    torch dtype for tensors).
    """
    if is_tensor(reference):
        torch = torch_module()
        tensor = torch.from_numpy(np.ascontiguousarray(result))
        return tensor.to(device=reference.device, dtype=dtype or reference.dtype)
    target = dtype or np.asarray(reference).dtype
    return result.astype(target, copy=False)

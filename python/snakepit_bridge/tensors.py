"""Tensors: a CPU ``torch.Tensor`` (and JAX or CuPy arrays) crosses as an NDArray with its dtype and
shape, read without a copy where its memory is contiguous. ``bfloat16``, which NumPy lacks, crosses as
its raw 16-bit patterns with the dtype ``bf16``. A tensor on another device is refused: it is never
moved implicitly. None of these packages is imported until such a value is met."""

from __future__ import annotations

import sys

from .errors import EncodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_NATIVE = "<" if sys.byteorder == "little" else ">"


def _device_error(what: str, device: Any, fix: str) -> EncodeError:
    return EncodeError(
        f"cannot encode a {what} on device {str(device)!r}: move it to the CPU first ({fix}); "
        "tensors are never copied off a device implicitly"
    )


def tensor_payload(value: Any) -> Any:
    """A tensor or foreign array as a NumPy array over its memory (or, for bfloat16, which NumPy
    lacks, its dtype string, shape and bytes); None if ``value`` is not one. Raises EncodeError for a
    tensor on an accelerator or of a dtype without a mapping."""
    root = type(value).__module__.partition(".")[0]
    if root == "torch":
        return _torch_payload(value)
    if root in ("jax", "jaxlib") and hasattr(value, "devices"):
        devices = list(value.devices())
        if any(d.platform != "cpu" for d in devices):
            raise _device_error("JAX array", devices[0], "jax.device_get(x)")
        import numpy as np

        return np.asarray(value)
    if root == "cupy" and type(value).__name__ == "ndarray":
        raise _device_error("CuPy array", f"cuda:{value.device.id}", "cupy.asnumpy(x)")
    return None


def _torch_payload(value: Any) -> Any:
    import torch

    if not isinstance(value, torch.Tensor):
        return None
    if value.device.type != "cpu":
        raise _device_error("torch.Tensor", value.device, "tensor.cpu()")
    if value.layout != torch.strided:
        raise EncodeError(f"cannot encode a torch.Tensor with layout {value.layout}: convert it (tensor.to_dense())")
    t = value.detach().resolve_conj().resolve_neg()
    shape = tuple(int(d) for d in t.shape)
    if t.dtype == torch.bfloat16:
        bits = t.contiguous().view(torch.int16).numpy()
        return f"{_NATIVE}bf16", shape, bits.reshape(-1).view("u1").data
    try:
        return t.numpy()  # shares the tensor's memory
    except TypeError as exc:
        raise EncodeError(f"cannot encode a torch.Tensor of dtype {t.dtype}: {exc}") from None


def bfloat16_tensor(bits: Any) -> Any:
    """A received bfloat16 array: a torch tensor over the bits when torch is importable, else the
    uint16 NumPy array of the bits."""
    try:
        import torch
    except ImportError:
        return bits
    if not bits.dtype.isnative:
        bits = bits.byteswap().view(bits.dtype.newbyteorder("="))
    return torch.from_numpy(bits.view("i2")).view(torch.bfloat16)


def to_tensor(value: Any) -> Any:
    """An argument for a parameter annotated ``torch.Tensor``: NumPy arrays become tensors over the
    same memory; tensors and other values are left as they are."""
    import torch

    if isinstance(value, torch.Tensor):
        return value
    if type(value).__module__ == "numpy" and type(value).__name__ == "ndarray":
        if value.dtype.kind in "MmU":
            return value  # torch has no dtype for these
        if not value.dtype.isnative:
            value = value.astype(value.dtype.newbyteorder("="))
        return torch.from_numpy(value)
    return value

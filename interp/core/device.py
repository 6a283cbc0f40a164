"""Device choice (`"auto"` means CUDA when present, else CPU) and TF32, the opt-in fast matmul
of NVIDIA GPUs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """`"auto"` -> CUDA if available else CPU; any other name is checked and returned.

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"device {device!r} is not a torch device (try auto, cpu, cuda)") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here")
    return dev


@contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """Inside the block, CUDA matmuls and convolutions use TF32 when `enabled`, and full float32
    otherwise; the previous settings come back on exit.

    What it changes: on an Ampere-or-newer NVIDIA GPU a TF32 matmul rounds its float32 inputs to
    a 10-bit mantissa (about 3 decimal digits) and accumulates in float32, so products carry a
    relative error near 1e-3 and runs stop matching float32 runs bit for bit, in exchange for
    several times the matmul throughput. Nothing else changes: weights, optimizer state and
    checkpoints stay float32. On a CPU it changes nothing.

    Examples:
        >>> with tf32(True):
        ...     torch.backends.cuda.matmul.allow_tf32
        True
        >>> torch.backends.cuda.matmul.allow_tf32          # restored (PyTorch's default)
        False
    """
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = bool(enabled)
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved

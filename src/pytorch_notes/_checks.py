"""Argument checks shared by the package: one line per check, one wording everywhere.

Each helper raises ``TypeError`` for a value of the wrong kind and ``ValueError``
for a wrong value or shape, and its message names the argument, what was
expected and what came. They read Python values and tensor metadata (type,
dtype, shape) only, never a tensor's data, so they never wait for a GPU.
"""

from __future__ import annotations

import math
import numbers

import torch


def _interval(low, high, low_open: bool = False, high_open: bool = False) -> str:
    """``"in [0, 1)"``, ``"> 0"``, ``"<= 9"``: the bounds as a reader writes them."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    return f"{'<' if high_open else '<='} {high}"


def check_type(name: str, value: object, expected: type | tuple[type, ...], what: str) -> None:
    """Refuse a value that is not an instance of ``expected``; ``what`` names it (``"an nn.Module"``).

    Raises:
        TypeError: ``"<name> must be <what>, got <type>"``.
    """
    if not isinstance(value, expected):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    """Refuse anything but one of the strings ``choices``.

    Raises:
        ValueError: ``"<name> must be one of ('mean', 'sum'), got 'avg'"``.
    """
    if not (isinstance(value, str) and value in choices):
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_int(name: str, value: object, minimum: int | None = None, maximum: int | None = None) -> int:
    """Refuse anything but an int (a bool is refused too) in ``[minimum, maximum]``; return it.

    Raises:
        TypeError: ``"<name> must be an int, got <type>"``.
        ValueError: ``"<name> must be >= 1, got 0"`` or ``"... must be in [0, 9], got 10"``.
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {_interval(minimum, maximum)}, got {value}")
    return value


def check_real(name: str, value: object, minimum: float | None = None, maximum: float | None = None, *,
               above: float | None = None, below: float | None = None) -> float:
    """Refuse anything but a finite real number (a bool is refused too) within the bounds; return a float.

    ``minimum``/``maximum`` are inclusive, ``above``/``below`` exclusive:
    ``check_real("p", p, above=0, maximum=1)`` asks for ``0 < p <= 1``.

    Raises:
        TypeError: ``"<name> must be a real number, got <type>"``.
        ValueError: ``"<name> must be finite, got inf"``, ``"... must be > 0, got 0"``,
            ``"... must be in (0, 1], got 1.5"``.
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    low, low_open = (minimum, False) if above is None else (above, True)
    high, high_open = (maximum, False) if below is None else (below, True)
    if ((low is not None and (value <= low if low_open else value < low))
            or (high is not None and (value >= high if high_open else value > high))):
        raise ValueError(f"{name} must be {_interval(low, high, low_open, high_open)}, got {value}")
    return float(value)


def _shape_text(shape: tuple) -> str:
    names = ["..." if entry is Ellipsis else str(entry) for entry in shape]
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"


def _size(entry: int | str) -> int | None:
    """The size a shape entry asks for: an int itself, ``"d_model=8"`` 8, a bare name (``"N"``) any."""
    if isinstance(entry, int):
        return entry
    return int(entry.partition("=")[2]) if "=" in entry else None


def _fits(actual: tuple[int, ...], shape: tuple) -> bool:
    if Ellipsis in shape:  # any number of dimensions there
        cut = shape.index(Ellipsis)
        head, tail = shape[:cut], shape[cut + 1:]
        return (len(actual) >= len(head) + len(tail) and _fits(actual[:len(head)], head)
                and _fits(actual[len(actual) - len(tail):], tail))
    return len(actual) == len(shape) and all(_size(entry) in (None, got) for entry, got in zip(shape, actual))


def check_tensor(name: str, value: object, shape: tuple | None = None, *,
                 dtype: str | torch.dtype | None = "float") -> None:
    """Refuse anything but a tensor of the expected dtype and shape (metadata only: no GPU sync).

    Args:
        shape: one entry per dimension: an int must match exactly, a name
            (``"N"``, ``"length"``) matches any size, ``"d_model=8"`` must be 8
            (and reads so in the message), and one ``...`` stands for any number
            of dimensions. ``(..., "L", "d_k")``: at least 2 dimensions.
        dtype: ``"float"`` (any floating point, the default), ``"int"`` (any
            integer type, not bool), a ``torch.dtype``, or ``None`` for any.

    Raises:
        TypeError: ``"<name> must be a torch.Tensor, got list"``,
            ``"<name> must be a floating-point tensor, got torch.int64"`` (or
            ``an integer tensor``, ``a torch.bool tensor``).
        ValueError: ``"<name> must have shape (N, length, d_model=8), got (2, 4, 6)"``.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if dtype == "float":
        ok, wanted = value.is_floating_point(), "a floating-point tensor"
    elif dtype == "int":
        ok = not (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool)
        wanted = "an integer tensor"
    else:
        ok, wanted = dtype is None or value.dtype == dtype, f"a {dtype} tensor"
    if not ok:
        raise TypeError(f"{name} must be {wanted}, got {value.dtype}")
    if shape is not None and not _fits(tuple(value.shape), tuple(shape)):
        raise ValueError(f"{name} must have shape {_shape_text(tuple(shape))}, got {tuple(value.shape)}")


def check_same_shape(name: str, value: torch.Tensor, other_name: str, other: torch.Tensor) -> None:
    """Refuse two tensors of different shapes.

    Raises:
        ValueError: ``"<name> and <other_name> must have the same shape, got (4, 3) and (4, 2)"``.
    """
    if value.shape != other.shape:
        raise ValueError(f"{name} and {other_name} must have the same shape, "
                         f"got {tuple(value.shape)} and {tuple(other.shape)}")

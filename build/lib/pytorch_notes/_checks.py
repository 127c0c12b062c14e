"""Argument checks shared by the package, so every public function says what was wrong the same way."""

from __future__ import annotations

import math
import numbers


def check_int(name: str, value: object, minimum: int | None = None, maximum: int | None = None) -> None:
    """Refuse anything but an int (a bool is refused too) within ``[minimum, maximum]``.

    Raises:
        TypeError: ``"<name> must be an int, got <type>"``.
        ValueError: ``"<name> must be >= <minimum> and <= <maximum>, got <value>"`` (the bounds given).
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = " and ".join(f"{sign} {bound}" for sign, bound in ((">=", minimum), ("<=", maximum)) if bound is not None)
        raise ValueError(f"{name} must be {bounds}, got {value}")


def check_real(name: str, value: object) -> float:
    """Refuse anything but a finite real number (a bool is refused too); return it as a float.

    Raises:
        TypeError: ``"<name> must be a real number, got <type>"``.
        ValueError: ``"<name> must be finite, got <value>"``.
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)

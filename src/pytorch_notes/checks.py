"""Checking, in a chapter, that PyTorch refuses something."""

from __future__ import annotations

import re

from pytorch_notes._checks import check_type

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # terminal colours some PyTorch messages carry


class expect_error:  # noqa: N801 - used like a function: `with expect_error(...)`
    """Context manager: assert that the block raises ``exc_type``, then print the error.

    Like ``pytest.raises``, but for chapter code that also runs outside pytest.
    The first line of the message (without terminal colour codes) is printed so
    the reader sees what PyTorch says; the caught exception is kept in
    ``.error``. If the block raises nothing, or the message lacks ``match``, an
    ``AssertionError`` says so. Exceptions of other types pass through unchanged.

    Example:
        >>> import torch
        >>> with expect_error(RuntimeError, "a Tensor with 2 elements"):
        ...     torch.ones(2).item()
        RuntimeError: a Tensor with 2 elements cannot be converted to Scalar

    Raises:
        TypeError: if ``exc_type`` is not an exception class or ``match`` is not a string.
    """

    def __init__(self, exc_type: type[BaseException], match: str = ""):
        if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
            raise TypeError(f"exc_type must be an exception class, got {exc_type!r}")
        check_type("match", match, str, "a str")
        self.exc_type = exc_type
        self.match = match
        self.error: BaseException | None = None

    def __enter__(self) -> "expect_error":
        return self

    def __exit__(self, exc_type, error, traceback) -> bool:
        if exc_type is None:
            raise AssertionError(f"expected {self.exc_type.__name__}, but nothing was raised")
        if not issubclass(exc_type, self.exc_type):
            return False
        message = ANSI_ESCAPE.sub("", str(error))
        if self.match not in message:
            raise AssertionError(f"expected {self.match!r} in the {exc_type.__name__} message, "
                                 f"got {message!r}") from error
        self.error = error
        print(f"{exc_type.__name__}: {message.strip().splitlines()[0] if message.strip() else ''}")
        return True

"""Exercises that check the reader's answer.

Each track has an exercise notebook. Its first cell makes a checker in the
notebook's language, and each exercise ends by handing the reader's answer to it::

    check = checker("en")
    answer = torch.stack([a, b])  # the reader's code
    check("tensors.stack", answer)

``check`` prints ``✓`` and what is right, or ``✗`` and a hint that points at the
mistake without giving the answer away, and returns whether the answer is right.
An exercise is a function registered with :func:`exercise`; it inspects the answer
and raises :class:`Wrong` (through :func:`expect`) with a hint in both languages.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from functools import partial

import torch

from pytorch_notes._checks import check_choice, check_type

LANGUAGES = ("en", "zh")
VERDICT = {"en": ("✓ Right: ", "✗ Not yet: "), "zh": ("✓ 正确：", "✗ 还不对：")}
_exercises: dict[str, tuple[Callable[[object], None], dict[str, str]]] = {}


class Wrong(Exception):
    """What is wrong with an answer: a hint in English and Chinese, never the answer."""

    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.hint = {"en": en, "zh": zh}


def expect(condition: object, en: str, zh: str) -> None:
    """Raise :class:`Wrong` with the hint (``en``, ``zh``) unless ``condition`` holds."""
    if not condition:
        raise Wrong(en, zh)


def expect_tensor(result: object, name: str, shape: tuple) -> torch.Tensor:
    """The reader's ``name`` returned ``result``: pass it on if it is a tensor of ``shape``,
    else raise :class:`Wrong` saying what came instead (None, another type, another shape)."""
    expect(result is not None, f"{name} returned None: compute the result and return it.",
           f"{name} 返回了 None：把结果算出来并返回。")
    expect(isinstance(result, torch.Tensor), f"{name} should return a tensor.", f"{name} 应当返回一个张量。")
    expect(tuple(result.shape) == shape, f"{name} returned shape {tuple(result.shape)}, expected {shape}.",
           f"{name} 返回的形状是 {tuple(result.shape)}，应当是 {shape}。")
    return result


def exercise(name: str, en: str, zh: str) -> Callable:
    """Register the decorated function as the check of exercise ``name``.

    The function takes the reader's answer and returns nothing when it is right,
    or raises :class:`Wrong`. ``en`` and ``zh`` say what a right answer shows.

    Raises:
        ValueError: if ``name`` is already registered.
    """
    check_type("name", name, str, "a str")
    if name in _exercises:
        raise ValueError(f"exercise {name!r} is registered twice")

    def register(function: Callable[[object], None]) -> Callable[[object], None]:
        _exercises[name] = (function, {"en": en, "zh": zh})
        return function

    return register


def names() -> list[str]:
    """The names of all registered exercises, in the order they were registered."""
    return list(_exercises)


def check(name: str, answer: object, language: str = "en") -> bool:
    """Check ``answer`` to exercise ``name``, print the verdict in ``language``, return it.

    A right answer prints ``✓`` and what it shows; a wrong one prints ``✗`` and a hint.
    An answer the check cannot even inspect (the wrong kind of object, a function
    that raises) counts as wrong, with what went wrong as the hint. The check runs
    on a copy of the random state, so the reader's random numbers stay as they were.

    Raises:
        ValueError: for an unknown exercise name or language.
    """
    check_choice("language", language, LANGUAGES)
    if name not in _exercises:
        raise ValueError(f"there is no exercise {name!r}; known: {', '.join(_exercises)}")
    function, right = _exercises[name]
    right_prefix, wrong_prefix = VERDICT[language]
    try:
        with torch.random.fork_rng():  # a check may seed: the reader's random state stays as it was
            function(answer)
    except Wrong as wrong:
        print(wrong_prefix + wrong.hint[language])
        return False
    except Exception as error:  # noqa: BLE001 - the reader's object broke the check: say how
        problem = f"{type(error).__name__}: {error}"
        print(wrong_prefix + (f"checking the answer raised {problem}" if language == "en"
                              else f"检查答案时出错：{problem}"))
        return False
    print(right_prefix + right[language])
    return True


def checker(language: str) -> Callable[[str, object], bool]:
    """:func:`check` bound to ``language`` ("en" or "zh"): ``check = checker("zh")``.

    Raises:
        ValueError: for a language other than "en" and "zh".
    """
    check_choice("language", language, LANGUAGES)
    return partial(check, language=language)


def _register_tracks() -> None:
    """Import every module of this package: each registers one track's exercises."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_register_tracks()

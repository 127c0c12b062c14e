"""Decoding a language model: logit processors, sampling, greedy decoding and beam search.

Introduced by the chapters "Sampling" (inference/sampling) and "Beam search"
(inference/beam-search). A *step function* ``step_fn(prefix) -> logits`` maps a
prefix of token ids (a tuple of ints, starting with the BOS token) to the
next-token logits, a 1-D tensor of size ``V``. ``BigramLM`` is a tiny,
deterministic step function to experiment with.

The logit processors act on the last dimension of a ``(..., V)`` tensor and
follow the order of Hugging Face ``generate``: repetition penalty, then
temperature, then top-k, then top-p (``process_logits``). A removed token gets
the logit ``-inf``, so its probability after softmax is exactly 0.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import torch

from pytorch_notes._checks import check_choice, check_int, check_real, check_tensor, check_type

StepFn = Callable[[tuple[int, ...]], torch.Tensor]


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits by the temperature: ``softmax(logits / T)``.

    ``T < 1`` sharpens the distribution (``T -> 0``: one-hot on the argmax),
    ``T = 1`` leaves it unchanged, ``T > 1`` flattens it (``T -> inf``: uniform).
    The argmax never changes, so greedy decoding ignores the temperature.

    Args:
        logits: tensor of shape ``(..., V)``.
        temperature: a positive number.

    Returns:
        ``logits / temperature``, same shape.

    Raises:
        TypeError: if logits is not a floating-point tensor or temperature not a number.
        ValueError: if temperature is not positive and finite.
    """
    check_tensor("logits", logits, (..., "V"))
    if check_real("temperature", temperature) <= 0:
        raise ValueError(f"temperature must be positive, got {temperature} (use greedy decoding for T = 0)")
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row, set the others to ``-inf``.

    Exactly ``k`` tokens stay (among equal logits at the boundary, ``torch.topk``
    decides which), so after softmax their probabilities are renormalised to
    sum to 1. ``k >= V`` keeps every token.

    Args:
        logits: tensor of shape ``(..., V)``.
        k: number of tokens to keep, an int ``>= 1``.

    Returns:
        A new tensor of the same shape.

    Raises:
        TypeError: if logits is not a floating-point tensor or k not an int.
        ValueError: if k < 1.
    """
    check_tensor("logits", logits, (..., "V"))
    check_int("k", k, 1)
    if k >= logits.shape[-1]:
        return logits.clone()
    values, indices = logits.topk(k, dim=-1)
    return torch.full_like(logits, float("-inf")).scatter(-1, indices, values)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose mass is ``>= p``.

    Tokens are sorted by probability; a token is kept when the mass of the tokens
    *before* it is still ``< p``, so the token that crosses ``p`` is kept too, and
    the most likely token always stays. The others get ``-inf``.

    Args:
        logits: tensor of shape ``(..., V)``.
        p: the nucleus mass, a number in ``(0, 1]``; ``p = 1`` keeps every token
            of positive probability.

    Returns:
        A new tensor of the same shape.

    Raises:
        TypeError: if logits is not a floating-point tensor or p not a number.
        ValueError: if p is not in (0, 1].
    """
    check_tensor("logits", logits, (..., "V"))
    check_real("p", p, above=0, maximum=1)
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    remove_sorted = mass_before >= p
    remove_sorted[..., 0] = False
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def _token_tensor(tokens: object, logits: torch.Tensor) -> torch.Tensor:
    """previous_tokens as a LongTensor (..., L) fitting logits (..., V).

    The ids of a list are checked (plain ints: free); those of a tensor are not
    (reading them would wait for the GPU at every token). On the CPU an id out
    of range still fails, in ``gather``.
    """
    check_type("previous_tokens", tokens, (list, tuple, torch.Tensor), "a list of ints or a LongTensor")
    if not isinstance(tokens, torch.Tensor):
        if not all(isinstance(t, numbers.Integral) and not isinstance(t, bool) for t in tokens):
            raise TypeError(f"previous_tokens must hold ints, got {list(tokens)}")
        if not all(0 <= t < logits.shape[-1] for t in tokens):
            raise ValueError(f"previous_tokens must be token ids in [0, {logits.shape[-1]}), got {list(tokens)}")
        tokens = torch.tensor(list(tokens), dtype=torch.long, device=logits.device)
    check_tensor("previous_tokens", tokens, dtype=torch.long)
    if tokens.dim() != logits.dim() or tokens.shape[:-1] != logits.shape[:-1]:
        raise ValueError(f"previous_tokens of shape {tuple(tokens.shape)} does not fit logits of shape "
                         f"{tuple(logits.shape)}: expected (..., L) with the same leading dimensions")
    return tokens


def apply_repetition_penalty(logits: torch.Tensor, previous_tokens: torch.Tensor | Sequence[int],
                             penalty: float) -> torch.Tensor:
    """The CTRL repetition penalty, with the sign fix of Hugging Face.

    For every token id that appears in ``previous_tokens`` (once or more: the
    penalty is applied once per distinct token), a positive logit is divided by
    ``penalty`` and a negative one multiplied by it, so with ``penalty > 1`` the
    token always becomes less likely. (Dividing a negative logit would raise it.)

    Args:
        logits: tensor of shape ``(V,)`` or ``(..., V)``.
        previous_tokens: the token ids generated so far, a list of ints or a
            LongTensor of shape ``(L,)`` for 1-D logits, ``(..., L)`` otherwise.
        penalty: a positive number; 1 changes nothing, > 1 discourages repeats.

    Returns:
        A new tensor of the same shape.

    Raises:
        TypeError: if logits is not a floating-point tensor, previous_tokens not
            ints, or penalty not a number.
        ValueError: if penalty is not positive, the shapes do not fit, or a list
            holds an id outside ``[0, V)``. A tensor's ids are not read (that would
            wait for the GPU at every token); on the CPU an id out of range fails in ``gather``.
    """
    check_tensor("logits", logits, (..., "V"))
    penalty = check_real("penalty", penalty, above=0)
    tokens = _token_tensor(previous_tokens, logits)
    seen = logits.gather(-1, tokens)
    return logits.scatter(-1, tokens, torch.where(seen > 0, seen / penalty, seen * penalty))


def process_logits(logits: torch.Tensor, *, previous_tokens: torch.Tensor | Sequence[int] | None = None,
                   repetition_penalty: float = 1.0, temperature: float = 1.0, top_k: int | None = None,
                   top_p: float | None = None) -> torch.Tensor:
    """Apply, in this order, repetition penalty -> temperature -> top-k -> top-p.

    Each step is skipped when it is off (``penalty == 1`` or no previous tokens,
    ``temperature == 1``, ``top_k``/``top_p`` is ``None``). Top-p works on the
    distribution left by top-k, renormalised.

    Args:
        logits: tensor of shape ``(..., V)``.
        previous_tokens: token ids for the repetition penalty (see ``apply_repetition_penalty``).
        repetition_penalty: positive number, 1 = off.
        temperature: positive number, 1 = off.
        top_k: int >= 1 or None.
        top_p: number in (0, 1] or None.

    Returns:
        The processed logits, same shape; removed tokens are ``-inf``.

    Raises:
        TypeError, ValueError: as the individual processors.
    """
    check_tensor("logits", logits, (..., "V"))
    if previous_tokens is not None and repetition_penalty != 1.0:
        logits = apply_repetition_penalty(logits, previous_tokens, repetition_penalty)
    if temperature != 1.0:
        logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits


def sample_next(logits: torch.Tensor, *, generator: torch.Generator | None = None,
                previous_tokens: torch.Tensor | Sequence[int] | None = None, repetition_penalty: float = 1.0,
                temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Draw one next token per row from ``softmax(process_logits(logits, ...))``.

    Args:
        logits: tensor of shape ``(..., V)``.
        generator: optional ``torch.Generator``, for reproducible draws.
        previous_tokens: tokens already generated, for the repetition penalty (as in ``process_logits``).
        repetition_penalty: as in ``process_logits``.
        temperature: as in ``process_logits``.
        top_k: as in ``process_logits``.
        top_p: as in ``process_logits``.

    Returns:
        A LongTensor of shape ``logits.shape[:-1]`` (a 0-d tensor for 1-D logits).

    Raises:
        TypeError, ValueError: as ``process_logits``. A row without a finite logit
            is not checked (that would wait for the GPU at every token): its
            softmax is NaN, which ``torch.multinomial`` refuses on the CPU.
    """
    processed = process_logits(logits, previous_tokens=previous_tokens, repetition_penalty=repetition_penalty,
                               temperature=temperature, top_k=top_k, top_p=top_p)
    probs = processed.softmax(dim=-1).reshape(-1, processed.shape[-1])
    return torch.multinomial(probs, 1, generator=generator).reshape(processed.shape[:-1])


class Hypothesis(NamedTuple):
    """One decoded sequence.

    Attributes:
        tokens: the token ids, BOS first (and EOS last when finished).
        log_prob: sum of the log-probabilities of the generated tokens.
        score: ``log_prob`` divided by the length penalty (equal to it for ``alpha = 0``).
        finished: whether the sequence ended with EOS (False: cut at ``max_len``).
    """

    tokens: tuple[int, ...]
    log_prob: float
    score: float
    finished: bool


def _check_step_args(step_fn: object, bos: object, eos: object, max_len: object) -> None:
    check_type("step_fn", step_fn, Callable, "callable")
    check_int("bos", bos, 0)
    check_int("eos", eos, 0)
    check_int("max_len", max_len, 1)


def _next_log_probs(step_fn: StepFn, prefix: tuple[int, ...]) -> torch.Tensor:
    logits = step_fn(prefix)
    check_tensor("step_fn(prefix)", logits, ("V",))
    return logits.detach().float().log_softmax(dim=-1).cpu()


def greedy_decode(step_fn: StepFn, bos: int, eos: int, max_len: int) -> Hypothesis:
    """Pick the most likely next token (``argmax``) at every step.

    Args:
        step_fn: ``step_fn(prefix: tuple[int, ...]) -> logits`` of shape ``(V,)``.
        bos: the token id that starts every sequence.
        eos: the token id that ends a sequence.
        max_len: the most tokens to generate (EOS included).

    Returns:
        A ``Hypothesis`` (its score equals its log-probability); ``finished`` is
        False when ``max_len`` tokens came without EOS.

    Raises:
        TypeError: if step_fn is not callable or returns no floating-point tensor, or ids are not ints.
        ValueError: if an id is negative, max_len < 1, or step_fn returns logits that are not 1-D.
    """
    _check_step_args(step_fn, bos, eos, max_len)
    tokens, log_prob = (int(bos),), 0.0
    for _ in range(max_len):
        log_probs = _next_log_probs(step_fn, tokens)
        token = int(log_probs.argmax())
        tokens, log_prob = tokens + (token,), log_prob + float(log_probs[token])
        if token == eos:
            return Hypothesis(tokens, log_prob, log_prob, True)
    return Hypothesis(tokens, log_prob, log_prob, False)


def length_penalty(length: int, alpha: float, kind: str = "gnmt") -> float:
    """The divisor of a hypothesis's log-probability in beam search.

    ``"gnmt"`` (Wu et al., 2016): ``((5 + length) / 6) ** alpha``;
    ``"simple"``: ``length ** alpha`` (Hugging Face's ``length_penalty``).
    Both are 1 for ``alpha = 0`` (no normalisation) and for ``length = 1``.

    Args:
        length: number of generated tokens (EOS included), an int >= 1.
        alpha: the exponent, a number >= 0.
        kind: ``"gnmt"`` or ``"simple"``.

    Returns:
        The penalty, a float >= 1.

    Raises:
        TypeError: if length is not an int or alpha not a number.
        ValueError: if length < 1, alpha < 0 or kind is unknown.
    """
    check_int("length", length, 1)
    alpha = check_real("alpha", alpha, 0)
    check_choice("kind", kind, ("gnmt", "simple"))
    return ((5 + length) / 6) ** alpha if kind == "gnmt" else float(length) ** alpha


def beam_search(step_fn: StepFn, bos: int, eos: int, beam_width: int, max_len: int, alpha: float = 0.0,
                length_norm: str = "gnmt") -> list[Hypothesis]:
    """Beam search: keep the ``beam_width`` most likely prefixes at every step.

    At each step every live prefix is extended by every token; the candidates are
    ranked by their summed log-probability and the best ``beam_width`` are kept
    (ties go to the earlier beam, then the smaller token id; impossible candidates,
    of log-probability ``-inf``, are dropped). A kept candidate ending in EOS is
    finished: it leaves the beam (which shrinks by one) and waits in the result.
    The search stops when no live prefix is left or after ``max_len`` steps; the
    prefixes still alive then are returned as unfinished. Finished or not, each
    hypothesis is scored by ``log_prob / length_penalty(len, alpha, length_norm)``,
    ``len`` counting the generated tokens (EOS included). Live prefixes all have
    the same length, so the penalty only decides between hypotheses of
    different lengths. With ``beam_width = 1`` this is greedy decoding; with a
    width as large as the number of possible prefixes, exhaustive search.

    Args:
        step_fn: ``step_fn(prefix: tuple[int, ...]) -> logits`` of shape ``(V,)``.
        bos: the token id that starts every sequence.
        eos: the token id that ends a sequence.
        beam_width: the number of prefixes kept, an int >= 1.
        max_len: the most tokens to generate (EOS included), an int >= 1.
        alpha: length-penalty exponent, >= 0 (0: rank by log-probability).
        length_norm: ``"gnmt"`` or ``"simple"`` (see ``length_penalty``).

    Returns:
        The hypotheses, best score first.

    Raises:
        TypeError: if step_fn is not callable or returns no floating-point tensor, or a number has the wrong type.
        ValueError: if beam_width < 1, max_len < 1, an id is negative, alpha < 0,
            length_norm is unknown, or step_fn returns logits that are not 1-D.
    """
    _check_step_args(step_fn, bos, eos, max_len)
    check_int("beam_width", beam_width, 1)
    length_penalty(1, alpha, length_norm)  # checks alpha and length_norm

    def scored(tokens: tuple[int, ...], log_prob: float, finished: bool) -> Hypothesis:
        return Hypothesis(tokens, log_prob, log_prob / length_penalty(len(tokens) - 1, alpha, length_norm), finished)

    beams, done = [((int(bos),), 0.0)], []
    for _ in range(max_len):
        candidates = []
        for tokens, log_prob in beams:
            log_probs = _next_log_probs(step_fn, tokens)
            candidates += [(tokens + (token,), log_prob + float(lp)) for token, lp in enumerate(log_probs)
                           if lp > float("-inf")]
        candidates.sort(key=lambda candidate: -candidate[1])  # stable: ties keep their order
        beams = []
        for tokens, log_prob in candidates[:beam_width]:
            if tokens[-1] == eos:
                done.append(scored(tokens, log_prob, True))
            else:
                beams.append((tokens, log_prob))
        if not beams:
            break
    done += [scored(tokens, log_prob, False) for tokens, log_prob in beams]
    return sorted(done, key=lambda hypothesis: -hypothesis.score)


class BigramLM:
    """A tiny deterministic language model: the next token depends only on the last one.

    ``table[i, j]`` is the logit of token ``j`` after token ``i``. Calling the
    model on a prefix returns the row of its last token, so it is a step function
    for ``greedy_decode`` and ``beam_search``.

    Args:
        table: ``(V, V)`` floating-point tensor of logits; ``-inf`` marks an
            impossible transition, but every row needs a finite entry.
        vocab: optional list of ``V`` distinct words, for ``encode``/``decode``.

    Raises:
        TypeError: if table is not a floating-point tensor or vocab not a list of str.
        ValueError: if table is not square, has a row without a finite value or
            NaN, or vocab has the wrong size or repeated words.
    """

    def __init__(self, table: torch.Tensor, vocab: Sequence[str] | None = None):
        check_tensor("table", table, ("V", "V"))
        if table.shape[0] != table.shape[1] or table.isnan().any() or not torch.isfinite(table).any(dim=-1).all():
            raise ValueError(f"table must be square, with a finite logit in every row and no NaN, "
                             f"got shape {tuple(table.shape)}")
        if vocab is not None:
            if isinstance(vocab, str) or not all(isinstance(word, str) for word in vocab):
                raise TypeError("vocab must be a list of str")
            if len(vocab) != table.shape[0] or len(set(vocab)) != len(vocab):
                raise ValueError(f"vocab must hold {table.shape[0]} distinct words, got {len(vocab)} "
                                 f"({len(set(vocab))} distinct)")
            vocab = list(vocab)
        self.table = table.detach().clone()
        self.vocab = vocab

    @classmethod
    def from_probabilities(cls, vocab: Sequence[str], probabilities: Mapping[str, Mapping[str, float]]) -> BigramLM:
        """Build the model from ``{word: {next_word: probability}}``.

        The logits are ``log p`` (missing next words get ``p = 0``, logit ``-inf``);
        a word without an entry goes to every word with probability ``1 / V``.

        Raises:
            TypeError: if vocab is not a list of str or probabilities not a mapping.
            ValueError: if a word is not in vocab, a probability is negative, or a
                row does not sum to 1.
        """
        check_type("probabilities", probabilities, Mapping, "a dict of dicts")
        index = {word: i for i, word in enumerate(vocab)}
        size = len(vocab)
        probs = torch.full((size, size), 1.0 / size, dtype=torch.float64)
        for word, row in probabilities.items():
            if word not in index or not isinstance(row, Mapping) or any(w not in index for w in row):
                raise ValueError(f"unknown word in the row of {word!r}: every word must be in vocab")
            values = torch.zeros(size, dtype=torch.float64)
            for next_word, p in row.items():
                values[index[next_word]] = check_real(f"probability of {word!r} -> {next_word!r}", p, 0)
            if abs(values.sum().item() - 1) > 1e-6:
                raise ValueError(f"the probabilities after {word!r} must sum to 1, got {values.sum().item():.6g}")
            probs[index[word]] = values
        return cls(probs.log().float(), vocab)

    @property
    def vocab_size(self) -> int:
        return self.table.shape[0]

    def __call__(self, prefix: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Next-token logits ``(V,)`` after ``prefix`` (only its last token matters).

        Raises:
            TypeError: if prefix is not a sequence of token ids.
            ValueError: if prefix is empty or its last token is out of range.
        """
        if not isinstance(prefix, (Sequence, torch.Tensor)) or isinstance(prefix, str):
            raise TypeError(f"prefix must be a sequence of token ids, got {type(prefix).__name__}")
        if len(prefix) == 0:
            raise ValueError("prefix must hold at least one token (the BOS token)")
        last = int(prefix[-1])
        if not 0 <= last < self.vocab_size:
            raise ValueError(f"token id {last} is out of range [0, {self.vocab_size})")
        return self.table[last].clone()

    def log_prob(self, tokens: Sequence[int]) -> float:
        """Sum of ``log p(tokens[t] | tokens[t-1])`` over ``t = 1 .. len - 1`` (the first token is given)."""
        log_probs = self.table.log_softmax(dim=-1)
        return float(sum(log_probs[int(a), int(b)] for a, b in zip(tokens[:-1], tokens[1:])))

    def encode(self, text: str) -> list[int]:
        """Token ids of the space-separated words of ``text``."""
        if self.vocab is None:
            raise ValueError("this model has no vocab")
        unknown = [word for word in text.split() if word not in self.vocab]
        if unknown:
            raise ValueError(f"words not in the vocab: {unknown}")
        return [self.vocab.index(word) for word in text.split()]

    def decode(self, tokens: Sequence[int] | torch.Tensor) -> str:
        """The words of ``tokens``, joined by spaces."""
        if self.vocab is None:
            raise ValueError("this model has no vocab")
        return " ".join(self.vocab[int(t)] for t in tokens)

"""DDPM: the noise schedule, the forward process q(x_t | x_0), L_simple and ancestral sampling.

Introduced by the chapter "DDPM: denoising diffusion" (generative/ddpm), after
Ho et al., 2020; DDIM sampling and classifier-free guidance by the chapter
"Diffusion beyond DDPM" (generative/diffusion-beyond). Steps are numbered as in the paper, ``t = 1 .. T``; every
schedule tensor has ``T + 1`` entries, and entry ``0`` stands for the clean data
(``beta_0 = 0``, ``alpha_bar_0 = 1``), so that ``alpha_bars[t - 1]`` is always
defined::

    alpha_t     = 1 - beta_t
    alpha_bar_t = alpha_1 * alpha_2 * ... * alpha_t
    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)

A denoising model is called as ``model(x_t, t)`` with ``t`` an int64 tensor of
shape ``(N,)`` and returns its prediction of the noise ``epsilon``, shaped like ``x_t``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from pytorch_notes._checks import check_int, check_real, check_same_shape, check_tensor, check_type


def _check_batch(name: str, x: object, t: object, other_name: str, other: object) -> None:
    """x: a floating-point batch (N, ...); t: an integer tensor (N,); other (unless None): shaped like x.

    The values of t are not read (1..T is not checked): that would wait for the
    GPU on every training step. t = 0 gives back x_0; t > T fails when indexing.
    """
    check_tensor(name, x, ("N", ...))
    check_tensor("t", t, (f"N={x.shape[0]}",), dtype="int")
    if other is not None:
        check_tensor(other_name, other)
        check_same_shape(name, x, other_name, other)


class DDPMSchedule:
    """A linear beta schedule and every quantity of DDPM derived from it.

    All tensors are float64 with ``num_steps + 1`` entries, indexed by the step
    ``t`` (entry 0 is the clean data: ``beta_0 = 0``, ``alpha_bar_0 = 1``):

    - ``betas[t]``: the variance added at step t, linear from ``beta_start`` (t = 1)
      to ``beta_end`` (t = T);
    - ``alphas[t] = 1 - betas[t]``;
    - ``alpha_bars[t]``: the product of ``alphas[1..t]``;
    - ``posterior_variance[t] = (1 - alpha_bars[t-1]) / (1 - alpha_bars[t]) * betas[t]``,
      the variance of ``q(x_{t-1} | x_t, x_0)`` (0 at t = 1; entry 0 is 0 too);
    - ``posterior_coef_x0[t]`` and ``posterior_coef_xt[t]``: its mean is
      ``posterior_coef_x0[t] * x_0 + posterior_coef_xt[t] * x_t``.

    Args:
        num_steps: the number of diffusion steps T, at least 1.
        beta_start: beta_1, in (0, 1).
        beta_end: beta_T, in [beta_start, 1).

    Raises:
        TypeError: if num_steps is not an int or a beta is not a real number.
        ValueError: if num_steps < 1 or the betas are not 0 < beta_start <= beta_end < 1.
    """

    def __init__(self, num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> None:
        self.num_steps = int(check_int("num_steps", num_steps, 1))
        beta_start, beta_end = check_real("beta_start", beta_start), check_real("beta_end", beta_end)
        if not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got beta_start={beta_start}, beta_end={beta_end}")
        zero = torch.zeros(1, dtype=torch.float64)
        self.betas = torch.cat([zero, torch.linspace(beta_start, beta_end, self.num_steps, dtype=torch.float64)])
        self.alphas = 1 - self.betas
        self.alpha_bars = torch.cumprod(self.alphas, dim=0)  # alpha_bars[0] = 1
        previous = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bars[:-1]])  # alpha_bar_{t-1}
        denominator = (1 - self.alpha_bars).clamp_min(1e-300)  # 0 only at t = 0, where the numerators are 0 too
        self.posterior_variance = (1 - previous) / denominator * self.betas
        self.posterior_coef_x0 = previous.sqrt() * self.betas / denominator
        self.posterior_coef_xt = self.alphas.sqrt() * (1 - previous) / denominator
        self.posterior_variance[0] = self.posterior_coef_x0[0] = self.posterior_coef_xt[0] = 0.0

    def __repr__(self) -> str:
        return (f"DDPMSchedule(num_steps={self.num_steps}, beta_start={self.betas[1].item():g}, "
                f"beta_end={self.betas[-1].item():g})")

    def _coef(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """values[t], one per sample, shaped to broadcast over ``like``'s other dimensions."""
        picked = values.to(like.device)[t.to(like.device)].to(like.dtype)
        return picked.view(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Draw ``x_t ~ q(x_t | x_0)`` in one step: ``sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise``.

        Args:
            x0: clean samples, floating point, shape ``(N, ...)``.
            t: int tensor of shape ``(N,)``, one step in 1..T per sample (not checked: see below).
            noise: the standard normal noise epsilon, shaped like x0; drawn with
                ``torch.randn_like`` when omitted.

        Returns:
            ``x_t``, shaped like x0.

        Raises:
            TypeError: if x0 or noise is not a floating-point tensor, or t is not an integer tensor.
            ValueError: if t is not ``(N,)``, or noise is not shaped like x0. The
                values of t are not read (that would wait for the GPU on every
                training step): t = 0 gives x0 back, t > T fails when indexing.
        """
        _check_batch("x0", x0, t, "noise", noise)
        noise = torch.randn_like(x0) if noise is None else noise
        return self._coef(self.alpha_bars.sqrt(), t, x0) * x0 + self._coef((1 - self.alpha_bars).sqrt(), t, x0) * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Invert ``q_sample`` for a (predicted) noise: ``(x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)``.

        Args:
            x_t: noisy samples, floating point, shape ``(N, ...)``.
            t: int tensor of shape ``(N,)``, the step of each sample, in 1..T.
            eps: the noise (true or predicted), shaped like x_t.

        Returns:
            The estimate of x_0, shaped like x_t.

        Raises:
            TypeError: if x_t or eps is not a floating-point tensor, or t is not an integer tensor.
            ValueError: if t is not ``(N,)``, or eps is not shaped like x_t (t's values: as in ``q_sample``).
        """
        _check_batch("x_t", x_t, t, "eps", eps)
        sqrt_one_minus, sqrt_alpha_bar = (1 - self.alpha_bars).sqrt(), self.alpha_bars.sqrt()
        return (x_t - self._coef(sqrt_one_minus, t, x_t) * eps) / self._coef(sqrt_alpha_bar, t, x_t)

    def posterior_mean(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The mean of ``q(x_{t-1} | x_t, x_0)``: ``posterior_coef_x0[t] x_0 + posterior_coef_xt[t] x_t``.

        Args:
            x0: clean samples (or their estimate), floating point, shape ``(N, ...)``.
            x_t: noisy samples at step t, shaped like x0.
            t: int tensor of shape ``(N,)``, in 1..T.

        Returns:
            The posterior mean, shaped like x_t.

        Raises:
            TypeError: if x0 or x_t is not a floating-point tensor, or t is not an integer tensor.
            ValueError: if t is not ``(N,)``, or x0 and x_t differ in shape (t's values: as in ``q_sample``).
        """
        _check_batch("x0", x0, t, "x_t", x_t)
        return self._coef(self.posterior_coef_x0, t, x_t) * x0 + self._coef(self.posterior_coef_xt, t, x_t) * x_t


def ddpm_loss(model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], schedule: DDPMSchedule,
              x0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """L_simple: ``E ||epsilon - model(x_t, t)||^2`` with ``t`` uniform in 1..T, averaged over all elements.

    Draws, in this order, ``t = torch.randint(1, T + 1, (N,))`` and
    ``epsilon = torch.randn(x0.shape)`` (both from ``generator`` when given, on
    its device), forms ``x_t = schedule.q_sample(x0, t, epsilon)`` and returns
    ``F.mse_loss(model(x_t, t), epsilon)``.

    Args:
        model: the noise predictor, called as ``model(x_t, t)``.
        schedule: the DDPMSchedule.
        x0: a batch of clean samples, floating point, shape ``(N, ...)``.
        generator: optional torch.Generator for t and epsilon.

    Returns:
        A scalar tensor that back-propagates into the model.

    Raises:
        TypeError: if model is not callable, schedule is not a DDPMSchedule, x0 is not
            a floating-point tensor, or generator is not a torch.Generator.
        ValueError: if x0 is not a batch ``(N, ...)``, or the model's output is not shaped like x0.
    """
    check_type("model", model, Callable, "callable as model(x_t, t)")
    check_type("schedule", schedule, DDPMSchedule, "a DDPMSchedule")
    check_tensor("x0", x0, ("N", ...))
    check_type("generator", generator, (torch.Generator, type(None)), "a torch.Generator or None")
    device = generator.device if generator is not None else x0.device
    t = torch.randint(1, schedule.num_steps + 1, (x0.shape[0],), generator=generator, device=device).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator, device=device, dtype=x0.dtype).to(x0.device)
    prediction = model(schedule.q_sample(x0, t, noise), t)
    check_tensor("model(x_t, t)", prediction)
    check_same_shape("model(x_t, t)", prediction, "x0", x0)
    return F.mse_loss(prediction, noise)


def _sampler_noise(model, shape: tuple, generator: torch.Generator | None,
                   device: torch.device | str | None) -> tuple[torch.device, Callable[[], torch.Tensor]]:
    """Where a sampler works (``device``, else the model's, else the CPU) and how it draws
    standard normal noise: on the generator's device, so one seed gives the same samples anywhere."""
    if device is None:
        first = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
        device = first.device if first is not None else torch.device("cpu")
    noise_device = generator.device if generator is not None else device

    def normal() -> torch.Tensor:
        return torch.randn(shape, generator=generator, device=noise_device).to(device)

    return device, normal


@torch.no_grad()
def ddpm_sample(model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], schedule: DDPMSchedule,
                shape: tuple[int, ...], generator: torch.Generator | None = None,
                device: torch.device | str | None = None,
                return_trajectory: bool = False) -> torch.Tensor:
    """Ancestral sampling (Algorithm 2 of Ho et al.): from ``x_T ~ N(0, I)`` down to ``x_0``.

    For ``t = T, ..., 1``::

        eps     = model(x_t, t)
        mean    = (x_t - beta_t / sqrt(1 - alpha_bar_t) * eps) / sqrt(alpha_t)
        x_{t-1} = mean + sqrt(posterior_variance[t]) * z,   z ~ N(0, I)

    with no noise at ``t = 1`` (its posterior variance is 0). Noise is drawn, in
    this order, ``x_T`` first and then one ``z`` per step ``t = T .. 2``, each
    with ``torch.randn(shape, generator=generator)`` on the generator's device.

    Args:
        model: the noise predictor, called as ``model(x_t, t)`` with ``t`` int64 of shape ``(N,)``.
        schedule: the DDPMSchedule the model was trained with.
        shape: the shape of the batch to draw, ``(N, ...)``.
        generator: optional torch.Generator for the noise.
        device: where the model runs; default: the device of the model's first
            parameter, or the CPU.
        return_trajectory: if True, return every step instead of only x_0.

    Returns:
        float32 samples of ``shape``; with ``return_trajectory=True`` a tensor of
        shape ``(T + 1, *shape)`` whose entry ``t`` is ``x_t``.

    Raises:
        TypeError: if model is not callable, schedule is not a DDPMSchedule, shape is not
            a tuple of ints, or generator is not a torch.Generator.
        ValueError: if shape has a non-positive entry, or the model's output is not shaped like x_t.
    """
    check_type("model", model, Callable, "callable as model(x_t, t)")
    check_type("schedule", schedule, DDPMSchedule, "a DDPMSchedule")
    check_type("shape", shape, (tuple, list, torch.Size), "a tuple of ints")
    shape = tuple(int(check_int(f"shape[{i}]", size, 1)) for i, size in enumerate(shape))
    check_type("generator", generator, (torch.Generator, type(None)), "a torch.Generator or None")
    device, normal = _sampler_noise(model, shape, generator, device)

    x = normal()  # x_T
    trajectory = [x]
    for step in range(schedule.num_steps, 0, -1):
        eps = model(x, torch.full((shape[0],), step, dtype=torch.int64, device=device))
        check_tensor("model(x_t, t)", eps, shape)
        beta, alpha, alpha_bar = (float(v[step]) for v in (schedule.betas, schedule.alphas, schedule.alpha_bars))
        x = (x - beta / (1 - alpha_bar) ** 0.5 * eps) / alpha ** 0.5
        if step > 1:
            x = x + float(schedule.posterior_variance[step]) ** 0.5 * normal()
        trajectory.append(x)
    return torch.stack(trajectory[::-1]) if return_trajectory else x  # entry t is x_t


def _ddim_steps(num_train_steps: int, num_steps: int) -> list[int]:
    """``num_steps`` steps from T down to 1, evenly spaced and rounded: ``[T, ..., 1]`` (``[T]`` for one step)."""
    return torch.linspace(num_train_steps, 1, num_steps, dtype=torch.float64).round().long().tolist()


@torch.no_grad()
def ddim_sample(model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], schedule: DDPMSchedule,
                shape: tuple[int, ...], num_steps: int, eta: float = 0.0,
                generator: torch.Generator | None = None, device: torch.device | str | None = None,
                noise: torch.Tensor | None = None, return_trajectory: bool = False) -> torch.Tensor:
    """DDIM sampling (Song et al., 2021): ``num_steps`` of the T training steps, with noise scaled by ``eta``.

    The steps ``t_1 > t_2 > ... > t_S`` are spread evenly from T down to 1 and
    rounded (``num_steps = T`` visits every step), and each jumps from ``t`` to
    the next step ``s`` (``s = 0`` after the last)::

        eps    = model(x_t, t)
        x0_hat = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)
        sigma  = eta * sqrt((1 - a_s) / (1 - a_t) * (1 - a_t / a_s))
        x_s    = sqrt(a_s) x0_hat + sqrt(1 - a_s - sigma^2) eps + sigma z

    with ``a_t`` and ``a_s`` short for ``alpha_bar`` at ``t`` and ``s``.

    ``eta = 0`` is deterministic: the samples are a function of the starting
    noise, and after ``x_T`` nothing random is drawn. ``eta = 1`` with
    ``num_steps = T`` is DDPM's ancestral sampling (sigma^2 is then the
    posterior variance) and draws its noise in the same order as
    ``ddpm_sample``: ``x_T`` first (unless ``noise`` is given), then, when
    ``eta > 0``, one ``z`` per step except the last, each with
    ``torch.randn(shape, generator=generator)`` on the generator's device.

    Args:
        model: the noise predictor, called as ``model(x_t, t)`` with ``t`` int64 of shape ``(N,)``.
        schedule: the DDPMSchedule the model was trained with.
        shape: the shape of the batch to draw, ``(N, ...)``.
        num_steps: how many network calls, in 1..T.
        eta: the scale of the noise added per step, >= 0 (0: deterministic DDIM, 1: DDPM's variance).
        generator: optional torch.Generator for the noise.
        device: where the model runs; default: the device of the model's first
            parameter, or the CPU.
        noise: optional starting noise ``x_T`` of ``shape``; drawn when omitted.
        return_trajectory: if True, return every visited step instead of only x_0.

    Returns:
        float32 samples of ``shape``; with ``return_trajectory=True`` a tensor of
        shape ``(num_steps + 1, *shape)``: ``x_T`` first, then each step's result, ``x_0`` last.

    Raises:
        TypeError: if model is not callable, schedule is not a DDPMSchedule, shape is not
            a tuple of ints, num_steps is not an int, eta is not a real number,
            generator is not a torch.Generator, or noise is not a floating-point tensor.
        ValueError: if shape has a non-positive entry, num_steps is not in 1..T, eta < 0,
            noise does not have ``shape``, or the model's output is not shaped like x_t.
    """
    check_type("model", model, Callable, "callable as model(x_t, t)")
    check_type("schedule", schedule, DDPMSchedule, "a DDPMSchedule")
    check_type("shape", shape, (tuple, list, torch.Size), "a tuple of ints")
    shape = tuple(int(check_int(f"shape[{i}]", size, 1)) for i, size in enumerate(shape))
    check_int("num_steps", num_steps, 1, schedule.num_steps)
    eta = check_real("eta", eta, 0)
    check_type("generator", generator, (torch.Generator, type(None)), "a torch.Generator or None")
    if noise is not None:
        check_tensor("noise", noise, shape)
    device, normal = _sampler_noise(model, shape, generator, device)

    x = normal() if noise is None else noise.to(device, torch.float32)  # x_T
    trajectory = [x]
    steps = _ddim_steps(schedule.num_steps, num_steps)
    for step, next_step in zip(steps, steps[1:] + [0]):
        eps = model(x, torch.full((shape[0],), step, dtype=torch.int64, device=device))
        check_tensor("model(x_t, t)", eps, shape)
        alpha_bar, alpha_bar_next = float(schedule.alpha_bars[step]), float(schedule.alpha_bars[next_step])
        x0_hat = (x - (1 - alpha_bar) ** 0.5 * eps) / alpha_bar ** 0.5
        sigma = eta * ((1 - alpha_bar_next) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_next)) ** 0.5
        x = alpha_bar_next ** 0.5 * x0_hat + max(1 - alpha_bar_next - sigma ** 2, 0.0) ** 0.5 * eps
        if eta > 0 and next_step > 0:
            x = x + sigma * normal()
        trajectory.append(x)
    return torch.stack(trajectory) if return_trajectory else x


def classifier_free_guidance(model: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
                             labels: torch.Tensor, null_label: int,
                             weight: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Classifier-free guidance (Ho & Salimans, 2022): a guided noise predictor ``(x_t, t) -> eps``.

    ``model(x_t, t, y)`` is one network trained on both the labels and, with
    labels dropped at random, the ``null_label`` ("no label"). The guided
    prediction extrapolates from the unconditional towards the conditional one::

        eps = eps_cond + weight * (eps_cond - eps_uncond)
            = (1 + weight) * model(x_t, t, labels) - weight * model(x_t, t, null)

    ``weight = 0`` is the conditional model itself, ``weight = -1`` the
    unconditional one; ``weight > 0`` pushes samples towards their class.
    (Libraries that write ``eps_uncond + s * (eps_cond - eps_uncond)`` use
    ``s = 1 + weight``.) The two predictions are two calls of the model.
    The result can be passed to ``ddpm_sample`` or ``ddim_sample``.

    Args:
        model: the class-conditional noise predictor, called as ``model(x_t, t, y)``
            with ``y`` an integer tensor of shape ``(N,)``.
        labels: the class of each sample to draw, an integer tensor ``(N,)``.
        null_label: the label the model was trained with for "no label".
        weight: the guidance weight w (finite).

    Returns:
        A callable ``guided(x_t, t)`` returning the guided noise prediction.

    Raises:
        TypeError: if model is not callable, labels is not an integer tensor, null_label
            is not an int, or weight is not a real number.
        ValueError: if labels is not 1-D, or weight is not finite.
    """
    check_type("model", model, Callable, "callable as model(x_t, t, y)")
    check_tensor("labels", labels, ("N",), dtype="int")
    check_int("null_label", null_label)
    weight = check_real("weight", weight)

    def guided(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        eps_cond = model(x_t, t, labels.to(x_t.device))
        eps_uncond = model(x_t, t, torch.full_like(labels, null_label, device=x_t.device))
        return eps_cond + weight * (eps_cond - eps_uncond)

    return guided

"""Unit tests of pytorch_notes.diffusion: the schedule's formulas, q_sample, L_simple, the samplers, guidance, bad input."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_notes.diffusion import (
    DDPMSchedule,
    classifier_free_guidance,
    ddim_sample,
    ddpm_loss,
    ddpm_sample,
)


def test_schedule_tensors():
    schedule = DDPMSchedule(10, beta_start=0.01, beta_end=0.2)
    assert schedule.num_steps == 10
    for values in (schedule.betas, schedule.alphas, schedule.alpha_bars, schedule.posterior_variance,
                   schedule.posterior_coef_x0, schedule.posterior_coef_xt):
        assert values.shape == (11,) and values.dtype == torch.float64
    assert schedule.betas[0] == 0 and schedule.alpha_bars[0] == 1
    assert torch.allclose(schedule.betas[1:], torch.linspace(0.01, 0.2, 10, dtype=torch.float64))
    assert torch.allclose(schedule.alphas, 1 - schedule.betas)
    assert torch.allclose(schedule.alpha_bars[1:], torch.cumprod(1 - schedule.betas[1:], dim=0))
    assert schedule.posterior_variance[1] == 0  # x_0 is known exactly at the last step
    assert torch.allclose(schedule.posterior_coef_x0[1], torch.tensor(1.0, dtype=torch.float64))
    assert schedule.posterior_coef_xt[1] == 0
    assert "num_steps=10" in repr(schedule)


def test_posterior_is_gaussian_conditioning():
    schedule = DDPMSchedule(20, beta_start=0.01, beta_end=0.3)
    a_bar, alpha, beta = schedule.alpha_bars, schedule.alphas, schedule.betas
    for t in range(2, 21):
        v = 1 - a_bar[t - 1]
        cov = torch.tensor([[v, alpha[t].sqrt() * v], [alpha[t].sqrt() * v, alpha[t] * v + beta[t]]],
                           dtype=torch.float64)
        gain = cov[0, 1] / cov[1, 1]
        assert torch.isclose(schedule.posterior_coef_xt[t], gain)
        assert torch.isclose(schedule.posterior_coef_x0[t], a_bar[t - 1].sqrt() - gain * a_bar[t].sqrt())
        assert torch.isclose(schedule.posterior_variance[t], cov[0, 0] - cov[0, 1] ** 2 / cov[1, 1])


def test_q_sample_on_images_and_dtypes():
    schedule = DDPMSchedule(8, 0.05, 0.5)
    x0 = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    noise = torch.randn_like(x0)
    t = torch.tensor([1, 4, 8])
    x_t = schedule.q_sample(x0, t, noise)
    for i in range(3):
        a_bar = schedule.alpha_bars[t[i]]
        assert torch.allclose(x_t[i], a_bar.sqrt() * x0[i] + (1 - a_bar).sqrt() * noise[i])
    assert x_t.dtype == torch.float64
    assert schedule.q_sample(x0.float(), t).shape == x0.shape  # noise drawn when omitted
    assert torch.allclose(schedule.predict_x0(x_t, t, noise), x0)


def test_posterior_mean_in_terms_of_eps():
    schedule = DDPMSchedule(30, 0.01, 0.3)
    x0, eps = torch.randn(30, 2, dtype=torch.float64), torch.randn(30, 2, dtype=torch.float64)
    t = torch.arange(1, 31)
    x_t = schedule.q_sample(x0, t, eps)
    b, a, a_bar = (schedule.betas[t][:, None], schedule.alphas[t][:, None], schedule.alpha_bars[t][:, None])
    expected = (x_t - b / (1 - a_bar).sqrt() * eps) / a.sqrt()
    assert torch.allclose(schedule.posterior_mean(schedule.predict_x0(x_t, t, eps), x_t, t), expected)
    assert torch.allclose(schedule.posterior_mean(x0, x_t, t), expected)


class PointMassDenoiser(nn.Module):
    """The exact noise predictor when all the data is one point c."""

    def __init__(self, schedule, c):
        super().__init__()
        self.schedule, self.c = schedule, c
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x, t):
        a_bar = self.schedule.alpha_bars[t].float().view(-1, *([1] * (x.dim() - 1)))
        return (x - a_bar.sqrt() * self.c) / (1 - a_bar).sqrt()


def test_sampler_returns_the_point_with_the_exact_denoiser():
    schedule = DDPMSchedule(25, 0.01, 0.3)
    c = torch.tensor([1.5, -0.5])
    model = PointMassDenoiser(schedule, c)
    samples = ddpm_sample(model, schedule, (100, 2), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(samples, c.expand(100, 2), atol=1e-4)
    trajectory = ddpm_sample(model, schedule, (5, 2), generator=torch.Generator().manual_seed(3),
                             return_trajectory=True)
    assert trajectory.shape == (26, 5, 2)
    assert torch.equal(trajectory[25], torch.randn(5, 2, generator=torch.Generator().manual_seed(3)))
    assert torch.allclose(trajectory[0], c.expand(5, 2), atol=1e-4)


def test_sampler_matches_algorithm_2_and_is_deterministic():
    torch.manual_seed(0)
    schedule = DDPMSchedule(6, 0.05, 0.4)
    net = nn.Linear(3, 2)
    model = lambda x, t: net(torch.cat([x, t[:, None].float()], dim=1))  # noqa: E731  (a plain callable works)
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(4, 2, generator=generator)
    with torch.no_grad():
        for step in range(6, 0, -1):
            eps = model(x, torch.full((4,), step))
            x = (x - schedule.betas[step] / (1 - schedule.alpha_bars[step]).sqrt() * eps) / schedule.alphas[step].sqrt()
            if step > 1:
                x = x + schedule.posterior_variance[step].sqrt() * torch.randn(4, 2, generator=generator)
    package = ddpm_sample(model, schedule, (4, 2), generator=torch.Generator().manual_seed(7))
    assert torch.allclose(package, x.float(), atol=1e-6)
    again = ddpm_sample(model, schedule, (4, 2), generator=torch.Generator().manual_seed(7))
    assert torch.equal(package, again)


def test_ddpm_loss_is_l_simple_and_trains():
    torch.manual_seed(0)
    schedule = DDPMSchedule(10, 0.02, 0.3)
    net = nn.Linear(3, 2)
    model = lambda x, t: net(torch.cat([x, t[:, None].float() / 10], dim=1))  # noqa: E731
    x0 = torch.randn(16, 2)
    generator = torch.Generator().manual_seed(1)
    t = torch.randint(1, 11, (16,), generator=generator)
    eps = torch.randn(16, 2, generator=generator)
    expected = F.mse_loss(model(schedule.q_sample(x0, t, eps), t), eps)
    loss = ddpm_loss(model, schedule, x0, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(loss, expected)
    loss.backward()
    assert net.weight.grad.abs().sum() > 0


def test_bad_input_is_refused():
    schedule = DDPMSchedule(5, 0.1, 0.2)
    x0 = torch.zeros(3, 2)
    with pytest.raises(TypeError, match="num_steps must be an int"):
        DDPMSchedule(5.0)
    with pytest.raises(TypeError, match="num_steps must be an int"):
        DDPMSchedule(True)
    with pytest.raises(ValueError, match="num_steps must be >= 1"):
        DDPMSchedule(0)
    with pytest.raises(TypeError, match="beta_start must be a real number"):
        DDPMSchedule(5, "0.1", 0.2)
    with pytest.raises(ValueError, match="beta_start <= beta_end < 1"):
        DDPMSchedule(5, 0.3, 0.2)
    with pytest.raises(ValueError, match="beta_start <= beta_end < 1"):
        DDPMSchedule(5, 0.1, 1.0)
    with pytest.raises(ValueError, match="0 < beta_start"):
        DDPMSchedule(5, 0.0, 0.2)
    with pytest.raises(TypeError, match="integer tensor"):
        schedule.q_sample(x0, torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="t must be a torch.Tensor"):
        schedule.q_sample(x0, [1, 2, 3])
    with pytest.raises(ValueError, match=r"t must have shape \(N=3,\), got \(2,\)"):
        schedule.q_sample(x0, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"x0 must have shape \(N, \.\.\.\), got \(\)"):
        schedule.q_sample(torch.tensor(0.0), torch.tensor([1]))
    with pytest.raises(TypeError, match="floating-point"):
        schedule.q_sample(torch.zeros(3, 2, dtype=torch.long), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="x0 and noise must have the same shape"):
        schedule.q_sample(x0, torch.tensor([1, 2, 3]), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="x_t and eps must have the same shape"):
        schedule.predict_x0(x0, torch.tensor([1, 2, 3]), torch.zeros(3))
    with pytest.raises(ValueError, match="x0 and x_t must have the same shape"):
        schedule.posterior_mean(x0, torch.zeros(3, 3), torch.tensor([1, 2, 3]))
    model = lambda x, t: x  # noqa: E731
    with pytest.raises(TypeError, match="callable"):
        ddpm_loss("model", schedule, x0)
    with pytest.raises(TypeError, match="DDPMSchedule"):
        ddpm_loss(model, 5, x0)
    with pytest.raises(ValueError, match=r"x0 must have shape \(N, \.\.\.\)"):
        ddpm_loss(model, schedule, torch.tensor(0.0))
    with pytest.raises(TypeError, match="torch.Generator"):
        ddpm_loss(model, schedule, x0, generator=0)
    with pytest.raises(ValueError, match=r"model\(x_t, t\) and x0 must have the same shape"):
        ddpm_loss(lambda x, t: x[:, :1], schedule, x0)
    with pytest.raises(TypeError, match="tuple of ints"):
        ddpm_sample(model, schedule, 3)
    with pytest.raises(TypeError, match=r"shape\[1\] must be an int"):
        ddpm_sample(model, schedule, (3, 2.0))
    with pytest.raises(ValueError, match=r"shape\[0\] must be >= 1"):
        ddpm_sample(model, schedule, (0, 2))
    with pytest.raises(TypeError, match="torch.Generator"):
        ddpm_sample(model, schedule, (3, 2), generator=1)
    with pytest.raises(ValueError, match=r"model\(x_t, t\) must have shape \(3, 2\)"):
        ddpm_sample(lambda x, t: x.sum(dim=1), schedule, (3, 2))


def test_steps_are_not_range_checked():
    """Reading t would wait for the GPU on every training step: t = 0 is x_0 itself, t > T fails to index."""
    schedule = DDPMSchedule(5, 0.1, 0.2)
    x0, noise = torch.randn(3, 2), torch.randn(3, 2)
    assert torch.equal(schedule.q_sample(x0, torch.zeros(3, dtype=torch.long), noise), x0)
    with pytest.raises(IndexError):
        schedule.q_sample(x0, torch.tensor([1, 2, 6]), noise)


def linear_model(steps: int):
    """A small fixed network as a plain callable model(x, t)."""
    torch.manual_seed(0)
    net = nn.Linear(3, 2)
    return lambda x, t: net(torch.cat([x, t[:, None].float() / steps], dim=1))


def test_ddim_with_every_step_and_eta_one_is_ddpm():
    schedule = DDPMSchedule(6, 0.05, 0.4)
    model = linear_model(6)
    ddpm = ddpm_sample(model, schedule, (4, 2), generator=torch.Generator().manual_seed(7))
    ddim = ddim_sample(model, schedule, (4, 2), 6, eta=1.0, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(ddim, ddpm, atol=1e-5)
    ddim_zero = ddim_sample(model, schedule, (4, 2), 6, generator=torch.Generator().manual_seed(7))
    assert not torch.allclose(ddim_zero, ddpm, atol=1e-3)  # eta = 0 is another sampler


def test_ddim_visits_evenly_spaced_steps_and_draws_nothing_at_eta_zero():
    schedule = DDPMSchedule(10, 0.05, 0.4)
    model = linear_model(10)
    seen = []

    def recording(x, t):
        seen.append(int(t[0]))
        return model(x, t)

    noise = torch.randn(5, 2)
    generator = torch.Generator().manual_seed(3)
    state, global_state = generator.get_state(), torch.get_rng_state()
    trajectory = ddim_sample(recording, schedule, (5, 2), 4, generator=generator, noise=noise,
                             return_trajectory=True)
    assert seen == [10, 7, 4, 1]
    assert trajectory.shape == (5, 5, 2) and torch.equal(trajectory[0], noise)
    assert torch.equal(generator.get_state(), state) and torch.equal(torch.get_rng_state(), global_state)
    again = ddim_sample(model, schedule, (5, 2), 4, noise=noise)
    assert torch.equal(again, trajectory[-1])
    seen.clear()
    ddim_sample(recording, schedule, (5, 2), 1, noise=noise)
    assert seen == [10]  # one step starts at T
    seen.clear()
    ddim_sample(recording, schedule, (5, 2), 10, noise=noise)
    assert seen == list(range(10, 0, -1))
    noisy = [ddim_sample(model, schedule, (5, 2), 4, eta=0.5, noise=noise,
                         generator=torch.Generator().manual_seed(seed)) for seed in (1, 2)]
    assert not torch.allclose(noisy[0], noisy[1])


@pytest.mark.parametrize("num_steps", [1, 3, 25])
def test_ddim_returns_the_point_with_the_exact_denoiser(num_steps):
    schedule = DDPMSchedule(25, 0.01, 0.3)
    c = torch.tensor([1.5, -0.5])
    model = PointMassDenoiser(schedule, c)
    for eta in (0.0, 1.0):
        samples = ddim_sample(model, schedule, (50, 2), num_steps, eta=eta, generator=torch.Generator().manual_seed(0))
        assert torch.allclose(samples, c.expand(50, 2), atol=1e-4)


def test_ddim_sigma_with_eta_one_is_the_posterior_variance():
    schedule = DDPMSchedule(30, 0.01, 0.3)
    a = schedule.alpha_bars
    t = torch.arange(2, 31)
    sigma_squared = (1 - a[t - 1]) / (1 - a[t]) * (1 - a[t] / a[t - 1])
    assert torch.allclose(sigma_squared, schedule.posterior_variance[t])


class LabelledModel(nn.Module):
    """eps(x, t, y) = x * (y + 1): easy to predict by hand; y = 3 is the null label."""

    def forward(self, x, t, y):
        return x * (y[:, None].float() + 1)


def test_classifier_free_guidance():
    model = LabelledModel()
    x, t, y = torch.randn(4, 2), torch.full((4,), 5), torch.tensor([0, 1, 2, 0])
    cond, uncond = model(x, t, y), model(x, t, torch.full((4,), 3))
    assert torch.equal(classifier_free_guidance(model, y, 3, 0.0)(x, t), cond)
    assert torch.allclose(classifier_free_guidance(model, y, 3, -1.0)(x, t), uncond)
    assert torch.allclose(classifier_free_guidance(model, y, 3, 2.5)(x, t), 3.5 * cond - 2.5 * uncond)
    schedule = DDPMSchedule(5, 0.1, 0.2)
    guided = classifier_free_guidance(model, y, 3, 1.0)
    assert ddim_sample(guided, schedule, (4, 2), 2, generator=torch.Generator().manual_seed(0)).shape == (4, 2)


def test_ddim_and_guidance_refuse_bad_input():
    schedule = DDPMSchedule(5, 0.1, 0.2)
    model = lambda x, t: x  # noqa: E731
    with pytest.raises(TypeError, match="callable"):
        ddim_sample("model", schedule, (3, 2), 2)
    with pytest.raises(TypeError, match="DDPMSchedule"):
        ddim_sample(model, None, (3, 2), 2)
    with pytest.raises(TypeError, match="tuple of ints"):
        ddim_sample(model, schedule, 3, 2)
    with pytest.raises(TypeError, match="num_steps must be an int"):
        ddim_sample(model, schedule, (3, 2), 2.0)
    with pytest.raises(ValueError, match=r"num_steps must be in \[1, 5\], got 0"):
        ddim_sample(model, schedule, (3, 2), 0)
    with pytest.raises(ValueError, match=r"num_steps must be in \[1, 5\], got 6"):
        ddim_sample(model, schedule, (3, 2), 6)
    with pytest.raises(ValueError, match="eta must be >= 0"):
        ddim_sample(model, schedule, (3, 2), 2, eta=-0.1)
    with pytest.raises(TypeError, match="eta must be a real number"):
        ddim_sample(model, schedule, (3, 2), 2, eta="1")
    with pytest.raises(TypeError, match="torch.Generator"):
        ddim_sample(model, schedule, (3, 2), 2, generator=1)
    with pytest.raises(ValueError, match=r"noise must have shape \(3, 2\), got \(3, 3\)"):
        ddim_sample(model, schedule, (3, 2), 2, noise=torch.zeros(3, 3))
    with pytest.raises(TypeError, match="noise must be a floating-point tensor"):
        ddim_sample(model, schedule, (3, 2), 2, noise=torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"model\(x_t, t\) must have shape \(3, 2\)"):
        ddim_sample(lambda x, t: x.sum(dim=1), schedule, (3, 2), 2)
    labelled, y = LabelledModel(), torch.tensor([0, 1, 2])
    with pytest.raises(TypeError, match="callable"):
        classifier_free_guidance(None, y, 3, 1.0)
    with pytest.raises(TypeError, match="labels must be an integer tensor"):
        classifier_free_guidance(labelled, y.float(), 3, 1.0)
    with pytest.raises(ValueError, match=r"labels must have shape \(N,\)"):
        classifier_free_guidance(labelled, y[None], 3, 1.0)
    with pytest.raises(TypeError, match="null_label must be an int"):
        classifier_free_guidance(labelled, y, 3.0, 1.0)
    with pytest.raises(ValueError, match="weight must be finite"):
        classifier_free_guidance(labelled, y, 3, float("inf"))
    with pytest.raises(TypeError, match="weight must be a real number"):
        classifier_free_guidance(labelled, y, 3, "1")

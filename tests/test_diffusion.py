"""Unit tests of pytorch_notes.diffusion: the schedule's formulas, q_sample, L_simple, the sampler, bad input."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_notes.diffusion import DDPMSchedule, ddpm_loss, ddpm_sample


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

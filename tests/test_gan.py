"""Unit tests of pytorch_notes.gan, bad input included."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_notes.gan import discriminator_loss, gradient_penalty, generator_loss, mode_coverage


def test_discriminator_loss_is_binary_cross_entropy():
    torch.manual_seed(0)
    real, fake = 2 * torch.randn(10, 1), 2 * torch.randn(7)
    expected = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    assert torch.allclose(discriminator_loss(real, fake), expected)
    # A discriminator that cannot tell (D = 1/2 everywhere) scores log 4.
    assert torch.isclose(discriminator_loss(torch.zeros(3), torch.zeros(3)), torch.tensor(math.log(4)))


def test_generator_losses_and_their_gradients():
    logits = torch.tensor([-12.0, -3.0, 0.0, 3.0], requires_grad=True)
    d = torch.sigmoid(logits.detach())
    assert torch.allclose(generator_loss(logits), -d.log().mean())
    assert torch.allclose(generator_loss(logits, saturating=True), (1 - d).log().mean())
    (g_non,) = torch.autograd.grad(generator_loss(logits), logits)
    (g_sat,) = torch.autograd.grad(generator_loss(logits, saturating=True), logits)
    assert torch.allclose(g_non, -(1 - d) / 4) and torch.allclose(g_sat, -d / 4)
    assert g_sat[0].abs() < 1e-5 < 0.2 < g_non[0].abs()


def test_losses_stay_finite_for_extreme_logits():
    big = torch.tensor([-500.0, 500.0])
    for value in (discriminator_loss(big, big), generator_loss(big), generator_loss(big, saturating=True)):
        assert torch.isfinite(value)


def test_losses_reject_bad_input():
    with pytest.raises(TypeError, match="torch.Tensor"):
        discriminator_loss([0.0], torch.zeros(1))
    with pytest.raises(TypeError, match="floating-point"):
        discriminator_loss(torch.zeros(1), torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        discriminator_loss(torch.zeros(0), torch.zeros(1))
    with pytest.raises(ValueError, match="empty"):
        generator_loss(torch.zeros(0))
    with pytest.raises(TypeError, match="bool"):
        generator_loss(torch.zeros(2), saturating=1)


def test_gradient_penalty_matches_a_hand_computation_on_images():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake = torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2)
    epsilon = torch.rand(5)
    mixed = (epsilon.view(5, 1, 1, 1) * real + (1 - epsilon.view(5, 1, 1, 1)) * fake).requires_grad_()
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed)
    expected = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert torch.allclose(gradient_penalty(critic, real, fake, epsilon), expected)


def test_gradient_penalty_of_linear_critics():
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, -0.8]]))
    assert gradient_penalty(critic, real, fake).abs() < 1e-7  # 1-Lipschitz: no penalty
    with torch.no_grad():
        critic.weight.mul_(0.5)  # |w| = 1/2
    penalty = gradient_penalty(critic, real, fake)
    assert torch.isclose(penalty, torch.tensor(0.25))
    penalty.backward()
    assert critic.weight.grad is not None and (critic.weight.grad * critic.weight).sum() < 0  # grows |w|


def test_gradient_penalty_uses_epsilon_endpoints():
    critic = lambda x: (x**2).sum(dim=1)  # gradient 2x
    real, fake = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    assert torch.isclose(gradient_penalty(critic, real, fake, torch.ones(1)), torch.tensor(1.0))  # |2 real| = 2
    assert torch.isclose(gradient_penalty(critic, real, fake, torch.zeros(1)), torch.tensor(25.0))  # |2 fake| = 6


def test_gradient_penalty_rejects_bad_input():
    critic = nn.Linear(2, 1)
    x = torch.randn(4, 2)
    with pytest.raises(TypeError, match="callable"):
        gradient_penalty("critic", x, x)
    with pytest.raises(TypeError, match="floating-point"):
        gradient_penalty(critic, x.long(), x)
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(critic, x, x[:3])
    with pytest.raises(ValueError, match="non-empty"):
        gradient_penalty(critic, torch.randn(0, 2), torch.randn(0, 2))
    with pytest.raises(ValueError, match="epsilon must have shape"):
        gradient_penalty(critic, x, x, torch.rand(4, 1))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gradient_penalty(critic, x, x, torch.full((4,), 1.5))
    with pytest.raises(ValueError, match="4 scores"):
        gradient_penalty(nn.Linear(2, 3), x, x)


def test_mode_coverage_counts_per_centre():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    samples = torch.tensor([[0.1, 0.0], [9.9, 0.2], [10.0, -0.1], [4.0, 4.5]])  # the last is 6 from (0, 0)
    assert mode_coverage(samples, centres, max_distance=1.0).tolist() == [1, 2, 0]
    assert mode_coverage(samples, centres, max_distance=8.0).tolist() == [2, 2, 0]


@pytest.mark.parametrize("samples, centres, max_distance, error", [
    ([[0.0, 0.0]], torch.zeros(1, 2), 1.0, TypeError),
    (torch.zeros(3, 2), torch.zeros(1, 2, dtype=torch.long), 1.0, TypeError),
    (torch.zeros(3, 2), torch.zeros(1, 3), 1.0, ValueError),
    (torch.zeros(3), torch.zeros(1, 2), 1.0, ValueError),
    (torch.zeros(3, 2), torch.zeros(0, 2), 1.0, ValueError),
    (torch.zeros(3, 2), torch.zeros(1, 2), "1", TypeError),
    (torch.zeros(3, 2), torch.zeros(1, 2), 0.0, ValueError),
])
def test_mode_coverage_rejects_bad_input(samples, centres, max_distance, error):
    with pytest.raises(error):
        mode_coverage(samples, centres, max_distance)

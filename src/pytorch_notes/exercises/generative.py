"""Exercises of the Generative models track (docs/generative/exercises.ipynb)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pytorch_notes.exercises import exercise, expect, expect_tensor


@exercise("generative.gaussian-kl",
          en="½ Σ (μ² + σ² − log σ² − 1): zero only at the prior, and one term per latent dimension.",
          zh="½ Σ (μ² + σ² − log σ² − 1)：只有等于先验时才为 0，每个潜在维度一项。")
def _(answer):
    expect(callable(answer), "the answer should be the function kl_to_prior itself.",
           "答案应当是函数 kl_to_prior 本身。")
    generator = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 3, dtype=torch.float64, generator=generator)
    logvar = torch.randn(5, 3, dtype=torch.float64, generator=generator)
    out = expect_tensor(answer(mu, logvar), "kl_to_prior", (5,)).detach()
    terms = mu**2 + logvar.exp() - logvar - 1
    expect(not torch.allclose(out, 0.5 * terms.mean(dim=1)),
           "the terms are averaged over the latent dimensions: the dimensions are independent, "
           "so their KLs add.", "各项在潜在维度上取了平均：各维度相互独立，它们的 KL 应当相加。")
    expect(not torch.allclose(out, 0.5 * (terms + 1).sum(dim=1)),
           "the KL of the prior N(0, I) with itself would not be 0: is the −1 there?",
           "先验 N(0, I) 与自身的 KL 不会是 0：−1 那一项写了吗？")
    expect(not torch.allclose(out, 0.5 * (terms + 2 * logvar).sum(dim=1)),
           "check the sign of the log σ² term.", "检查 log σ² 那一项的符号。")
    expect(torch.allclose(out, 0.5 * terms.sum(dim=1)),
           "the values differ from ½ Σ (μ² + σ² − log σ² − 1): remember that logvar is log σ², "
           "so σ² = exp(logvar).",
           "数值与 ½ Σ (μ² + σ² − log σ² − 1) 不符：别忘了 logvar 是 log σ²，所以 σ² = exp(logvar)。")


@exercise("generative.reparameterize",
          en="z = μ + σ·ε keeps the randomness in ε: the samples have the right spread and the "
          "gradient reaches μ and log σ².",
          zh="z = μ + σ·ε 把随机性留在 ε 里：样本的离散程度正确，梯度也能传到 μ 和 log σ²。")
def _(answer):
    expect(callable(answer), "the answer should be the function reparameterize itself.",
           "答案应当是函数 reparameterize 本身。")
    mu = torch.tensor([1.0, -2.0]).repeat(20_000, 1).requires_grad_()
    logvar = torch.tensor([0.25, 4.0]).log().repeat(20_000, 1).requires_grad_()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        z = expect_tensor(answer(mu, logvar), "reparameterize", (20_000, 2))
    expect(z.requires_grad, "no gradient reaches μ and log σ²: draw ε from N(0, I) and build z "
           "from μ and σ with ordinary arithmetic.",
           "梯度到不了 μ 和 log σ²：从 N(0, I) 抽取 ε，再用普通的算术由 μ 和 σ 构造 z。")
    std = z.detach().std(dim=0)
    expect(not torch.allclose(std, torch.tensor([0.25, 4.0]), rtol=0.05),
           "the spread is σ², not σ: logvar is log σ², so σ = exp(logvar / 2).",
           "离散程度是 σ²，而不是 σ：logvar 是 log σ²，所以 σ = exp(logvar / 2)。")
    expect(torch.allclose(z.detach().mean(dim=0), torch.tensor([1.0, -2.0]), atol=0.05),
           "the samples are not centred on μ.", "样本的中心不在 μ 上。")
    expect(torch.allclose(std, torch.tensor([0.5, 2.0]), rtol=0.05),
           f"the standard deviations are {std.numpy().round(2).tolist()}, expected σ = [0.5, 2.0].",
           f"标准差是 {std.numpy().round(2).tolist()}，应当是 σ = [0.5, 2.0]。")
    z.sum().backward()
    expect(mu.grad is not None and torch.allclose(mu.grad, torch.ones_like(mu)),
           "no gradient reaches μ as it should (dz/dμ = 1 for z = μ + σ·ε): draw ε from N(0, I) "
           "and build z with ordinary arithmetic.",
           "梯度没有按应有的方式到达 μ（对 z = μ + σ·ε 有 dz/dμ = 1）：从 N(0, I) 抽取 ε，再用普通的算术构造 z。")


def _mnist_batch(size: int = 16) -> torch.Tensor:
    """The first ``size`` official MNIST test digits, in [0, 1], flattened to 784 values."""
    from pytorch_notes.datasets import mnist

    digits = mnist(train=False)
    pixels = np.stack([np.asarray(digits[i][0]) for i in range(size)])
    return torch.from_numpy(pixels).float().div(255).view(size, 784)


@exercise("generative.negative-elbo",
          en="reconstruction summed over the 784 pixels plus the KL term, averaged over the batch: "
          "the VAE's loss on real digits.",
          zh="在 784 个像素上求和的重构项加上 KL 项，再对批取平均：这就是 VAE 在真实数字上的损失。")
def _(answer):
    from pytorch_notes.vae import VAE, vae_loss

    expect(callable(answer), "the answer should be the function negative_elbo itself.",
           "答案应当是函数 negative_elbo 本身。")
    x = _mnist_batch()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = VAE(784, latent_dim=4)
    generator = torch.Generator().manual_seed(1)
    mu = 1.5 * torch.randn(16, 4, generator=generator)  # an encoder far from the prior
    logvar = 0.5 * torch.randn(16, 4, generator=generator)
    with torch.no_grad():
        logits = model.decode(mu)
    result = answer(logits, x, mu, logvar)
    expect(isinstance(result, torch.Tensor) and result.numel() == 1,
           "negative_elbo should return one number, the mean over the batch.",
           "negative_elbo 应当返回一个数：对批取平均。")
    value = result.detach().reshape(())
    loss, reconstruction, kl = vae_loss(logits, x, mu, logvar)
    per_pixel = F.binary_cross_entropy_with_logits(logits, x)
    expect(not torch.isclose(value, per_pixel + kl, rtol=1e-4),
           "the reconstruction term is averaged over the pixels: sum it over the 784 pixels, or "
           "the KL term dominates.", "重构项在像素上取了平均：要在 784 个像素上求和，否则 KL 项会占主导。")
    expect(not torch.isclose(value, reconstruction, rtol=1e-4),
           "the KL term is missing.", "少了 KL 项。")
    expect(not torch.isclose(value, loss * len(x), rtol=1e-4),
           "the value is summed over the batch: average it over the images.",
           "数值是对整个批求和的：应当对图像取平均。")
    expect(torch.isclose(value, loss, rtol=1e-4),
           "the value is not the mean over the images of Σ_pixels BCE(logits, x) + KL.",
           "数值不是各图像的 Σ_像素 BCE(logits, x) + KL 的平均。")


@exercise("generative.generator-loss",
          en="the non-saturating loss softplus(−logit) = −log D(G(z)) keeps a strong, finite "
          "gradient even when D rejects every sample.",
          zh="非饱和损失 softplus(−logit) = −log D(G(z)) 即使在 D 拒绝所有样本时，梯度也强而有限。")
def _(answer):
    expect(callable(answer), "the answer should be the function generator_loss itself.",
           "答案应当是函数 generator_loss 本身。")
    logits = torch.tensor([-200.0, -6.0, -1.0, 0.5, 3.0], requires_grad=True)
    loss = answer(logits)
    expect(isinstance(loss, torch.Tensor) and loss.numel() == 1,
           "generator_loss should return one number, the mean over the logits.",
           "generator_loss 应当返回一个数：对 logits 取平均。")
    expected = F.softplus(-logits.detach()).mean()
    expect(torch.isfinite(loss), "the loss is infinite for a logit of −200: log(sigmoid(x)) "
           "underflows; write it with softplus or logsigmoid.",
           "logit 为 −200 时损失是无穷大：log(sigmoid(x)) 会下溢；改用 softplus 或 logsigmoid 来写。")
    expect(not torch.allclose(loss.detach(), -F.softplus(logits.detach()).mean(), rtol=1e-4),
           "this is the saturating loss log(1 − D(G(z))): its gradient vanishes when D rejects "
           "the samples.", "这是饱和损失 log(1 − D(G(z)))：当 D 拒绝样本时，它的梯度会消失。")
    expect(loss.detach() > 0, "the loss is negative: the generator minimises −log D(G(z)).",
           "损失是负的：生成器要最小化的是 −log D(G(z))。")
    expect(torch.allclose(loss.detach(), expected, rtol=1e-4),
           "the value is not the mean of −log D(G(z)) over the logits (D = sigmoid of the logit).",
           "数值不是对各 logit 求的 −log D(G(z)) 的平均（D 是 logit 的 sigmoid）。")
    expect(loss.requires_grad, "the loss does not depend on the logits: gradients cannot reach "
           "the generator.", "损失与 logits 无关：梯度传不到生成器。")
    loss.backward()
    expect(logits.grad[0].abs() > 0.1, "the rejected sample (logit −200) gets no gradient.",
           "被拒绝的样本（logit −200）没有得到梯度。")


@exercise("generative.gradient-penalty",
          en="one gradient norm per interpolated sample, pushed towards 1, and differentiable "
          "(create_graph=True) so it can train the critic.",
          zh="每个插值样本一个梯度范数，把它推向 1；它可求导（create_graph=True），因此能训练评论家。")
def _(answer):
    expect(callable(answer), "the answer should be the function penalty itself.",
           "答案应当是函数 penalty 本身。")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        critic = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    generator = torch.Generator().manual_seed(1)
    real = torch.randn(8, 2, generator=generator) + 2
    fake = torch.randn(8, 2, generator=generator)
    epsilon = torch.rand(8, generator=generator)
    value = answer(critic, real, fake, epsilon)
    expect(isinstance(value, torch.Tensor) and value.numel() == 1,
           "penalty should return one number, the mean over the interpolates.",
           "penalty 应当返回一个数：对所有插值点取平均。")
    mixed = (epsilon[:, None] * real + (1 - epsilon[:, None]) * fake).requires_grad_()
    (gradients,) = torch.autograd.grad(critic(mixed).sum(), mixed)
    norms = gradients.norm(dim=1)
    expect(not torch.isclose(value.detach(), (gradients.norm() - 1) ** 2, rtol=1e-4),
           "one norm of the whole batch's gradient: take the norm of each sample's gradient.",
           "这是整批梯度的一个范数：应当对每个样本的梯度分别求范数。")
    expect(not torch.isclose(value.detach(), (norms**2).mean(), rtol=1e-4),
           "this pushes the norms to 0: the penalty is (‖g‖ − 1)², the critic should be "
           "1-Lipschitz.", "这会把范数推向 0：惩罚项是 (‖g‖ − 1)²，评论家应当是 1-Lipschitz 的。")
    expect(torch.isclose(value.detach(), ((norms - 1) ** 2).mean(), rtol=1e-4),
           "the value is not the mean of (‖∇f(x̂)‖ − 1)² at x̂ = ε·real + (1 − ε)·fake.",
           "数值不是在 x̂ = ε·real + (1 − ε)·fake 处 (‖∇f(x̂)‖ − 1)² 的平均。")
    expect(value.requires_grad, "the penalty cannot train the critic: the gradient must itself be "
           "differentiable (create_graph=True).",
           "这个惩罚项训练不了评论家：梯度本身必须可求导（create_graph=True）。")


def _schedule(steps: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """The DDPM chapter's betas (index t, entry 0 for the data) and alpha_bars."""
    betas = torch.cat([torch.zeros(1, dtype=torch.float64),
                       torch.linspace(2e-3, 0.4, steps, dtype=torch.float64)])
    return betas, torch.cumprod(1 - betas, dim=0)


@exercise("generative.q-sample",
          en="x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε jumps to any step at once, with ᾱ_t the product of "
          "the α's up to t.",
          zh="x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε 一步就能跳到任意一步，ᾱ_t 是到 t 为止各个 α 的乘积。")
def _(answer):
    expect(callable(answer), "the answer should be the function q_sample itself.",
           "答案应当是函数 q_sample 本身。")
    betas, alpha_bars = _schedule()
    generator = torch.Generator().manual_seed(2)
    x0 = torch.randn(6, 2, dtype=torch.float64, generator=generator)
    noise = torch.randn(6, 2, dtype=torch.float64, generator=generator)
    t = torch.tensor([1, 3, 10, 25, 40, 50])
    out = expect_tensor(answer(x0, t, noise, betas), "q_sample", (6, 2)).detach().double()

    def closed_form(bars):
        coef = bars[t][:, None]
        return coef.sqrt() * x0 + (1 - coef).sqrt() * noise

    alphas = 1 - betas
    expect(not torch.allclose(out, closed_form(alphas)),
           "this uses α_t alone, one step of noise: q(x_t | x_0) needs ᾱ_t, the product of "
           "α_1 .. α_t.", "这里只用了 α_t，也就是一步的噪声：q(x_t | x_0) 需要 ᾱ_t，即 α_1 .. α_t 的乘积。")
    coef = alpha_bars[t][:, None]
    expect(not torch.allclose(out, coef * x0 + (1 - coef) * noise),
           "the coefficients are ᾱ_t and 1 − ᾱ_t: they are the variances; the mean and the noise "
           "are scaled by their square roots.",
           "系数用的是 ᾱ_t 和 1 − ᾱ_t：它们是方差；均值和噪声要乘的是它们的平方根。")
    expect(not torch.allclose(out, closed_form(torch.cat([alpha_bars[1:], alpha_bars[-1:]]))),
           "ᾱ_t is off by one step: with the book's indexing, entry t of the schedule belongs to "
           "step t.", "ᾱ_t 错了一步：按本书的下标，调度表的第 t 项就属于第 t 步。")
    expect(torch.allclose(out, closed_form(alpha_bars)),
           "x_t is not √ᾱ_t x_0 + √(1 − ᾱ_t) ε.", "x_t 不是 √ᾱ_t x_0 + √(1 − ᾱ_t) ε。")


_DATA_MEAN, _DATA_STD = torch.tensor([1.5, -1.0], dtype=torch.float64), 0.5


def _ideal_noise_predictor(alpha_bars: torch.Tensor):
    """The exact ε-prediction E[ε | x_t] for data N(_DATA_MEAN, _DATA_STD² I): a perfect model."""

    def predict(x, t):
        bar = alpha_bars[t][:, None]
        variance = bar * _DATA_STD**2 + 1 - bar
        return ((1 - bar).sqrt() * (x.double() - bar.sqrt() * _DATA_MEAN) / variance).to(x.dtype)

    return predict


@exercise("generative.ddpm-sampling",
          en="ancestral sampling with a perfect noise predictor turns pure noise into the data "
          "distribution: right mean and right spread.",
          zh="用完美的噪声预测器做祖先采样，把纯噪声变成了数据分布：均值和离散程度都对。")
def _(answer):
    expect(callable(answer), "the answer should be the function sample itself.",
           "答案应当是函数 sample 本身。")
    betas, alpha_bars = _schedule()
    model = _ideal_noise_predictor(alpha_bars)
    samples = expect_tensor(answer(model, betas, 4000, torch.Generator().manual_seed(3)), "sample",
                      (4000, 2)).detach().double()
    expect(torch.isfinite(samples).all(), "the samples hold inf or NaN: check the coefficients of "
           "each step.", "样本里有 inf 或 NaN：检查每一步的系数。")
    mean, std = samples.mean(dim=0), samples.std(dim=0)
    expect(torch.allclose(mean, _DATA_MEAN, atol=0.1),
           f"the samples are centred at {mean.numpy().round(2).tolist()}, the data at [1.5, -1.0]: "
           "check the mean of each step, (x_t − β_t / √(1 − ᾱ_t) · ε_θ) / √α_t.",
           f"样本的中心在 {mean.numpy().round(2).tolist()}，数据的中心在 [1.5, -1.0]：检查每一步的均值 "
           "(x_t − β_t / √(1 − ᾱ_t) · ε_θ) / √α_t。")
    expect((std > 0.35).all(), f"the samples are too narrow (std {std.numpy().round(2).tolist()}, "
           "data 0.5): is fresh noise σ_t·z added at every step but the last?",
           f"样本太集中了（标准差 {std.numpy().round(2).tolist()}，数据为 0.5）：除最后一步外，每一步都加上新的噪声 σ_t·z 了吗？")
    expect((std < 0.65).all(), f"the samples are too spread out (std {std.numpy().round(2).tolist()}, "
           "data 0.5): check σ_t² (the posterior variance β̃_t).",
           f"样本太分散了（标准差 {std.numpy().round(2).tolist()}，数据为 0.5）：检查 σ_t²（后验方差 β̃_t）。")

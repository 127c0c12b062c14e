"""Typical wrong answers to the Generative models exercises, each with the hint it must get."""

_SAMPLER = (
    "@torch.no_grad()\n"
    "def answer(model, betas, n, generator):\n"
    "    alphas = 1 - betas\n"
    "    alpha_bars = torch.cumprod(alphas, dim=0)\n"
    "    x = torch.randn(n, 2, generator=generator)\n"
    "    for step in range(len(betas) - 1, 0, -1):\n"
    "        eps_theta = model(x, torch.full((n,), step))\n"
    "        x = (x - betas[step] / (1 - alpha_bars[step]).sqrt() * eps_theta) / {divisor}\n"
    "{noise}"
    "    return x.float()\n"
)
_NOISE = ("        if step > 1:\n"
          "            var = (1 - alpha_bars[step - 1]) / (1 - alpha_bars[step]) * betas[step]\n"
          "            x = x + {scale} * torch.randn(n, 2, generator=generator)\n")

WRONG = {
    "generative.gaussian-kl": [
        ("answer = lambda mu, logvar: 0.5 * (mu**2 + logvar.exp() - logvar).sum(-1)", "is the −1 there"),
        ("answer = lambda mu, logvar: 0.5 * (mu**2 + logvar.exp() - logvar - 1).mean(-1)",
         "their KLs add"),
        ("answer = lambda mu, logvar: 0.5 * (mu**2 + logvar**2 - logvar - 1).sum(-1)", "σ² = exp(logvar)"),
    ],
    "generative.reparameterize": [
        ("answer = lambda mu, logvar: torch.normal(mu, (0.5 * logvar).exp())", "no gradient reaches"),
        ("answer = lambda mu, logvar: mu + logvar.exp() * torch.randn_like(mu)", "the spread is σ², not σ"),
        ("answer = lambda mu, logvar: mu + logvar * torch.randn_like(mu)", "expected σ = [0.5, 2.0]"),
    ],
    "generative.negative-elbo": [
        (("def answer(logits, x, mu, logvar):\n"
         "    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=1)\n"
         "    return F.binary_cross_entropy_with_logits(logits, x) + kl.mean()"), "averaged over the pixels"),
        (("answer = lambda logits, x, mu, logvar: "
         "F.binary_cross_entropy_with_logits(logits, x, reduction='none').sum(dim=1).mean()"), "KL term is missing"),
        (("def answer(logits, x, mu, logvar):\n"
         "    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum()\n"
         "    return F.binary_cross_entropy_with_logits(logits, x, reduction='sum') + kl"), "summed over the batch"),
    ],
    "generative.generator-loss": [
        ("answer = lambda fake_logits: -torch.log(torch.sigmoid(fake_logits)).mean()", "underflows"),
        ("answer = lambda fake_logits: -F.softplus(fake_logits).mean()", "this is the saturating loss"),
        ("answer = lambda fake_logits: F.logsigmoid(fake_logits).mean()", "the loss is negative"),
    ],
    "generative.gradient-penalty": [
        (("def answer(critic, real, fake, epsilon):\n"
         "    x = (epsilon[:, None] * real + (1 - epsilon[:, None]) * fake).requires_grad_()\n"
         "    (g,) = torch.autograd.grad(critic(x).sum(), x)\n"
         "    return ((g.norm(dim=1) - 1) ** 2).mean()"), "create_graph=True"),
        (("def answer(critic, real, fake, epsilon):\n"
         "    x = (epsilon[:, None] * real + (1 - epsilon[:, None]) * fake).requires_grad_()\n"
         "    (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)\n"
         "    return (g.norm() - 1) ** 2"), "each sample's gradient"),
        (("def answer(critic, real, fake, epsilon):\n"
         "    x = (epsilon[:, None] * real + (1 - epsilon[:, None]) * fake).requires_grad_()\n"
         "    (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)\n"
         "    return (g.norm(dim=1) ** 2).mean()"), "pushes the norms to 0"),
    ],
    "generative.q-sample": [
        (("def answer(x0, t, noise, betas):\n"
         "    a = (1 - betas)[t][:, None]\n"
         "    return a.sqrt() * x0 + (1 - a).sqrt() * noise"), "uses α_t alone"),
        (("def answer(x0, t, noise, betas):\n"
         "    a = torch.cumprod(1 - betas, 0)[t][:, None]\n"
         "    return a * x0 + (1 - a) * noise"), "scaled by their square roots"),
        (("def answer(x0, t, noise, betas):\n"
         "    a = torch.cumprod(1 - betas[1:], 0)[t - 1][:, None]\n"
         "    a = torch.cumprod(1 - betas, 0)[torch.clamp(t + 1, max=len(betas) - 1)][:, None]\n"
         "    return a.sqrt() * x0 + (1 - a).sqrt() * noise"), "off by one step"),
    ],
    "generative.ddpm-sampling": [
        (_SAMPLER.format(divisor="alphas[step].sqrt()", noise=""), "too narrow"),
        (_SAMPLER.format(divisor="alphas[step].sqrt()", noise=_NOISE.format(scale="var")), "too narrow"),
        (_SAMPLER.format(divisor="alpha_bars[step].sqrt()", noise=_NOISE.format(scale="var.sqrt()")),
         "the samples are centred at"),
    ],
}

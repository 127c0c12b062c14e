"""Typical wrong answers to the Loss functions in depth exercises, each with the hint it must get."""

_PROJECT = (
    "from pytorch_notes.losses import info_nce\n"
    "torch.manual_seed(0)\n"
    "def two_views(signal):\n"
    "    jitter = signal + 0.05 * torch.randn_like(signal)\n"
    "    return torch.cat([jitter, torch.randn(len(signal), 6)], dim=1)\n"
    "encoder = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8))\n"
    "optimizer = torch.optim.Adam(encoder.parameters(), lr=0.01)\n"
    "for step in range(150):\n"
    "    signal = torch.rand(128, 2) * 4 - 2\n"
    "{body}"
    "answer = encoder\n"
)

WRONG = {
    "losses.kl-div": [
        ("answer = lambda p, q: F.kl_div(p.log(), q, reduction='batchmean')", "the other direction"),
        ("answer = lambda p, q: F.kl_div(q, p, reduction='batchmean')", "expects log-probabilities"),
        ("answer = lambda p, q: F.kl_div(q.log(), p)", "5 times too small"),
    ],
    "losses.distillation": [
        (("def answer(s, t, y, T, alpha):\n"
         "    soft = F.kl_div(F.log_softmax(s / T, 1), F.log_softmax(t / T, 1),\n"
         "                    reduction='batchmean', log_target=True)\n"
         "    return alpha * soft + (1 - alpha) * F.cross_entropy(s, y)"),
         "not multiplied by T²"),
        (("def answer(s, t, y, T, alpha):\n"
         "    soft = F.kl_div(F.log_softmax(t / T, 1), F.log_softmax(s / T, 1),\n"
         "                    reduction='batchmean', log_target=True)\n"
         "    return alpha * T**2 * soft + (1 - alpha) * F.cross_entropy(s, y)"),
         "the teacher is the target"),
        (("def answer(s, t, y, T, alpha):\n"
         "    soft = F.kl_div(F.log_softmax(s, 1), F.log_softmax(t, 1),\n"
         "                    reduction='batchmean', log_target=True)\n"
         "    return alpha * T**2 * soft + (1 - alpha) * F.cross_entropy(s, y)"),
         "divide both sets of logits by T"),
    ],
    "losses.focal": [
        (("def answer(logits, targets, gamma):\n"
         "    log_p = F.log_softmax(logits, 1).gather(1, targets[:, None]).squeeze(1)\n"
         "    return ((1 - log_p.exp()) ** gamma * log_p).mean()"),
         "the loss is negative"),
        (("def answer(logits, targets, gamma):\n"
         "    log_p = F.log_softmax(logits, 1).gather(1, targets[:, None]).squeeze(1)\n"
         "    return (-(log_p.exp() ** gamma) * log_p).mean()"),
         "should shrink the loss of easy examples"),
        (("def answer(logits, targets, gamma):\n"
         "    log_p = F.log_softmax(logits, 0).gather(1, targets[:, None]).squeeze(1)\n"
         "    return (-((1 - log_p.exp()) ** gamma) * log_p).mean()"),
         "check how p_t is taken"),
    ],
    "losses.smoothing-gap": [
        ("import math\nanswer = lambda eps, K: math.log((1 - eps) / (eps / K))", "also gets its share"),
        ("import math\nanswer = lambda eps, K: math.log((1 - eps) / (eps / (K - 1)))", "over all K"),
        ("answer = lambda eps, K: float('inf')", "the best gap is finite"),
    ],
    "losses.info-nce": [
        ("answer = lambda q, k, t: F.cross_entropy(q @ k.T / t, torch.arange(len(q)))",
         "normalize the embeddings first"),
        (("answer = lambda q, k, t: F.cross_entropy(F.normalize(q, dim=1) @ F.normalize(k, dim=1).T,"
         " torch.arange(len(q)))"), "the temperature is missing"),
        (("answer = lambda q, k, t: F.cross_entropy(F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / t,"
         " torch.zeros(len(q), dtype=torch.long))"), "the positive of row i is in column i"),
    ],
    "losses.contrastive-project": [
        (_PROJECT.format(body="    pass\n"), "pick their own second view"),
        (_PROJECT.format(body="    z = encoder(two_views(signal))\n"
                              "    loss = info_nce(z, z, temperature=0.1)\n"
                              "    optimizer.zero_grad()\n"
                              "    loss.backward()\n"
                              "    optimizer.step()\n"),
         "pick their own second view"),
    ],
}

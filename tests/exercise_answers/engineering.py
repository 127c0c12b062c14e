"""Typical wrong answers to the Training engineering exercises, each with the hint it must get."""

_DDP = (
    "import copy\n"
    "def answer(model, inputs, targets, world_size, lr):\n"
    "    replicas = [copy.deepcopy(model) for _ in range(world_size)]\n"
    "    for replica, x, y in zip(replicas, inputs.chunk(world_size), targets.chunk(world_size)):\n"
    "        F.mse_loss(replica(x), y).backward()\n"
    "    with torch.no_grad():\n"
    "        for params in zip(*(r.parameters() for r in replicas)):\n"
    "{update}"
    "    return replicas\n"
)

WRONG = {
    "engineering.param-groups": [
        (("def answer(model, wd):\n"
         "    named = list(model.named_parameters())\n"
         "    return [{'params': [p for n, p in named if n.endswith('weight')], 'weight_decay': wd},\n"
         "            {'params': [p for n, p in named if n.endswith('bias')], 'weight_decay': 0.0}]"),
         "the LayerNorm weight is decayed"),
        (("def answer(model, wd):\n"
         "    return [{'params': [p for p in model.parameters() if p.dim() >= 2], 'weight_decay': wd}]"),
         "in no group"),
        (("def answer(model, wd):\n"
         "    return [{'params': [p for p in model.parameters() if p.dim() >= 2], 'weight_decay': wd},\n"
         "            {'params': [p for p in model.parameters() if p.dim() < 2]}]"),
         "takes the optimizer's default"),
    ],
    "engineering.warmup-cosine": [
        (("def answer(step, total, warmup, base, low):\n"
         "    if step < warmup:\n"
         "        return base * (step + 1) / warmup\n"
         "    p = min(1.0, (step - warmup) / (total - warmup))\n"
         "    return low + 0.5 * (base - low) * (1 + math.cos(math.pi * p))"), "the warmup starts at 0"),
        (("def answer(step, total, warmup, base, low):\n"
         "    if step < warmup:\n"
         "        return base * step / warmup\n"
         "    p = min(1.0, step / total)\n"
         "    return low + 0.5 * (base - low) * (1 + math.cos(math.pi * p))"), "between warmup_steps and total_steps"),
        (("def answer(step, total, warmup, base, low):\n"
         "    if step < warmup:\n"
         "        return base * step / warmup\n"
         "    p = (step - warmup) / (total - warmup)\n"
         "    return low + 0.5 * (base - low) * (1 + math.cos(math.pi * p))"), "should stay at min_lr"),
    ],
    "engineering.unscale": [
        (("def answer(grads, scale):\n"
         "    out = [g / scale for g in grads]\n"
         "    return out, not all(torch.isfinite(g).all() for g in out)"), "unscale in float32"),
        (("def answer(grads, scale):\n"
         "    out = [g.float() / scale for g in grads]\n"
         "    return out, any(torch.isinf(g).any() for g in out)"), "a gradient holds NaN"),
        (("def answer(grads, scale):\n"
         "    out = [g.float() for g in grads]\n"
         "    return out, not all(torch.isfinite(g).all() for g in out)"), "still scaled"),
    ],
    "engineering.checkpoint": [
        (("from torch.utils.checkpoint import checkpoint\n"
         "def answer(model, x):\n"
         "    for block in model:\n"
         "        x = checkpoint(block, x, use_reentrant=True)\n"
         "    return x"), "use_reentrant=False"),
        ("answer = lambda model, x: model(x)", "as many as without checkpointing"),
    ],
    "engineering.shard-indices": [
        ("answer = lambda n, ws, rank: list(range(rank, n, ws))", "pad with indices from the start"),
        (("def answer(n, ws, rank):\n"
         "    per = math.ceil(n / ws)\n"
         "    idx = list(range(n)) + list(range(n))[:per * ws - n]\n"
         "    return idx[rank * per:(rank + 1) * per]"), "every 3-th index"),
    ],
    "engineering.ddp-step": [
        (_DDP.format(update="            total = sum(p.grad for p in params)\n"
                            "            for p in params:\n"
                            "                p -= lr * total\n"), "4 times too large"),
        (_DDP.format(update="            for p in params:\n"
                            "                p -= lr * p.grad\n"), "the replicas differ"),
        (("import copy\n"
         "def answer(model, inputs, targets, world_size, lr):\n"
         "    F.mse_loss(model(inputs), targets).backward()\n"
         "    with torch.no_grad():\n"
         "        for p in model.parameters():\n"
         "            p -= lr * p.grad\n"
         "    return [copy.deepcopy(model) for _ in range(world_size)]"), "the original model changed"),
    ],
}

"""Typical wrong answers to the Architecture exercises, each with the hint it must get."""

_MHA = (
    "from pytorch_notes.attention import scaled_dot_product_attention\n"
    "class SelfAttention(torch.nn.Module):\n"
    "    def __init__(self, d_model, num_heads):\n"
    "        super().__init__()\n"
    "        self.num_heads = num_heads\n"
    "        self.q_proj = torch.nn.Linear(d_model, d_model)\n"
    "        self.k_proj = torch.nn.Linear(d_model, d_model)\n"
    "        self.v_proj = torch.nn.Linear(d_model, d_model)\n"
    "        self.out_proj = torch.nn.Linear(d_model, d_model)\n"
    "    def split(self, x):\n"
    "        n, length, d = x.shape\n"
    "{split}"
    "    def forward(self, x, mask):\n"
    "        q, k, v = self.split(self.q_proj(x)), self.split(self.k_proj(x)), self.split(self.v_proj(x))\n"
    "{attend}"
    "        return self.out_proj(heads.transpose(1, 2).reshape(x.shape))\n"
    "answer = SelfAttention\n"
)
_GOOD_SPLIT = "        return x.view(n, length, self.num_heads, d // self.num_heads).transpose(1, 2)\n"
_GOOD_ATTEND = "        heads, _ = scaled_dot_product_attention(q, k, v, mask)\n"

WRONG = {
    "architecture.attention": [
        (("def answer(q, k, v, mask):\n"
         "    s = (q @ k.transpose(-2, -1)).masked_fill(~mask, float('-inf'))\n"
         "    return s.softmax(-1) @ v"), "divide by the square root of d_k"),
        (("def answer(q, k, v, mask):\n"
         "    s = (q @ k.transpose(-2, -1) / q.shape[-1]).masked_fill(~mask, float('-inf'))\n"
         "    return s.softmax(-1) @ v"), "divided by d_k"),
        (("def answer(q, k, v, mask):\n"
         "    s = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(mask, float('-inf'))\n"
         "    return s.softmax(-1) @ v"), "NaN"),
        (("def answer(q, k, v, mask):\n"
         "    s = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(~mask, -1e9)\n"
         "    return s.softmax(-2) @ v"), "over the keys"),
    ],
    "architecture.cache-mask": [
        ("answer = lambda L, S: torch.ones(L, S, dtype=torch.bool).tril()", "aligned to the top left"),
        ("answer = lambda L, S: torch.ones(L, S, dtype=torch.bool)", "must not see the positions after"),
        ("answer = lambda L, S: torch.ones(L, S).tril(S - L)", "bool tensor"),
    ],
    "architecture.sinusoidal": [
        (("def answer(positions, dim):\n"
         "    angles = positions.float()[:, None] * 10000.0 ** (-2 * torch.arange(dim // 2) / dim)\n"
         "    return torch.cat([angles.sin(), angles.cos()], dim=1)"), "interleaves them"),
        (("def answer(positions, dim):\n"
         "    angles = positions.float()[:, None] * 10000.0 ** (-torch.arange(dim // 2) / dim)\n"
         "    return torch.stack([angles.sin(), angles.cos()], -1).flatten(1)"), "check the frequencies"),
        (("def answer(positions, dim):\n"
         "    angles = positions.float()[:, None] * 10000.0 ** (-2 * torch.arange(dim // 2) / dim)\n"
         "    return torch.stack([angles.cos(), angles.sin()], -1).flatten(1)"), "position 0 is wrong"),
    ],
    "architecture.layer-norm": [
        ("answer = lambda x: (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + 1e-5)",
         "not by n - 1"),
        ("answer = lambda x: (x - x.mean(0, keepdim=True)) / torch.sqrt(x.var(0, unbiased=False, keepdim=True) + 1e-5)",
         "should have mean 0 over its last dimension"),
        (("answer = lambda x: (x - x.mean(dim=(0, 1), keepdim=True)) / torch.sqrt("
         "x.var(dim=(0, 1), unbiased=False, keepdim=True) + 1e-5)"), "BatchNorm's statistics"),
    ],
    "architecture.rms-norm": [
        (("class answer(torch.nn.Module):\n"
         "    def __init__(self, size, eps=1e-6):\n"
         "        super().__init__()\n"
         "        self.norm = torch.nn.LayerNorm(size, eps=eps)\n"
         "    def forward(self, x):\n"
         "        return self.norm(x)"), "no bias"),
        (("class answer(torch.nn.Module):\n"
         "    def __init__(self, size, eps=1e-6):\n"
         "        super().__init__()\n"
         "        self.weight = torch.nn.Parameter(torch.ones(size))\n"
         "    def forward(self, x):\n"
         "        return x / x.norm(dim=-1, keepdim=True) * self.weight"), "mean of the squares"),
        (("class answer(torch.nn.Module):\n"
         "    def __init__(self, size, eps=1e-6):\n"
         "        super().__init__()\n"
         "        self.weight = torch.nn.Parameter(torch.ones(size))\n"
         "    def forward(self, x):\n"
         "        return x / x.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()"), "is the gain used"),
    ],
    "architecture.multi-head": [
        (_MHA.format(split="        return x.view(n, self.num_heads, length, d // self.num_heads)\n",
                     attend=_GOOD_ATTEND), "positions are mixed"),
        (_MHA.format(split="        return x[:, None]\n", attend=_GOOD_ATTEND), "one head of size 16"),
        (_MHA.format(split=_GOOD_SPLIT,
                     attend="        s = (q @ k.transpose(-2, -1) / math.sqrt(16)).masked_fill(~mask, float('-inf'))\n"
                            "        heads = s.softmax(-1) @ v\n"), "check the scaling"),
    ],
}

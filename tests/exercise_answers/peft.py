"""Typical wrong answers to the Parameter-efficient fine-tuning exercises, each with the hint it must get."""

_LORA = (
    "class answer(nn.Module):\n"
    "    def __init__(self, base, r, alpha):\n"
    "        super().__init__()\n"
    "        self.base = base{freeze}\n"
    "        self.scaling = alpha / r\n"
    "        self.A = nn.Parameter(torch.empty(r, base.in_features))\n"
    "        {init_a}\n"
    "        self.B = nn.Parameter(torch.zeros(base.out_features, r))\n"
    "    def forward(self, x):\n"
    "        return self.base(x) + (x @ self.A.T @ self.B.T){scale}\n"
)
_KAIMING = "nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))"
_FREEZE = ".requires_grad_(False)"

_GATED = (
    "class answer(nn.Module):\n"
    "    def __init__(self, sublayer, dim, bottleneck):\n"
    "        super().__init__()\n"
    "        self.sublayer = sublayer.requires_grad_(False)\n"
    "        self.down = nn.Linear(dim, bottleneck)\n"
    "        self.up = nn.Linear(bottleneck, dim)\n"
    "{extra}"
    "        self.gate = nn.Parameter(torch.zeros(()))\n"
    "    def forward(self, x):\n"
    "        return self.sublayer(x) + {gate} * self.up(self.down(x).relu())\n"
)

_ADAPTER = (
    "class answer(nn.Module):\n"
    "    def __init__(self, dim, bottleneck):\n"
    "        super().__init__()\n"
    "        self.down = nn.Linear(dim, bottleneck)\n"
    "        self.up = nn.Linear(bottleneck, dim)\n"
    "{init}"
    "    def forward(self, h):\n"
    "        return {out}\n"
)

_PROJECT = (
    "import copy\n"
    "import torch.nn.functional as F\n"
    "from pytorch_notes.peft import LoRALinear\n"
    "torch.manual_seed(0)\n"
    "pretrained = nn.Linear(32, 32)\n"
    "true_change = 0.5 * torch.randn(32, 2) @ torch.randn(2, 32) / math.sqrt(32)\n"
    "inputs = torch.randn(256, 32)\n"
    "with torch.no_grad():\n"
    "    targets = inputs @ (pretrained.weight + true_change).T + pretrained.bias\n"
    "lora = LoRALinear(copy.deepcopy(pretrained), r=4, alpha=8)\n"
    "{setup}"
    "optimizer = torch.optim.Adam({params}, lr=0.02)\n"
    "for step in range({steps}):\n"
    "    loss = F.mse_loss(lora(inputs), targets)\n"
    "    optimizer.zero_grad()\n"
    "    loss.backward()\n"
    "    optimizer.step()\n"
    "answer = lora\n"
)

WRONG = {
    "peft.lora-count": [
        ("answer = lambda d_in, d_out, r: d_in * d_out + r * (d_in + d_out)", "includes the frozen weight"),
        ("answer = lambda d_in, d_out, r: 2 * r * d_in", "square layer only"),
        ("answer = lambda d_in, d_out, r: r * d_in * d_out", "more than the full layer"),
    ],
    "peft.lora-layer": [
        (_LORA.format(freeze=_FREEZE, init_a="nn.init.zeros_(self.A)", scale=" * self.scaling"), "both start at zero"),
        (_LORA.format(freeze="", init_a=_KAIMING, scale=" * self.scaling"), "still trains"),
        (_LORA.format(freeze=_FREEZE, init_a=_KAIMING, scale=""), "multiply it by α / r"),
    ],
    "peft.lora-merge": [
        (("@torch.no_grad()\n"
         "def answer(lora):\n"
         "    m = nn.Linear(6, 6)\n"
         "    m.weight.copy_(lora.base.weight + lora.lora_B @ lora.lora_A)\n"
         "    m.bias.copy_(lora.base.bias)\n"
         "    return m"), "the update is not scaled"),
        (("@torch.no_grad()\n"
         "def answer(lora):\n"
         "    m = nn.Linear(6, 6)\n"
         "    m.weight.copy_(lora.base.weight + lora.scaling * lora.lora_A.T @ lora.lora_B.T)\n"
         "    m.bias.copy_(lora.base.bias)\n"
         "    return m"), "the update is transposed"),
        (("@torch.no_grad()\n"
         "def answer(lora):\n"
         "    m = nn.Linear(6, 6, bias=False)\n"
         "    m.weight.copy_(lora.base.weight + lora.scaling * lora.lora_B @ lora.lora_A)\n"
         "    return m"), "lost the base layer's bias"),
    ],
    "peft.bottleneck-adapter": [
        (_ADAPTER.format(init="        nn.init.zeros_(self.up.weight)\n        nn.init.zeros_(self.up.bias)\n",
                         out="self.up(self.down(h).relu())"), "the residual adds the input"),
        (_ADAPTER.format(init="", out="h + self.up(self.down(h).relu())"), "up starts at zero"),
        (_ADAPTER.format(init="        for layer in (self.down, self.up):\n"
                              "            nn.init.zeros_(layer.weight)\n"
                              "            nn.init.zeros_(layer.bias)\n",
                         out="h + self.up(self.down(h).relu())"), "Keep down random"),
    ],
    "peft.gated-adapter": [
        (_GATED.format(extra="        nn.init.zeros_(self.up.weight)\n        nn.init.zeros_(self.up.bias)\n",
                       gate="torch.tanh(self.gate)"), "the gate gets no gradient"),
        (_GATED.format(extra="", gate="self.gate"), "goes through tanh"),
        (_GATED.format(extra="", gate="torch.tanh(self.gate)").replace(".requires_grad_(False)", ""),
         "the sublayer still trains"),
    ],
    "peft.lora-project": [
        (_PROJECT.format(setup="lora.base.requires_grad_(True)\n", params="lora.parameters()", steps=100),
         "W₀ changed"),
        (_PROJECT.format(setup="", params="[p for p in lora.parameters() if p.requires_grad]", steps=3),
         "train A and B on the task"),
    ],
}

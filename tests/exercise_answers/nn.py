"""Typical wrong answers to the Neural networks exercises, each with the hint it must get."""

WRONG = {
    "nn.module-list": [
        (("class answer(nn.Module):\n"
          "    def __init__(self, n):\n"
          "        super().__init__()\n"
          "        self.layers = [nn.Linear(4, 4) for _ in range(n)]\n"
          "    def forward(self, x):\n"
          "        for layer in self.layers:\n"
          "            x = layer(x)\n"
          "        return x"),
         "not registered as submodules"),
        (("class answer(nn.Module):\n"
          "    def __init__(self, n):\n"
          "        super().__init__()\n"
          "        self.layers = nn.ModuleList([nn.Linear(4, 4)] * n)\n"
          "    def forward(self, x):\n"
          "        for layer in self.layers:\n"
          "            x = layer(x)\n"
          "        return x"),
         "are the layers distinct objects?"),
        (("class answer(nn.Module):\n"
          "    def __init__(self, n):\n"
          "        self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(n))\n"
          "    def forward(self, x):\n"
          "        for layer in self.layers:\n"
          "            x = layer(x)\n"
          "        return x"),
         "before Module.__init__() call"),
        (("class answer(nn.Module):\n"
          "    def __init__(self, n):\n"
          "        super().__init__()\n"
          "        self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(n))\n"
          "    def forward(self, x):\n"
          "        return self.layers[-1](x)"),
         "one after another"),
    ],
    "nn.conv-size": [
        (("answer = lambda size, kernel, stride=1, padding=0: "
          "(size + 2 * padding - kernel) / stride + 1"),
         "a size is a whole number"),
        (("answer = lambda size, kernel, stride=1, padding=0: "
          "(size + 2 * padding - kernel) // stride"),
         "off by one"),
        (("answer = lambda size, kernel, stride=1, padding=0: "
          "(size + padding - kernel) // stride + 1"),
         "padding is added on both sides"),
    ],
    "nn.flatten": [
        ("answer = lambda x: torch.flatten(x)", "the batch dimension was flattened too"),
        ("answer = lambda x: x.flatten(start_dim=2)", "expected one row per image"),
        ("answer = lambda x: x.permute(1, 2, 3, 0).reshape(len(x), -1)", "mixed up"),
    ],
    "nn.dropout": [
        ("answer = 1.0", "keeps the expected value"),
        ("answer = 0.75", "scaled the wrong way"),
        ("answer = 1.25", "not the value a surviving 1 takes"),
    ],
    "nn.cross-entropy": [
        (("def answer(logits, targets):\n"
          "    picked = torch.log_softmax(logits, dim=1)[torch.arange(len(targets)), targets]\n"
          "    return -picked.sum()"),
         "the default reduction is the mean"),
        (("def answer(logits, targets):\n"
          "    probabilities = logits.softmax(dim=1)\n"
          "    return -probabilities.log()[torch.arange(len(targets)), targets].mean()"),
         "softmax then log overflows"),
        ("answer = lambda logits, targets: F.cross_entropy(logits.softmax(dim=1), targets)",
         "softmax is applied twice"),
        (("def answer(logits, targets):\n"
          "    return -logits[torch.arange(len(targets)), targets].mean()"),
         "not −log of the softmax probability"),
    ],
    "nn.train-step": [
        (("def answer(model, optimizer, loss_fn, x, y):\n"
          "    loss = loss_fn(model(x), y)\n"
          "    loss.backward()\n"
          "    optimizer.step()\n"
          "    return loss.item()"),
         "gradients from an earlier step were added"),
        (("def answer(model, optimizer, loss_fn, x, y):\n"
          "    optimizer.zero_grad()\n"
          "    loss = loss_fn(model(x), y)\n"
          "    optimizer.step()\n"
          "    loss.backward()\n"
          "    return loss.item()"),
         "does step() come after"),
        (("def answer(model, optimizer, loss_fn, x, y):\n"
          "    optimizer.zero_grad()\n"
          "    loss = loss_fn(model(x), y)\n"
          "    loss.backward()\n"
          "    optimizer.step()\n"
          "    return loss"),
         "return the loss as a Python number"),
    ],
    "nn.lenet": [
        (("torch.manual_seed(0)\n"
          "answer = nn.Sequential(\n"
          "    nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),\n"
          "    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),\n"
          "    nn.Flatten(), nn.Linear(16 * 4 * 4, 120), nn.ReLU(),\n"
          "    nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))"),
         "is the first convolution padded?"),
        (("torch.manual_seed(0)\n"
          "answer = nn.Sequential(\n"
          "    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),\n"
          "    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),\n"
          "    nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(),\n"
          "    nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))"),
         "below 70%"),
    ],
}

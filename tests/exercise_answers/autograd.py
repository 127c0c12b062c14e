"""Typical wrong answers to the Tensors & autograd exercises, each with the hint it must get."""

WRONG = {
    "tensors.stack": [
        ("a = torch.tensor([1.0, 2.0, 3.0])\nb = torch.tensor([4.0, 5.0, 6.0])\nanswer = torch.cat([a, b])", "expected 2 dimensions"),
        ("a = torch.tensor([1.0, 2.0, 3.0])\nb = torch.tensor([4.0, 5.0, 6.0])\nanswer = torch.stack([a, b], dim=1)", "shape (3, 2)"),
        ("a = torch.tensor([1.0, 2.0, 3.0])\nb = torch.tensor([4.0, 5.0, 6.0])\nanswer = torch.stack([b, a])", "values are not a and b in order"),
    ],
    "autograd.manual-gradient": [
        (("def answer(w, b, x, y):\n"
          "    r = w * x + b - y\n"
          "    return (r**2).mean(), (r * x).mean(), r.mean()"),
         "half of what it should be"),
        (("def answer(w, b, x, y):\n"
          "    r = w * x + b - y\n"
          "    return (r**2).mean(), (2 * r * x).sum(), (2 * r).sum()"),
         "the loss is a mean, so is its gradient"),
        (("def answer(w, b, x, y):\n"
          "    r = w * x + b - y\n"
          "    return (r**2).mean(), (2 * r).mean(), (2 * r * x).mean()"),
         "dw does not match autograd"),
    ],
    "autograd.accumulate": [
        (("w = torch.tensor(1.5, requires_grad=True)\n"
          "grads = []\n"
          "for x in [1.0, 2.0, 3.0]:\n"
          "    ((w * x) ** 2).backward()\n"
          "    grads.append(w.grad.item())\n"
          "answer = grads"),
         "backward adds to .grad"),
        (("w = torch.tensor(1.5, requires_grad=True)\n"
          "grads = []\n"
          "for x in [1.0, 2.0, 3.0]:\n"
          "    ((w * x) ** 2).backward()\n"
          "    grads.append(w.grad)\n"
          "    w.grad.zero_()\n"
          "answer = grads"),
         "zeroed in place"),
    ],
    "autograd.detach": [
        ("answer = lambda x: x * x.sum()", "also flows back through x.sum()"),
        ("answer = lambda x: x.detach() * x.sum()", "flows only through the sum"),
        ("answer = lambda x: (x * x.sum()).detach()", "no gradient reaches x at all"),
    ],
    "autograd.hook": [
        ("def answer(grad):\n    grad.clamp(-1, 1)", "x.grad is unchanged"),
        ("answer = lambda grad: grad.clamp(max=1)", "below -1 went through"),
        ("answer = lambda grad: grad.clamp(0, 1)", "should pass unchanged"),
    ],
    "autograd.jacobian": [
        (("def answer(f, x):\n"
          "    x = x.clone().requires_grad_()\n"
          "    y = f(x)\n"
          "    rows = []\n"
          "    for i in range(y.numel()):\n"
          "        e_i = torch.zeros_like(y)\n"
          "        e_i[i] = 1.0\n"
          "        rows.append(torch.autograd.grad(y, x, grad_outputs=e_i)[0])\n"
          "    return torch.stack(rows)"),
         "backward through the graph a second time"),
        ("answer = lambda f, x: torch.autograd.functional.jacobian(f, x).T",
         "the shape is transposed"),
        (("def answer(f, x):\n"
          "    x = x.clone().requires_grad_()\n"
          "    return torch.autograd.grad(f(x).sum(), x)[0]"),
         "shape (4,)"),
    ],
    "autograd.custom-function": [
        (("class answer(torch.autograd.Function):\n"
          "    @staticmethod\n"
          "    def forward(ctx, x):\n"
          "        ctx.save_for_backward(x)\n"
          "        return x**3\n"
          "    @staticmethod\n"
          "    def backward(ctx, grad_output):\n"
          "        (x,) = ctx.saved_tensors\n"
          "        return 3 * x**2"),
         "backward ignores grad_output"),
        (("class answer(torch.autograd.Function):\n"
          "    @staticmethod\n"
          "    def forward(ctx, x):\n"
          "        y = x**3\n"
          "        ctx.save_for_backward(y)\n"
          "        return y\n"
          "    @staticmethod\n"
          "    def backward(ctx, grad_output):\n"
          "        (y,) = ctx.saved_tensors\n"
          "        return grad_output * 3 * y**2"),
         "check the derivative of x**3"),
    ],
}

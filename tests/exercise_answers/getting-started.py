"""Typical wrong answers to the Getting started exercises, each with the hint it must get."""

WRONG = {
    "getting-started.versions": [
        (("import torchvision\n"
          "answer = {'torch': torch.version, 'torchvision': torchvision.version}"),
         "torch.version is a module"),
        (("import torchvision\n"
          "answer = {'torch': torchvision.__version__, 'torchvision': torch.__version__}"),
         "swapped"),
        ("answer = [torch.__version__]", "a dict with the keys"),
    ],
    "getting-started.supported": [
        ("answer = lambda version: version >= '2.6'", "compare numbers, not text"),
        (("def answer(version):\n"
          "    major, minor = (int(p) for p in version.split('.')[:2])\n"
          "    return major >= 2 and minor >= 6"),
         "the major version counts first"),
        ("answer = lambda version: float(version[:3]) >= 2.6", "compare numbers, not text"),
    ],
    "getting-started.cuda-build": [
        ("answer = (True, 'cuda')", "a CPU-only build carries no GPU libraries"),
        ("answer = (False, 'cpu')", "they need a build made for it"),
        ("answer = (False, 'gpu')", "'cpu' or 'cuda'"),
    ],
    "getting-started.tiny-op": [
        (("def answer(device):\n"
          "    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)\n"
          "    return a * a"),
         "multiplies element by element"),
        (("def answer(device):\n"
          "    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])\n"
          "    return a @ a"),
         "create the tensor on the device given"),
        (("def answer(device):\n"
          "    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)\n"
          "    return (a @ a).tolist()"),
         "should return the product, a tensor"),
    ],
    "getting-started.pick-device": [
        ("answer = lambda: 'cuda' if torch.cuda.is_available() else 'cpu'",
         "not a string"),
        ("answer = lambda: torch.device('cuda')", "without any GPU"),
        ("answer = lambda: torch.device('cuda' if torch.cuda.is_available() else 'cpu')",
         "Apple-silicon"),
    ],
}

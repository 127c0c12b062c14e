"""Typical wrong answers to the Saving & loading exercises, each with the hint it must get."""

WRONG = {
    "saving.state-dict-keys": [
        ("answer = ['weight', 'bias', 'weight', 'bias']", "each key starts with the layer's index"),
        ("answer = ['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '2.bias']",
         "ReLU has no weight or bias"),
        ("answer = ['0.weight', '2.weight', '0.bias', '2.bias']", "not in the order"),
    ],
    "saving.save-weights": [
        (("def answer(model, path):\n"
          "    Path(path).parent.mkdir(parents=True, exist_ok=True)\n"
          "    torch.save(model, path)"),
         "it holds a pickled model object"),
        (("def answer(model, path):\n"
          "    torch.save(model.state_dict(), path)"),
         "the folders on path do not exist yet"),
        (("def answer(model, path):\n"
          "    Path(path).parent.mkdir(parents=True, exist_ok=True)\n"
          "    torch.save({'model': model.state_dict()}, path)"),
         "does not hold the model's state_dict"),
    ],
    "saving.unwrap": [
        ("answer = lambda state: {name.lstrip('module.'): t for name, t in state.items()}",
         "lost more than the prefix"),
        ("answer = lambda state: {name.replace('module.', ''): t for name, t in state.items()}",
         "lost more than the prefix"),
        ("answer = lambda state: dict(state)", "still start with 'module.'"),
    ],
    "saving.vgg-head": [
        (("def answer(model, num_classes):\n"
          "    model.features.requires_grad_(False)\n"
          "    model.classifier.append(nn.Linear(1000, num_classes))\n"
          "    return model"),
         "a layer was appended"),
        (("def answer(model, num_classes):\n"
          "    model.classifier[6] = nn.Linear(4096, num_classes)\n"
          "    return model"),
         "freeze them"),
        (("def answer(model, num_classes):\n"
          "    model.classifier[6] = nn.Linear(4096, num_classes)\n"
          "    model.requires_grad_(False)\n"
          "    return model"),
         "the new last layer is frozen too"),
    ],
    "saving.checkpoint": [
        (("def save(path, model, optimizer, epoch):\n"
          "    torch.save({'model': model.state_dict(), 'epoch': epoch}, path)\n"
          "def load(path, model, optimizer):\n"
          "    checkpoint = torch.load(path, weights_only=True)\n"
          "    model.load_state_dict(checkpoint['model'])\n"
          "    return checkpoint['epoch']\n"
          "answer = (save, load)"),
         "the optimizer's state"),
        (("def save(path, model, optimizer, epoch):\n"
          "    torch.save({'model': model.state_dict(), 'optimizer': optimizer.state_dict(),\n"
          "                'epoch': epoch}, path)\n"
          "def load(path, model, optimizer):\n"
          "    checkpoint = torch.load(path, weights_only=True)\n"
          "    model.load_state_dict(checkpoint['model'])\n"
          "    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)\n"
          "    optimizer.load_state_dict(checkpoint['optimizer'])\n"
          "    return checkpoint['epoch']\n"
          "answer = (save, load)"),
         "the optimizer's state"),
        (("def save(path, model, optimizer, epoch):\n"
          "    torch.save({'model': model, 'optimizer': optimizer, 'epoch': epoch}, path)\n"
          "def load(path, model, optimizer):\n"
          "    checkpoint = torch.load(path, weights_only=False)\n"
          "    model.load_state_dict(checkpoint['model'].state_dict())\n"
          "    optimizer.load_state_dict(checkpoint['optimizer'].state_dict())\n"
          "    return checkpoint['epoch']\n"
          "answer = (save, load)"),
         "does not load with weights_only=True"),
        (("def save(path, model, optimizer, epoch):\n"
          "    torch.save({'model': model.state_dict(), 'optimizer': optimizer.state_dict(),\n"
          "                'epoch': epoch}, path)\n"
          "def load(path, model, optimizer):\n"
          "    checkpoint = torch.load(path, weights_only=True)\n"
          "    model.load_state_dict(checkpoint['model'])\n"
          "    optimizer.load_state_dict(checkpoint['optimizer'])\n"
          "answer = (save, load)"),
         "it should return the epoch saved"),
    ],
}

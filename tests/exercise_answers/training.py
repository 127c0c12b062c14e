"""Typical wrong answers to the Training exercises, each with the hint it must get."""

_FIT = (
    "def answer(model, train_loader, val_loader, epochs, lr):\n"
    "    optimizer = torch.optim.SGD(model.parameters(), lr=lr)\n"
    "    history = []\n"
    "    for epoch in range(epochs):\n"
    "        {train_mode}\n"
    "        for images, labels in train_loader:\n"
    "            {zero_grad}\n"
    "            F.cross_entropy(model(images), labels).backward()\n"
    "            optimizer.step()\n"
    "        {eval_mode}\n"
    "        correct, seen = 0, 0\n"
    "        with torch.{grad_mode}():\n"
    "            for images, labels in val_loader:\n"
    "                correct += (model(images).argmax(dim=1) == labels).sum().item()\n"
    "                seen += len(labels)\n"
    "        history.append({accuracy})\n"
    "    return history"
)
_RIGHT_FIT = {"train_mode": "model.train()", "zero_grad": "optimizer.zero_grad()",
              "eval_mode": "model.eval()", "grad_mode": "no_grad", "accuracy": "correct / seen"}


def _fit(**changes):
    return _FIT.format(**{**_RIGHT_FIT, **changes})


WRONG = {
    "training.in-place": [
        ("answer = (torch.float64, torch.float64)", "a tensor's .to returns a new tensor"),
        ("answer = (torch.float32, torch.float32)", "changes the module itself"),
        ("answer = ('float32', 'float64')", "both entries should be dtypes"),
    ],
    "training.to-device": [
        (("def answer(batch, device):\n"
          "    images, labels = batch\n"
          "    return images.to(device), labels"),
         "the labels stayed on cpu"),
        (("def answer(batch, device):\n"
          "    images, labels = batch\n"
          "    return images.to('cpu'), labels.to('cpu')"),
         "not on the device given"),
        (("def answer(batch, device):\n"
          "    images, labels = batch\n"
          "    return images.to(device), labels.to(device, torch.float32)"),
         "changed shape or dtype"),
    ],
    "training.evaluate": [
        (("def answer(model, loader):\n"
          "    total, correct, seen = 0.0, 0, 0\n"
          "    with torch.no_grad():\n"
          "        for x, y in loader:\n"
          "            logits = model(x)\n"
          "            total += F.cross_entropy(logits, y).item() * len(y)\n"
          "            correct += (logits.argmax(dim=1) == y).sum().item()\n"
          "            seen += len(y)\n"
          "    return total / seen, correct / seen"),
         "Dropout was still dropping"),
        (("def answer(model, loader):\n"
          "    model.eval()\n"
          "    total, correct, seen = 0.0, 0, 0\n"
          "    for x, y in loader:\n"
          "        logits = model(x)\n"
          "        total += F.cross_entropy(logits, y).item() * len(y)\n"
          "        correct += (logits.argmax(dim=1) == y).sum().item()\n"
          "        seen += len(y)\n"
          "    return total / seen, correct / seen"),
         "recorded a graph during evaluation"),
        (("def answer(model, loader):\n"
          "    model.eval()\n"
          "    losses, correct, seen = [], 0, 0\n"
          "    with torch.no_grad():\n"
          "        for x, y in loader:\n"
          "            logits = model(x)\n"
          "            losses.append(F.cross_entropy(logits, y).item())\n"
          "            correct += (logits.argmax(dim=1) == y).sum().item()\n"
          "            seen += len(y)\n"
          "    return sum(losses) / len(losses), correct / seen"),
         "weight each batch by its size"),
    ],
    "training.predict": [
        (("def answer(model, images):\n"
          "    with torch.no_grad():\n"
          "        confidences, classes = model(images).softmax(dim=1).max(dim=1)\n"
          "    return classes, confidences"),
         "Dropout made the prediction random"),
        (("def answer(model, images):\n"
          "    model.eval()\n"
          "    with torch.no_grad():\n"
          "        confidences, classes = model(images).max(dim=1)\n"
          "    return classes, confidences"),
         "raw logits"),
        (("def answer(model, images):\n"
          "    model.eval()\n"
          "    with torch.no_grad():\n"
          "        probabilities = model(images).log_softmax(dim=1)\n"
          "    confidences, classes = probabilities.max(dim=1)\n"
          "    return classes, confidences"),
         "not the probability of the predicted class"),
    ],
    "training.top3": [
        ("answer = lambda logits: logits.argsort(dim=1)[:, :3]", "the three lowest"),
        ("answer = lambda logits: logits.topk(3, dim=1).indices.flip(dims=[1])",
         "right classes in the wrong order"),
        ("answer = lambda logits: logits.topk(3, dim=0).indices", "expected three classes"),
    ],
    "training.fit": [
        (_fit(train_mode="pass"), "training ran in eval mode"),
        (_fit(eval_mode="pass"), "validation ran in training mode"),
        (_fit(grad_mode="enable_grad"), "validation recorded a graph"),
        (_fit(zero_grad="pass"), "is each step's gradient its batch's alone?"),
        (_fit(accuracy="100 * correct / seen"), "between 0 and 1"),
    ],
}

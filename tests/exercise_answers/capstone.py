"""Typical wrong answers to the Capstone exercises, each with the hint it must get."""

_SAVE = ("import copy\n"
         "def save(model, optimizer):\n"
         "    return {copy}({{'model': model.state_dict(), 'optimizer': optimizer.state_dict(),\n"
         "                   'rng': torch.get_rng_state()}})\n")
_LOAD = ("def load(state, model, optimizer):\n"
         "    model.load_state_dict(state['model'])\n"
         "{more}"
         "answer = (save, load)\n")
_BATCH = ("def answer(data, context, batch_size, generator):\n"
          "    starts = torch.randint({high}, (batch_size,), generator=generator)\n"
          "    windows = torch.stack([data[s : s + context + 1] for s in starts])\n"
          "    return {pair}\n")

WRONG = {
    "capstone.unigram-baseline": [
        (("def answer(train, val):\n    p = torch.bincount(train, minlength=256).double()\n"
          "    return -(p / p.sum()).log()[val].mean().item()"), "add one to the count"),
        (("def answer(train, val):\n    p = torch.bincount(train, minlength=256).double() + 1\n"
          "    return -(p / p.sum()).log2()[val].mean().item()"), "bits per byte"),
        (("def answer(train, val):\n    p = torch.bincount(val, minlength=256).double() + 1\n"
          "    return -(p / p.sum()).log()[val].mean().item()"), "count the training split"),
        ("answer = lambda train, val: math.log(256)", "uniform guess"),
    ],
    "capstone.batch": [
        (_BATCH.format(high="len(data) - context", pair="windows[:, :-1], windows[:, :-1]"), "y equals x"),
        (_BATCH.format(high="len(data) - context - 1", pair="windows[:, :-1], windows[:, 1:]"),
         "the first and the last one included"),
        (("def answer(data, context, batch_size, generator):\n"
          "    starts = torch.randint(len(data) - context, (batch_size,))\n"
          "    windows = torch.stack([data[s : s + context + 1] for s in starts])\n"
          "    return windows[:, :-1], windows[:, 1:]\n"), "the generator you are given"),
        (("def answer(data, context, batch_size, generator):\n"
          "    s = int(torch.randint(len(data) - context, (1,), generator=generator))\n"
          "    windows = data[s : s + context + 1].repeat(batch_size, 1)\n"
          "    return windows[:, :-1], windows[:, 1:]\n"), "draw a start for each row"),
    ],
    "capstone.utf8-length": [
        ("answer = lambda byte: 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4",
         "(10xxxxxx) starts no character"),
        ("answer = lambda byte: 1 if byte < 0x80 else 0 if byte < 0xC0 else 2 if byte < 0xF0 else 4",
         "0xE6"),
        ("answer = lambda byte: 1 if byte < 0x80 else 0 if byte < 0xC0 else 2 if byte < 0xE0 else 3",
         "0xF0 starts a character of another length"),
    ],
    "capstone.continuation-mass": [
        (("def answer(probs, previous):\n    opens = (previous >= 0xE0) & (previous < 0xF0)\n"
          "    return probs[opens][:, 0x80:0xBF].sum(dim=-1).mean()"), "0xBF (10111111)"),
        (("def answer(probs, previous):\n    opens = previous >= 0xC0\n"
          "    return probs[opens][:, 0x80:0xC0].sum(dim=-1).mean()"), "110xxxxx open 2-byte"),
        ("answer = lambda probs, previous: probs[:, 0x80:0xC0].sum(dim=-1).mean()", "over every position"),
        (("def answer(probs, previous):\n    opens = (previous >= 0xE0) & (previous < 0xF0)\n"
          "    return probs[opens][:, 0x80:0xC0].sum()"), "sum over the positions"),
    ],
    "capstone.resume": [
        (_SAVE.format(copy="") + _LOAD.format(more="    optimizer.load_state_dict(state['optimizer'])\n"
                                                    "    torch.set_rng_state(state['rng'])\n"), "live tensors"),
        (_SAVE.format(copy="copy.deepcopy") + _LOAD.format(more="    torch.set_rng_state(state['rng'])\n"),
         "AdamW's moment estimates"),
        (_SAVE.format(copy="copy.deepcopy") + _LOAD.format(more="    optimizer.load_state_dict(state['optimizer'])\n"),
         "random state was not restored"),
    ],
}

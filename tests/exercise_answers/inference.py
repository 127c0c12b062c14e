"""Typical wrong answers to the Evaluation & inference exercises, each with the hint it must get."""

_BEAM = (
    "def answer(step_fn, bos, eos, width, max_len):\n"
    "    beams, finished = [((bos,), 0.0)], []\n"
    "    for _ in range(max_len):\n"
    "        candidates = []\n"
    "        for prefix, log_prob in beams:\n"
    "            log_probs = step_fn(prefix).log_softmax(dim=-1).tolist()\n"
    "            for token, lp in enumerate(log_probs):\n"
    "                if lp > -math.inf:\n"
    "                    candidates.append((prefix + (token,), {new_score}))\n"
    "        candidates.sort(key=lambda item: -item[1])\n"
    "{keep}"
    "        if not beams:\n"
    "            break\n"
    "    return max(finished + beams, key=lambda item: item[1])[0]\n"
)
_KEEP = ("        kept = candidates[:width]\n"
         "        finished += [c for c in kept if c[0][-1] == eos]\n"
         "        beams = [c for c in kept if c[0][-1] != eos]\n")

WRONG = {
    "inference.top-k": [
        (("def answer(logits, k):\n"
         "    values, indices = logits.topk(k, dim=-1)\n"
         "    return torch.zeros_like(logits).scatter(-1, indices, values)"), "a logit of 0 still has a probability"),
        (("def answer(logits, k):\n"
         "    kth = logits.sort(dim=-1, descending=True).values[..., k:k + 1]\n"
         "    return logits.masked_fill(logits < kth, float('-inf'))"), "keeps k + 1 tokens"),
        (("def answer(logits, k):\n"
         "    values, indices = logits.topk(k, dim=-1, largest=False)\n"
         "    return torch.full_like(logits, float('-inf')).scatter(-1, indices, values)"), "not the k most likely"),
    ],
    "inference.top-p": [
        (("def answer(logits, p):\n"
         "    sorted_logits, order = logits.sort(dim=-1, descending=True)\n"
         "    remove_sorted = sorted_logits.softmax(-1).cumsum(-1) >= p\n"
         "    remove_sorted[..., 0] = False\n"
         "    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)\n"
         "    return logits.masked_fill(remove, float('-inf'))"), "the token that crosses p was removed"),
        (("def answer(logits, p):\n"
         "    probs = logits.softmax(-1)\n"
         "    remove = probs.cumsum(-1) - probs >= p\n"
         "    return logits.masked_fill(remove, float('-inf'))"), "sort the tokens by probability"),
    ],
    "inference.repetition-penalty": [
        (("def answer(logits, previous_tokens, penalty):\n"
         "    out = logits.clone()\n"
         "    for t in set(previous_tokens):\n"
         "        out[t] = out[t] / penalty\n"
         "    return out"), "moves up, towards zero"),
        (("def answer(logits, previous_tokens, penalty):\n"
         "    out = logits.clone()\n"
         "    for t in previous_tokens:\n"
         "        out[t] = out[t] / penalty if out[t] > 0 else out[t] * penalty\n"
         "    return out"), "penalize each distinct token once"),
        (("def answer(logits, previous_tokens, penalty):\n"
         "    return torch.where(logits > 0, logits / penalty, logits * penalty)"), "only the previous tokens"),
    ],
    "inference.sequence-log-prob": [
        (("def answer(step_fn, tokens):\n"
         "    p = 1.0\n"
         "    for t in range(1, len(tokens)):\n"
         "        p *= step_fn(tokens[:t]).softmax(-1)[tokens[t]].item()\n"
         "    return p"), "this is the probability"),
        (("def answer(step_fn, tokens):\n"
         "    return sum(step_fn(tokens[:t]).log_softmax(-1)[tokens[t]].item() for t in range(1, len(tokens) - 1))"),
         "</s>, is missing"),
        (("def answer(step_fn, tokens):\n"
         "    return sum(step_fn(tokens[:t])[tokens[t]].item() for t in range(1, len(tokens)))"),
         "cannot be positive"),
    ],
    "inference.length-penalty": [
        ("answer = lambda tokens, log_prob, alpha: log_prob * ((5 + len(tokens) - 1) / 6) ** alpha", "divide by it"),
        ("answer = lambda tokens, log_prob, alpha: log_prob / ((5 + len(tokens)) / 6) ** alpha", "counts BOS"),
        ("answer = lambda tokens, log_prob, alpha: log_prob / (len(tokens) - 1) ** alpha", "simple penalty"),
    ],
    "inference.beam-search": [
        (("from pytorch_notes.decoding import greedy_decode\n"
         "answer = lambda step_fn, bos, eos, width, max_len: greedy_decode(step_fn, bos, eos, max_len).tokens"),
         "greedy's answer"),
        (_BEAM.format(new_score="log_prob + lp",
                      keep="        beams = candidates[:width]\n"), "went on after </s>"),
        (_BEAM.format(new_score="lp", keep=_KEEP), "not by the last step's"),
    ],
}

"""Typical wrong answers to the Multimodal exercises, each with the hint it must get."""

_RESAMPLER = (
    "from pytorch_notes.attention import MultiHeadAttention\n"
    "class answer(nn.Module):\n"
    "    def __init__(self, num_queries, d_model, media_dim):\n"
    "        super().__init__()\n"
    "        self.queries = {queries}\n"
    "        self.media_proj = nn.Linear(media_dim, d_model)\n"
    "        self.attn = MultiHeadAttention(d_model, num_heads=4)\n"
    "    def forward(self, media):\n"
    "        media = self.media_proj(media)\n"
    "        q = self.queries.expand(media.shape[0], -1, -1)\n"
    "        return {out}\n"
)
_PARAM = "nn.Parameter(0.02 * torch.randn(num_queries, d_model))"

WRONG = {
    "multimodal.clip-logits": [
        ("def answer(i, t, s):\n    l = s.exp() * i @ t.T\n    return l, l.T", "not normalized"),
        ("def answer(i, t, s):\n    l = s * F.normalize(i, dim=1) @ F.normalize(t, dim=1).T\n    return l, l.T",
         "multiply by its exp"),
        (("def answer(i, t, s):\n    l = s.exp() * F.normalize(i, dim=1) @ F.normalize(t, dim=1).T\n"
         "    return l, F.normalize(t, dim=1) @ F.normalize(i, dim=1).T"), "the transpose of logits_per_image"),
    ],
    "multimodal.clip-loss": [
        ("answer = lambda logits: F.cross_entropy(logits, torch.arange(len(logits)))", "only one direction"),
        (("answer = lambda logits: F.cross_entropy(logits, torch.arange(len(logits))) + "
         "F.cross_entropy(logits.T, torch.arange(len(logits)))"), "CLIP averages them"),
        (("answer = lambda logits: (F.cross_entropy(logits, torch.arange(len(logits))) + "
         "F.cross_entropy(logits, torch.arange(len(logits)).flip(0))) / 2"), "not the mean of the cross-entropy"),
    ],
    "multimodal.clamp-scale": [
        (("def answer(model):\n"
         "    model.logit_scale = nn.Parameter(model.logit_scale.detach().clamp(0, math.log(100)))"),
         "the optimizer still holds the old one"),
        ("def answer(model):\n    model.logit_scale.data.clamp_(0, 100)", "since it stores the log"),
        ("def answer(model):\n    model.logit_scale.data.clamp_(max=math.log(100))", "between 1 and 100"),
    ],
    "multimodal.zero-shot": [
        ("answer = lambda images, prompts: (images @ prompts.T).argmax(dim=1)", "compare cosine similarities"),
        ("answer = lambda images, prompts: (F.normalize(images, dim=1) @ F.normalize(prompts, dim=1).T).argmax(dim=0)",
         "Along which dimension"),
    ],
    "multimodal.cross-attention": [
        (("def answer(text, image, w_q, w_k, w_v):\n"
         "    q, k, v = image @ w_k, text @ w_q, text @ torch.eye(8)\n"
         "    return (q @ k.T / 2).softmax(-1) @ v"), "the image is asking"),
        (("def answer(text, image, w_q, w_k, w_v):\n"
         "    return ((text @ w_q) @ (image @ w_k).T).softmax(-1) @ (image @ w_v)"), "divide by √d_k"),
        (("def answer(text, image, w_q, w_k, w_v):\n"
         "    return ((text @ w_q) @ (image @ w_k).T / 2).softmax(0) @ (image @ w_v)"), "the output is not softmax"),
    ],
    "multimodal.learned-queries": [
        (_RESAMPLER.format(queries=_PARAM, out="self.attn(media, q, q)[0]"), "the image features are asking"),
        (_RESAMPLER.format(queries=_PARAM, out="media[:, :4] + q"), "shuffling the patches"),
        (_RESAMPLER.format(queries="0.02 * torch.randn(num_queries, d_model)",
                           out="self.attn(q, media, media)[0]"), "as an nn.Parameter"),
    ],
}

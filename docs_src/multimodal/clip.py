# %% [markdown]
# # CLIP: contrastive image-text pretraining
# Book page: multimodal/clip

# %%
# --8<-- [start:similarity]
import math

import torch
import torch.nn.functional as F

torch.manual_seed(0)
N, D = 4, 8
# N images, already encoded and L2-normalized
image_features = F.normalize(torch.randn(N, D), dim=1)
# caption i describes image i
text_features = F.normalize(image_features + 0.3 * torch.randn(N, D), dim=1)
scale = 1 / 0.07

# row i: image i against every caption
logits_per_image = scale * image_features @ text_features.T
# row j: caption j against every image
logits_per_text = scale * text_features @ image_features.T
assert logits_per_image.shape == (N, N)
# one matrix, read by rows or by columns
assert torch.allclose(logits_per_text, logits_per_image.T)
assert torch.isclose(
    logits_per_image[1, 3],
    scale * F.cosine_similarity(image_features[1], text_features[3], dim=0),
)
assert (logits_per_image.abs() <= scale + 1e-4).all()  # cosines lie in [-1, 1]
print(logits_per_image.round(decimals=2))
# --8<-- [end:similarity]

# %%
# --8<-- [start:symmetric_loss]
from pytorch_notes.losses import clip_loss, info_nce

# the matching caption of image i is caption i, and vice versa
targets = torch.arange(N)
# each image picks its caption among N
image_to_text = F.cross_entropy(logits_per_image, targets)
# each caption picks its image among N
text_to_image = F.cross_entropy(logits_per_text, targets)
by_hand = (image_to_text + text_to_image) / 2

assert torch.allclose(by_hand, clip_loss(image_features, text_features, scale))
# Each direction is an InfoNCE with temperature 1 / scale.
assert torch.allclose(
    image_to_text,
    info_nce(image_features, text_features, temperature=1 / scale),
)
assert torch.allclose(
    text_to_image,
    info_nce(text_features, image_features, temperature=1 / scale),
)
# the two directions differ in general
assert not torch.isclose(image_to_text, text_to_image)
# A tiny scale flattens both softmaxes: a uniform guess, the chance level log N.
assert math.isclose(
    clip_loss(image_features, text_features, 1e-6).item(),
    math.log(N),
    rel_tol=1e-5,
)
print(
    f"image->text {image_to_text:.4f} | text->image {text_to_image:.4f} | "
    f"CLIP loss {by_hand:.4f}"
)
# --8<-- [end:symmetric_loss]

# %%
# --8<-- [start:logit_scale]
# CLIP stores log(scale), not the scale
logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
assert math.isclose(logit_scale.exp().item(), 14.2857, rel_tol=1e-4)  # 1 / 0.07
print(
    f"logit_scale = {logit_scale.item():.4f}, "
    f"scale = exp(logit_scale) = {logit_scale.exp().item():.4f}"
)

# A negative scale would reward dissimilar pairs: worse than chance.
flipped = F.cross_entropy(-logits_per_image, targets)
assert flipped > math.log(N) > F.cross_entropy(logits_per_image, targets)
# exp(logit_scale) is positive whatever the optimizer writes, while one big
# step on the scale itself can cross zero, which flips every similarity's sign.
raw_scale = torch.nn.Parameter(torch.tensor(1 / 0.07))
raw_scale.grad = torch.tensor(20.0)
torch.optim.SGD([raw_scale], lr=1.0).step()
assert raw_scale < 0
# In log space the same relative change is an additive one: d loss / d log s = s
# * d loss / d s.
s = torch.tensor(1 / 0.07, requires_grad=True)
log_s = torch.tensor(math.log(1 / 0.07), requires_grad=True)
clip_loss(image_features, text_features, s).backward()
clip_loss(image_features, text_features, log_s.exp()).backward()
assert torch.allclose(log_s.grad, s.detach() * s.grad)
print(f"one SGD step on the raw scale: {raw_scale.item():.2f}")
# --8<-- [end:logit_scale]

# %%
# --8<-- [start:clamp]
from pytorch_notes import expect_error

optimizer = torch.optim.SGD([logit_scale], lr=1.0)
# a gradient that asks for a much sharper softmax
logit_scale.grad = torch.tensor(-3.0)
optimizer.step()
assert logit_scale.exp() > 100  # 14.29 * e^3 = 287: too sharp
# CLIP's fix, in place, right after optimizer.step()
logit_scale.data.clamp_(0, math.log(100))
assert math.isclose(logit_scale.exp().item(), 100.0, rel_tol=1e-5)
# still the same trainable parameter
assert logit_scale.is_leaf and logit_scale.requires_grad
print(
    f"after the step: scale {14.2857 * math.exp(3):.1f}, "
    f"after clamp_: {logit_scale.exp().item():.1f}"
)

# The other place to clamp: in forward. The scale is capped, but the stored
# value is not, and beyond the cap the gradient is zero: nothing pulls
# logit_scale back.
too_large = torch.nn.Parameter(torch.tensor(math.log(300.0)))
capped = too_large.exp().clamp(max=100)
clip_loss(image_features, text_features, capped).backward()
assert capped.item() == 100 and too_large.grad == 0

with expect_error(ValueError, "scale must be > 0"):
    clip_loss(image_features, text_features, -14.0)
# --8<-- [end:clamp]

# %%
# --8<-- [start:data]
CLASSES = ["cat", "dog", "car", "bird", "boat", "tree"]
COLOURS = ["red", "green", "blue", "yellow"]
TEMPLATES = ["a photo of a", "a picture of the", "an image of a"]
FILLERS = [
    "today",
    "outside",
    "nice",
    "old",
    "near",
    "my",
    "at",
    "night",
    "small",
    "big",
    "very",
    "look",
]
words = sorted(
    {w for t in TEMPLATES for w in t.split()}
    | set(CLASSES)
    | set(COLOURS)
    | set(FILLERS)
)
vocab = {w: i for i, w in enumerate(words)}
K, C = len(CLASSES), len(COLOURS)

torch.manual_seed(0)
# an image's class shows in 8 feature dimensions ...
class_centres = 1.5 * torch.randn(K, 8)
colour_centres = 1.5 * torch.randn(C, 4)  # ... its colour in 4 more ...


def make_images(classes, colours):
    signal = torch.cat([class_centres[classes], colour_centres[colours]], dim=1)
    # ... and 12 dimensions of noise the encoder must ignore
    nuisance = torch.randn(len(classes), 12)
    return torch.cat([signal + 0.5 * torch.randn_like(signal), nuisance], dim=1)


def make_captions(classes, colours):
    captions = []
    for k, c in zip(classes.tolist(), colours.tolist()):
        template = TEMPLATES[torch.randint(len(TEMPLATES), ()).item()]
        fillers = [
            FILLERS[i] for i in torch.randint(len(FILLERS), (2,)).tolist()
        ]
        captions.append(
            f"{template} {COLOURS[c]} {CLASSES[k]} {' '.join(fillers)}"
        )
    return captions


def tokenize(texts):
    return torch.tensor([[vocab[w] for w in text.split()] for text in texts])


# all K * C = 24 (class, colour) pairs, once each
every_class = torch.arange(K).repeat_interleave(C)
every_colour = torch.arange(C).repeat(K)
captions = make_captions(every_class[:3], every_colour[:3])
print(captions)
# 4 template words, colour, class, 2 fillers
assert tokenize(captions).shape == (3, 8)
assert make_images(every_class, every_colour).shape == (K * C, 24)
assert len(vocab) == 29
# --8<-- [end:data]

# %%
# --8<-- [start:model]
import torch.nn as nn

from pytorch_notes.clip import CLIP

torch.manual_seed(0)
# "vision tower"
image_encoder = nn.Sequential(nn.Linear(24, 64), nn.ReLU(), nn.Linear(64, 32))
# "text tower"
text_encoder = nn.Sequential(
    nn.EmbeddingBag(len(vocab), 32, mode="mean"), nn.Linear(32, 32)
)
model = CLIP(image_encoder, text_encoder, temperature=0.07, max_scale=100.0)

images = make_images(every_class, every_colour)
tokens = tokenize(make_captions(every_class, every_colour))
per_image, per_text = model(images, tokens)

# The package model computes the lines of the first section.
image_unit = F.normalize(image_encoder(images), dim=1)
text_unit = F.normalize(text_encoder(tokens), dim=1)
assert torch.allclose(
    per_image, model.logit_scale.exp() * image_unit @ text_unit.T
)
assert torch.equal(per_text, per_image.T)
assert math.isclose(model.logit_scale.exp().item(), 1 / 0.07, rel_tol=1e-5)
pairs = torch.arange(K * C)
by_hand = (
    F.cross_entropy(per_image, pairs) + F.cross_entropy(per_text, pairs)
) / 2
assert torch.allclose(
    clip_loss(
        image_encoder(images), text_encoder(tokens), model.logit_scale.exp()
    ),
    by_hand,
)
print(model)
# --8<-- [end:model]

# %%
# --8<-- [start:train]
torch.manual_seed(0)


def retrieval_accuracy(model, rounds=10):
    """Top-1 image->text and text->image matches among 24 fresh pairs,
    averaged over rounds."""
    hits_i2t = hits_t2i = 0
    with torch.no_grad():
        for _ in range(rounds):
            per_image, per_text = model(
                make_images(every_class, every_colour),
                tokenize(make_captions(every_class, every_colour)),
            )
            hits_i2t += (
                (per_image.argmax(dim=1) == torch.arange(K * C)).sum().item()
            )
            hits_t2i += (
                (per_text.argmax(dim=1) == torch.arange(K * C)).sum().item()
            )
    return hits_i2t / (rounds * K * C), hits_t2i / (rounds * K * C)


before = retrieval_accuracy(model)
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
losses, scales = [], []
for step in range(300):
    # every (class, colour) pair once per batch, fresh noise and fillers
    order = torch.randperm(K * C)
    images = make_images(every_class[order], every_colour[order])
    tokens = tokenize(make_captions(every_class[order], every_colour[order]))
    loss = clip_loss(
        image_encoder(images), text_encoder(tokens), model.logit_scale.exp()
    )
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    model.clamp_logit_scale_()  # keep exp(logit_scale) <= 100
    losses.append(loss.item())
    scales.append(model.logit_scale.exp().item())
after = retrieval_accuracy(model)

# confidently wrong at first: worse than a uniform guess
assert losses[0] > math.log(K * C)
assert sum(losses[-20:]) / 20 < 0.1 * losses[0]
assert scales.index(min(scales)) < 50 and min(scales) < 1 / 0.07  # a dip
assert scales[-1] > 1.4 * min(scales)  # then growth ...
assert max(scales) < 50  # ... well under the clamp of 100
assert max(before) < 0.1 and min(after) > 0.8  # chance: 1 / 24 = 4%
print(
    f"loss {losses[0]:.2f} -> {losses[-1]:.2f} "
    f"(chance log 24 = {math.log(24):.2f})"
)
print(f"scale {1 / 0.07:.1f} -> {scales[-1]:.1f}")
print(
    f"top-1 retrieval image->text {before[0]:.0%} -> {after[0]:.0%}, "
    f"text->image {before[1]:.0%} -> {after[1]:.0%}"
)
# --8<-- [end:train]

# %%
# --8<-- [start:zero_shot]
torch.manual_seed(1)
test_classes = torch.randint(K, (600,))
# new images, any colour
test_images = make_images(test_classes, torch.randint(C, (600,)))

with torch.no_grad():
    # one prompt per class name, no colour
    prompts = [f"a photo of a {name}" for name in CLASSES]
    # (K, 32): the classifier, built from text alone
    class_weights = model.encode_text(tokenize(prompts))
    predictions = (model.encode_image(test_images) @ class_weights.T).argmax(
        dim=1
    )
accuracy = (predictions == test_classes).float().mean().item()
assert class_weights.shape == (K, 32)
assert accuracy > 0.8  # chance: 1 / 6 = 17%
print("prompts:", prompts[:2], "...")
print(
    f"zero-shot accuracy with one prompt: {accuracy:.1%} (chance {1 / K:.1%})"
)
# --8<-- [end:zero_shot]

# %%
# --8<-- [start:ensemble]
from pytorch_notes.clip import prompt_ensemble

with torch.no_grad():
    per_template = torch.stack(
        [
            model.encode_text(tokenize([f"{t} {name}" for name in CLASSES]))
            for t in TEMPLATES
        ]
    )
    ensemble_weights = prompt_ensemble(per_template)  # (3, K, 32) -> (K, 32)
    ensemble_predictions = (
        model.encode_image(test_images) @ ensemble_weights.T
    ).argmax(dim=1)
ensemble_accuracy = (ensemble_predictions == test_classes).float().mean().item()

by_hand = F.normalize(F.normalize(per_template, dim=-1).mean(dim=0), dim=-1)
assert torch.allclose(ensemble_weights, by_hand)
assert torch.allclose(ensemble_weights.norm(dim=1), torch.ones(K))
assert ensemble_accuracy > 0.8
assert abs(ensemble_accuracy - accuracy) < 0.03  # as good as one prompt
with expect_error(ValueError, "shape (templates, classes, D)"):
    prompt_ensemble(per_template[0])
print(
    f"zero-shot accuracy, {len(TEMPLATES)} templates averaged: "
    f"{ensemble_accuracy:.1%}"
)
# --8<-- [end:ensemble]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

torch.manual_seed(2)
with torch.no_grad():
    show = torch.arange(0, K * C, 2)  # 12 pairs: every class, two colours each
    cosines = (
        model.encode_image(make_images(every_class[show], every_colour[show]))
        @ model.encode_text(
            tokenize(make_captions(every_class[show], every_colour[show]))
        ).T
    )
same_class = every_class[show][:, None] == every_class[show][None, :]
off_diagonal = ~torch.eye(12, dtype=torch.bool)
# Brightest: the matching pairs; then the same class in another colour; then the
# rest.
assert (
    cosines.diagonal().mean() > cosines[same_class & off_diagonal].mean() + 0.1
)
assert (
    cosines[same_class & off_diagonal].mean()
    > cosines[~same_class].mean() + 0.1
)
print(
    f"mean cosine: matching {cosines.diagonal().mean():.2f}, "
    f"same class {cosines[same_class & off_diagonal].mean():.2f}, "
    f"other class {cosines[~same_class].mean():.2f}"
)
labels = [
    f"{COLOURS[c]} {CLASSES[k]}"
    for k, c in zip(every_class[show].tolist(), every_colour[show].tolist())
]

fig, (top, bottom) = plt.subplots(
    2, 1, figsize=(6, 8.3), height_ratios=[2, 3], layout="constrained"
)
top.plot(losses, label="CLIP loss")
top.axhline(
    math.log(K * C), color="gray", linestyle="--", label="chance, log 24"
)
top.set_xlabel("step")
top.set_ylabel("loss")
twin = top.twinx()
twin.plot(scales, color="tab:orange", label="exp(logit_scale)")
twin.set_ylabel("scale", color="tab:orange")
top.legend(loc="center right")
image = bottom.imshow(cosines.numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
bottom.set_xticks(range(12), labels, rotation=60, ha="right", fontsize=8)
bottom.set_yticks(range(12), labels, fontsize=8)
bottom.set_xlabel("caption")
bottom.set_ylabel("image")
bottom.set_title("cosine similarity, held-out pairs")
fig.colorbar(image, cax=bottom.inset_axes([1.05, 0, 0.05, 1]))
# --8<-- [end:plot]

# %%
# --8<-- [start:to_llm]
torch.manual_seed(0)
d_llm, n_text = 48, 5
# the frozen CLIP encoder up to its hidden features (64-d)
vision_tower = model.image_encoder[:2]
vision_tower.requires_grad_(False)
model.zero_grad()  # drop the gradients left over from training
# LLaVA-1.5's MLP projector
projector = nn.Sequential(
    nn.Linear(64, d_llm), nn.GELU(), nn.Linear(d_llm, d_llm)
)
# stands in for the LLM's token embeddings
word_embeddings = nn.Embedding(100, d_llm)

# (batch, 1 visual token, d_llm)
visual_tokens = projector(vision_tower(test_images[:2]))[:, None, :]
# (batch, 5 text tokens, d_llm)
prompt_tokens = word_embeddings(torch.randint(100, (2, n_text)))
# the sequence the language model reads
llm_input = torch.cat([visual_tokens, prompt_tokens], dim=1)
assert llm_input.shape == (2, 1 + n_text, d_llm)

llm_input.pow(2).mean().backward()  # any loss on the LLM side
# stage 1 of LLaVA trains the projector ...
assert all(p.grad is not None for p in projector.parameters())
# ... the CLIP encoder stays frozen
assert all(p.grad is None for p in vision_tower.parameters())
print(
    "LLM input:",
    tuple(llm_input.shape),
    "= (batch, visual + text tokens, d_llm)",
)
# --8<-- [end:to_llm]

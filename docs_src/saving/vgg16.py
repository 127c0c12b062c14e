# %% [markdown]
# # Pretrained VGG16
# Book page: saving/vgg16

# %%
# --8<-- [start:weights]
import torch
from torch import nn
from torchvision.models import VGG16_Weights

# a description of the weights; nothing is downloaded yet
weights = VGG16_Weights.IMAGENET1K_V1
# DEFAULT: the best weights torchvision has for VGG16
assert VGG16_Weights.DEFAULT is weights
categories = weights.meta["categories"]
# the ImageNet-1K classes, in the order of the model's outputs
assert len(categories) == 1000
assert categories[:3] == ["tench", "goldfish", "great white shark"]
assert weights.meta["num_params"] == 138_357_544
# MB, downloaded once when a model is built
assert round(weights.meta["_file_size"]) == 528
# GFLOPs (multiply-adds) for one 224 x 224 image
assert weights.meta["_ops"] == 15.47
# the preprocessing these weights were trained with
preprocess = weights.transforms()
print(weights.url)
print("ImageNet accuracy:", weights.meta["_metrics"]["ImageNet-1K"])
print(preprocess)
# --8<-- [end:weights]

# %%
# --8<-- [start:deprecated]
import warnings

import torchvision

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with torch.device("meta"):  # shapes only, no memory: building costs nothing
        # The original notes' call:
        old_style = torchvision.models.vgg16(pretrained=False)
messages = [
    str(w.message) for w in caught if issubclass(w.category, UserWarning)
]
assert any(
    "'pretrained' is deprecated" in m and "use 'weights' instead" in m
    for m in messages
)
print(messages[0])

with warnings.catch_warnings():
    # any warning would now be an error: there is none
    warnings.simplefilter("error")
    with torch.device("meta"):
        new_style = torchvision.models.vgg16(weights=None)
assert str(old_style) == str(new_style)  # pretrained=False meant weights=None
# --8<-- [end:deprecated]

# %%
# --8<-- [start:load]
from pytorch_notes.models import vgg16

# the random initialization, if the weights are not available
torch.manual_seed(0)
# ImageNet weights from the cache or the internet, else one line says so
vgg = vgg16()
assert isinstance(vgg, torchvision.models.VGG)
# --8<-- [end:load]


# %%
# --8<-- [start:architecture]
def count(params):
    return sum(p.numel() for p in params)


assert [name for name, _ in vgg.named_children()] == [
    "features",
    "avgpool",
    "classifier",
]
layout = [
    layer.out_channels if isinstance(layer, nn.Conv2d) else "M"
    for layer in vgg.features
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d))
]
assert layout == [
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    "M",
]
weight_layers = [
    m for m in vgg.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
]
# 13 convolutions + 3 linear layers: the "16" in VGG16
assert len(weight_layers) == 16

total = count(vgg.parameters())
assert total == 138_357_544 == weights.meta["num_params"]
assert count(vgg.features.parameters()) == 14_714_688
assert count(vgg.classifier.parameters()) == 123_642_856
assert (
    count(vgg.classifier[0].parameters()) == 25088 * 4096 + 4096 == 102_764_544
)
# three quarters of the model
assert 0.74 < count(vgg.classifier[0].parameters()) / total < 0.75
head = vgg.classifier[6]
assert isinstance(head, nn.Linear) and (
    head.in_features,
    head.out_features,
) == (4096, 1000)
print("features (conv channels, M = max pool):", layout)
print(vgg.avgpool)
print(vgg.classifier)
print(
    f"parameters: {total:,} (features {count(vgg.features.parameters()):,}, "
    f"classifier[0] alone {count(vgg.classifier[0].parameters()):,})"
)
# --8<-- [end:architecture]

# %%
# --8<-- [start:shapes]
with torch.device("meta"):
    # same layers, no data: instant
    shape_model = torchvision.models.vgg16(weights=None)
    x = torch.empty(1, 3, 224, 224)  # a batch of one 224 x 224 RGB image
    after_features = shape_model.features(x)
    after_avgpool = shape_model.avgpool(after_features)
    logits = shape_model(x)
# 224 / 2**5 = 7 after five 2x2 max pools
assert after_features.shape == (1, 512, 7, 7)
# adaptive pool to 7 x 7: a no-op at 224 x 224
assert after_avgpool.shape == (1, 512, 7, 7)
assert 512 * 7 * 7 == 25088 == shape_model.classifier[0].in_features
assert logits.shape == (1, 1000)
for name, tensor in [
    ("input", x),
    ("features", after_features),
    ("avgpool", after_avgpool),
    ("classifier", logits),
]:
    print(f"{name:10s} {tuple(tensor.shape)}")
# --8<-- [end:shapes]

# %%
# --8<-- [start:append]
with torch.device("meta"):
    appended = torchvision.models.vgg16(weights=None)
    # The original notes' first way: a layer after the 1000-way one.
    appended.classifier.add_module("add_linear", nn.Linear(1000, 10))
    out = appended(torch.empty(1, 3, 224, 224))
assert out.shape == (1, 10)
assert (
    count(appended.parameters()) == 138_357_544 + 1000 * 10 + 10 == 138_367_554
)
# the ImageNet layer is still there
assert appended.classifier[6].out_features == 1000
# and all its parameters
assert count(appended.classifier[6].parameters()) == 4_097_000
print(appended.classifier[-2:])

# Two linear layers with nothing between them are one linear layer: W = W2 W1, b
# = W2 b1 + b2.
torch.manual_seed(0)
layer_1000, add_linear = nn.Linear(4096, 1000), nn.Linear(1000, 10)
merged = nn.Linear(4096, 10)
with torch.no_grad():
    merged.weight.copy_(add_linear.weight @ layer_1000.weight)
    merged.bias.copy_(add_linear.weight @ layer_1000.bias + add_linear.bias)
    hidden = torch.randn(2, 4096)
    two_layers = add_linear(layer_1000(hidden))
    assert torch.allclose(two_layers, merged(hidden), atol=1e-5)
# --8<-- [end:append]

# %%
# --8<-- [start:replace]
from pytorch_notes import expect_error

imagenet_features = vgg.classifier[3].weight  # a layer we keep
imagenet_head = vgg.classifier[6]  # the 1000-way ImageNet layer, kept for later
# The original notes' second way: a new, randomly initialized head.
vgg.classifier[6] = nn.Linear(4096, 10)
# everything else is untouched
assert vgg.classifier[3].weight is imagenet_features
assert (
    count(vgg.parameters())
    == 138_357_544 - (4096 * 1000 + 1000) + (4096 * 10 + 10)
    == 134_301_514
)
assert len(vgg.classifier) == 7
print(vgg.classifier[6])

# torchvision refuses pretrained weights with another number of classes (before
# any download).
with expect_error(ValueError, "num_classes"):
    torchvision.models.vgg16(weights=weights, num_classes=10)
# --8<-- [end:replace]

# %%
# --8<-- [start:freeze]
for param in vgg.features.parameters():
    param.requires_grad_(False)  # the convolutions keep their ImageNet filters

trainable = count(p for p in vgg.parameters() if p.requires_grad)
frozen = count(p for p in vgg.parameters() if not p.requires_grad)
assert frozen == 14_714_688
assert trainable == 134_301_514 - 14_714_688 == 119_586_826
# what is left if you also freeze classifier[0:6]
assert count(vgg.classifier[6].parameters()) == 40_970
optimizer = torch.optim.SGD(
    (p for p in vgg.parameters() if p.requires_grad), lr=1e-3
)
assert (
    sum(p.numel() for group in optimizer.param_groups for p in group["params"])
    == trainable
)
print(f"trainable: {trainable:,}  frozen: {frozen:,}")
# --8<-- [end:freeze]

# %%
# --8<-- [start:preprocess]
from pytorch_notes.datasets import hymenoptera

photos = hymenoptera("val")  # real photos of ants and bees
# the first bee
image, label = photos[photos.targets.index(photos.classes.index("bees"))]
# resize the short side to 256, crop the 224 x 224 center, normalize
x = preprocess(image)
assert x.shape == (3, 224, 224) and x.dtype == torch.float32

# ImageNet's per-channel mean and std
mean = torch.tensor(preprocess.mean).view(3, 1, 1)
std = torch.tensor(preprocess.std).view(3, 1, 1)
pixels = x * std + mean  # undo (pixel - mean) / std
assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5  # back in [0, 1]
assert x.min() < 0  # the network sees standardized values, not pixels in [0, 1]
print(
    f"{photos.classes[label]}: {image.size[0]} x {image.size[1]} image "
    f"-> tensor {tuple(x.shape)}"
)
# --8<-- [end:preprocess]

# %%
# --8<-- [start:forward]
vgg.train()  # a training step: dropout on
assert vgg.classifier[2].training and vgg.classifier[5].training
batch = x.unsqueeze(0)  # a batch of one: (1, 3, 224, 224)
logits = vgg(batch)
assert logits.shape == (1, 10)

loss = nn.functional.cross_entropy(logits, torch.tensor([label]))
loss.backward()
# Frozen: no gradient at all
assert all(p.grad is None for p in vgg.features.parameters())
assert vgg.classifier[6].weight.grad.shape == (10, 4096)
assert vgg.classifier[0].weight.grad is not None  # still trainable
# No step here: the next sections use the ImageNet weights as they are.
optimizer.zero_grad()
print(f"logits {tuple(logits.shape)}, loss {loss.item():.3f}")
# --8<-- [end:forward]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
axes[0].imshow(image)
axes[0].set_title(f"as loaded: {image.size[0]} x {image.size[1]}")
axes[1].imshow(pixels.permute(1, 2, 0).clamp(0, 1).numpy())
axes[1].set_title("what VGG16 sees: 224 x 224 center crop")
for axis in axes:
    axis.axis("off")
fig.tight_layout()
# --8<-- [end:plot]

# %%
# --8<-- [start:features]
from torch.utils.data import DataLoader, Subset


def first_of_each_class(dataset, n):
    """The first n photos of every class: a small, fixed set."""
    picks = [
        [i for i, t in enumerate(dataset.targets) if t == c][:n]
        for c in range(len(dataset.classes))
    ]
    return Subset(dataset, [i for pick in picks for i in pick])


# Everything but the last layer: each photo becomes 4096 numbers.
body = nn.Sequential(
    vgg.features, vgg.avgpool, nn.Flatten(1), vgg.classifier[:6]
)
vgg.eval()  # dropout off: a photo always gives the same features


@torch.no_grad()
def embed(photos):
    pairs = [
        (body(images), labels)
        for images, labels in DataLoader(photos, batch_size=10)
    ]
    return torch.cat([f for f, _ in pairs]), torch.cat([y for _, y in pairs])


train_photos = first_of_each_class(hymenoptera("train", preprocess), 8)
val_photos = first_of_each_class(hymenoptera("val", preprocess), 10)
train_x, train_y = embed(train_photos)
val_x, val_y = embed(val_photos)
assert train_x.shape == (16, 4096) and val_x.shape == (20, 4096)
assert train_y.tolist() == [0] * 8 + [1] * 8  # 0: ants, 1: bees
print(f"features: train {tuple(train_x.shape)}, val {tuple(val_x.shape)}")
# --8<-- [end:features]

# %%
# --8<-- [start:imagenet]
ant, bee = categories.index("ant"), categories.index("bee")  # 310, 309
with torch.no_grad():
    imagenet_logits = imagenet_head(val_x)  # (20, 1000)
two_way = imagenet_logits[:, [ant, bee]].argmax(1)  # 0: ant, 1: bee
imagenet_accuracy = (two_way == val_y).float().mean().item()
top1 = [categories[i] for i in imagenet_logits.argmax(1)]
print(f"ImageNet weights: {vgg.pretrained}")
print(f"'ant' vs 'bee' logits on 20 val photos: {imagenet_accuracy:.2f} right")
print("top-1 ImageNet class of the first 5 bees:", top1[10:15])
if vgg.pretrained:
    assert imagenet_accuracy >= 0.8  # ImageNet training already separates them
# --8<-- [end:imagenet]

# %%
# --8<-- [start:finetune]
torch.manual_seed(0)
head = nn.Linear(4096, 2)  # ants, bees: the only part that learns
head_optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
losses = []
for step in range(50):
    loss = nn.functional.cross_entropy(head(train_x), train_y)
    head_optimizer.zero_grad()
    loss.backward()
    head_optimizer.step()
    losses.append(loss.item())
with torch.no_grad():
    train_accuracy = (head(train_x).argmax(1) == train_y).float().mean().item()
    accuracy = (head(val_x).argmax(1) == val_y).float().mean().item()

vgg.classifier[6] = head  # the fine-tuned model, whole again
photo = val_photos[0][0].unsqueeze(0)
with torch.no_grad():  # the model is exactly body + head
    assert torch.allclose(vgg(photo), head(body(photo)), atol=1e-4)
assert train_accuracy == 1.0  # 16 photos, 4096 features: always separable
print(
    f"loss {losses[0]:.3f} -> {losses[-1]:.4f}, train accuracy "
    f"{train_accuracy:.2f}; val accuracy {accuracy:.2f} (20 new photos)"
)
if vgg.pretrained:
    assert accuracy >= 0.85  # the classic transfer-learning result
# --8<-- [end:finetune]

# %% [markdown]
# # Common transforms: Normalize, Resize, RandomCrop, Compose
# Book page: data/transforms

# %%
# --8<-- [start:image]
import torch
from torchvision.transforms import v2

from pytorch_notes.datasets import hymenoptera

train_set = hymenoptera("train")
image, label = train_set[0]  # a PIL image and its class index
# A 3:2 landscape view, whatever the shape of the first photo.
photo = v2.CenterCrop((min(image.height, image.width * 2 // 3), image.width))(
    image
)
assert train_set.classes[label] == "ants"
assert photo.size == image.size  # this one is 3:2 already: kept whole
to_tensor = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
x = to_tensor(photo)

assert photo.width > photo.height and x.shape == (3, photo.height, photo.width)
assert 0 <= x.min() and x.max() <= 1
print(f"photo: {photo.width} x {photo.height} (W x H), tensor {tuple(x.shape)}")
# --8<-- [end:image]

# %%
# --8<-- [start:normalize]
mean = torch.tensor([0.5, 0.5, 0.5])
std = torch.tensor([0.5, 0.5, 0.5])
normalize = v2.Normalize(mean=mean.tolist(), std=std.tolist())
y = normalize(x)

by_formula = (x - mean[:, None, None]) / std[:, None, None]  # per channel c
assert torch.allclose(y, by_formula, rtol=0, atol=1e-7)
assert -1 <= y.min() and y.max() <= 1  # [0, 1] -> [-1, 1]
ends = torch.tensor([0.0, 1.0]).expand(3, 1, 2)  # a 1 x 2 image: black, white
assert torch.equal(normalize(ends), torch.tensor([-1.0, 1.0]).expand(3, 1, 2))
print(
    f"before: [{x.min():.3f}, {x.max():.3f}]  "
    f"after: [{y.min():.3f}, {y.max():.3f}]"
)
# --8<-- [end:normalize]

# %%
# --8<-- [start:statistics]
import torchvision

# at the size the model sees (Resize: below)
as_seen = v2.Compose([v2.Resize(64), to_tensor])
# a few of both classes
images = [as_seen(train_set[i][0]) for i in range(0, len(train_set), 4)]
# (3, all pixels of all images)
pixels = torch.cat([img.reshape(3, -1) for img in images], dim=1)
data_mean, data_std = pixels.mean(dim=1), pixels.std(dim=1)

standardize = v2.Normalize(mean=data_mean.tolist(), std=data_std.tolist())
standardized = torch.cat(
    [standardize(img).reshape(3, -1) for img in images], dim=1
)
assert torch.allclose(standardized.mean(dim=1), torch.zeros(3), atol=1e-3)
assert torch.allclose(standardized.std(dim=1), torch.ones(3), atol=1e-3)
print(f"{len(images)} images, {pixels.shape[1]} pixels per channel")
print(
    "mean:",
    [round(v, 3) for v in data_mean.tolist()],
    " std:",
    [round(v, 3) for v in data_std.tolist()],
)

# The ImageNet statistics, as torchvision's pretrained weights use them.
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
weights_transform = (
    torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms()
)
assert (
    weights_transform.mean == IMAGENET_MEAN
    and weights_transform.std == IMAGENET_STD
)
# --8<-- [end:statistics]

# %%
# --8<-- [start:undo]
from pytorch_notes import expect_error
from pytorch_notes.plots import show_images

imagenet_normalize = v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)
z = imagenet_normalize(x)
imagenet_mean, imagenet_std = (
    torch.tensor(IMAGENET_MEAN),
    torch.tensor(IMAGENET_STD),
)

# x = z * std + mean
undone = z * imagenet_std[:, None, None] + imagenet_mean[:, None, None]
assert torch.allclose(undone, x, atol=1e-6)
# The same as a Normalize: mean' = -mean / std, std' = 1 / std.
denormalize = v2.Normalize(
    (-imagenet_mean / imagenet_std).tolist(), (1 / imagenet_std).tolist()
)
assert torch.allclose(denormalize(z), x, atol=1e-6)

with expect_error(ValueError, "show the images before Normalize"):
    # values outside [0, 1] cannot be drawn as they are
    show_images(z.unsqueeze(0))
print(
    f"normalized range [{z.min():.2f}, {z.max():.2f}], "
    f"undone range [{undone.min():.2f}, {undone.max():.2f}]"
)
# --8<-- [end:undo]

# %%
# --8<-- [start:normalize-figure]
show_images(
    torch.stack([x, z.clamp(0, 1), undone.clamp(0, 1)]),
    titles=["original", "normalized, drawn as is", "normalization undone"],
    ncols=3,
    size=3,
)
# --8<-- [end:normalize-figure]

# %%
# --8<-- [start:resize]
squashed = v2.Resize((128, 128))(photo)  # (height, width): exactly this size
assert squashed.size == (128, 128)
# asked as (h, w); PIL answers (w, h)
assert v2.Resize((100, 150))(photo).size == (150, 100)
short_side = v2.Resize(128)(photo)  # one number: the SHORTER side becomes 128
assert short_side.size == (192, 128)  # a 3:2 photo: 128 * 3 / 2 = 192 wide


def resized_size(height, width, n):
    """The (height, width) that Resize(n) gives: the shorter side n,
    the longer one scaled and truncated."""
    if height <= width:
        return n, int(n * width / height)
    return int(n * height / width), n


assert (short_side.height, short_side.width) == resized_size(
    photo.height, photo.width, 128
)
# 128 * 157 / 100 = 200.96: truncated to 200, not rounded to 201
assert v2.Resize(128)(torch.zeros(1, 100, 157)).shape[1:] == (128, 200)
checked = 0
for height in range(20, 90, 7):
    for width in range(20, 90, 5):
        for n in (16, 33):
            assert v2.Resize(n)(torch.zeros(1, height, width)).shape[
                1:
            ] == resized_size(height, width, n)
            checked += 1
ratio_before, ratio_after = (
    photo.width / photo.height,
    short_side.width / short_side.height,
)
# the aspect ratio is kept, up to rounding
assert abs(ratio_after - ratio_before) < 1 / 128
print(
    f"Resize((128, 128)): {squashed.size}, Resize(128): {short_side.size}"
    "  (PIL sizes, W x H)"
)
print(
    f"aspect ratio {ratio_before:.3f} -> {ratio_after:.3f}; "
    f"rule checked on {checked} sizes"
)
# --8<-- [end:resize]

# %%
# --8<-- [start:antialias]
stripes = torch.zeros(1, 64, 64)
stripes[:, :, ::3] = 1.0  # one bright column in every three: mean 1/3
assert v2.Resize(16).antialias is True  # the default for tensors too
smooth = v2.Resize(16)(stripes)
aliased = v2.Resize(16, antialias=False)(stripes)
# an even grey of about 1/3: what the eye sees from afar
assert smooth.std() < 0.05
# fake stripes 0, 0.5, 0.5, ... that are not in the picture
assert aliased.std() > 0.2
print("antialias=True: ", [round(v, 2) for v in smooth[0, 0, :6].tolist()])
print("antialias=False:", [round(v, 2) for v in aliased[0, 0, :6].tolist()])

# PIL always antialiases, so a PIL image and its tensor resize to almost the
# same pixels.
from_pil = to_tensor(v2.Resize(64)(photo))
from_tensor = v2.Resize(64)(x)
assert (from_pil - from_tensor).abs().mean() < 2 / 255
# --8<-- [end:antialias]

# %%
# --8<-- [start:resize-figure]
import matplotlib.pyplot as plt

panels = [
    (photo, "original"),
    (squashed, "Resize((128, 128))"),
    (short_side, "Resize(128)"),
]
fig, axes = plt.subplots(1, 3, figsize=(7, 1.9))
for axis, (picture, title) in zip(axes, panels):
    axis.imshow(to_tensor(picture).permute(1, 2, 0).numpy())
    axis.set_title(f"{title}: {picture.width} x {picture.height}", fontsize=10)
    axis.axis("off")
fig.tight_layout()
# --8<-- [end:resize-figure]

# %%
# --8<-- [start:random-crop]
small = v2.Resize(40)(x)  # a tensor image with the shorter side 40
crop = v2.RandomCrop(32)

torch.manual_seed(0)
first = [crop(small) for _ in range(4)]
torch.manual_seed(0)
again = [crop(small) for _ in range(4)]
assert all(c.shape == (3, 32, 32) for c in first)
# same seed, same crops
assert all(torch.equal(a, b) for a, b in zip(first, again))
assert not torch.equal(first[0], first[1])  # but each call draws a new position


def crop_position(window, picture):
    """(top, left) of the places where `window` sits inside `picture`."""
    h, w = window.shape[-2:]
    return [
        (top, left)
        for top in range(picture.shape[-2] - h + 1)
        for left in range(picture.shape[-1] - w + 1)
        if torch.equal(picture[..., top : top + h, left : left + w], window)
    ]


print(
    "crop positions (top, left):", [crop_position(c, small)[0] for c in first]
)

with expect_error(ValueError, "larger than input image size"):
    v2.RandomCrop(48)(small)  # the crop is larger than the image
# 40 high: pads the missing 8 rows above AND below
padded = v2.RandomCrop(48, pad_if_needed=True)(small)
assert padded.shape == (3, 48, 48)
# a window of the 56 x 60 zero-padded image
assert crop_position(padded, v2.Pad([0, 8])(small))
tile = small[..., :32, :32]  # 32 x 32, the size of a CIFAR-10 image
# pad 4 zeros on every side, crop 32: a random shift
shifted = v2.RandomCrop(32, padding=4)(tile)
assert shifted.shape == (3, 32, 32)
# a 32 x 32 window of the 40 x 40 padded tile
assert crop_position(shifted, v2.Pad(4)(tile))
# --8<-- [end:random-crop]

# %%
# --8<-- [start:flip]
import torchvision.transforms.v2.functional as F

always = v2.RandomHorizontalFlip(p=1.0)
never = v2.RandomHorizontalFlip(p=0.0)
assert torch.equal(always(x), x.flip(-1))  # mirror the width axis
assert torch.equal(always(x), F.horizontal_flip(x))
assert torch.equal(never(x), x)

torch.manual_seed(0)
coin = v2.RandomHorizontalFlip()  # p=0.5
flipped = sum(torch.equal(coin(small), small.flip(-1)) for _ in range(200))
assert 70 < flipped < 130  # about half of the calls
print(f"p=0.5 flipped {flipped} of 200 times")
# --8<-- [end:flip]

# %%
# --8<-- [start:crops-figure]
torch.manual_seed(1)
examples = v2.Resize(96)(x)
augment = v2.Compose([v2.RandomCrop(80), v2.RandomHorizontalFlip()])
show_images(
    torch.stack([augment(examples) for _ in range(6)]), ncols=6, size=1.6
)
# --8<-- [end:crops-figure]

# %%
# --8<-- [start:compose]
from torchvision import transforms

pipeline = v2.Compose(
    [
        v2.Resize(64),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        normalize,
    ]
)
result = pipeline(photo)
# one call, each step in order
assert torch.equal(result, normalize(to_tensor(v2.Resize(64)(photo))))
assert result.shape[1] == 64 and result.dtype == torch.float32

# Normalize needs a float tensor, so it must come after ToImage + ToDtype.
with expect_error(TypeError, "does not support PIL images"):
    v2.Compose(
        [normalize, v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    )(photo)
with expect_error(TypeError, "should be a float tensor"):
    # uint8 0..255: ToDtype is missing
    v2.Compose([v2.ToImage(), normalize])(photo)
# the same mistake with the v1 names
with expect_error(TypeError, "should be Tensor Image"):
    transforms.Compose(
        [transforms.Normalize([0.5] * 3, [0.5] * 3), transforms.ToTensor()]
    )(photo)
# --8<-- [end:compose]

# %%
# --8<-- [start:pipelines]
# the share of the area it keeps
assert v2.RandomResizedCrop(224).scale == (0.08, 1.0)
train_transform = v2.Compose(
    [
        # a random part of the image, resized to 224 x 224
        v2.RandomResizedCrop(224),
        v2.RandomHorizontalFlip(),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ]
)
eval_transform = v2.Compose(
    [
        v2.Resize(256),
        v2.CenterCrop(224),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ]
)
torch.manual_seed(0)
train_views = [train_transform(image), train_transform(image)]
eval_view = eval_transform(image)
assert train_views[0].shape == eval_view.shape == (3, 224, 224)
# a new random view every time (every epoch)
assert not torch.equal(train_views[0], train_views[1])
assert torch.equal(eval_transform(image), eval_view)  # always the same answer
# The eval pipeline is what torchvision's pretrained ResNet-18 expects.
assert torch.allclose(eval_view, weights_transform(image), atol=1e-5)
print(weights_transform)
# --8<-- [end:pipelines]

# %%
# --8<-- [start:v1]
# The original notes' torchvision.transforms names still work and agree.
assert torch.equal(transforms.Normalize([0.5] * 3, [0.5] * 3)(x), normalize(x))
assert transforms.Resize(128)(photo).size == v2.Resize(128)(photo).size
torch.manual_seed(0)
old_crop = transforms.RandomCrop(32)(small)
torch.manual_seed(0)
# even the same random draws
assert torch.equal(old_crop, v2.RandomCrop(32)(small))
print("v1 and v2 agree")
# --8<-- [end:v1]

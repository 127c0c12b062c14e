# %% [markdown]
# # Quick check: is PyTorch installed and which devices can it use?
# Book page: getting-started/quick-check

# %%
# --8<-- [start:versions]
import torch
import torchvision

major, minor = (int(part) for part in torch.__version__.split(".")[:2])
assert (major, minor) >= (2, 6), "this book needs PyTorch 2.6 or newer"
print("torch", torch.__version__, "| torchvision", torchvision.__version__)
# --8<-- [end:versions]

# %%
# --8<-- [start:devices]
cuda_build = torch.version.cuda  # e.g. "12.6"; None in a CPU-only build
if "+cpu" in torch.__version__:
    assert cuda_build is None  # the suffix names the build
if cuda_build is None and torch.version.hip is None:  # no GPU libraries...
    assert not torch.cuda.is_available()  # ...so no GPU, whatever the machine
print("CUDA build:    ", cuda_build)
print("CUDA available:", torch.cuda.is_available())
print("CUDA devices:  ", torch.cuda.device_count())
print("MPS available: ", torch.backends.mps.is_available())
if torch.cuda.is_available():
    print("GPU 0:", torch.cuda.get_device_name(0))
# --8<-- [end:devices]

# %%
# --8<-- [start:tiny-op]
from pytorch_notes import available_devices

for device in available_devices():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    product = a @ a
    assert product.device.type == device
    assert product.cpu().tolist() == [[7.0, 10.0], [15.0, 22.0]]
    print(f"{device}: a @ a = {product.cpu().tolist()}")
# --8<-- [end:tiny-op]

# %%
# --8<-- [start:report]
from pytorch_notes import environment_report

report = environment_report()
assert report["torch"] == torch.__version__
assert all(
    report[f"tiny op on {device}"] == "ok" for device in available_devices()
)
for name, value in report.items():
    print(f"{name:<15}: {value}")
# --8<-- [end:report]

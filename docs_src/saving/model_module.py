# %% [markdown]
# # The model in its own module
# Book page: saving/model-module

# %%
# --8<-- [start:import]
import torch
from torch import nn

from pytorch_notes import expect_error

# one explicit name: the reader sees where Moli comes from
from pytorch_notes.models import Moli

torch.manual_seed(0)
model = Moli()
assert isinstance(model, nn.Module)

# What `from pytorch_notes.models import *` would have poured into this
# namespace:
star = {}
exec("from pytorch_notes.models import *", star)
dragged_in = sorted(name for name in star if not name.startswith("__"))
names = {"Moli", "LeNet", "vgg16", "torch", "nn", "annotations"}
assert names <= set(dragged_in)
print("import * brings:", dragged_in)
# --8<-- [end:import]

# %%
# --8<-- [start:quick-test]
images = torch.ones((64, 3, 32, 32))  # a fake batch: 64 RGB images of 32 x 32
logits = model(images)
assert logits.shape == (64, 10)  # one score per class for every image
print("input", tuple(images.shape), "-> output", tuple(logits.shape))

# One image needs a batch dimension; Moli says so instead of failing deep
# inside.
with expect_error(ValueError, "add a batch dimension"):
    model(torch.ones(3, 32, 32))
assert model(torch.ones(3, 32, 32).unsqueeze(0)).shape == (1, 10)
# --8<-- [end:quick-test]

# %%
# --8<-- [start:print]
print(model)


def conv_params(c_in, c_out, k):
    return c_out * c_in * k * k + c_out  # weights + one bias per output channel


def linear_params(n_in, n_out):
    return n_out * n_in + n_out


by_formula = [
    conv_params(3, 32, 5),
    conv_params(32, 32, 5),
    conv_params(32, 64, 5),
    linear_params(64 * 4 * 4, 64),
    linear_params(64, 10),
]
layers_with_weights = [
    layer for layer in model.model if isinstance(layer, (nn.Conv2d, nn.Linear))
]
by_pytorch = [
    sum(p.numel() for p in layer.parameters()) for layer in layers_with_weights
]
total = sum(p.numel() for p in model.parameters())
assert by_pytorch == by_formula == [2_432, 25_632, 51_264, 65_600, 650]
assert total == sum(by_formula) == 145_578
print(f"parameters per layer: {by_pytorch}, total: {total:,}")
# --8<-- [end:print]

# %%
# --8<-- [start:module-name]
import importlib
import pickle
import pickletools

# where Python will look for the class again
assert Moli.__module__ == "pytorch_notes.models"

# Pickle stores a class as a reference: module path and name, not the code.
# the pickle protocol torch.save uses
assert torch.serialization.DEFAULT_PROTOCOL == 2
pickled = pickle.dumps(Moli, protocol=2)
assert b"pytorch_notes.models\nMoli" in pickled
# no trace of the methods
assert b"forward" not in pickled and len(pickled) < 40
opcodes = [op.name for op, _, _ in pickletools.genops(pickled)]
assert opcodes == ["PROTO", "GLOBAL", "BINPUT", "STOP"]  # one GLOBAL reference
pickletools.dis(pickled)

# Unpickling repeats the lookup: import the module, take the attribute.
assert importlib.import_module(Moli.__module__).Moli is Moli
assert pickle.loads(pickled) is Moli
# --8<-- [end:module-name]

# %%
# --8<-- [start:main]
import subprocess
import sys
from pathlib import Path

Path("tiny_model.py").write_text(
    "# any class: __module__ is set by Python, nn.Module or not\n"
    "class TinyNet:\n"
    "    pass\n"
    "\n"
    'print(f"__name__ = {__name__}, '
    'TinyNet.__module__ = {TinyNet.__module__}")\n'
)


def run_python(*args):
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


as_script = run_python("tiny_model.py")  # python tiny_model.py
as_import = run_python("-c", "import tiny_model")  # another program imports it
assert as_script == "__name__ = __main__, TinyNet.__module__ = __main__"
assert as_import == "__name__ = tiny_model, TinyNet.__module__ = tiny_model"
print("run as a script:", as_script)
print("imported:       ", as_import)


# The same holds here: a class defined in this session belongs to this session's
# module, which is __main__ when you run a script or a notebook.
class LocalNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, x):
        return self.linear(x)


assert LocalNet.__module__ == __name__
assert LocalNet.__module__ != Moli.__module__
print("LocalNet.__module__ == __name__:", LocalNet.__module__ == __name__)
# --8<-- [end:main]

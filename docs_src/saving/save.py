# %% [markdown]
# # Two ways to save
# Book page: saving/save

# %%
# --8<-- [start:folder]
import shutil
from pathlib import Path, PurePosixPath, PureWindowsPath

import torch

from pytorch_notes import expect_error
from pytorch_notes.models import Moli

folder = Path("checkpoints/save")  # this chapter's own folder
shutil.rmtree(folder, ignore_errors=True)  # a rerun starts clean
torch.manual_seed(0)
model = Moli()

missing = "Parent directory checkpoints/save does not exist"
with expect_error(RuntimeError, missing):
    torch.save(model.state_dict(), folder / "moli.pth")  # not there yet


# creates missing parents; no error if it exists
folder.mkdir(parents=True, exist_ok=True)
folder.mkdir(parents=True, exist_ok=True)  # so it is safe to run every time

# A backslash is a folder separator on Windows only; elsewhere it is part of the
# file name.
assert PureWindowsPath("checkpoints\\moli.pth").parts == (
    "checkpoints",
    "moli.pth",
)
assert PurePosixPath("checkpoints\\moli.pth").parts == (
    "checkpoints\\moli.pth",
)
# The / operator builds a path that is right on every system.
assert (folder / "moli.pth").parts == ("checkpoints", "save", "moli.pth")
print("save to:", (folder / "moli.pth").as_posix())
# --8<-- [end:folder]

# %%
# --8<-- [start:whole]
import zipfile

whole_path = folder / "moli_whole.pth"
torch.save(model, whole_path)  # way 1: pickle the whole object

with zipfile.ZipFile(whole_path) as archive:
    names = archive.namelist()
    # the object structure, tensors left out
    pickled = archive.read("moli_whole/data.pkl")
tensor_records = [name for name in names if name.startswith("moli_whole/data/")]
# one record per tensor
assert len(tensor_records) == len(list(model.parameters())) == 10
# the class, by reference
assert b"pytorch_notes.models" in pickled and b"Moli" in pickled
# every layer class, by reference too
assert b"torch.nn.modules.conv" in pickled
print("archive:", names[:5], "...", f"({len(names)} entries)")
# --8<-- [end:whole]

# %%
# --8<-- [start:state-dict]
state = model.state_dict()  # way 2: only the tensors, by name
assert list(state) == [
    "model.0.weight",
    "model.0.bias",
    "model.3.weight",
    "model.3.bias",
    "model.6.weight",
    "model.6.bias",
    "model.10.weight",
    "model.10.bias",
    "model.12.weight",
    "model.12.bias",
]
# model[0] is Conv2d(3, 32, 5)
assert state["model.0.weight"].shape == (32, 3, 5, 5)
assert state["model.12.weight"].shape == (10, 64)  # model[12] is Linear(64, 10)
for name, tensor in list(state.items())[:4]:
    print(f"{name:16s} {tuple(tensor.shape)}")

state_path = folder / "moli_state.pth"
torch.save(state, state_path)
with zipfile.ZipFile(state_path) as archive:
    pickled = archive.read("moli_state/data.pkl")
# no classes of ours
assert b"pytorch_notes" not in pickled and b"torch.nn.modules" not in pickled
# a dictionary of tensors, nothing more
assert b"collections\nOrderedDict" in pickled

# The tensors of a state_dict share memory with the parameters: a live view, not
# a copy.
assert state["model.0.bias"].data_ptr() == model.model[0].bias.data_ptr()
# a real copy
snapshot = {name: tensor.clone() for name, tensor in state.items()}
with torch.no_grad():
    model.model[0].bias.add_(1.0)  # one "training step"
# the view moved along
assert torch.equal(state["model.0.bias"], model.model[0].bias)
# the clone did not
assert torch.equal(snapshot["model.0.bias"] + 1.0, model.model[0].bias)
with torch.no_grad():
    model.model[0].bias.sub_(1.0)  # undo
# --8<-- [end:state-dict]

# %%
# --8<-- [start:sizes]
n_params = sum(p.numel() for p in model.parameters())
weight_bytes = 4 * n_params  # float32: 4 bytes per number
whole_size = whole_path.stat().st_size
state_size = state_path.stat().st_size
for size in (whole_size, state_size):  # a few kB of zip and pickle on top
    assert 0 < size - weight_bytes < 20_000
# within 3 %: the weights dominate
assert abs(whole_size - state_size) / state_size < 0.03
# the whole model also stores every layer's settings
assert whole_size > state_size
print(f"weights alone: {weight_bytes:,} bytes")
print(f"whole model:   {whole_size:,} bytes")
print(f"state_dict:    {state_size:,} bytes")
# --8<-- [end:sizes]

# %%
# --8<-- [start:trap]
import pickle
import runpy
import subprocess
import sys

Path("train_scriptnet.py").write_text("""\
import torch
from torch import nn


# Defined in the script itself: recorded as __main__.ScriptNet.
class ScriptNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, x):
        return self.linear(x)


net = ScriptNet()
torch.save(net, "checkpoints/save/scriptnet_whole.pth")
torch.save(net.state_dict(), "checkpoints/save/scriptnet_state.pth")
""")
# Run it as `python train_scriptnet.py` would (as __main__), inside this
# process.
runpy.run_path("train_scriptnet.py", run_name="__main__")

# Another program: its __main__ is a different one, without ScriptNet.
# weights_only=False only to get past the safety check and reach the class
# lookup (see the next chapter).
load_whole = (
    'import torch; torch.load("checkpoints/save/scriptnet_whole.pth",'
    " weights_only=False)"
)
result = subprocess.run(
    [sys.executable, "-c", load_whole], capture_output=True, text=True
)
assert result.returncode != 0
assert (
    "AttributeError: Can't get attribute 'ScriptNet' on <module '__main__'"
    in result.stderr
)
# Without weights_only=False, torch.load refuses the file before any lookup.
with expect_error(pickle.UnpicklingError, "Weights only load failed"):
    torch.load(folder / "scriptnet_whole.pth", weights_only=True)
print("other process:", result.stderr.strip().splitlines()[-1])

# The state_dict holds only tensors: any process loads it, safely.
tensors = torch.load(folder / "scriptnet_state.pth", weights_only=True)
assert list(tensors) == ["linear.weight", "linear.bias"]
assert tensors["linear.weight"].shape == (2, 4)
print(
    "state_dict loads anywhere:",
    {name: tuple(t.shape) for name, t in tensors.items()},
)
# --8<-- [end:trap]

# %%
# --8<-- [start:atomic]
from pytorch_notes.checkpoints import atomic_save

precious = folder / "precious.pth"
# a generator cannot be pickled
broken = {"weights": torch.ones(3), "batches": (n for n in range(3))}

# Plain torch.save writes into the target file directly: a failure halfway
# destroys the old one.
torch.save({"weights": torch.ones(3)}, precious)
with expect_error(TypeError, "cannot pickle 'generator' object"):
    torch.save(broken, precious)
with expect_error(RuntimeError, "failed locating file data.pkl"):
    torch.load(precious, weights_only=True)  # the old checkpoint is gone

# atomic_save writes a temporary file next to it, then renames it over the
# target.
atomic_save({"weights": torch.ones(3)}, precious)
with expect_error(TypeError, "cannot pickle 'generator' object"):
    atomic_save(broken, precious)
# intact
assert torch.equal(
    torch.load(precious, weights_only=True)["weights"], torch.ones(3)
)
assert list(folder.glob(".*.tmp")) == []  # and no temporary file left behind
# it creates missing folders
assert atomic_save(torch.ones(1), folder / "more" / "x.pth").is_file()
print("after the failed atomic_save:", torch.load(precious, weights_only=True))
# --8<-- [end:atomic]

# %%
# --8<-- [start:checkpoint]
from pytorch_notes.checkpoints import save_checkpoint

losses = [2.31, 2.05]  # what a training loop would have recorded
checkpoint_path = save_checkpoint(
    folder / "epoch-002.pt", model, epoch=2, losses=losses
)
# plain data and tensors only
checkpoint = torch.load(checkpoint_path, weights_only=True)
assert set(checkpoint) == {
    "format",
    "epoch",
    "model",
    "optimizer",
    "scheduler",
    "rng",
    "extra",
}
assert checkpoint["epoch"] == 2 and checkpoint["extra"] == {"losses": losses}
# the model's state_dict, as above
assert list(checkpoint["model"]) == list(state)
# no optimizer passed here; a training loop passes it
assert checkpoint["optimizer"] is None
assert set(checkpoint["rng"]) == {"python", "numpy", "torch", "cuda"}
# where the random numbers stood
assert torch.equal(checkpoint["rng"]["torch"], torch.get_rng_state())
assert list(folder.glob(".*.tmp")) == []  # written atomically
for key, value in checkpoint.items():
    print(f"{key:10s} {type(value).__name__}")
# --8<-- [end:checkpoint]

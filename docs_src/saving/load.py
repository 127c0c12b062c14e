# %% [markdown]
# # Two ways to load, and weights_only
# Book page: saving/load

# %%
# --8<-- [start:files]
import re
import shutil
from pathlib import Path

import torch

from pytorch_notes.models import Moli

folder = Path("checkpoints/load")  # this chapter's own folder
shutil.rmtree(folder, ignore_errors=True)  # a rerun starts clean
folder.mkdir(parents=True, exist_ok=True)

torch.manual_seed(0)
trained = Moli()  # stands in for a trained model
trained.eval()
state_path = folder / "moli_state.pth"
whole_path = folder / "moli_whole.pth"
torch.save(trained.state_dict(), state_path)
torch.save(trained, whole_path)

images = torch.rand(4, 3, 32, 32)
with torch.no_grad():
    expected = trained(images)
print("saved:", sorted(path.name for path in folder.iterdir()))
# --8<-- [end:files]

# %%
# --8<-- [start:state-dict]
torch.manual_seed(1)
model = Moli()  # a fresh model: same architecture, different random weights
with torch.no_grad():
    assert not torch.allclose(model(images), expected)

first_weight = model.model[0].weight
result = model.load_state_dict(torch.load(state_path, weights_only=True))
assert model.training  # saved in eval mode, loaded: the mode did not come along
model.eval()  # load_state_dict does not change the mode; set it for inference

with torch.no_grad():
    assert torch.equal(model(images), expected)  # bit for bit the same outputs
# values copied into the existing parameters
assert model.model[0].weight is first_weight
assert result.missing_keys == [] and result.unexpected_keys == []
print(result)
# --8<-- [end:state-dict]

# %%
# --8<-- [start:strict]
from pytorch_notes import expect_error

# A checkpoint saved from a model wrapped in DataParallel / DDP: every key has a
# "module." prefix.
state = torch.load(state_path, weights_only=True)
wrapped = {"module." + name: tensor for name, tensor in state.items()}
with expect_error(
    RuntimeError, 'Missing key(s) in state_dict: "model.0.weight"'
) as refused:
    # strict=True (the default): every key must match
    model.load_state_dict(wrapped)
print("   ", str(refused.error).splitlines()[1].strip()[:80], "...")

# loads what matches, which is nothing
result = model.load_state_dict(wrapped, strict=False)
assert result._fields == ("missing_keys", "unexpected_keys")  # a named tuple
assert result.missing_keys == list(state) and len(state) == 10  # all ten
assert result.unexpected_keys == list(wrapped)
print(
    "strict=False, missing:",
    len(result.missing_keys),
    "unexpected:",
    len(result.unexpected_keys),
)

# The fix is to rename the keys, not to switch strict off.
unwrapped = {
    name.removeprefix("module."): tensor for name, tensor in wrapped.items()
}
assert model.load_state_dict(unwrapped).missing_keys == []

# A tensor of the wrong shape is an error even with strict=False.
five_classes = Moli(num_classes=5)
with expect_error(RuntimeError, "size mismatch for model.12.weight") as refused:
    five_classes.load_state_dict(state, strict=False)
print("   ", str(refused.error).splitlines()[1].strip())

# Transfer: load everything but the head, and check that only the head is left
# out.
body = {
    name: tensor
    for name, tensor in state.items()
    if not name.startswith("model.12.")
}
result = five_classes.load_state_dict(body, strict=False)
assert (
    result.missing_keys == ["model.12.weight", "model.12.bias"]
    and result.unexpected_keys == []
)
assert torch.equal(five_classes.model[0].weight, trained.model[0].weight)
# --8<-- [end:strict]

# %%
# --8<-- [start:weights-only]
import pickle


def refusal(path):
    """Load with torch.load's default (weights_only=True); return the
    message of the refusal."""
    try:
        torch.load(path)
    except pickle.UnpicklingError as error:
        return str(error)
    raise AssertionError(
        f"{path} loaded, but weights_only=True should have refused it"
    )


message = refusal(whole_path)
assert message.startswith("Weights only load failed")
assert "we changed the default value of the `weights_only` argument" in message
assert "can result in arbitrary code execution" in message  # way out (1)
assert "safe_globals" in message  # way out (2): an allowlist
assert "Unsupported global: GLOBAL pytorch_notes.models.Moli" in message
print(
    next(
        line.strip()
        for line in message.splitlines()
        if "Unsupported global" in line
    )
)

# the state_dict loads with the default
assert isinstance(torch.load(state_path), dict)
plain = {
    "step": 3,
    "lr": 0.01,
    "name": "moli",
    "history": [2.3, (1, 2)],
    "w": torch.ones(2),
    "off": None,
}
torch.save(plain, folder / "plain.pth")
# plain data and tensors pass too
assert torch.load(folder / "plain.pth").keys() == plain.keys()
# --8<-- [end:weights-only]

# %%
# --8<-- [start:safe-globals]
from torch import nn

# reads, runs nothing
needed = torch.serialization.get_unsafe_globals_in_checkpoint(whole_path)
print("classes in the file:", sorted(needed))

trusted = [
    Moli,
    nn.Sequential,
    nn.Conv2d,
    nn.ReLU,
    nn.MaxPool2d,
    nn.Flatten,
    nn.Linear,
]
assert sorted(needed) == sorted(
    f"{cls.__module__}.{cls.__qualname__}" for cls in trusted
)

# allow exactly these, only inside the block
with torch.serialization.safe_globals(trusted):
    whole = torch.load(whole_path)  # still weights_only=True
assert type(whole) is Moli
with torch.no_grad():
    assert torch.equal(whole(images), expected)
assert refusal(whole_path)  # outside the block the allowlist is gone again
# --8<-- [end:safe-globals]

# %%
# --8<-- [start:payload]
marker = folder / "code_ran.txt"
marker.unlink(missing_ok=True)


class Payload:
    """Pickle lets an object say how to rebuild it: 'call this function
    with these arguments'."""

    def __reduce__(self):
        code = (
            f"open({marker.as_posix()!r}, 'w')"
            ".write('code from the checkpoint ran')"
        )
        # harmless here; an attacker's code could do anything
        return exec, (code,)


evil_path = folder / "innocent_looking.pth"
torch.save({"model.0.weight": torch.zeros(2), "extra": Payload()}, evil_path)
assert torch.serialization.get_unsafe_globals_in_checkpoint(evil_path) == [
    "builtins.exec"
]

message = refusal(evil_path)
# torch 2.6 names it builtins.exec, later versions exec
assert re.search(r"Unsupported global: GLOBAL (builtins\.)?exec\b", message)
assert not marker.exists()  # refused before anything ran
print(
    next(
        line.strip()
        for line in message.splitlines()
        if "Unsupported global" in line
    )
)
print("marker file exists:", marker.exists())
# --8<-- [end:payload]

# %%
# --8<-- [start:danger]
# DANGER: runs whatever the file says
loaded = torch.load(evil_path, weights_only=False)
assert marker.exists()  # the code in the file ran, during torch.load
assert marker.read_text() == "code from the checkpoint ran"
assert loaded["extra"] is None  # exec returned None; the damage is already done
print("marker file exists:", marker.exists(), "->", marker.read_text())
# --8<-- [end:danger]

# %%
# --8<-- [start:map-location]
checkpoint = torch.load(state_path, map_location="cpu", weights_only=True)
assert all(tensor.device.type == "cpu" for tensor in checkpoint.values())

same = torch.load(
    state_path, map_location=torch.device("cpu"), weights_only=True
)
# device -> device
renamed = torch.load(
    state_path, map_location={"cuda:0": "cpu"}, weights_only=True
)
recorded = []


# called once per storage, with the device it was saved from
def to_cpu(storage, location):
    recorded.append(location)
    return storage.cpu()


by_function = torch.load(state_path, map_location=to_cpu, weights_only=True)
# this file was saved on the CPU; a GPU file would say "cuda:0"
assert set(recorded) == {"cpu"}
for other in (same, renamed, by_function):
    assert all(
        torch.equal(other[name], checkpoint[name]) for name in checkpoint
    )
    assert all(tensor.device.type == "cpu" for tensor in other.values())
import inspect

from pytorch_notes.checkpoints import load_checkpoint

assert (
    inspect.signature(load_checkpoint).parameters["map_location"].default
    == "cpu"
)
print(
    "devices after map_location:",
    {tensor.device.type for tensor in checkpoint.values()},
)
# --8<-- [end:map-location]

# %%
# --8<-- [start:missing]
from pytorch_notes.checkpoints import save_checkpoint

resume_path = folder / "epoch-003.pt"
with expect_error(FileNotFoundError, "no checkpoint at"):
    # The original notes loaded a checkpoint before any was written.
    load_checkpoint(resume_path, model)

# Check first: resume if there is a checkpoint, else start from scratch.
start_epoch = (
    load_checkpoint(resume_path, model)["epoch"] if resume_path.is_file() else 0
)
assert start_epoch == 0

save_checkpoint(resume_path, model, epoch=3)
start_epoch = (
    load_checkpoint(resume_path, model)["epoch"] if resume_path.is_file() else 0
)
assert start_epoch == 3
print("start at epoch", start_epoch)
# --8<-- [end:missing]

# %%
# --8<-- [start:truncated]
data = resume_path.read_bytes()
cut_path = folder / "epoch-004.pt"
# what a crash during a plain torch.save can leave
cut_path.write_bytes(data[: len(data) // 2])
with expect_error(
    ValueError, "is not a complete checkpoint (truncated or corrupted?)"
):
    load_checkpoint(cut_path, model)
# the complete file still loads
assert load_checkpoint(resume_path, model)["epoch"] == 3
# --8<-- [end:truncated]

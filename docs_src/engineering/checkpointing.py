# %% [markdown]
# # Gradient checkpointing
# Book page: engineering/checkpointing

# %%
# --8<-- [start:same_gradients]
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

torch.manual_seed(0)
block = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh())
x = torch.randn(4, 8, requires_grad=True)


def gradients(run):
    block.zero_grad()
    x.grad = None
    run().pow(2).sum().backward()
    return [x.grad.clone()] + [p.grad.clone() for p in block.parameters()]


plain = gradients(lambda: block(x))
checkpointed = gradients(lambda: checkpoint(block, x, use_reentrant=False))
# bit for bit the same
assert all(torch.equal(a, b) for a, b in zip(plain, checkpointed))
print("gradients identical:", len(plain), "tensors")
# --8<-- [end:same_gradients]


# %%
# --8<-- [start:recompute]
class CountCalls(nn.Module):
    """Wraps a module and counts how often its forward runs."""

    def __init__(self, module):
        super().__init__()
        self.module, self.calls = module, 0

    def forward(self, x):
        self.calls += 1
        return self.module(x)


counted = CountCalls(block)
out = counted(x)
out.sum().backward()
assert counted.calls == 1  # plain: the backward reuses what was saved

counted.calls = 0
out = checkpoint(counted, x, use_reentrant=False)
assert counted.calls == 1  # the forward pass runs the block once ...
out.sum().backward()
assert counted.calls == 2  # ... and the backward pass runs it again
print("forward calls of a checkpointed block after backward:", counted.calls)
# --8<-- [end:recompute]


# %%
# --8<-- [start:by_hand]
def saved_activations(run, parameters):
    """Bytes and number of the distinct tensors saved for backward by run()."""
    skip = {p.untyped_storage().data_ptr() for p in parameters}
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.nbytes() > 0 and storage.data_ptr() not in skip:
            storages[storage.data_ptr()] = storage  # one entry per memory
        return tensor  # saved unchanged

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return sum(s.nbytes() for s in storages.values()), len(storages)


def run_checkpointed():
    return checkpoint(block, x, use_reentrant=False)


params = block.parameters
plain_bytes, plain_count = saved_activations(lambda: block(x), params())
ckpt_bytes, ckpt_count = saved_activations(run_checkpointed, params())
one_activation = x.numel() * x.element_size()  # (4, 8) float32: 128 bytes
# x and the two tanh outputs
assert (plain_count, plain_bytes) == (3, 3 * one_activation)
# only the block's input x
assert (ckpt_count, ckpt_bytes) == (1, one_activation)
print(
    f"saved for backward: plain {plain_count} tensors ({plain_bytes} B), "
    f"checkpointed {ckpt_count} ({ckpt_bytes} B)"
)
# --8<-- [end:by_hand]

# %%
# --8<-- [start:package]
from pytorch_notes import expect_error
from pytorch_notes.memory import SavedTensorCounter

with SavedTensorCounter(exclude=block.parameters()) as saved:
    block(x)
assert (saved.count, saved.nbytes) == (plain_count, plain_bytes)
# each Linear saves its input and its weight, each Tanh its output
assert saved.saves == 6
with SavedTensorCounter(exclude=block.parameters()) as saved:
    run_checkpointed()
assert (saved.count, saved.nbytes) == (ckpt_count, ckpt_bytes)

with expect_error(TypeError, "iterable of tensors"):
    SavedTensorCounter(exclude=block[0].weight)  # a tensor, not a list
# --8<-- [end:package]

# %%
# --8<-- [start:segments]
from torch.utils.checkpoint import checkpoint_sequential

torch.manual_seed(0)
n_layers, width, batch = 16, 64, 2048
layers = [
    CountCalls(nn.Sequential(nn.Linear(width, width), nn.Tanh()))
    for _ in range(n_layers)
]
deep = nn.Sequential(*layers)
inputs = torch.randn(batch, width, requires_grad=True)
activation = batch * width * 4  # bytes of one (2048, 64) float32 activation

reference = None
stored = {}
for k in (1, 2, 4, 8, 16):
    for layer in layers:
        layer.calls = 0
    deep.zero_grad()
    with SavedTensorCounter(exclude=deep.parameters()) as saved:
        out = checkpoint_sequential(deep, k, inputs, use_reentrant=False)
    out.sum().backward()
    grads = [p.grad.clone() for p in deep.parameters()]
    reference = reference or grads
    assert all(
        torch.allclose(a, b, atol=1e-6) for a, b in zip(reference, grads)
    )

    per_segment = n_layers // k
    # k segment inputs (x among them) + the last segment's n/k outputs
    assert saved.nbytes == (k + per_segment) * activation
    calls = sum(layer.calls for layer in layers)
    # all but the last segment run twice
    assert calls == n_layers + (n_layers - per_segment)
    stored[k] = saved.nbytes // activation
    print(
        f"{k:2d} segments: {stored[k]:2d} activations stored, "
        f"{calls} layer forwards"
    )

# fewest at sqrt(n) segments
assert min(stored, key=stored.get) == 4 == int(n_layers**0.5)
assert stored[4] == 2 * 4 < stored[1] == n_layers + 1
# --8<-- [end:segments]

# %%
# --8<-- [start:peak]
import weakref

from torch.utils._python_dispatch import TorchDispatchMode


class LiveBytes(TorchDispatchMode):
    """Sees every tensor an operation creates (forward, backward and
    recomputation alike) and records the most bytes alive at once."""

    def __init__(self, exclude=()):
        super().__init__()
        self.alive = {p.untyped_storage().data_ptr() for p in exclude}
        self.now = self.peak = 0

    def freed(self, address, nbytes):
        self.alive.discard(address)
        self.now -= nbytes

    def __torch_dispatch__(self, op, types, args=(), kwargs=None):
        out = op(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            address, nbytes = storage.data_ptr(), storage.nbytes()
            if nbytes and address not in self.alive:  # new memory
                self.alive.add(address)
                self.now += nbytes
                # called when the memory is released
                weakref.finalize(storage, self.freed, address, nbytes)
                self.peak = max(self.peak, self.now)
        return out


def peak_activations(run, model):
    """Peak of a forward + backward pass, in activations."""
    model.zero_grad(set_to_none=True)
    with LiveBytes(exclude=model.parameters()) as live:
        start = torch.randn(batch, width, requires_grad=True)
        run(start).sum().backward()
    return live.peak / activation


plain_peak = peak_activations(deep, deep)
peaks = {}
for k in stored:
    peaks[k] = peak_activations(
        lambda h: checkpoint_sequential(deep, k, h, use_reentrant=False), deep
    )
    print(
        f"{k:2d} segments: peak {peaks[k]:5.2f} activations, "
        f"k + n/k = {k + n_layers / k:4.1f}"
    )
print(f"no checkpointing: peak {plain_peak:5.2f} activations")

assert abs(peaks[1] - plain_peak) < 0.01  # k = 1 is plain training
assert min(peaks, key=peaks.get) == 4  # the lowest peak: k = sqrt(16)
# Beyond k + n/k: one activation-sized gradient in flight, plus the
# weight gradients written so far (all 16 together: half an activation).
weight_grads = sum(p.numel() * 4 for p in deep.parameters()) / activation
for k in peaks:
    assert 1 <= peaks[k] - (k + n_layers / k) <= 1 + weight_grads
# --8<-- [end:peak]

# %%
# --8<-- [start:per_block]
torch.manual_seed(0)
n_blocks = 8
blocks = nn.Sequential(
    *[
        nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )
        for _ in range(n_blocks)
    ]
)  # each block widens to 4x inside, like an MLP


def every_block_checkpointed(h):
    for one_block in blocks:
        h = checkpoint(one_block, h, use_reentrant=False)
    return h


inside = 1 + 4 + 4  # a block saves its input and two 4x-wide tensors
plain_blocks = peak_activations(blocks, blocks)
per_block = peak_activations(every_block_checkpointed, blocks)
print(
    f"{n_blocks} blocks: peak {plain_blocks:.1f} activations plain, "
    f"{per_block:.1f} with each block checkpointed"
)
# plain: every block's insides; per block: n inputs + one block's insides
# (8 = its two 4x tensors), plus the same gradients in flight
in_flight = plain_blocks - n_blocks * inside
assert 4 <= in_flight < 5  # a 4x-wide gradient, and some weight gradients
assert abs(per_block - (n_blocks + 8) - in_flight) < 0.5
assert per_block < plain_blocks / 3
# --8<-- [end:per_block]

# %%
# --8<-- [start:dropout]
torch.manual_seed(0)
noisy = nn.Sequential(
    nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 8)
)


def dropout_grads(**options):
    noisy.zero_grad()
    torch.manual_seed(1)  # the same dropout mask for every run
    if options:
        out = checkpoint(noisy, x, use_reentrant=False, **options)
    else:
        out = noisy(x)
    out.pow(2).sum().backward()
    return noisy[0].weight.grad.clone()


without = dropout_grads()
kept = dropout_grads(preserve_rng_state=True)  # the default
lost = dropout_grads(preserve_rng_state=False)
# the RNG state is restored before recomputing: same mask
assert torch.equal(without, kept)
# a new mask in the recomputation: wrong gradients
assert not torch.allclose(without, lost)
assert (without - lost).abs().max() > 1
error = (without - lost).abs().max()
print(f"max gradient error without the saved RNG state: {error:.3f}")
# --8<-- [end:dropout]

# %%
# --8<-- [start:reentrant]
import warnings

frozen_input = torch.randn(4, 8)  # requires_grad=False, like a batch of data
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    out = checkpoint(block, frozen_input, use_reentrant=True)
assert any("requires_grad" in str(w.message) for w in caught)
# cut off from the graph: the block's weights cannot learn
assert not out.requires_grad
print("use_reentrant=True warns:", str(caught[0].message)[:50], "...")
with expect_error(RuntimeError, "does not require grad"):
    out.sum().backward()

block.zero_grad()
checkpoint(block, frozen_input, use_reentrant=False).sum().backward()
# the recommended variant works
assert all(p.grad is not None for p in block.parameters())
# --8<-- [end:reentrant]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

ks = list(peaks)
fig, axis = plt.subplots(figsize=(6, 3.5))
axis.plot(ks, [peaks[k] for k in ks], "o-", label="peak (measured)")
axis.plot(ks, [k + n_layers / k for k in ks], "k--", label="model: k + n/k")
axis.plot(
    ks, [stored[k] for k in ks], "s:", label="stored after forward (measured)"
)
axis.axhline(
    plain_peak, color="gray", linewidth=0.8, label="peak without checkpointing"
)
axis.set_xscale("log", base=2)
axis.set_xticks(ks, [str(k) for k in ks])
axis.set_xlabel("segments k (16 layers)")
axis.set_ylabel("activations")
axis.set_title("checkpoint_sequential: memory over k")
axis.legend(fontsize=8)
fig.tight_layout()
# --8<-- [end:plot]

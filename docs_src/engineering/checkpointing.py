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
assert all(torch.equal(a, b) for a, b in zip(plain, checkpointed))  # bit for bit the same
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
assert counted.calls == 1  # plain: one forward, the backward reuses what it saved

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
    """Bytes of the distinct tensors autograd saves for backward while run() executes."""
    skip = {p.untyped_storage().data_ptr() for p in parameters}
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.nbytes() > 0 and storage.data_ptr() not in skip:
            storages[storage.data_ptr()] = storage  # one entry per piece of memory
        return tensor  # saved unchanged

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        run()
    return sum(s.nbytes() for s in storages.values()), len(storages)


plain_bytes, plain_count = saved_activations(lambda: block(x), block.parameters())
ckpt_bytes, ckpt_count = saved_activations(lambda: checkpoint(block, x, use_reentrant=False), block.parameters())
one_activation = x.numel() * x.element_size()  # (4, 8) float32: 128 bytes
assert (plain_count, plain_bytes) == (3, 3 * one_activation)  # x and the two tanh outputs
assert (ckpt_count, ckpt_bytes) == (1, one_activation)  # only the block's input x
print(f"saved for backward: plain {plain_count} tensors ({plain_bytes} B), checkpointed {ckpt_count} ({ckpt_bytes} B)")
# --8<-- [end:by_hand]

# %%
# --8<-- [start:package]
from pytorch_notes import expect_error
from pytorch_notes.memory import SavedTensorCounter

with SavedTensorCounter(exclude=block.parameters()) as saved:
    block(x)
assert (saved.count, saved.nbytes) == (plain_count, plain_bytes)
assert saved.saves == 6  # each Linear saves its input and its weight, each Tanh its output
with SavedTensorCounter(exclude=block.parameters()) as saved:
    checkpoint(block, x, use_reentrant=False)
assert (saved.count, saved.nbytes) == (ckpt_count, ckpt_bytes)

with expect_error(TypeError, "iterable of tensors"):
    SavedTensorCounter(exclude=block[0].weight)  # a tensor, not a list of them
# --8<-- [end:package]

# %%
# --8<-- [start:segments]
from torch.utils.checkpoint import checkpoint_sequential

torch.manual_seed(0)
n_layers, width, batch = 16, 64, 256
layers = [CountCalls(nn.Sequential(nn.Linear(width, width), nn.Tanh())) for _ in range(n_layers)]
deep = nn.Sequential(*layers)
inputs = torch.randn(batch, width, requires_grad=True)
activation = batch * width * 4  # bytes of one (256, 64) float32 activation

reference = None
stored = {}
for segments in (1, 2, 4, 8, 16):
    for layer in layers:
        layer.calls = 0
    deep.zero_grad()
    with SavedTensorCounter(exclude=deep.parameters()) as saved:
        out = checkpoint_sequential(deep, segments, inputs, use_reentrant=False)
    out.sum().backward()
    grads = [p.grad.clone() for p in deep.parameters()]
    reference = reference or grads
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(reference, grads))

    per_segment = n_layers // segments
    assert saved.nbytes == (segments + per_segment) * activation  # k inputs + the last segment's n/k
    calls = sum(layer.calls for layer in layers)
    assert calls == n_layers + (n_layers - per_segment)  # all but the last segment run twice
    stored[segments] = saved.nbytes // activation
    print(f"{segments:2d} segments: {stored[segments]:2d} activations stored, {calls} layer forwards")

assert min(stored, key=stored.get) == 4 == int(n_layers**0.5)  # best at sqrt(n) segments
assert stored[4] == 2 * 4 < stored[1] == n_layers + 1
# --8<-- [end:segments]

# %%
# --8<-- [start:recompute_peak]
# During backward the segments are recomputed one at a time: a segment's n/k layers save
# their activations again, backward through it frees them, then the next segment follows.
segment = deep[:4]  # one of the four segments
start = torch.randn(batch, width, requires_grad=True)
with SavedTensorCounter(exclude=segment.parameters()) as recomputed:
    segment(start)
assert recomputed.nbytes == (4 + 1) * activation  # its input and 4 tanh outputs
assert stored[4] + 4 == 12 < stored[1]
# 100 layers: the best k + 2n/k is about 28 activations, against 101 without checkpointing.
assert 28 < min(k + 2 * 100 / k for k in range(1, 101)) < 29
print("peak, 4 segments: about", stored[4] + 4, "activations, against", stored[1], "without checkpointing")
# --8<-- [end:recompute_peak]

# %%
# --8<-- [start:dropout]
torch.manual_seed(0)
noisy = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 8))


def dropout_grads(run):
    noisy.zero_grad()
    torch.manual_seed(1)  # the same dropout mask for every run
    run().pow(2).sum().backward()
    return noisy[0].weight.grad.clone()


without = dropout_grads(lambda: noisy(x))
kept = dropout_grads(lambda: checkpoint(noisy, x, use_reentrant=False))
lost = dropout_grads(lambda: checkpoint(noisy, x, use_reentrant=False, preserve_rng_state=False))
assert torch.equal(without, kept)  # the RNG state is restored before recomputing: same mask
assert not torch.allclose(without, lost)  # a new mask in the recomputation: wrong gradients
assert (without - lost).abs().max() > 1
print(f"max gradient error without the saved RNG state: {(without - lost).abs().max():.3f}")
# --8<-- [end:dropout]

# %%
# --8<-- [start:reentrant]
import warnings

frozen_input = torch.randn(4, 8)  # requires_grad=False, like a batch of data
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    out = checkpoint(block, frozen_input, use_reentrant=True)
assert any("requires_grad" in str(w.message) for w in caught)
assert not out.requires_grad  # cut off from the graph: the block's weights cannot learn
print("use_reentrant=True warns:", str(caught[0].message)[:50], "...")
with expect_error(RuntimeError, "does not require grad"):
    out.sum().backward()

block.zero_grad()
checkpoint(block, frozen_input, use_reentrant=False).sum().backward()
assert all(p.grad is not None for p in block.parameters())  # the recommended variant works
# --8<-- [end:reentrant]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

ks = list(stored)
fig, axis = plt.subplots(figsize=(6, 3.5))
axis.plot(ks, [stored[k] for k in ks], "o-", label="stored after forward (measured)")
peak = [stored[k] + (n_layers // k if k > 1 else 0) for k in ks]  # k = 1: nothing is recomputed
axis.plot(ks, peak, "s--", label="peak, one segment recomputed")
axis.set_xscale("log", base=2)
axis.set_xticks(ks, [str(k) for k in ks])
axis.set_xlabel("segments k (16 layers)")
axis.set_ylabel("activations kept")
axis.set_title("checkpoint_sequential: k + n/k")
axis.legend()
fig.tight_layout()
# --8<-- [end:plot]

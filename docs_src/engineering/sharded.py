# %% [markdown]
# # Sharded data parallel (FSDP2, ZeRO)
# Book page: engineering/sharded

# %%
# --8<-- [start:by_hand]
import torch

from pytorch_notes.distributed import ring_all_gather, ring_reduce_scatter

torch.manual_seed(0)
n, size = 4, 8  # 4 nodes, 8 numbers each
node_data = [torch.randn(size) for _ in range(n)]
total = sum(node_data)

rs_log, ag_log = [], []
owned = ring_reduce_scatter(node_data, log=rs_log)
# after reduce-scatter, node i holds chunk i of the sum, and nothing else
for i in range(n):
    assert owned[i].numel() == size // n
    assert torch.allclose(owned[i], total.tensor_split(n)[i])
gathered = ring_all_gather(owned, log=ag_log)
# after all-gather, every node holds the whole sum: an all-reduce
assert all(torch.allclose(g, total) for g in gathered)


def sent_per_node(log):
    return [sum(e[4] for e in log if e[1] == node) for node in range(n)]


# each half: N - 1 steps, each node sends (N - 1)/N of the data: 6 of 8
for log in (rs_log, ag_log):
    assert sorted({e[0] for e in log}) == list(range(1, n))
    assert sent_per_node(log) == [(n - 1) * size // n] * n
# together: 2(N - 1)/N, the ring all-reduce's 12 of 8
both = [a + b for a, b in zip(sent_per_node(rs_log), sent_per_node(ag_log))]
assert both == [2 * (n - 1) * size // n] * n
print("node 0 after reduce-scatter:", owned[0])
print("numbers sent per node, reduce-scatter:", sent_per_node(rs_log))
print("                       all-gather:    ", sent_per_node(ag_log))
print("                       together:      ", both)
# --8<-- [end:by_hand]

# %%
# --8<-- [start:zero_step]
import torch.nn as nn

torch.manual_seed(0)
weights = torch.randn(10)
grads = [torch.randn(10) for _ in range(n)]  # each rank's own gradient

# DDP: all-reduce (mean), then every rank runs Adam on all 10 numbers
ddp_weights = nn.Parameter(weights.clone())
ddp_weights.grad = sum(grads) / n
ddp_adam = torch.optim.Adam([ddp_weights], lr=0.1)
ddp_adam.step()

# ZeRO: reduce-scatter, Adam on the own shard only, all-gather the weights
grad_shards = [g / n for g in ring_reduce_scatter(grads)]
pieces, states = [], []
for rank in range(n):  # shards of 3, 3, 2 and 2 numbers
    shard = nn.Parameter(weights.tensor_split(n)[rank].clone())
    shard.grad = grad_shards[rank]
    optimizer = torch.optim.Adam([shard], lr=0.1)
    optimizer.step()
    # this rank's Adam state covers its shard only
    assert optimizer.state[shard]["exp_avg_sq"].shape == shard.shape
    pieces.append(shard.detach())
    states.append(optimizer.state[shard]["exp_avg_sq"])
updated = ring_all_gather(pieces)
assert all(torch.allclose(u, ddp_weights.detach()) for u in updated)
# the shards' states, put together, are DDP's full state
full_state = ddp_adam.state[ddp_weights]["exp_avg_sq"]
assert torch.allclose(torch.cat(states), full_state)

# A global gradient norm (for clipping) needs one more number per rank.
squared = [g.pow(2).sum() for g in grad_shards]
assert torch.isclose(sum(squared).sqrt(), ddp_weights.grad.norm())
print("DDP step: ", ddp_weights.detach()[:5])
print("ZeRO step:", updated[0][:5])
# --8<-- [end:zero_step]

# %%
# --8<-- [start:zero_bytes]
from pytorch_notes.models import Moli


def zero_bytes(stage, numel, shard, sizes=(4, 4, 8)):
    """Bytes one rank holds: (parameters, gradients, optimizer states).

    numel: the model's parameters; shard: this rank's share of them;
    sizes: bytes per number of each (fp32 + Adam: 4, 4, 8).
    """
    params = sizes[0] * (shard if stage >= 3 else numel)
    grads = sizes[1] * (shard if stage >= 2 else numel)
    states = sizes[2] * (shard if stage >= 1 else numel)
    return params, grads, states


def adam_state_bytes(numel):  # what Adam really allocates for numel numbers
    weights = nn.Parameter(torch.zeros(numel))
    weights.grad = torch.ones(numel)
    optimizer = torch.optim.Adam([weights])
    optimizer.step()
    return sum(t.nbytes for t in optimizer.state[weights].values())


model = Moli()
flat = torch.cat([p.detach().flatten() for p in model.parameters()])
numel = flat.numel()
world_size = 4
shards = flat.tensor_split(world_size)  # rank r keeps shards[r]
# exp_avg and exp_avg_sq (4 bytes each per number), plus a 4-byte step
assert adam_state_bytes(shards[0].numel()) == 8 * shards[0].numel() + 4

held = []  # rank 0's bytes at each stage: (parameters, gradients, states)
for stage in range(4):
    for rank in (0, world_size - 1):
        shard = shards[rank]
        # what rank `rank` really holds at this stage
        params = shard.clone() if stage >= 3 else flat.clone()
        grads = torch.zeros_like(shard if stage >= 2 else flat)
        states = adam_state_bytes((shard if stage >= 1 else flat).numel())
        measured = params.nbytes + grads.nbytes + states
        assert measured == sum(zero_bytes(stage, numel, shard.numel())) + 4
        if rank == 0:
            held.append((params.nbytes, grads.nbytes, states))
print(f"Moli: {numel:,} parameters, shards of {shards[0].numel():,}")
for stage, name in enumerate(["DDP", "ZeRO-1", "ZeRO-2", "ZeRO-3"]):
    print(f"{name:7} rank 0 holds {sum(held[stage]):>9,} bytes")

# The ZeRO paper's example: 7.5 billion parameters on 64 GPUs, mixed
# precision Adam (fp16 weights and gradients, 12 bytes of fp32 states).
paper = [
    sum(zero_bytes(stage, 7.5e9, 7.5e9 / 64, sizes=(2, 2, 12))) / 1e9
    for stage in range(4)
]
print("7.5B on 64 GPUs, GB per GPU:", [round(gb, 1) for gb in paper])
assert [round(gb, 1) for gb in paper] == [120.0, 31.4, 16.6, 1.9]
# --8<-- [end:zero_bytes]

# %%
# --8<-- [start:zero_figure]
import matplotlib.pyplot as plt

names = ["DDP", "ZeRO-1", "ZeRO-2", "ZeRO-3 / FSDP"]
megabytes = torch.tensor(held, dtype=torch.float64) / 1e6
fig, axis = plt.subplots(figsize=(6, 3.5))
bottom = torch.zeros(4, dtype=torch.float64)
for column, label in enumerate(["parameters", "gradients", "Adam states"]):
    heights = megabytes[:, column]
    axis.bar(names, heights.numpy(), bottom=bottom.numpy(), label=label)
    bottom += heights
axis.set_ylabel("MB per rank")
axis.set_title(f"Moli (fp32, Adam) on {world_size} ranks")
axis.legend()
fig.tight_layout()
ddp_params, ddp_grads, ddp_states = held[0]
# Adam's states (less the 4-byte step) = parameters + gradients: half of DDP
assert ddp_states - 4 == ddp_params + ddp_grads
# ZeRO-3: a quarter of DDP, up to the rounding of the shard sizes
assert abs(world_size * sum(held[3]) - sum(held[0])) <= 16 * world_size
# --8<-- [end:zero_figure]

# %%
# --8<-- [start:launch]
import shutil
import tempfile
from pathlib import Path

import torch.multiprocessing as mp

from pytorch_notes.distributed import free_port, fsdp_worker

torch.manual_seed(0)
inputs, targets = torch.randn(16, 3), torch.randn(16, 1)
model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
world_size, num_steps, lr = 2, 5, 0.05
out_dir = tempfile.mkdtemp(prefix="fsdp-")
args = (world_size, free_port(), model, inputs, targets, num_steps, lr, out_dir)
mp.start_processes(
    fsdp_worker, args=args, nprocs=world_size, start_method="fork"
)
ranks = [
    torch.load(Path(out_dir) / f"rank{r}.pt", weights_only=True)
    for r in range(world_size)
]
shutil.rmtree(out_dir)
print("keys:", list(ranks[0])[:6], "...")
# --8<-- [end:launch]

# %%
# --8<-- [start:collectives]
local_sum = ranks[0]["local"] + ranks[1]["local"]
for rank, result in enumerate(ranks):
    # reduce-scatter: rank r keeps piece r of the sum
    assert torch.allclose(result["scattered"], local_sum.tensor_split(2)[rank])
    # all-gather of the pieces = all-reduce
    assert torch.allclose(torch.cat(result["gathered"]), result["all_reduced"])
    assert torch.allclose(result["all_reduced"], local_sum)
by_hand = ring_reduce_scatter([ranks[0]["local"], ranks[1]["local"]])
assert torch.allclose(by_hand[1], ranks[1]["scattered"])
print("rank 0 local:", ranks[0]["local"])
print("rank 1 local:", ranks[1]["local"])
print("rank 0 after reduce-scatter:", ranks[0]["scattered"])
print("rank 1 after reduce-scatter:", ranks[1]["scattered"])
print("both after all-gather:", torch.cat(ranks[0]["gathered"]))
# --8<-- [end:collectives]

# %%
# --8<-- [start:no_sync]
import torch.nn.functional as F

model.zero_grad()
F.mse_loss(model(inputs), targets).backward()
full = [p.grad.clone() for p in model.parameters()]  # one process, 16 examples
n_params = sum(p.numel() for p in model.parameters())

for result in ranks:
    # no_sync on the first micro-batch: one all-reduce of all 41 gradients
    assert result["ddp_no_sync_calls"] == [n_params]
    # without it: one all-reduce per micro-batch
    assert result["ddp_sync_calls"] == [n_params, n_params]
    for p, g in enumerate(full):  # the same result either way
        assert torch.allclose(result["ddp_no_sync_grads"][p], g, atol=1e-6)
        assert torch.allclose(result["ddp_sync_grads"][p], g, atol=1e-6)
print("numbers all-reduced, with no_sync:", ranks[0]["ddp_no_sync_calls"])
print("numbers all-reduced, without:     ", ranks[0]["ddp_sync_calls"])
# --8<-- [end:no_sync]


# %%
# --8<-- [start:shards]
def shard_numel(p, rank):  # fully_shard splits along dim 0, like chunk
    pieces = p.chunk(world_size)
    return pieces[rank].numel() if rank < len(pieces) else 0


expected = [
    [shard_numel(p, rank) for p in model.parameters()]
    for rank in range(world_size)
]
for rank, result in enumerate(ranks):
    assert result["placements"] == ["DTensor (Shard(dim=0),)"] * 4
    assert result["shard_numels"] == expected[rank]
print(ranks[0]["placements"][0])
print("rank 0 holds", ranks[0]["shard_numels"], "=", expected[0])
print("rank 1 holds", ranks[1]["shard_numels"], "=", expected[1])
# 41 = 25 + 16: the (1, 8) weight and (1,) bias of the last layer cannot be
# split along dim 0, so rank 0 keeps them whole
assert (
    sum(ranks[0]["shard_numels"]) == 25 and sum(ranks[1]["shard_numels"]) == 16
)
assert sum(map(sum, expected)) == n_params == 41

fsdp_trains = ranks[0]["fsdp_error"] is None
# FSDP2 syncs its side streams with stream events; on PyTorch 2.6 CPU
# streams have none, so the first forward fails there
assert fsdp_trains == hasattr(torch.cpu.Stream, "record_event")
print(torch.__version__, "FSDP2 trains on CPU:", fsdp_trains)
if not fsdp_trains:
    assert "record_event" in ranks[0]["fsdp_error"]
    print("AttributeError:", ranks[0]["fsdp_error"])
# --8<-- [end:shards]

# %%
# --8<-- [start:fsdp_training]
import copy

single = copy.deepcopy(model)  # the same start, Adam on all 16 examples
optimizer = torch.optim.Adam(single.parameters(), lr=lr)
single_losses = []
for _ in range(num_steps):
    optimizer.zero_grad()
    loss = F.mse_loss(single(inputs), targets)
    loss.backward()
    optimizer.step()
    single_losses.append(loss.item())

if fsdp_trains:
    for result in ranks:
        # no gradient shard while the sync is off: no reduce-scatter ran
        assert result["grads_after_unsynced"] == [False] * 4
        for p, g in enumerate(full):
            assert torch.allclose(
                result["fsdp_accumulated_grads"][p], g, atol=1e-6
            )
            assert torch.allclose(result["fsdp_grads"][p], g, atol=1e-6)
        for gathered, weight in zip(result["fsdp_params"], single.parameters()):
            assert torch.allclose(gathered, weight, atol=1e-5)
        # Adam's states are sharded like the parameters
        assert result["adam_state_numels"] == result["shard_numels"]
    rank_mean = [
        (a + b) / 2
        for a, b in zip(ranks[0]["fsdp_losses"], ranks[1]["fsdp_losses"])
    ]
    assert all(abs(a - b) < 1e-6 for a, b in zip(rank_mean, single_losses))
    print("FSDP2, mean over ranks:", [round(v, 4) for v in rank_mean])
print("single process:        ", [round(v, 4) for v in single_losses])
# --8<-- [end:fsdp_training]

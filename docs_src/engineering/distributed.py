# %% [markdown]
# # Distributed training: DataParallel, DDP and ring all-reduce
# Book page: engineering/distributed

# %%
# --8<-- [start:shards]
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
inputs, targets = torch.randn(16, 3), torch.randn(16, 1)
model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))


def gradients(net, x, y):
    net.zero_grad()
    F.mse_loss(net(x), y).backward()  # mean over the examples of x
    return [p.grad.clone() for p in net.parameters()]


full = gradients(model, inputs, targets)  # one process, all 16 examples
# "rank 0": examples 0, 2, 4, ...; "rank 1": examples 1, 3, 5, ...
half_0 = gradients(model, inputs[0::2], targets[0::2])
half_1 = gradients(model, inputs[1::2], targets[1::2])
for g, g0, g1 in zip(full, half_0, half_1):
    # the average of the halves is the full batch ...
    assert torch.allclose((g0 + g1) / 2, g, atol=1e-7)
    assert not torch.allclose(g0 + g1, g)  # ... the sum is twice too large

# Unequal shards (10 and 6 examples) break it: the mean of means is not
# the mean.
uneven_0 = gradients(model, inputs[:10], targets[:10])
uneven_1 = gradients(model, inputs[10:], targets[10:])
mean_of_means = (uneven_0[0] + uneven_1[0]) / 2
assert not torch.allclose(mean_of_means, full[0], atol=1e-4)
print("full-batch gradient of the first bias:", full[1][:4])
print(
    "mean of the two half-batch gradients: ", ((half_0[1] + half_1[1]) / 2)[:4]
)
# --8<-- [end:shards]

# %%
# --8<-- [start:data_parallel]
dp_model = nn.DataParallel(model)  # no GPU here: device_ids is empty
assert dp_model.device_ids == [] and dp_model.module is model
with torch.no_grad():  # on CPU it just calls the module
    assert torch.equal(dp_model(inputs), model(inputs))

# The wrapper adds "module." in front of every parameter name.
print(list(model.state_dict())[:2], "->", list(dp_model.state_dict())[:2])
assert list(dp_model.state_dict()) == [
    "module." + name for name in model.state_dict()
]
assert all(
    torch.equal(a, b)
    for a, b in zip(
        dp_model.module.state_dict().values(), model.state_dict().values()
    )
)
# --8<-- [end:data_parallel]

# %%
# --8<-- [start:sampler]
from torch.utils.data import DistributedSampler

dataset = list(range(12))  # any object with a length works as a dataset
shards = []
for rank in range(3):
    sampler = DistributedSampler(
        dataset, num_replicas=3, rank=rank, shuffle=True, seed=0
    )
    sampler.set_epoch(0)  # the same epoch everywhere: the same permutation
    shards.append(list(sampler))
print("epoch 0:", shards)
assert all(len(shard) == 4 for shard in shards)
# disjoint and covering: each index exactly once
assert sorted(sum(shards, [])) == dataset

sampler = DistributedSampler(
    dataset, num_replicas=3, rank=0, shuffle=True, seed=0
)
assert list(sampler) == list(sampler)  # without set_epoch: the same order
sampler.set_epoch(1)
assert list(sampler) != shards[0]  # set_epoch(1): a new shuffle


def shards_of(n, **options):
    return [
        list(
            DistributedSampler(
                range(n), num_replicas=3, rank=r, shuffle=False, **options
            )
        )
        for r in range(3)
    ]


# 10 examples on 3 ranks: padded with repeats to 12, or (drop_last) cut to 9.
padded, dropped = shards_of(10), shards_of(10, drop_last=True)
print("padded:", padded, " drop_last:", dropped)
assert [len(s) for s in padded] == [4, 4, 4]
assert set(sum(padded, [])) == set(range(10))
assert len(sum(padded, [])) - len(set(sum(padded, []))) == 2  # 2 repeats
assert [len(s) for s in dropped] == [3, 3, 3]
assert len(set(sum(dropped, []))) == 9
# --8<-- [end:sampler]

# %%
# --8<-- [start:evaluation]
scores = torch.arange(10.0) ** 2  # one number per example, say a loss
# Averaged over the padded shards, examples 0 and 1 count twice: wrong.
padded_mean = torch.cat([scores[s] for s in padded]).mean()
assert not torch.isclose(padded_mean, scores.mean())
print(
    f"true mean {scores.mean():.3f}, over the padded shards {padded_mean:.3f}"
)

# Exact: shards without repeats (4, 3 and 3 examples), and the sum and the
# count of each rank added up (what dist.all_reduce with SUM does) before
# one division. The mean of the three per-rank means would be off again.
unpadded = [list(range(rank, 10, 3)) for rank in range(3)]
total = sum(scores[s].sum() for s in unpadded)
count = sum(len(s) for s in unpadded)
assert torch.isclose(total / count, scores.mean())
rank_means = [scores[s].mean() for s in unpadded]
assert not torch.isclose(sum(rank_means) / 3, scores.mean())

# Uneven shards in training: DDP is "joinable", so the Join context manager
# lets ranks that run out of batches shadow the others' all-reduces.
from torch.distributed.algorithms import Join, Joinable
from torch.nn.parallel import DistributedDataParallel

assert issubclass(DistributedDataParallel, Joinable) and callable(Join)
# --8<-- [end:evaluation]


# %%
# --8<-- [start:ring_by_hand]
def ring_by_hand(node_data):
    n = len(node_data)
    # chunks[node][c]
    chunks = [list(t.clone().tensor_split(n)) for t in node_data]
    for s in range(n - 1):  # reduce-scatter
        # everyone sends at once
        sent = [chunks[i][(i - s) % n].clone() for i in range(n)]
        for i in range(n):  # the right neighbour adds it
            chunks[(i + 1) % n][(i - s) % n] += sent[i]
    finished = [chunks[i][(i + 1) % n].clone() for i in range(n)]
    for s in range(n - 1):  # all-gather
        sent = [chunks[i][(i + 1 - s) % n].clone() for i in range(n)]
        for i in range(n):  # the right neighbour overwrites
            chunks[(i + 1) % n][(i + 1 - s) % n] = sent[i]
    return [torch.cat(c) for c in chunks], finished


# 4 nodes, 8 numbers each
node_data = [torch.arange(8.0) + 100 * node for node in range(4)]
total = sum(node_data)
results, finished = ring_by_hand(node_data)
# after reduce-scatter, node i owns the full sum of chunk i + 1
for i in range(4):
    assert torch.equal(finished[i], total.tensor_split(4)[(i + 1) % 4])
# after all-gather, everyone has everything
assert all(torch.equal(r, total) for r in results)
print("node 0 starts with:", node_data[0])
print("every node ends with:", results[0])
# --8<-- [end:ring_by_hand]

# %%
# --8<-- [start:ring_package]
from pytorch_notes.distributed import ring_all_reduce

log = []  # (step, sender, receiver, chunk, numel), one entry per message
summed = ring_all_reduce(node_data, log=log)
assert all(torch.equal(a, b) for a, b in zip(summed, results))

n, size = 4, 8
steps = sorted({entry[0] for entry in log})
sent_by = [sum(e[4] for e in log if e[1] == node) for node in range(n)]
assert steps == list(range(1, 2 * (n - 1) + 1))  # 2(N - 1) = 6 steps
# only ever to the right neighbour
assert all(e[2] == (e[1] + 1) % n for e in log)
# each node sends 2(N-1)/N of the data: 12 of 8
assert sent_by == [2 * (n - 1) * size // n] * n
print(f"{len(steps)} steps, numbers sent per node: {sent_by}")

torch.manual_seed(0)
odd = [torch.randn(5, 7) for _ in range(3)]  # 35 numbers: chunks 12, 12, 11
assert all(torch.allclose(r, sum(odd), atol=1e-6) for r in ring_all_reduce(odd))
# --8<-- [end:ring_package]

# %%
# --8<-- [start:traffic]
import matplotlib.pyplot as plt

nodes = torch.arange(2, 33)
ring = 2 * (nodes - 1) / nodes  # per node, in units of the gradient size
# a central node receives N - 1 gradients, then sends the sum N - 1 times
server = nodes - 1
assert (ring < 2).all() and torch.isclose(ring[-1], torch.tensor(2 * 31 / 32))
# equal only for N = 2
assert (server[1:] > ring[1:]).all() and ring[0] == server[0] == 1

fig, axis = plt.subplots(figsize=(6, 3.5))
axis.plot(nodes.numpy(), server.numpy(), label="central node: N-1")
axis.plot(nodes.numpy(), ring.numpy(), label="ring, each node: 2(N-1)/N")
axis.set_xlabel("number of processes N")
axis.set_ylabel("data sent / gradient size")
axis.set_yscale("log")
axis.legend()
fig.tight_layout()
# --8<-- [end:traffic]

# %%
# --8<-- [start:pickle]
import pickle
import subprocess
import sys

from pytorch_notes.distributed import ddp_worker

payload = pickle.dumps(ddp_worker)  # a function is pickled by name, not code
assert b"pytorch_notes.distributed" in payload and b"ddp_worker" in payload
assert len(payload) < 100
assert pickle.loads(payload) is ddp_worker
print(payload)


def page_worker(rank):  # defined here, in this session
    return rank


load = "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"
fresh = subprocess.run(
    [sys.executable, "-c", load],
    input=pickle.dumps(page_worker),
    capture_output=True,
)
assert fresh.returncode != 0  # a fresh interpreter cannot find page_worker
print(fresh.stderr.decode().strip().splitlines()[-1])
# --8<-- [end:pickle]

# %%
# --8<-- [start:launch]
import shutil
import tempfile
from pathlib import Path

import torch.multiprocessing as mp

from pytorch_notes.distributed import free_port

world_size, num_steps, lr = 2, 5, 0.1
port = free_port()  # bind port 0 on 127.0.0.1: the OS picks a free port
out_dir = tempfile.mkdtemp(prefix="ddp-")
args = (world_size, port, model, inputs, targets, num_steps, lr, out_dir)
# runs ddp_worker(rank, *args) for rank = 0, 1
mp.start_processes(
    ddp_worker, args=args, nprocs=world_size, start_method="fork"
)
ranks = [
    torch.load(Path(out_dir) / f"rank{r}.pt", weights_only=True)
    for r in range(world_size)
]
shutil.rmtree(out_dir)
print("rank 0 trained on", ranks[0]["indices"])
print("rank 1 trained on", ranks[1]["indices"])
assert ranks[0]["indices"] == list(range(0, 16, 2))
assert ranks[1]["indices"] == list(range(1, 16, 2))
# --8<-- [end:launch]

# %%
# --8<-- [start:all_reduce]
local_0, local_1 = ranks[0]["local"], ranks[1]["local"]
reduced_0, reduced_1 = ranks[0]["all_reduced"], ranks[1]["all_reduced"]
assert not torch.equal(local_0, local_1)  # each rank drew its own vector
assert torch.equal(reduced_0, reduced_1)  # the same result on every rank
assert torch.allclose(reduced_0, local_0 + local_1)  # all_reduce: the sum
assert torch.allclose(ring_all_reduce([local_0, local_1])[0], reduced_0)
print("rank 0:", local_0)
print("rank 1:", local_1)
print("after dist.all_reduce, on both:", reduced_0)
# --8<-- [end:all_reduce]

# %%
# --8<-- [start:grads]
per_parameter = zip(
    ranks[0]["grads"],
    ranks[1]["grads"],
    ranks[0]["local_grads"],
    ranks[1]["local_grads"],
)
for p, (g0, g1, local_g0, local_g1) in enumerate(per_parameter):
    # after backward, every rank holds the same gradient
    assert torch.equal(g0, g1)
    # under no_sync: each rank's own half
    assert torch.allclose(local_g0, half_0[p])
    assert torch.allclose(local_g1, half_1[p])
    # DDP averages over the ranks
    assert torch.allclose(g0, (local_g0 + local_g1) / 2, atol=1e-7)
    ring_sum = ring_all_reduce([local_g0, local_g1])[0]
    assert torch.allclose(g0, ring_sum / world_size, atol=1e-7)
    # = the full-batch gradient of one process
    assert torch.allclose(g0, full[p], atol=1e-6)
print("DDP gradient of the first bias:", ranks[0]["grads"][1][:4])
# --8<-- [end:grads]

# %%
# --8<-- [start:weights]
single = copy.deepcopy(model)  # the same start, trained in this one process
optimizer = torch.optim.SGD(single.parameters(), lr=lr)
single_losses = []
for _ in range(num_steps):
    optimizer.zero_grad()
    loss = F.mse_loss(single(inputs), targets)
    loss.backward()
    optimizer.step()
    single_losses.append(loss.item())

for name, weight in single.state_dict().items():
    rank_0, rank_1 = ranks[0]["state_dict"][name], ranks[1]["state_dict"][name]
    assert torch.equal(rank_0, rank_1)  # the ranks in lockstep
    assert torch.allclose(rank_0, weight, atol=1e-6)  # = one process
mean_rank_losses = [
    (a + b) / 2 for a, b in zip(ranks[0]["losses"], ranks[1]["losses"])
]
assert all(abs(a - b) < 1e-6 for a, b in zip(mean_rank_losses, single_losses))
assert single_losses[-1] < single_losses[0]
print("single process:", [round(v, 4) for v in single_losses])
print("mean over ranks:", [round(v, 4) for v in mean_rank_losses])
# --8<-- [end:weights]

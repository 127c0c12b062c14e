"""Data-parallel training on one machine: ring collectives by hand and real DDP and FSDP2 workers.

Introduced by the chapters "Distributed training" (engineering/distributed) and
"Sharded data parallel" (engineering/sharded).

:func:`ring_all_reduce` simulates, with plain tensors, how N nodes sum their
gradients around a ring: :func:`ring_reduce_scatter`, then :func:`ring_all_gather`.
:func:`ddp_worker` and :func:`fsdp_worker` are what each process of a real
``DistributedDataParallel`` or FSDP2 (``fully_shard``) run executes; they
live in this module, not in a chapter, because a *spawned* process receives
the function by name (module + qualified name) and must be able to import it.
Every process group here uses the ``gloo`` backend on the loopback address
127.0.0.1: nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import ipaddress
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler, TensorDataset

from pytorch_notes._checks import check_int, check_tensor, check_type

LOOPBACK = "127.0.0.1"

reduce_scatter_single = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor
"""``dist.reduce_scatter_single`` where it exists, else its older name ``dist.reduce_scatter_tensor``.

``reduce_scatter_single(output, input)`` sums ``input`` over the ranks and puts piece ``rank`` of the
sum in ``output`` (``input`` holds world_size pieces of ``output``'s size, one after the other).
PyTorch 2.6 has only the old name; newer releases warn when it is used. ``gloo`` runs it on CPU tensors.
"""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free right now on ``host``: bind port 0 and let the OS choose.

    Args:
        host: a loopback address (``"127.0.0.1"`` or ``"::1"``).

    Returns:
        The port number.

    Raises:
        TypeError: if host is not a str.
        ValueError: if host is not a loopback address.
    """
    _check_loopback("host", host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _check_loopback(name: str, address: object) -> None:
    check_type(name, address, str, "a str")
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:  # not an IP address at all, e.g. a host name
        loopback = False
    if not loopback:
        raise ValueError(f"{name} must be a loopback address (e.g. 127.0.0.1), got {address!r}")


def setup_process_group(rank: int, world_size: int, port: int, master_addr: str = LOOPBACK,
                        timeout_s: float = 60.0) -> None:
    """Join a ``gloo`` process group of ``world_size`` processes on this machine.

    Sets ``MASTER_ADDR`` / ``MASTER_PORT`` (where rank 0's rendezvous store
    listens) and ``GLOO_SOCKET_IFNAME`` (gloo's traffic stays on the loopback
    interface), then calls ``dist.init_process_group``. Every rank must call it
    with the same ``world_size`` and ``port``; pair it with
    ``dist.destroy_process_group()``.

    Args:
        rank: this process's index, ``0 <= rank < world_size``.
        world_size: the number of processes.
        port: the rendezvous port, 1..65535 (see :func:`free_port`).
        master_addr: the rendezvous address; only loopback addresses are accepted.
        timeout_s: how long collectives wait for the other ranks before failing.

    Raises:
        TypeError: if rank, world_size or port is not an int, or master_addr is not a str.
        ValueError: if a value is out of range or master_addr is not a loopback address.
    """
    check_int("world_size", world_size, 1)
    check_int("rank", rank, 0, world_size - 1)
    check_int("port", port, 1, 65535)
    _check_loopback("master_addr", master_addr)
    os.environ["MASTER_ADDR"] = master_addr
    os.environ["MASTER_PORT"] = str(port)
    os.environ["GLOO_SOCKET_IFNAME"] = "lo0" if sys.platform == "darwin" else "lo"
    dist.init_process_group("gloo", rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=timeout_s))


def _check_worker_args(rank, world_size, model, inputs, targets, steps, out_dir, min_rows: int) -> None:
    check_int("world_size", world_size, 1)
    check_int("rank", rank, 0, world_size - 1)
    check_int("steps", steps, 1)
    check_type("model", model, nn.Module, "an nn.Module")
    check_tensor("inputs", inputs, ("N", ...), dtype=None)
    check_tensor("targets", targets, ("N", ...), dtype=None)
    if inputs.shape[0] != targets.shape[0] or inputs.shape[0] < min_rows * world_size:
        raise ValueError(f"inputs and targets need the same number of rows, at least {min_rows} * "
                         f"world_size={min_rows * world_size}; got {inputs.shape[0]} and {targets.shape[0]}")
    if not Path(out_dir).is_dir():
        raise ValueError(f"out_dir must be an existing folder, got {out_dir!r}")


def ddp_worker(rank: int, world_size: int, port: int, model: nn.Module, inputs: torch.Tensor,
               targets: torch.Tensor, steps: int, lr: float, out_dir: str) -> None:
    """One process of a data-parallel run: DDP + SGD on its shard of the data, results to a file.

    Meant to be started once per rank by ``torch.multiprocessing`` (``mp.spawn``
    or ``mp.start_processes``), which passes ``rank`` first. The process joins
    the group (:func:`setup_process_group`), then:

    1. all-reduces (sums) a random vector drawn with seed ``rank`` (``"local"``
       before, ``"all_reduced"`` after);
    2. takes its shard of ``(inputs, targets)`` with a ``DistributedSampler``
       (``shuffle=False``: indices ``rank, rank + world_size, ...``);
    3. wraps ``model`` in ``DistributedDataParallel`` and, on the first step,
       records its local gradients (computed under ``no_sync``: no communication)
       and the gradients after DDP's all-reduce, which are averaged over the ranks;
    4. trains ``steps`` SGD steps on the mean-squared-error loss.

    It saves a dict with ``rank``, ``indices``, ``local``, ``all_reduced``,
    ``local_grads``, ``grads`` (lists in ``model.parameters()`` order),
    ``losses`` and ``state_dict`` to ``out_dir/rank<rank>.pt``, and always leaves
    the process group. It trains a copy of ``model``: the caller's model is not
    changed (under spawn, tensors passed in ``args`` are shared with the parent).

    Args:
        rank: this process's index (passed by ``torch.multiprocessing``).
        world_size: the number of processes.
        port: the rendezvous port on 127.0.0.1.
        model: the model to train; every rank gets the same initial weights
            (DDP also broadcasts rank 0's weights when it wraps the model).
        inputs: all the inputs, shape ``(N, ...)``; each rank uses its shard.
        targets: all the targets, shape ``(N, ...)``.
        steps: the number of SGD steps, at least 1.
        lr: the learning rate.
        out_dir: an existing folder for the result files.

    Raises:
        TypeError: on arguments of the wrong type.
        ValueError: on out-of-range values or mismatched inputs and targets.
    """
    _check_worker_args(rank, world_size, model, inputs, targets, steps, out_dir, min_rows=1)
    torch.set_num_threads(1)  # several processes share the cores
    setup_process_group(rank, world_size, port)
    try:
        local = torch.randn(6, generator=torch.Generator().manual_seed(rank))
        all_reduced = local.clone()
        dist.all_reduce(all_reduced, op=dist.ReduceOp.SUM)  # in place: every rank gets the sum

        sampler = DistributedSampler(TensorDataset(inputs, targets), num_replicas=world_size, rank=rank,
                                     shuffle=False)
        indices = list(sampler)
        x, y = inputs[indices], targets[indices]

        model = copy.deepcopy(model)  # under spawn, tensors in args arrive in shared memory: don't train those
        ddp_model = DistributedDataParallel(model)  # CPU + gloo: no device_ids
        optimizer = torch.optim.SGD(ddp_model.parameters(), lr=lr)
        optimizer.zero_grad()  # drop any gradient the model arrived with
        with ddp_model.no_sync():  # local gradients only, to compare with the synchronized ones
            F.mse_loss(ddp_model(x), y).backward()
        local_grads = [p.grad.clone() for p in model.parameters()]
        optimizer.zero_grad()

        losses, grads = [], None
        for _ in range(steps):
            optimizer.zero_grad()
            loss = F.mse_loss(ddp_model(x), y)
            loss.backward()  # DDP all-reduces the gradients here and divides them by world_size
            if grads is None:
                grads = [p.grad.clone() for p in model.parameters()]
            optimizer.step()
            losses.append(loss.item())

        torch.save({"rank": rank, "indices": indices, "local": local, "all_reduced": all_reduced,
                    "local_grads": local_grads, "grads": grads, "losses": losses,
                    "state_dict": model.state_dict()}, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _check_node_tensors(name: str, tensors: object, same_shape: bool) -> None:
    if isinstance(tensors, torch.Tensor) or not isinstance(tensors, Sequence) or len(tensors) == 0:
        raise TypeError(f"{name} must be a non-empty list of tensors, got {type(tensors).__name__}")
    check_tensor(f"{name}[0]", tensors[0], dtype=None)
    shape, dtype = tensors[0].shape, tensors[0].dtype
    for i, t in enumerate(tensors):  # the dtype (and shape) of the first
        check_tensor(f"{name}[{i}]", t, tuple(shape) if same_shape else None, dtype=dtype)


def _ring_pass(chunks: list[list[torch.Tensor]], reduce: bool, first_step: int, log: list | None) -> None:
    """N - 1 ring steps on ``chunks[node][c]`` in place: reduce-scatter (add) or all-gather (overwrite).

    In step s, node i sends chunk (i - 1 - s) mod N when reducing, (i - s) mod N
    when gathering, to node i + 1; so a reduce-scatter ends with node i holding
    the sum of chunk i, and an all-gather starts from node i holding chunk i.
    """
    n = len(chunks)
    shift = -1 if reduce else 0
    for s in range(n - 1):
        outgoing = [chunks[i][(i + shift - s) % n].clone() for i in range(n)]  # all send at once
        for i in range(n):
            c, receiver = (i + shift - s) % n, (i + 1) % n
            if reduce:
                chunks[receiver][c] += outgoing[i]
            else:
                chunks[receiver][c].copy_(outgoing[i])
            if log is not None:
                log.append((first_step + s, i, receiver, c, outgoing[i].numel()))


def ring_reduce_scatter(tensors: Sequence[torch.Tensor], log: list | None = None) -> list[torch.Tensor]:
    """Reduce-scatter around a ring: node i ends with chunk i of the sum of all nodes' tensors.

    Each node's tensor is flattened and cut into N chunks with ``tensor_split``
    (sizes differ by at most one). In each of N - 1 steps every node sends one
    chunk to its right neighbour, which adds it to its own copy; each node
    sends (N - 1)/N of the data. The first half of :func:`ring_all_reduce`.
    The inputs are not modified.

    Args:
        tensors: one tensor per node, all of the same shape and dtype; at least one.
        log: optional list; one tuple ``(step, sender, receiver, chunk, numel)`` is
            appended per message, steps numbered from 1.

    Returns:
        A list of N new 1-D tensors: element i is chunk i of the flattened sum.

    Raises:
        TypeError: if tensors is not a non-empty sequence of tensors, their dtypes
            differ, or log is not a list.
        ValueError: if the tensors differ in shape.
    """
    _check_node_tensors("tensors", tensors, same_shape=True)
    check_type("log", log, (list, type(None)), "None or a list")
    return _ring_reduce_scatter(tensors, log)


def _ring_reduce_scatter(tensors: Sequence[torch.Tensor], log: list | None) -> list[torch.Tensor]:
    n = len(tensors)
    chunks = [list(t.detach().flatten().clone().tensor_split(n)) for t in tensors]
    _ring_pass(chunks, reduce=True, first_step=1, log=log)
    return [chunks[i][i] for i in range(n)]


def ring_all_gather(chunks: Sequence[torch.Tensor], log: list | None = None,
                    first_step: int = 1) -> list[torch.Tensor]:
    """All-gather around a ring: node i starts with chunk i, every node ends with all of them.

    In each of N - 1 steps every node passes the chunk it received last (its
    own first) to its right neighbour, which stores it; each node sends
    (N - 1)/N of the data when the chunks are equal. The second half of
    :func:`ring_all_reduce`. The inputs are not modified.

    Args:
        chunks: one tensor per node, chunk i on node i, of one dtype; flattened,
            so sizes may differ (as ``tensor_split`` leaves them).
        log: optional list; one tuple ``(step, sender, receiver, chunk, numel)`` is
            appended per message.
        first_step: the number of the first step in ``log`` (1, or N after a
            reduce-scatter of N - 1 steps).

    Returns:
        A list of N new 1-D tensors, each the concatenation of all chunks in order.

    Raises:
        TypeError: if chunks is not a non-empty sequence of tensors of one dtype,
            log is not a list or first_step not an int.
        ValueError: if first_step < 1.
    """
    _check_node_tensors("chunks", chunks, same_shape=False)
    check_type("log", log, (list, type(None)), "None or a list")
    check_int("first_step", first_step, 1)
    n = len(chunks)
    # every node's buffer: its own chunk filled in, the others still empty
    buffers = [torch.cat([c.detach().flatten() for c in chunks]) for _ in range(n)]
    sizes = [c.numel() for c in chunks]
    per_node = [list(buffer.split(sizes)) for buffer in buffers]
    for i in range(n):
        for c in range(n):
            if c != i:
                per_node[i][c].zero_()
    _ring_pass(per_node, reduce=False, first_step=first_step, log=log)
    return buffers


def ring_all_reduce(tensors: Sequence[torch.Tensor], log: list | None = None) -> list[torch.Tensor]:
    """Sum N tensors the way N nodes on a ring do it: reduce-scatter, then all-gather.

    Each node's tensor is flattened and cut into N chunks. In each of the N - 1
    reduce-scatter steps, node i sends one chunk to node i + 1 (mod N), which
    adds it to its own; afterwards node i holds the full sum of chunk i
    (:func:`ring_reduce_scatter`). In each of the N - 1 all-gather steps, node i
    passes a finished chunk on, and the receiver overwrites its copy
    (:func:`ring_all_gather`). After 2(N - 1) steps every node holds the whole
    sum, and each has sent 2(N - 1)/N of the data (when N divides the size).
    The inputs are not modified.

    Args:
        tensors: one tensor per node, all of the same shape and dtype; at least one.
        log: optional list; if given, one tuple ``(step, sender, receiver, chunk, numel)``
            is appended per message sent.

    Returns:
        A list of N new tensors, each equal to the sum of the inputs.

    Raises:
        TypeError: if tensors is not a non-empty sequence of tensors, their dtypes
            differ, or log is not a list.
        ValueError: if the tensors differ in shape.
    """
    _check_node_tensors("tensors", tensors, same_shape=True)
    check_type("log", log, (list, type(None)), "None or a list")
    shape, n = tensors[0].shape, len(tensors)
    owned = _ring_reduce_scatter(tensors, log)
    return [full.view(shape) for full in ring_all_gather(owned, log, first_step=n)]


def counting_allreduce_hook(calls: list, bucket):  # no annotations: DDP compares them as objects
    """A DDP communication hook: DDP's default all-reduce (average), counted.

    Register it with ``ddp_model.register_comm_hook(calls, counting_allreduce_hook)``;
    DDP then calls it once per gradient bucket it all-reduces, and it appends
    the bucket's number of elements to ``calls``.

    Args:
        calls (list): the list that records one entry per all-reduce.
        bucket (torch.distributed.GradBucket): the bucket DDP passes in.

    Returns:
        future (torch.futures.Future): the averaged bucket, as DDP expects.

    Raises:
        TypeError: if calls is not a list.
    """
    check_type("calls", calls, list, "a list")
    calls.append(bucket.buffer().numel())
    return allreduce_hook(None, bucket)  # None: the default process group


def fsdp_worker(rank: int, world_size: int, port: int, model: nn.Module, inputs: torch.Tensor,
                targets: torch.Tensor, steps: int, lr: float, out_dir: str) -> None:
    """One process of a sharded run: collectives, DDP with ``no_sync``, then FSDP2 + Adam; results to a file.

    Started once per rank by ``torch.multiprocessing`` like :func:`ddp_worker`.
    Each rank takes its shard of ``(inputs, targets)`` with a ``DistributedSampler``
    (``shuffle=False``: indices ``rank, rank + world_size, ...``), cuts it into
    two micro-batches, and then:

    1. **Collectives.** Draws a vector of ``2 * world_size`` numbers with seed
       ``rank`` (``"local"``), reduce-scatters it (``"scattered"``: this rank's 2
       numbers of the sum), all-gathers the pieces (``"gathered"``, a list) and,
       for comparison, all-reduces it (``"all_reduced"``).
    2. **DDP gradient accumulation.** Wraps a copy of ``model`` in
       ``DistributedDataParallel`` with :func:`counting_allreduce_hook`, and
       accumulates the two micro-batches (each loss halved) twice: with the first
       under ``no_sync()`` (``"ddp_no_sync_grads"``, ``"ddp_no_sync_calls"``) and
       without (``"ddp_sync_grads"``, ``"ddp_sync_calls"``); the calls are the
       element counts of the all-reduced buckets.
    3. **FSDP2.** Shards a copy of ``model`` with ``fully_shard``: every child
       module that has parameters becomes its own unit, then the root.
       Records the local shard sizes of the parameters (``"shard_numels"``,
       ``model.parameters()`` order) and their type and placements
       (``"placements"``, e.g. ``"DTensor (Shard(dim=0),)"``). Accumulates the
       two micro-batches with ``set_requires_gradient_sync(False)`` for the first
       (``"grads_after_unsynced"``: whether each ``.grad`` existed then;
       ``"fsdp_accumulated_grads"``: full gradients after the second), then trains
       ``steps`` Adam steps on the rank's shard (``"fsdp_grads"``: the full
       gradients of the first step, ``"fsdp_losses"``, ``"fsdp_params"``: the full
       parameters at the end, ``"adam_state_numels"``: the local size of each
       ``exp_avg``). If the first forward raises ``AttributeError`` (PyTorch 2.6:
       CPU streams have no ``record_event``), its message is ``"fsdp_error"``
       and the FSDP entries after ``"placements"`` are ``None``.

    The dict is saved to ``out_dir/rank<rank>.pt``; the process group is always left.

    Args:
        rank: this process's index (passed by ``torch.multiprocessing``).
        world_size: the number of processes.
        port: the rendezvous port on 127.0.0.1.
        model: the model; copies are trained, the caller's model is not changed.
        inputs: all the inputs, shape ``(N, ...)``, N a multiple of ``2 * world_size``
            (equal micro-batches).
        targets: all the targets, shape ``(N, ...)``; the loss is the mean squared error.
        steps: the number of Adam steps, at least 1.
        lr: the learning rate.
        out_dir: an existing folder for the result files.

    Raises:
        TypeError: on arguments of the wrong type.
        ValueError: on out-of-range values, mismatched inputs and targets, or a
            number of rows that is not a multiple of ``2 * world_size``.
    """
    _check_worker_args(rank, world_size, model, inputs, targets, steps, out_dir, min_rows=2)
    if inputs.shape[0] % (2 * world_size):
        raise ValueError(f"the number of rows must be a multiple of 2 * world_size={2 * world_size}, "
                         f"got {inputs.shape[0]}")
    torch.set_num_threads(1)
    setup_process_group(rank, world_size, port)
    try:
        result = {"rank": rank}
        local = torch.randn(2 * world_size, generator=torch.Generator().manual_seed(rank))
        scattered = torch.empty(2)
        reduce_scatter_single(scattered, local.clone())  # SUM, then keep piece `rank`
        gathered = [torch.empty(2) for _ in range(world_size)]
        dist.all_gather(gathered, scattered)
        all_reduced = local.clone()
        dist.all_reduce(all_reduced)
        result.update(local=local, scattered=scattered, gathered=gathered, all_reduced=all_reduced)

        indices = list(DistributedSampler(TensorDataset(inputs, targets), num_replicas=world_size,
                                          rank=rank, shuffle=False))
        micro_batches = list(zip(inputs[indices].tensor_split(2), targets[indices].tensor_split(2)))

        def half_loss(net, batch):  # the mean over the rank's shard = half of each micro-batch mean
            return F.mse_loss(net(batch[0]), batch[1]) / 2

        ddp_model = DistributedDataParallel(copy.deepcopy(model))
        calls = []
        ddp_model.register_comm_hook(calls, counting_allreduce_hook)
        for name, skip_first in (("ddp_no_sync", True), ("ddp_sync", False)):
            calls.clear()
            ddp_model.zero_grad()
            with ddp_model.no_sync() if skip_first else contextlib.nullcontext():
                half_loss(ddp_model, micro_batches[0]).backward()
            half_loss(ddp_model, micro_batches[1]).backward()
            result[name + "_grads"] = [p.grad.clone() for p in ddp_model.parameters()]
            result[name + "_calls"] = list(calls)
        result.update(_fsdp_run(copy.deepcopy(model), micro_batches, half_loss, steps, lr))
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _fsdp_run(model: nn.Module, micro_batches: list, half_loss, steps: int, lr: float) -> dict:
    """The FSDP2 part of :func:`fsdp_worker` (see there); runs inside the process group."""
    from torch.distributed.fsdp import fully_shard  # here: importing FSDP takes half a second

    for layer in model.children():
        if next(layer.parameters(), None) is not None:
            fully_shard(layer)  # its own unit: all-gathered just before it runs
    fully_shard(model)
    params = list(model.parameters())  # DTensors now, Shard(0) over the ranks
    result = dict.fromkeys(["fsdp_error", "grads_after_unsynced", "fsdp_accumulated_grads",
                            "fsdp_grads", "fsdp_losses", "fsdp_params", "adam_state_numels"])
    result["shard_numels"] = [p.to_local().numel() for p in params]
    result["placements"] = [f"{type(p).__name__} {p.placements}" for p in params]
    model.set_requires_gradient_sync(False)  # accumulate unsharded, no reduce-scatter
    try:
        loss = half_loss(model, micro_batches[0])
    except AttributeError as error:  # PyTorch 2.6: torch.cpu.Stream has no record_event
        result["fsdp_error"] = str(error)
        return result
    loss.backward()
    result["grads_after_unsynced"] = [p.grad is not None for p in params]
    model.set_requires_gradient_sync(True)
    half_loss(model, micro_batches[1]).backward()  # reduce-scatters the accumulated gradients
    result["fsdp_accumulated_grads"] = [p.grad.full_tensor() for p in params]

    x, y = (torch.cat(tensors) for tensors in zip(*micro_batches))
    optimizer = torch.optim.Adam(params, lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        if result["fsdp_grads"] is None:
            result["fsdp_grads"] = [p.grad.full_tensor() for p in params]
        optimizer.step()
        losses.append(loss.item())
    result["fsdp_losses"] = losses
    result["fsdp_params"] = [p.full_tensor() for p in params]
    result["adam_state_numels"] = [optimizer.state[p]["exp_avg"].to_local().numel() for p in params]
    return result

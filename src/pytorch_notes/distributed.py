"""Data-parallel training on one machine: ring all-reduce by hand and a real DDP worker.

Introduced by the chapter "Distributed training" (engineering/distributed).

:func:`ring_all_reduce` simulates, with plain tensors, how N nodes sum their
gradients around a ring (reduce-scatter, then all-gather). :func:`ddp_worker`
is what each process of a real ``DistributedDataParallel`` run executes; it
lives in this module, not in a chapter, because a *spawned* process receives
the function by name (module + qualified name) and must be able to import it.
Every process group here uses the ``gloo`` backend on the loopback address
127.0.0.1: nothing leaves the machine.
"""

from __future__ import annotations

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
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler, TensorDataset

from pytorch_notes._checks import check_int, check_tensor, check_type

LOOPBACK = "127.0.0.1"


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
    check_int("world_size", world_size, 1)
    check_int("rank", rank, 0, world_size - 1)
    check_int("steps", steps, 1)
    check_type("model", model, nn.Module, "an nn.Module")
    check_tensor("inputs", inputs, ("N", ...), dtype=None)
    check_tensor("targets", targets, ("N", ...), dtype=None)
    if inputs.shape[0] != targets.shape[0] or inputs.shape[0] < world_size:
        raise ValueError(f"inputs and targets need the same number of rows, at least world_size={world_size}; "
                         f"got {inputs.shape[0]} and {targets.shape[0]}")
    if not Path(out_dir).is_dir():
        raise ValueError(f"out_dir must be an existing folder, got {out_dir!r}")

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


def ring_all_reduce(tensors: Sequence[torch.Tensor], log: list | None = None) -> list[torch.Tensor]:
    """Sum N tensors the way N nodes on a ring do it: reduce-scatter, then all-gather.

    Each node's tensor is flattened and cut into N chunks. In each of the N - 1
    reduce-scatter steps, node i sends one chunk to node i + 1 (mod N), which
    adds it to its own; afterwards node i holds the full sum of chunk
    (i + 1) mod N. In each of the N - 1 all-gather steps, node i passes a
    finished chunk on, and the receiver overwrites its copy. After 2(N - 1)
    steps every node holds the whole sum, and each has sent 2(N - 1)/N of the
    data (when N divides the size). The inputs are not modified.

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
    if isinstance(tensors, torch.Tensor) or not isinstance(tensors, Sequence) or len(tensors) == 0:
        raise TypeError(f"tensors must be a non-empty list of tensors, got {type(tensors).__name__}")
    check_tensor("tensors[0]", tensors[0], dtype=None)
    shape, dtype = tensors[0].shape, tensors[0].dtype
    for i, t in enumerate(tensors):
        check_tensor(f"tensors[{i}]", t, tuple(shape), dtype=dtype)  # the shape and dtype of tensors[0]
    check_type("log", log, (list, type(None)), "None or a list")

    n = len(tensors)
    # chunks[i][c]: node i's copy of chunk c (views into node i's flat buffer)
    buffers = [t.detach().flatten().clone() for t in tensors]
    chunks = [list(torch.tensor_split(buffer, n)) for buffer in buffers]
    step = 0
    for s in range(n - 1):  # reduce-scatter: node i sends chunk (i - s) mod n
        step += 1
        outgoing = [chunks[i][(i - s) % n].clone() for i in range(n)]  # all send at once
        for i in range(n):
            c, receiver = (i - s) % n, (i + 1) % n
            chunks[receiver][c] += outgoing[i]
            if log is not None:
                log.append((step, i, receiver, c, outgoing[i].numel()))
    for s in range(n - 1):  # all-gather: node i sends its finished chunk (i + 1 - s) mod n
        step += 1
        outgoing = [chunks[i][(i + 1 - s) % n].clone() for i in range(n)]
        for i in range(n):
            c, receiver = (i + 1 - s) % n, (i + 1) % n
            chunks[receiver][c].copy_(outgoing[i])
            if log is not None:
                log.append((step, i, receiver, c, outgoing[i].numel()))
    return [buffer.view(shape) for buffer in buffers]

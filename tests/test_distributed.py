"""Unit tests of pytorch_notes.distributed, bad input included, and one real spawned DDP run."""

import copy
import socket

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F

from pytorch_notes.distributed import ddp_worker, free_port, ring_all_reduce, setup_process_group


def test_free_port_is_a_bindable_loopback_port():
    port = free_port()
    assert isinstance(port, int) and 1 <= port <= 65535
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


@pytest.mark.parametrize("host, error", [("10.0.0.1", ValueError), ("0.0.0.0", ValueError),
                                         ("example.com", ValueError), (127, TypeError)])
def test_only_loopback_addresses_are_accepted(host, error):
    with pytest.raises(error, match="loopback|str"):
        free_port(host)
    with pytest.raises(error, match="loopback|str"):
        setup_process_group(0, 1, 29500, master_addr=host)


@pytest.mark.parametrize("rank, world_size, port, error, match", [
    (0, 0, 29500, ValueError, "world_size"), (2, 2, 29500, ValueError, "rank"),
    (-1, 2, 29500, ValueError, "rank"), (0, 1, 0, ValueError, "port"), (0, 1, 70000, ValueError, "port"),
    (0.0, 1, 29500, TypeError, "rank"), (0, True, 29500, TypeError, "world_size"),
    (0, 1, "29500", TypeError, "port")])
def test_setup_process_group_rejects_bad_arguments(rank, world_size, port, error, match):
    with pytest.raises(error, match=match):
        setup_process_group(rank, world_size, port)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_ring_all_reduce_sums_and_leaves_inputs_alone(n):
    torch.manual_seed(n)
    tensors = [torch.randn(3, 7, dtype=torch.float64) for _ in range(n)]  # 21: uneven chunks
    copies = [t.clone() for t in tensors]
    log = []
    results = ring_all_reduce(tensors, log=log)
    assert len(results) == n
    assert all(r.shape == (3, 7) and torch.allclose(r, sum(copies)) for r in results)
    assert all(torch.equal(t, c) for t, c in zip(tensors, copies))
    assert len(log) == 2 * (n - 1) * n  # every node sends once per step, 2(N - 1) steps


def test_ring_all_reduce_traffic():
    log = []
    ring_all_reduce([torch.ones(12) for _ in range(6)], log=log)
    assert sorted({e[0] for e in log}) == list(range(1, 11))
    for node in range(6):
        assert sum(e[4] for e in log if e[1] == node) == 2 * 5 * 12 // 6
        assert {e[2] for e in log if e[1] == node} == {(node + 1) % 6}


def test_ring_all_reduce_rejects_bad_input():
    with pytest.raises(TypeError, match="non-empty list"):
        ring_all_reduce([])
    with pytest.raises(TypeError, match="non-empty list"):
        ring_all_reduce(torch.ones(3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        ring_all_reduce([torch.ones(3), [1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"tensors\[1\] must have shape \(3,\), got \(4,\)"):
        ring_all_reduce([torch.ones(3), torch.ones(4)])
    with pytest.raises(TypeError, match=r"tensors\[1\] must be a torch.float32 tensor, got torch.float64"):
        ring_all_reduce([torch.ones(3), torch.ones(3, dtype=torch.float64)])
    with pytest.raises(TypeError, match="log"):
        ring_all_reduce([torch.ones(3)], log=())


def test_ddp_worker_rejects_bad_input_before_joining_a_group(tmp_path):
    model, x, y = nn.Linear(2, 1), torch.randn(4, 2), torch.randn(4, 1)
    with pytest.raises(TypeError, match="nn.Module"):
        ddp_worker(0, 2, 29500, "model", x, y, 1, 0.1, str(tmp_path))
    with pytest.raises(ValueError, match="same number of rows"):
        ddp_worker(0, 2, 29500, model, x, y[:3], 1, 0.1, str(tmp_path))
    with pytest.raises(ValueError, match="steps"):
        ddp_worker(0, 2, 29500, model, x, y, 0, 0.1, str(tmp_path))
    with pytest.raises(ValueError, match="rank"):
        ddp_worker(2, 2, 29500, model, x, y, 1, 0.1, str(tmp_path))
    with pytest.raises(ValueError, match="out_dir"):
        ddp_worker(0, 2, 29500, model, x, y, 1, 0.1, str(tmp_path / "missing"))


def test_spawned_ddp_run_matches_single_process_training(tmp_path):
    """The worker is importable by name, so it runs under spawn (fresh interpreters) too."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    mp.start_processes(ddp_worker, args=(2, free_port(), model, x, y, 3, 0.1, str(tmp_path)), nprocs=2,
                       start_method="spawn")
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]

    single = copy.deepcopy(model)
    optimizer = torch.optim.SGD(single.parameters(), lr=0.1)
    for step in range(3):
        optimizer.zero_grad()
        F.mse_loss(single(x), y).backward()
        if step == 0:
            for grad, p in zip(ranks[0]["grads"], single.parameters()):
                assert torch.allclose(grad, p.grad, atol=1e-6)
        optimizer.step()
    for name, weight in single.state_dict().items():
        assert torch.equal(ranks[0]["state_dict"][name], ranks[1]["state_dict"][name])
        assert torch.allclose(ranks[0]["state_dict"][name], weight, atol=1e-6)
    assert torch.allclose(ranks[0]["all_reduced"], ranks[0]["local"] + ranks[1]["local"])

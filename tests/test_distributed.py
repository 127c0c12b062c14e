"""Unit tests of pytorch_notes.distributed, bad input included, a real spawned DDP run and a forked FSDP2 run."""

import copy
import socket

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F

from pytorch_notes.distributed import (
    counting_allreduce_hook,
    ddp_worker,
    free_port,
    fsdp_worker,
    ring_all_gather,
    ring_all_reduce,
    ring_reduce_scatter,
    setup_process_group,
)


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


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_reduce_scatter_then_all_gather_is_all_reduce(n):
    torch.manual_seed(n)
    tensors = [torch.randn(2, 5, dtype=torch.float64) for _ in range(n)]  # 10 numbers: uneven chunks for 3, 4
    copies = [t.clone() for t in tensors]
    total = sum(copies).flatten()
    rs_log, ag_log = [], []
    owned = ring_reduce_scatter(tensors, log=rs_log)
    assert [o.numel() for o in owned] == [c.numel() for c in total.tensor_split(n)]
    assert all(torch.allclose(o, c) for o, c in zip(owned, total.tensor_split(n)))
    gathered = ring_all_gather(owned, log=ag_log)
    assert all(g.shape == (10,) and torch.allclose(g, total) for g in gathered)
    assert all(torch.equal(t, c) for t, c in zip(tensors, copies))  # inputs untouched
    assert len(rs_log) == len(ag_log) == (n - 1) * n
    assert {e[0] for e in rs_log} == set(range(1, n))
    # all-gather: each node sends every chunk but the one its right neighbour owns
    for node in range(n):
        assert sum(e[4] for e in ag_log if e[1] == node) == 10 - owned[(node + 1) % n].numel()


def test_ring_all_gather_numbers_its_steps_and_keeps_inputs():
    chunks = [torch.full((2,), float(i)) for i in range(3)]
    log = []
    gathered = ring_all_gather(chunks, log=log, first_step=3)
    assert {e[0] for e in log} == {3, 4}
    assert all(torch.equal(g, torch.tensor([0.0, 0, 1, 1, 2, 2])) for g in gathered)
    assert all(torch.equal(c, torch.full((2,), float(i))) for i, c in enumerate(chunks))


def test_ring_collectives_reject_bad_input():
    with pytest.raises(TypeError, match="non-empty list"):
        ring_reduce_scatter([])
    with pytest.raises(ValueError, match=r"tensors\[1\] must have shape"):
        ring_reduce_scatter([torch.ones(3), torch.ones(4)])
    with pytest.raises(TypeError, match="log"):
        ring_reduce_scatter([torch.ones(3)], log="x")
    with pytest.raises(TypeError, match="non-empty list"):
        ring_all_gather(torch.ones(3))
    with pytest.raises(TypeError, match=r"chunks\[1\] must be a torch.float32 tensor"):
        ring_all_gather([torch.ones(3), torch.ones(2, dtype=torch.float64)])
    with pytest.raises(ValueError, match="first_step"):
        ring_all_gather([torch.ones(3)], first_step=0)
    with pytest.raises(TypeError, match="calls"):
        counting_allreduce_hook((), None)


def test_fsdp_worker_rejects_bad_input_before_joining_a_group(tmp_path):
    model, x, y = nn.Linear(2, 1), torch.randn(8, 2), torch.randn(8, 1)
    with pytest.raises(TypeError, match="nn.Module"):
        fsdp_worker(0, 2, 29500, "model", x, y, 1, 0.1, str(tmp_path))
    with pytest.raises(ValueError, match="multiple of 2 \\* world_size=4"):
        fsdp_worker(0, 2, 29500, model, x[:6], y[:6], 1, 0.1, str(tmp_path))
    with pytest.raises(ValueError, match="same number of rows"):
        fsdp_worker(0, 2, 29500, model, x, y[:4], 1, 0.1, str(tmp_path))
    with pytest.raises(ValueError, match="steps"):
        fsdp_worker(0, 2, 29500, model, x, y, 0, 0.1, str(tmp_path))
    with pytest.raises(ValueError, match="out_dir"):
        fsdp_worker(0, 2, 29500, model, x, y, 1, 0.1, str(tmp_path / "missing"))


def test_forked_fsdp_run_matches_single_process_training(tmp_path):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    mp.start_processes(fsdp_worker, args=(2, free_port(), model, x, y, 2, 0.01, str(tmp_path)), nprocs=2,
                       start_method="fork")
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    total = ranks[0]["local"] + ranks[1]["local"]
    for rank, result in enumerate(ranks):
        assert torch.allclose(result["scattered"], total[2 * rank:2 * rank + 2])
        assert torch.allclose(torch.cat(result["gathered"]), total)
        assert result["ddp_no_sync_calls"] == [44] and result["ddp_sync_calls"] == [44, 44]
        assert result["shard_numels"] == [12, 3, 6, 1]  # every dim 0 is even: exact halves

    single = copy.deepcopy(model)
    F.mse_loss(single(x), y).backward()
    for result in ranks:
        for p, param in enumerate(single.parameters()):
            assert torch.allclose(result["ddp_no_sync_grads"][p], param.grad, atol=1e-6)
    if ranks[0]["fsdp_error"] is not None:  # PyTorch 2.6: FSDP2 cannot run on CPU streams
        assert not hasattr(torch.cpu.Stream, "record_event") and "record_event" in ranks[0]["fsdp_error"]
        return
    optimizer = torch.optim.Adam(single.parameters(), lr=0.01)
    for step in range(2):
        optimizer.zero_grad()
        F.mse_loss(single(x), y).backward()
        if step == 0:
            for p, param in enumerate(single.parameters()):
                assert torch.allclose(ranks[1]["fsdp_accumulated_grads"][p], param.grad, atol=1e-6)
        optimizer.step()
    for result in ranks:
        assert result["adam_state_numels"] == [12, 3, 6, 1]
        for gathered, param in zip(result["fsdp_params"], single.parameters()):
            assert torch.allclose(gathered, param, atol=1e-5)

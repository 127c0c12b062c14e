"""Checkpoints lose nothing: atomic writes, clear errors, and a run killed mid-epoch resumes exactly."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from pytorch_notes.checkpoints import (atomic_save, checkpoint_path, latest_checkpoint, load_checkpoint,
                                       save_checkpoint)
from pytorch_notes.training import evaluate, fit

TESTS = Path(__file__).resolve().parent


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_a_checkpoint_restores_model_optimizer_scheduler_and_rng(tmp_path):
    model = small_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    model(torch.randn(5, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
    path = save_checkpoint(tmp_path / "sub" / "c.pt", model, optimizer, scheduler, epoch=3, history=[1.5])
    after_save = (random.random(), np.random.rand(), torch.rand(2))

    restored = small_model()
    fresh_optimizer = torch.optim.Adam(restored.parameters(), lr=0.5)
    fresh_scheduler = torch.optim.lr_scheduler.StepLR(fresh_optimizer, step_size=1, gamma=0.5)
    state = load_checkpoint(path, restored, fresh_optimizer, fresh_scheduler)
    assert state == {"epoch": 3, "history": [1.5]}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), restored.state_dict().values()))
    assert fresh_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"] == 0.005
    assert fresh_scheduler.last_epoch == 1
    again = (random.random(), np.random.rand(), torch.rand(2))
    assert after_save[:2] == again[:2] and torch.equal(after_save[2], again[2])


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = atomic_save({"version": 1}, tmp_path / "c.pt")

    def broken_save(obj, file):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_save({"version": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left behind


def test_truncated_corrupted_and_foreign_files_give_clear_errors(tmp_path):
    model = small_model()
    good = save_checkpoint(tmp_path / "good.pt", model, epoch=1)
    data = good.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.pt").write_bytes(b"\x00not a checkpoint" * 10)
    torch.save({"weights": torch.ones(1)}, tmp_path / "foreign.pt")
    for name in ("truncated.pt", "garbage.pt"):
        with pytest.raises(ValueError, match="not a complete checkpoint"):
            load_checkpoint(tmp_path / name, small_model())
    with pytest.raises(ValueError, match="is not a pytorch_notes.checkpoint/1 checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt", small_model())
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt", small_model())
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(good, small_model(), torch.optim.SGD(model.parameters(), lr=0.1))


def test_a_checkpoint_restores_the_grad_scaler(tmp_path):
    model = small_model()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=5)
    # a scale and a growth counter that a fresh scaler would not have
    scaler.load_state_dict({**scaler.state_dict(), "scale": 2.0**7, "_growth_tracker": 3})
    path = save_checkpoint(tmp_path / "c.pt", model, epoch=2, scaler=scaler)
    fresh = torch.amp.GradScaler("cpu")
    assert fresh.get_scale() != 2.0**7
    assert load_checkpoint(path, small_model(), scaler=fresh) == {"epoch": 2}
    assert fresh.state_dict() == scaler.state_dict()
    assert fresh.get_scale() == 2.0**7 and fresh.state_dict()["_growth_tracker"] == 3
    without = save_checkpoint(tmp_path / "without.pt", model, epoch=1)
    assert "scaler" not in torch.load(without, weights_only=True)  # the layout without a scaler is unchanged
    with pytest.raises(ValueError, match="no scaler state"):
        load_checkpoint(without, small_model(), scaler=torch.amp.GradScaler("cpu"))
    with pytest.raises(TypeError, match="scaler must be a torch.amp.GradScaler"):
        save_checkpoint(tmp_path / "bad.pt", model, scaler={"scale": 1.0})
    with pytest.raises(TypeError, match="scaler must be a torch.amp.GradScaler"):
        load_checkpoint(path, small_model(), scaler="scaler")


class RunsCode:
    def __reduce__(self):
        return (print, ("this ran while loading",))


def test_a_file_that_would_run_code_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"format": "pytorch_notes.checkpoint/1", "payload": RunsCode()}, path)
    with pytest.raises(ValueError, match="could run code"):
        load_checkpoint(path, small_model())
    assert "this ran" not in capsys.readouterr().out


def test_latest_checkpoint_orders_by_epoch_number(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    for epoch in (2, 10, 9):
        checkpoint_path(tmp_path, epoch).write_bytes(b"")
    (tmp_path / "epoch-x.pt").write_bytes(b"")
    assert latest_checkpoint(tmp_path).name == "epoch-010.pt"
    with pytest.raises(TypeError):
        latest_checkpoint(3)


@pytest.mark.parametrize("kwargs, error", [({"epochs": 0}, ValueError), ({"epochs": 1.0}, TypeError),
                                           ({"loss_fn": "ce"}, TypeError), ({"model": "m"}, TypeError)])
def test_fit_rejects_bad_input(kwargs, error):
    model = small_model()
    arguments = {"model": model, "train_loader": [], "loss_fn": nn.CrossEntropyLoss(),
                 "optimizer": torch.optim.SGD(model.parameters(), lr=0.1), "epochs": 1, **kwargs}
    with pytest.raises(error):
        fit(**arguments)


def test_fit_learns_logs_and_evaluate_measures(tmp_path):
    from pytorch_notes.logs import read_scalars

    torch.manual_seed(0)
    x = torch.randn(240, 4)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    batches = [(x[i:i + 30], y[i:i + 30]) for i in range(0, 240, 30)]
    model = small_model()
    history = fit(model, batches, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=0.05), epochs=8,
                  val_loader=batches[:2], log_dir=tmp_path / "runs", progress=False)
    assert [r["epoch"] for r in history] == list(range(1, 9))
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 2 and history[-1]["val_accuracy"] > 0.8
    scores = evaluate(model, batches[:2], nn.CrossEntropyLoss())
    assert scores == {"loss": pytest.approx(history[-1]["val_loss"]), "accuracy": history[-1]["val_accuracy"]}
    logged = read_scalars(tmp_path / "runs")
    assert sorted(logged) == ["accuracy/train", "accuracy/val", "loss/train", "loss/val"]
    assert [step for step, _ in logged["loss/train"]] == list(range(1, 9))
    with pytest.raises(ValueError, match="no samples"):
        evaluate(model, [], nn.CrossEntropyLoss())


def worker(checkpoints: Path, out: Path, *options: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(TESTS / "offline"))
    return subprocess.Popen([sys.executable, str(TESTS / "resume_worker.py"), str(checkpoints), str(out), *options],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("options", [(), ("seeded",)], ids=["global-rng", "seeded-loader"])
def test_a_run_killed_mid_epoch_resumes_to_the_same_weights(tmp_path, options):
    uninterrupted = worker(tmp_path / "reference", tmp_path / "reference.pt", *options)
    killed = worker(tmp_path / "run", tmp_path / "run.pt", *options)
    deadline = time.monotonic() + 90
    while not checkpoint_path(tmp_path / "run", 2).exists():
        assert killed.poll() is None and time.monotonic() < deadline, killed.communicate()
        time.sleep(0.02)
    time.sleep(0.4)  # about halfway through the third of five epochs
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    assert latest_checkpoint(tmp_path / "run").name == "epoch-002.pt" and not (tmp_path / "run.pt").exists()

    resumed = worker(tmp_path / "run", tmp_path / "run.pt", *options)
    output, errors = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, errors
    assert "resuming after epoch 2 from epoch-002.pt" in output
    assert uninterrupted.wait(timeout=120) == 0, uninterrupted.communicate()[1]
    reference = torch.load(tmp_path / "reference.pt", weights_only=True)
    final = torch.load(tmp_path / "run.pt", weights_only=True)
    assert all(torch.equal(reference[name], final[name]) for name in reference)

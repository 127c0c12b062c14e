"""Unit tests of the pytorch_notes package, bad input included."""

import subprocess
import sys

import pytest
import torch

from pytorch_notes import (available_devices, environment_report, line_data, pick_device,
                           seed_everything, time_op)


def test_seed_everything_makes_runs_repeat():
    import random

    import numpy as np

    seed_everything(7)
    first = (random.random(), np.random.rand(), torch.rand(3))
    seed_everything(7)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])


@pytest.mark.parametrize("seed, error", [(1.5, TypeError), ("1", TypeError), (True, TypeError),
                                         (-1, ValueError), (2**32, ValueError)])
def test_seed_everything_rejects_bad_seeds(seed, error):
    with pytest.raises(error, match="seed"):
        seed_everything(seed)


def test_available_devices_start_with_cpu():
    devices = available_devices()
    assert devices[0] == "cpu" and set(devices) <= {"cpu", "cuda", "mps"}


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert pick_device() == torch.device(expected)


@pytest.mark.parametrize("preferred, error, message", [
    (3, TypeError, "str or None"),
    ("tpu", ValueError, "unknown device"),
    ("cuda:99", ValueError, "cuda"),
])
def test_pick_device_rejects_bad_input(preferred, error, message):
    with pytest.raises(error, match=message):
        pick_device(preferred)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_pick_device_says_when_a_device_is_missing():
    with pytest.raises(ValueError, match="not available here"):
        pick_device("cuda")


def test_line_data_is_deterministic_and_on_the_line():
    x, y = line_data(n=50, slope=3.0, intercept=-1.0, noise=0.0)
    assert x.shape == y.shape == (50, 1) and x.dtype == torch.float32
    assert torch.allclose(y, 3.0 * x - 1.0)
    assert torch.equal(line_data(seed=3)[1], line_data(seed=3)[1])
    assert not torch.equal(line_data(seed=3)[1], line_data(seed=4)[1])


def test_line_data_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    line_data(n=10)
    assert torch.equal(torch.rand(1), expected)


@pytest.mark.parametrize("kwargs, error", [({"n": 1}, ValueError), ({"n": 2.0}, TypeError),
                                           ({"noise": -0.1}, ValueError), ({"seed": "0"}, TypeError)])
def test_line_data_rejects_bad_input(kwargs, error):
    with pytest.raises(error):
        line_data(**kwargs)


def test_time_op_returns_the_time_of_one_call_and_calls_warmup_plus_repeats_times():
    import time

    calls = []
    seconds = time_op(lambda: calls.append(time.sleep(0.01)), device="cpu", repeats=3, warmup=2)
    assert seconds >= 0.01 and len(calls) == 5  # sleep lasts at least 10 ms: a bound that cannot flake


@pytest.mark.parametrize("kwargs, error", [({"fn": 3}, TypeError), ({"repeats": 0}, ValueError),
                                           ({"warmup": -1}, ValueError)])
def test_time_op_rejects_bad_input(kwargs, error):
    with pytest.raises(error):
        time_op(**{"fn": lambda: None, **kwargs})


def test_environment_report_runs_a_tiny_op_on_every_device():
    report = environment_report()
    assert report["torch"] == torch.__version__
    assert all(report[f"tiny op on {device}"] == "ok" for device in available_devices())


def test_python_dash_m_prints_the_report():
    result = subprocess.run([sys.executable, "-m", "pytorch_notes"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "torch" in result.stdout and "tiny op on cpu : ok" in result.stdout


def test_expect_error_catches_prints_and_keeps_the_error(capsys):
    from pytorch_notes import expect_error

    with expect_error(RuntimeError, "2 elements") as caught:
        torch.ones(2).item()
    assert isinstance(caught.error, RuntimeError)
    assert capsys.readouterr().out.startswith("RuntimeError: a Tensor with 2 elements")


def test_expect_error_fails_when_nothing_or_the_wrong_message_is_raised():
    from pytorch_notes import expect_error

    with pytest.raises(AssertionError, match="nothing was raised"):
        with expect_error(ValueError):
            pass
    with pytest.raises(AssertionError, match="expected 'shape'"):
        with expect_error(ValueError, "shape"):
            raise ValueError("dtype mismatch")
    with pytest.raises(KeyError):  # other exceptions pass through
        with expect_error(ValueError):
            raise KeyError("x")


@pytest.mark.parametrize("args", [(ValueError(),), (int,), (ValueError, 3)])
def test_expect_error_rejects_bad_input(args):
    from pytorch_notes import expect_error

    with pytest.raises(TypeError):
        expect_error(*args)


def test_models_give_logits_and_explain_a_wrong_shape():
    from pytorch_notes.models import LeNet, Moli

    torch.manual_seed(0)
    assert Moli()(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert LeNet(num_classes=3)(torch.rand(5, 1, 28, 28)).shape == (5, 3)
    assert sum(p.numel() for p in LeNet().parameters()) == 61_706
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\).*unsqueeze"):
        Moli()(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        LeNet()(torch.rand(1, 1, 32, 32))
    with pytest.raises(TypeError, match="tensor"):
        LeNet()([[0.0]])
    with pytest.raises(ValueError, match="num_classes"):
        Moli(num_classes=1)


def test_logs_read_back_what_a_summary_writer_wrote(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from pytorch_notes.logs import read_images, read_scalars

    with SummaryWriter(tmp_path) as writer:
        for step in range(3):
            writer.add_scalar("loss", 1 / (step + 1), step)
        writer.add_images("batch", torch.rand(4, 3, 8, 8), 0)
        writer.add_image("one", torch.rand(3, 5, 7), 2)
    assert read_scalars(tmp_path) == {"loss": [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]}
    images = read_images(tmp_path)
    assert images["one"] == [(2, (5, 7))] and images["batch"][0][0] == 0


def test_logs_reject_a_folder_without_events(tmp_path):
    from pytorch_notes.logs import read_scalars

    with pytest.raises(FileNotFoundError, match="no TensorBoard event files"):
        read_scalars(tmp_path)
    with pytest.raises(TypeError, match="logdir"):
        read_scalars(3)


def test_show_images_draws_a_grid_and_checks_its_input():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pytorch_notes.plots import show_images

    figure = show_images(torch.rand(10, 3, 8, 8), titles=[str(i) for i in range(10)], ncols=4)
    assert len(figure.axes) == 12 and figure.axes[0].get_title() == "0"
    plt.close(figure)
    for bad, error in [(torch.rand(3, 8, 8), ValueError), (torch.rand(2, 3, 8, 8) * 3, ValueError),
                       (torch.rand(2, 2, 8, 8), ValueError), ([0.5], TypeError)]:
        with pytest.raises(error):
            show_images(bad)
    with pytest.raises(ValueError, match="titles"):
        show_images(torch.rand(2, 1, 4, 4), titles=["a"])


def test_vgg16_falls_back_to_random_init_offline(capsys, monkeypatch, tmp_path):
    from pytorch_notes.models import vgg16

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached weights either
    model = vgg16(pretrained=True, root=tmp_path)  # nothing there, and the download is refused offline
    assert "ImageNet weights unavailable" in capsys.readouterr().out
    assert sum(p.numel() for p in model.parameters()) == 138_357_544
    assert model.classifier[6].out_features == 1000 and model.pretrained is False
    with pytest.raises(TypeError, match="pretrained"):
        vgg16(pretrained="yes")


def test_vgg16_reads_the_weights_under_the_data_root(monkeypatch, tmp_path, capsys):
    """Where `python -m pytorch_notes data` puts them; a small model stands in for the 528 MB file."""
    import torchvision

    from pytorch_notes.models import VGG16_FILE, vgg16

    monkeypatch.setattr(torchvision.models, "vgg16", lambda weights: torch.nn.Linear(3, 2))
    (tmp_path / "weights").mkdir()
    saved = torch.nn.Linear(3, 2).state_dict()
    torch.save(saved, tmp_path / "weights" / VGG16_FILE)
    model = vgg16(root=tmp_path)
    assert model.pretrained is True and capsys.readouterr().out == ""
    assert all(torch.equal(model.state_dict()[name], value) for name, value in saved.items())
    (tmp_path / "weights" / VGG16_FILE).write_bytes(b"half a download")
    with pytest.raises(ValueError, match="python -m pytorch_notes data"):
        vgg16(root=tmp_path)


def test_gaussian_ring_puts_points_around_each_mode():
    from pytorch_notes.data import gaussian_ring

    points, mode = gaussian_ring(n=800, modes=8, radius=2.0, std=0.05, seed=1)
    assert points.shape == (800, 2) and mode.shape == (800,)
    assert torch.equal(points, gaussian_ring(n=800, modes=8, radius=2.0, std=0.05, seed=1)[0])
    assert set(mode.tolist()) == set(range(8))
    assert torch.allclose(points.norm(dim=1), torch.full((800,), 2.0), atol=0.25)
    with pytest.raises(ValueError, match="modes"):
        gaussian_ring(modes=0)
    with pytest.raises(TypeError, match="n must be an int"):
        gaussian_ring(n=10.0)


def test_training_step_functions_never_read_tensor_values():
    """A value check (.item(), bool(t), t.min() < 0) makes a GPU wait on every step; count such reads on the CPU.

    Every read of a tensor's value by the host goes through aten._local_scalar_dense, so a dispatch
    mode sees it on any device.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    from pytorch_notes.attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
    from pytorch_notes.decoding import apply_repetition_penalty, sample_next, top_p_filter
    from pytorch_notes.diffusion import DDPMSchedule, ddpm_loss
    from pytorch_notes.losses import clip_loss, focal_loss, info_nce, nt_xent, smoothed_cross_entropy
    from pytorch_notes.positional import apply_rope
    from pytorch_notes.vae import vae_loss

    class HostReads(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.count += func is torch.ops.aten._local_scalar_dense.default
            return func(*args, **(kwargs or {}))

    torch.manual_seed(0)
    x, mask = torch.randn(2, 4, 8), causal_mask(4)
    logits, targets = torch.randn(8, 5), torch.randint(5, (8,))
    a, b = torch.randn(6, 4), torch.randn(6, 4)
    schedule, net = DDPMSchedule(10), torch.nn.Linear(4, 4)
    steps = {
        "attention": lambda: scaled_dot_product_attention(x, x, x, mask),
        "multi-head": lambda: MultiHeadAttention(8, 2)(x, x, x, mask),
        "focal": lambda: focal_loss(logits, targets, alpha=torch.ones(5)),
        "smoothed": lambda: smoothed_cross_entropy(logits, targets, 0.1),
        "contrastive": lambda: (info_nce(a, b), nt_xent(a, b), clip_loss(a, b, torch.tensor(14.0))),
        "q_sample": lambda: schedule.q_sample(a, torch.randint(1, 11, (6,))),
        "ddpm_loss": lambda: ddpm_loss(lambda x_t, t: net(x_t), schedule, a),
        "vae": lambda: vae_loss(a, torch.rand(6, 4), b, b),
        "rope": lambda: apply_rope(x, torch.arange(4)),
        "decoding": lambda: sample_next(top_p_filter(apply_repetition_penalty(logits, targets[:, None], 1.3), 0.9)),
    }
    for name, step in steps.items():
        with HostReads() as reads:
            step()
        assert reads.count == 0, name

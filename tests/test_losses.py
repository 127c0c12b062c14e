"""The losses of pytorch_notes.losses agree with PyTorch and with their formulas, and refuse bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from pytorch_notes.losses import clip_loss, focal_loss, info_nce, nt_xent, smoothed_cross_entropy


def batch(n=16, classes=5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, generator=generator, dtype=torch.float64) * 2
    targets = torch.randint(0, classes, (n,), generator=generator)
    return logits, targets


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_focal_with_gamma_zero_is_cross_entropy(reduction):
    logits, targets = batch()
    expected = F.cross_entropy(logits, targets, reduction=reduction)
    assert torch.allclose(focal_loss(logits, targets, gamma=0, reduction=reduction), expected)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_focal_alpha_at_gamma_zero_is_weighted_cross_entropy(reduction):
    logits, targets = batch()
    weight = torch.tensor([0.1, 1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    expected = F.cross_entropy(logits, targets, weight=weight, reduction=reduction)
    assert torch.allclose(focal_loss(logits, targets, gamma=0, alpha=weight, reduction=reduction), expected)
    as_list = focal_loss(logits, targets, gamma=0, alpha=weight.tolist(), reduction=reduction)
    assert torch.allclose(as_list, expected)


def test_focal_matches_the_formula_per_example():
    logits, targets = batch()
    alpha = torch.tensor([0.25, 1.0, 1.0, 0.5, 2.0], dtype=torch.float64)
    p_true = logits.softmax(dim=1)[torch.arange(len(targets)), targets]
    expected = -alpha[targets] * (1 - p_true) ** 2 * p_true.log()
    assert torch.allclose(focal_loss(logits, targets, gamma=2, alpha=alpha, reduction="none"), expected)
    assert torch.allclose(focal_loss(logits, targets, gamma=2, alpha=alpha), expected.sum() / alpha[targets].sum())
    assert torch.allclose(focal_loss(logits, targets, gamma=2), (expected / alpha[targets]).mean())


def test_focal_is_below_cross_entropy_and_keeps_the_gradient_finite():
    logits, targets = batch()
    logits.requires_grad_()
    loss = focal_loss(logits, targets, gamma=2, reduction="none")
    assert (loss <= F.cross_entropy(logits, targets, reduction="none")).all()
    loss.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_focal_easy_example_one_hundred_times_smaller():
    logits = torch.tensor([[math.log(0.9), math.log(0.1)]], dtype=torch.float64)
    targets = torch.tensor([0])
    ratio = focal_loss(logits, targets, gamma=2) / F.cross_entropy(logits, targets)
    assert ratio.item() == pytest.approx(0.01)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3, 1.0])
def test_smoothed_cross_entropy_matches_pytorch(smoothing):
    logits, targets = batch()
    expected = F.cross_entropy(logits, targets, label_smoothing=smoothing)
    assert torch.allclose(smoothed_cross_entropy(logits, targets, smoothing), expected)


def test_smoothed_cross_entropy_is_cross_entropy_against_soft_targets():
    logits, targets = batch()
    smoothing, classes = 0.2, logits.shape[1]
    soft = (1 - smoothing) * F.one_hot(targets, classes) + smoothing / classes
    expected = -(soft * logits.log_softmax(dim=1)).sum(dim=1).mean()
    assert torch.allclose(smoothed_cross_entropy(logits, targets, smoothing), expected)


def test_float32_and_int32_inputs_work():
    logits, targets = batch()
    result = focal_loss(logits.float(), targets.int(), alpha=[1.0] * 5)
    assert result.dtype == torch.float32
    assert smoothed_cross_entropy(logits.float(), targets.int(), 0.1).dtype == torch.float32


@pytest.mark.parametrize("call, error, message", [
    (lambda x, y: focal_loss(x.tolist(), y), TypeError, "logits must be a torch.Tensor"),
    (lambda x, y: focal_loss(x, y.tolist()), TypeError, "targets must be a torch.Tensor"),
    (lambda x, y: focal_loss(x.long(), y), TypeError, "floating-point"),
    (lambda x, y: focal_loss(x, y.double()), TypeError, "targets must be an integer tensor"),
    (lambda x, y: focal_loss(x, y > 0), TypeError, "targets must be an integer tensor"),
    (lambda x, y: focal_loss(x[0], y), ValueError, "shape (N, C)"),
    (lambda x, y: focal_loss(x, y[:3]), ValueError, "targets must have shape (N=16,), got (3,)"),
    (lambda x, y: focal_loss(x, y, gamma="2"), TypeError, "gamma must be a real number"),
    (lambda x, y: focal_loss(x, y, gamma=True), TypeError, "gamma must be a real number"),
    (lambda x, y: focal_loss(x, y, gamma=-1), ValueError, "gamma must be >= 0"),
    (lambda x, y: focal_loss(x, y, alpha="abc"), TypeError, "alpha must be None"),
    (lambda x, y: focal_loss(x, y, alpha=0.25), TypeError, "alpha must be None"),
    (lambda x, y: focal_loss(x, y, alpha=[1.0, 2.0]), ValueError, "alpha must have shape (C=5,), got (2,)"),
    (lambda x, y: focal_loss(x, y, reduction="avg"), ValueError, "reduction must be one of"),
    (lambda x, y: focal_loss(x, y, reduction=None), ValueError, "reduction must be one of"),
    (lambda x, y: smoothed_cross_entropy(x, y, "0.1"), TypeError, "smoothing must be a real number"),
    (lambda x, y: smoothed_cross_entropy(x, y, 1.5), ValueError, "smoothing must be in [0, 1]"),
    (lambda x, y: smoothed_cross_entropy(x, y, -0.1), ValueError, "smoothing must be in [0, 1]"),
    (lambda x, y: smoothed_cross_entropy(x[:, :, None], y, 0.1), ValueError, "shape (N, C)"),
])
def test_bad_input_is_refused_clearly(call, error, message):
    logits, targets = batch()
    with pytest.raises(error) as caught:
        call(logits, targets)
    assert message in str(caught.value)


def test_targets_out_of_range_are_not_read_but_still_fail_on_the_cpu():
    """The range is not checked (reading the targets would wait for a GPU every step); gather refuses it."""
    logits, targets = batch()
    for bad in (targets + 5, targets - 1 - targets):
        for loss in (lambda y: focal_loss(logits, y), lambda y: smoothed_cross_entropy(logits, y, 0.1)):
            with pytest.raises(RuntimeError, match="out of bounds"):
                loss(bad)


# --- Contrastive losses: info_nce, nt_xent, clip_loss ---


def embedding_pair(n=6, dim=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    first = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    return first, first + 0.5 * torch.randn(n, dim, generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_info_nce_is_the_formula_on_cosine_similarities(reduction):
    queries, keys = embedding_pair()
    temperature = 0.2
    sim = F.cosine_similarity(queries[:, None], keys[None], dim=2) / temperature
    per_row = -(sim.diagonal() - sim.logsumexp(dim=1))
    expected = {"mean": per_row.mean(), "sum": per_row.sum(), "none": per_row}[reduction]
    assert torch.allclose(info_nce(queries, keys, temperature, reduction=reduction), expected)


def test_info_nce_ignores_the_norm_and_reaches_log_n_at_chance():
    queries, keys = embedding_pair()
    assert torch.allclose(info_nce(queries, keys), info_nce(5 * queries, 0.1 * keys))
    same = torch.ones(6, 3, dtype=torch.float64)
    assert info_nce(same, same).item() == pytest.approx(math.log(6))


def test_nt_xent_matches_a_double_loop():
    view1, view2 = embedding_pair(n=5)
    temperature, n = 0.5, 5
    z = F.normalize(torch.cat([view1, view2]), dim=1)
    losses = []
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        denominator = sum(torch.exp(z[i] @ z[k] / temperature) for k in range(2 * n) if k != i)
        losses.append(-torch.log(torch.exp(z[i] @ z[positive] / temperature) / denominator))
    losses = torch.stack(losses)
    assert torch.allclose(nt_xent(view1, view2, temperature, reduction="none"), losses)
    assert torch.allclose(nt_xent(view1, view2, temperature), losses.mean())
    assert torch.allclose(nt_xent(view1, view2, temperature, reduction="sum"), losses.sum())


def test_nt_xent_is_symmetric_in_the_two_views():
    view1, view2 = embedding_pair()
    assert torch.allclose(nt_xent(view1, view2), nt_xent(view2, view1))


def test_clip_loss_is_the_mean_of_both_directions():
    images, texts = embedding_pair()
    expected = (info_nce(images, texts, 1 / 20) + info_nce(texts, images, 1 / 20)) / 2
    assert torch.allclose(clip_loss(images, texts, 20.0), expected)
    assert torch.allclose(clip_loss(images, texts, torch.tensor(20.0, dtype=torch.float64)), expected)
    assert torch.allclose(clip_loss(images, texts, 20.0), clip_loss(texts, images, 20.0))


def test_clip_loss_sends_a_gradient_to_a_learnable_scale():
    images, texts = embedding_pair()
    log_scale = torch.tensor(math.log(1 / 0.07), dtype=torch.float64, requires_grad=True)
    clip_loss(images, texts, log_scale.exp()).backward()
    assert log_scale.grad is not None and torch.isfinite(log_scale.grad) and log_scale.grad != 0


def test_contrastive_losses_work_in_float32_and_backpropagate():
    first, second = (t.float().requires_grad_() for t in embedding_pair())
    for loss in (info_nce(first, second), nt_xent(first, second), clip_loss(first, second, 10)):
        assert loss.dtype == torch.float32 and loss.dim() == 0
    (info_nce(first, second) + nt_xent(first, second)).backward()
    assert torch.isfinite(first.grad).all() and torch.isfinite(second.grad).all()


@pytest.mark.parametrize("call, error, message", [
    (lambda a, b: info_nce(a.tolist(), b), TypeError, "queries must be a torch.Tensor"),
    (lambda a, b: info_nce(a, b.long()), TypeError, "keys must be a floating-point tensor"),
    (lambda a, b: info_nce(a[0], b[0]), ValueError, "queries must have shape (N, D)"),
    (lambda a, b: info_nce(a, b[:4]), ValueError, "must have the same shape"),
    (lambda a, b: info_nce(a[:1], b[:1]), ValueError, "at least 2 pairs"),
    (lambda a, b: info_nce(a, b, temperature=0), ValueError, "temperature must be > 0"),
    (lambda a, b: info_nce(a, b, temperature="0.1"), TypeError, "temperature must be a real number"),
    (lambda a, b: info_nce(a, b, temperature=True), TypeError, "temperature must be a real number"),
    (lambda a, b: info_nce(a, b, reduction="avg"), ValueError, "reduction must be one of"),
    (lambda a, b: info_nce(a, b, reduction=None), ValueError, "reduction must be one of"),
    (lambda a, b: nt_xent(a, b[:, :2]), ValueError, "view1 and view2 must have the same shape"),
    (lambda a, b: nt_xent(a, b, temperature=-0.5), ValueError, "temperature must be > 0"),
    (lambda a, b: nt_xent(a.int(), b), TypeError, "view1 must be a floating-point tensor"),
    (lambda a, b: nt_xent(a, b, reduction="max"), ValueError, "reduction must be one of"),
    (lambda a, b: clip_loss(a, b, 0.0), ValueError, "scale must be > 0"),
    (lambda a, b: clip_loss(a, b, torch.ones(2)), ValueError, "scale must hold one number"),
    (lambda a, b: clip_loss(a, b, torch.tensor(3)), TypeError, "scale must be a floating-point tensor"),
    (lambda a, b: clip_loss(a, b, "10"), TypeError, "scale must be a real number"),
    (lambda a, b: clip_loss(a, b[:3], 10.0), ValueError, "must have the same shape"),
    (lambda a, b: clip_loss(a, b.bool(), 10.0), TypeError, "text_embeddings must be a floating-point tensor"),
])
def test_contrastive_bad_input_is_refused_clearly(call, error, message):
    first, second = embedding_pair()
    with pytest.raises(error) as caught:
        call(first, second)
    assert message in str(caught.value)

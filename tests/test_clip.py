"""CLIP and prompt_ensemble: logits match the formula, the scale is a clamped log, bad input is refused."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_notes.clip import CLIP, prompt_ensemble
from pytorch_notes.losses import clip_loss


def tiny_model(**kwargs):
    torch.manual_seed(0)
    return CLIP(nn.Linear(6, 4), nn.Sequential(nn.EmbeddingBag(10, 4), nn.Linear(4, 4)), **kwargs)


def test_logit_scale_is_a_log_initialised_to_one_over_temperature():
    model = tiny_model()
    assert isinstance(model.logit_scale, nn.Parameter) and model.logit_scale.shape == ()
    assert math.isclose(model.logit_scale.item(), math.log(1 / 0.07), rel_tol=1e-6)
    assert math.isclose(model.logit_scale.exp().item(), 14.2857, rel_tol=1e-4)
    assert math.isclose(tiny_model(temperature=0.5).logit_scale.exp().item(), 2.0, rel_tol=1e-6)


def test_logits_are_scaled_cosines_and_transposes():
    model = tiny_model()
    images, texts = torch.randn(3, 6), torch.randint(10, (5, 7))
    per_image, per_text = model(images, texts)
    assert per_image.shape == (3, 5) and per_text.shape == (5, 3)
    assert torch.equal(per_text, per_image.T)
    expected = model.logit_scale.exp() * F.normalize(model.image_encoder(images), dim=1) @ \
        F.normalize(model.text_encoder(texts), dim=1).T
    assert torch.allclose(per_image, expected)
    assert torch.allclose(model.encode_image(images).norm(dim=1), torch.ones(3))
    assert torch.allclose(model.encode_text(texts).norm(dim=1), torch.ones(5))


def test_clip_loss_on_the_logits_and_gradient_to_the_scale():
    model = tiny_model()
    images, texts = torch.randn(4, 6), torch.randint(10, (4, 7))
    per_image, per_text = model(images, texts)
    targets = torch.arange(4)
    by_hand = (F.cross_entropy(per_image, targets) + F.cross_entropy(per_text, targets)) / 2
    loss = clip_loss(model.image_encoder(images), model.text_encoder(texts), model.logit_scale.exp())
    assert torch.allclose(loss, by_hand)
    loss.backward()
    assert model.logit_scale.grad is not None and model.logit_scale.grad != 0


def test_clamp_keeps_the_scale_between_one_and_max_scale():
    model = tiny_model(max_scale=50.0)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(500.0))
    model.clamp_logit_scale_()
    assert math.isclose(model.logit_scale.exp().item(), 50.0, rel_tol=1e-5)
    with torch.no_grad():
        model.logit_scale.fill_(-2.0)
    model.clamp_logit_scale_()
    assert model.logit_scale.item() == 0.0  # scale 1, temperature 1
    assert model.logit_scale.requires_grad and model.logit_scale.grad is None
    with torch.no_grad():
        model.logit_scale.fill_(1.5)
    model.clamp_logit_scale_()
    assert model.logit_scale.item() == 1.5  # inside the range: untouched


def test_prompt_ensemble_averages_unit_vectors():
    torch.manual_seed(0)
    embeddings = torch.randn(3, 5, 8)
    weights = prompt_ensemble(embeddings)
    assert weights.shape == (5, 8)
    assert torch.allclose(weights.norm(dim=1), torch.ones(5))
    assert torch.allclose(weights, F.normalize(F.normalize(embeddings, dim=-1).sum(dim=0), dim=-1))
    assert torch.allclose(prompt_ensemble(embeddings[:1]), F.normalize(embeddings[0], dim=-1))
    # scaling one template's embeddings changes nothing: each is normalized first
    scaled = embeddings.clone()
    scaled[1] *= 10
    assert torch.allclose(prompt_ensemble(scaled), weights, atol=1e-6)


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match="image_encoder must be an nn.Module"):
        CLIP(lambda x: x, nn.Linear(2, 2))
    with pytest.raises(TypeError, match="text_encoder must be an nn.Module"):
        CLIP(nn.Linear(2, 2), "bert")
    with pytest.raises(ValueError, match="temperature must be > 0"):
        CLIP(nn.Linear(2, 2), nn.Linear(2, 2), temperature=0)
    with pytest.raises(ValueError, match="temperature must be finite"):
        CLIP(nn.Linear(2, 2), nn.Linear(2, 2), temperature=float("inf"))
    with pytest.raises(TypeError, match="temperature must be a real number"):
        CLIP(nn.Linear(2, 2), nn.Linear(2, 2), temperature="0.07")
    with pytest.raises(ValueError, match="max_scale must be > 0"):
        CLIP(nn.Linear(2, 2), nn.Linear(2, 2), max_scale=-1)
    with pytest.raises(ValueError, match="exceeds max_scale"):
        CLIP(nn.Linear(2, 2), nn.Linear(2, 2), temperature=0.001, max_scale=100)
    model = CLIP(nn.Linear(6, 4), nn.Linear(6, 3))
    with pytest.raises(ValueError, match="same D"):
        model(torch.randn(2, 6), torch.randn(2, 6))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        prompt_ensemble([[1.0]])
    with pytest.raises(TypeError, match="floating-point"):
        prompt_ensemble(torch.ones(2, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \(templates, classes, D\)"):
        prompt_ensemble(torch.randn(3, 4))

"""LoRALinear, apply_lora and the adapters: the formulas hold, only the new parts train, bad input is refused."""

import copy
import math
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn

from pytorch_notes.peft import BottleneckAdapter, GatedAdapter, LoRALinear, apply_lora


def trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def with_random_b(layer, seed=0):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=generator, dtype=layer.lora_B.dtype))
    return layer


def test_shapes_scaling_and_freezing():
    base = nn.Linear(12, 7)
    layer = LoRALinear(base, r=3, alpha=6)
    assert layer.base is base
    assert layer.lora_A.shape == (3, 12) and layer.lora_B.shape == (7, 3)
    assert layer.scaling == 2.0 and layer.r == 3 and layer.alpha == 6.0
    assert (layer.in_features, layer.out_features) == (12, 7)
    assert not base.weight.requires_grad and not base.bias.requires_grad
    assert [name for name, p in layer.named_parameters() if p.requires_grad] == ["lora_A", "lora_B"]
    assert torch.equal(layer.lora_B, torch.zeros(7, 3))
    assert layer.lora_A.abs().max() <= 1 / math.sqrt(12)
    assert layer.lora_A.abs().sum() > 0


def test_equals_base_at_init_exactly():
    torch.manual_seed(0)
    base = nn.Linear(10, 4)
    x = torch.randn(5, 10)
    assert torch.equal(LoRALinear(base, r=2, alpha=4)(x), base(x))


def test_forward_matches_formula_and_extra_batch_dims():
    torch.manual_seed(0)
    layer = with_random_b(LoRALinear(nn.Linear(10, 4, dtype=torch.float64), r=2, alpha=5))
    x = torch.randn(3, 6, 10, dtype=torch.float64)
    w = layer.base.weight + (5 / 2) * layer.lora_B @ layer.lora_A
    assert torch.allclose(layer.delta_weight(), (5 / 2) * layer.lora_B @ layer.lora_A)
    assert torch.allclose(layer(x), x @ w.T + layer.base.bias)
    assert layer(x).shape == (3, 6, 4)


def test_parameter_counts():
    layer = LoRALinear(nn.Linear(512, 512), r=8, alpha=16)
    assert trainable(layer) == 8 * (512 + 512) == 8192
    assert sum(p.numel() for p in layer.parameters() if not p.requires_grad) == 512 * 512 + 512


def test_scaling_halves_when_r_doubles():
    base = nn.Linear(8, 8)
    assert LoRALinear(base, r=4, alpha=16).scaling == 2 * LoRALinear(base, r=8, alpha=16).scaling


def test_training_changes_only_a_and_b_and_keeps_low_rank():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(16, 16), r=2, alpha=4)
    w0, b0 = layer.base.weight.clone(), layer.base.bias.clone()
    x, target = torch.randn(64, 16), torch.randn(64, 16)
    optimizer = torch.optim.SGD([p for p in layer.parameters() if p.requires_grad], lr=0.1)
    losses = []
    for _ in range(20):
        loss = ((layer(x) - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert torch.equal(layer.base.weight, w0) and torch.equal(layer.base.bias, b0)
    assert layer.base.weight.grad is None
    assert torch.linalg.matrix_rank(layer.delta_weight().detach()) <= 2


def test_merge_gives_same_outputs_and_a_plain_linear():
    torch.manual_seed(0)
    layer = with_random_b(LoRALinear(nn.Linear(9, 5), r=3, alpha=3, dropout=0.5))
    layer.eval()
    weight_before, b_before = layer.base.weight.clone(), layer.lora_B.clone()
    merged = layer.merge()
    assert type(merged) is nn.Linear
    assert merged.weight.shape == (5, 9) and merged.bias is not layer.base.bias
    x = torch.randn(4, 9)
    with torch.no_grad():
        assert torch.allclose(merged(x), layer(x), atol=1e-6)
    assert torch.equal(layer.base.weight, weight_before) and torch.equal(layer.lora_B, b_before)  # untouched


def test_merge_without_bias_and_in_float64():
    layer = with_random_b(LoRALinear(nn.Linear(6, 3, bias=False, dtype=torch.float64), r=1, alpha=1))
    merged = layer.merge()
    assert merged.bias is None and merged.weight.dtype == torch.float64
    x = torch.randn(2, 6, dtype=torch.float64)
    assert torch.allclose(merged(x), layer(x))


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    layer = with_random_b(LoRALinear(nn.Linear(32, 8), r=4, alpha=4, dropout=0.5))
    x = torch.randn(16, 32)
    layer.train()
    assert not torch.allclose(layer(x), layer(x))  # two different dropout masks
    layer.eval()
    assert torch.equal(layer(x), layer(x))
    assert torch.allclose(layer(x), x @ (layer.base.weight + layer.delta_weight()).T + layer.base.bias, atol=1e-5)


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(fc1=nn.Linear(20, 64), act=nn.ReLU(), fc2=nn.Linear(64, 3)))


def test_apply_lora_wraps_targets_and_freezes_the_rest():
    model = mlp()
    x = torch.randn(4, 20)
    before = model(x)
    returned = apply_lora(model, ["fc1"], r=4, alpha=8)
    assert returned is model
    assert isinstance(model.fc1, LoRALinear) and type(model.fc2) is nn.Linear
    assert trainable(model) == 4 * (20 + 64)
    assert not model.fc2.weight.requires_grad
    assert torch.equal(model(x), before)


def test_apply_lora_matches_suffix_and_single_string():
    outer = nn.Module()
    outer.encoder = mlp()
    apply_lora(outer, "fc2", r=2, alpha=2)
    assert isinstance(outer.encoder.fc2, LoRALinear)
    assert trainable(outer) == 2 * (64 + 3)


@pytest.mark.parametrize("base", [nn.Conv2d(1, 1, 3), "linear", None])
def test_lora_linear_rejects_non_linear_base(base):
    with pytest.raises(TypeError, match="nn.Linear"):
        LoRALinear(base)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"r": 2.0}, TypeError, "r must be an int"),
    ({"r": True}, TypeError, "r must be an int"),
    ({"r": 0}, ValueError, "r must be >= 1"),
    ({"r": -1}, ValueError, "r must be >= 1"),
    ({"alpha": "16"}, TypeError, "alpha must be a real number"),
    ({"alpha": 0}, ValueError, "alpha must be > 0"),
    ({"alpha": float("inf")}, ValueError, "alpha must be finite"),
    ({"dropout": None}, TypeError, "dropout must be a real number"),
    ({"dropout": 1.0}, ValueError, "dropout must be in"),
    ({"dropout": -0.1}, ValueError, "dropout must be in"),
])
def test_lora_linear_rejects_bad_hyperparameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        LoRALinear(nn.Linear(4, 4), **kwargs)


@pytest.mark.parametrize("model, names, error, match", [
    ("not a model", ["fc1"], TypeError, "nn.Module"),
    (None, ["fc1"], TypeError, "nn.Module"),
    ("mlp", [], ValueError, "at least one"),
    ("mlp", [3], TypeError, "a target name must be a str"),
    ("mlp", [""], ValueError, "no name may be empty"),
    ("mlp", ["fc9"], ValueError, "no submodule named 'fc9'"),
    ("mlp", ["act"], TypeError, "not an nn.Linear"),
])
def test_apply_lora_rejects_bad_input(model, names, error, match):
    model = mlp() if model == "mlp" else model
    snapshot = copy.deepcopy(model)
    with pytest.raises(error, match=match):
        apply_lora(model, names)
    if isinstance(model, nn.Module):  # refused before anything changed
        assert str(model) == str(snapshot) and trainable(model) == trainable(snapshot)


def test_apply_lora_rejects_bad_hyperparameters_before_changing_the_model():
    with pytest.raises(ValueError, match="r must be >= 1"):
        apply_lora(mlp(), ["fc1"], r=0)
    model = mlp()
    with pytest.raises(ValueError, match="dropout must be in"):
        apply_lora(model, ["fc1"], dropout=1.0)
    assert type(model.fc1) is nn.Linear and all(p.requires_grad for p in model.parameters())


def test_bottleneck_adapter_starts_as_the_identity_and_counts_its_parameters():
    torch.manual_seed(0)
    adapter = BottleneckAdapter(16, 4)
    h = torch.randn(3, 16)
    assert torch.equal(adapter(h), h)
    assert sum(p.numel() for p in adapter.parameters()) == 2 * 16 * 4 + 16 + 4
    adapter(h).pow(2).sum().backward()
    assert adapter.up.weight.grad.abs().sum() > 0 and adapter.down.weight.grad.abs().sum() == 0


def test_gated_adapter_starts_as_the_frozen_sublayer_and_trains_its_gate():
    torch.manual_seed(0)
    sublayer = nn.Linear(8, 8)
    gated = GatedAdapter(sublayer, dim=8, bottleneck=2)
    x = torch.randn(5, 8)
    assert torch.equal(gated(x), sublayer(x))
    assert not sublayer.weight.requires_grad
    gated(x).pow(2).sum().backward()
    assert gated.gate.grad != 0 and gated.up.weight.grad.abs().sum() == 0


@pytest.mark.parametrize("kwargs, error, match", [
    ({"dim": 8.0, "bottleneck": 2}, TypeError, "dim must be an int"),
    ({"dim": 8, "bottleneck": 0}, ValueError, "bottleneck must be >= 1"),
    ({"dim": 8, "bottleneck": 2, "activation": torch.relu}, TypeError, "activation must be an nn.Module"),
])
def test_adapters_refuse_bad_sizes(kwargs, error, match):
    with pytest.raises(error, match=match):
        BottleneckAdapter(**kwargs)
    with pytest.raises(error, match=match):
        GatedAdapter(nn.Identity(), **kwargs)
    with pytest.raises(TypeError, match="sublayer must be an nn.Module"):
        GatedAdapter(lambda x: x, dim=8, bottleneck=2)


def test_lora_linear_on_an_nf4_base_trains_only_a_and_b_and_merges():
    from pytorch_notes.quantization import NF4Linear

    torch.manual_seed(0)
    base = NF4Linear(nn.Linear(64, 8))
    codes = base.codes.clone()
    layer = with_random_b(LoRALinear(base, r=2, alpha=4))
    x = torch.randn(5, 64)
    assert torch.allclose(layer(x), x @ (base.weight + layer.delta_weight()).T + base.bias, atol=1e-5)
    layer(x).pow(2).sum().backward()
    assert [name for name, p in layer.named_parameters() if p.grad is not None] == ["lora_A", "lora_B"]
    merged = layer.merge()
    assert type(merged) is nn.Linear and torch.allclose(merged(x), layer(x), atol=1e-5)
    assert torch.equal(base.codes, codes)


def test_apply_lora_wraps_nf4_layers():
    from pytorch_notes.quantization import NF4Linear

    model = nn.Sequential(OrderedDict(fc1=NF4Linear(nn.Linear(64, 64)), act=nn.ReLU(), fc2=nn.Linear(64, 3)))
    apply_lora(model, ["fc1", "fc2"], r=2, alpha=4)
    assert isinstance(model.fc1, LoRALinear) and isinstance(model.fc1.base, NF4Linear)
    assert trainable(model) == 2 * (64 + 64) + 2 * (64 + 3)

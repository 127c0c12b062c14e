# %% [markdown]
# # Adapters
# Book page: peft/adapters

# %%
# --8<-- [start:by_hand]
import torch
import torch.nn as nn

torch.manual_seed(0)
dim, bottleneck = 16, 4
down = nn.Linear(dim, bottleneck)  # 16 -> 4: squeeze
up = nn.Linear(bottleneck, dim)  # 4 -> 16: expand back
nn.init.zeros_(up.weight)
nn.init.zeros_(up.bias)


def adapter(h):
    # the residual keeps h; the bottleneck learns a correction
    return h + up(torch.relu(down(h)))


h = torch.randn(5, dim)  # the output of a frozen layer
assert torch.equal(adapter(h), h)  # up = 0: a new adapter is the identity
n_params = sum(p.numel() for p in [*down.parameters(), *up.parameters()])
assert n_params == 2 * dim * bottleneck + dim + bottleneck == 148
# At BERT-base size (d = 768, m = 64): about 99 000, against ~7 million a layer.
big_adapter = nn.Sequential(nn.Linear(768, 64), nn.Linear(64, 768))
bert_layer = nn.TransformerEncoderLayer(768, nhead=12, dim_feedforward=3072)
assert round(sum(p.numel() for p in big_adapter.parameters()), -3) == 99_000
assert round(sum(p.numel() for p in bert_layer.parameters()), -5) == 7_100_000

# At the first step only `up` gets a gradient (down's gradient passes through up
# = 0), the same as B and A in LoRA; after one step both train.
adapter(h).pow(2).sum().backward()
assert up.weight.grad.abs().sum() > 0 and down.weight.grad.abs().sum() == 0
print(
    "parameters:",
    n_params,
    "| grad of up:",
    round(up.weight.grad.abs().sum().item(), 2),
    "| grad of down:",
    down.weight.grad.abs().sum().item(),
)
# --8<-- [end:by_hand]

# %%
# --8<-- [start:package]
from pytorch_notes.peft import BottleneckAdapter

packaged = BottleneckAdapter(dim, bottleneck)
assert torch.equal(packaged(h), h)
torch.manual_seed(1)
with torch.no_grad():  # give both the same nonzero weights: same function
    for layer in (down, up):
        layer.weight.normal_(std=0.3)
    packaged.down.load_state_dict(down.state_dict())
    packaged.up.load_state_dict(up.state_dict())
assert torch.allclose(packaged(h), adapter(h))
assert not torch.allclose(packaged(h), h)
print(packaged)
# --8<-- [end:package]

# %%
# --8<-- [start:serial]
import copy

torch.manual_seed(0)
# a "pretrained" block
pretrained = nn.Sequential(nn.Linear(dim, 64), nn.ReLU(), nn.Linear(64, dim))
x = torch.randn(256, dim)


def count(model, trainable):
    return sum(
        p.numel() for p in model.parameters() if p.requires_grad == trainable
    )


frozen = copy.deepcopy(pretrained).requires_grad_(False)
# block, then adapter
serial = nn.Sequential(frozen, BottleneckAdapter(dim, bottleneck))
# inserted, and nothing changed yet
assert torch.equal(serial(x), pretrained(x))
assert count(serial, trainable=True) == 148
assert (
    count(serial, trainable=False) == count(pretrained, trainable=True) == 2_128
)
print(
    f"serial adapter: {count(serial, True)} trainable, "
    f"{count(serial, False)} frozen"
)
# --8<-- [end:serial]

# %%
# --8<-- [start:gated]
from pytorch_notes.peft import GatedAdapter

torch.manual_seed(0)
gated = GatedAdapter(copy.deepcopy(pretrained), dim=dim, bottleneck=bottleneck)
# tanh(0) = 0: exactly the frozen block
assert torch.equal(gated(x), pretrained(x))
# up is random here, unlike the serial adapter
assert gated.up.weight.abs().sum() > 0
assert count(gated, trainable=True) == 148 + 1  # the same adapter plus one gate

gated(x).pow(2).mean().backward()
assert gated.gate.grad != 0  # the gate gets a gradient at once ...
# ... the branch only after the gate opens
assert gated.up.weight.grad.abs().sum() == 0

# Why up is not zero here: with gate = 0 AND up = 0, every gradient is zero
# forever.
stuck = GatedAdapter(copy.deepcopy(pretrained), dim=dim, bottleneck=bottleneck)
nn.init.zeros_(stuck.up.weight)
nn.init.zeros_(stuck.up.bias)
stuck(x).pow(2).mean().backward()
assert all(
    p.grad.abs().sum() == 0 for p in stuck.parameters() if p.requires_grad
)
print(
    "gate grad:",
    f"{gated.gate.grad.item():.4f}",
    "| with up = 0 too, every grad is 0",
)
# --8<-- [end:gated]

# %%
# --8<-- [start:train]
import torch.nn.functional as F

from pytorch_notes.peft import LoRALinear

torch.manual_seed(0)
# the new task: a small nonlinear change
shift = torch.randn(dim, 8) / 4, torch.randn(8, dim) / 3
with torch.no_grad():
    targets = pretrained(x) + torch.tanh(x @ shift[0]) @ shift[1]


def fine_tune(model, steps=300, lr=0.01):
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=lr
    )
    losses = []
    for _ in range(steps):
        loss = F.mse_loss(model(x), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


torch.manual_seed(0)
lora = copy.deepcopy(pretrained).requires_grad_(False)
lora[0], lora[2] = (
    LoRALinear(lora[0], r=2, alpha=4),
    LoRALinear(lora[2], r=2, alpha=4),
)
full = copy.deepcopy(pretrained)
models = {
    "serial adapter": serial,
    "gated adapter": gated,
    "LoRA r=2": lora,
    "full fine-tuning": full,
}
frozen_before = frozen[0].weight.clone()
curves = {name: fine_tune(model) for name, model in models.items()}

final = {name: losses[-1] for name, losses in curves.items()}
for name, losses in curves.items():
    # every method learns a good part of the change
    assert losses[-1] < 0.6 * losses[0], name
    print(f"{name:17s} loss {losses[0]:.4f} -> {losses[-1]:.4f}")
assert final["full fine-tuning"] < min(
    final["gated adapter"], final["LoRA r=2"], final["serial adapter"]
)
# it sees x; the serial one only sees f(x)
assert final["gated adapter"] < 0.5 * final["serial adapter"]
# the pretrained block did not move
assert torch.equal(frozen[0].weight, frozen_before)
assert abs(torch.tanh(gated.gate)) > 0.5  # the gate opened wide

# The gated adapter's lead over the serial one, from other initial weights:
for seed in (1, 2):
    torch.manual_seed(seed)
    other_serial = nn.Sequential(
        copy.deepcopy(frozen), BottleneckAdapter(dim, bottleneck)
    )
    other_gated = GatedAdapter(copy.deepcopy(pretrained), dim, bottleneck)
    serial_loss = fine_tune(other_serial)[-1]
    gated_loss = fine_tune(other_gated)[-1]
    assert gated_loss < 0.5 * serial_loss
    assert abs(torch.tanh(other_gated.gate)) > 0.5
# --8<-- [end:train]

# %%
# --8<-- [start:compare]
from torch.utils.flop_counter import FlopCounterMode


def flops(model):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


merged = copy.deepcopy(lora)
merged[0], merged[2] = lora[0].merge(), lora[2].merge()
with torch.no_grad():
    assert torch.allclose(merged(x), lora(x), atol=1e-5)

base_flops = flops(pretrained)
rows = [
    (
        "full fine-tuning",
        count(full, True),
        flops(full),
        "yes: it is the model",
    ),
    (
        "LoRA r=2, merged",
        count(lora, True),
        flops(merged),
        "yes: W0 + (alpha/r) BA",
    ),
    (
        "serial adapter",
        count(serial, True),
        flops(serial),
        "no: ReLU between down and up",
    ),
    ("gated adapter", count(gated, True), flops(gated), "no"),
]
assert rows[1][2] == base_flops  # merged LoRA costs exactly the base model
# adapters stay in the forward pass
assert rows[2][2] > base_flops and rows[3][2] > base_flops
# two small matmuls per input
assert rows[2][2] - base_flops == 2 * len(x) * 2 * dim * bottleneck
assert round((rows[2][2] - base_flops) / base_flops, 2) == 0.06  # ~6 % more
print(
    f"{'method':18s} {'trainable':>9s} {'inference FLOPs':>15s}  "
    "merge into the base?"
)
for name, trainable, cost, mergeable in rows:
    print(f"{name:18s} {trainable:9,d} {cost:15,d}  {mergeable}")
# --8<-- [end:compare]

# %%
# --8<-- [start:plot]
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6.5, 3.6))
for name, losses in curves.items():
    ax.semilogy(
        losses, label=f"{name} ({count(models[name], True):,} trainable)"
    )
ax.set_xlabel("step")
ax.set_ylabel("MSE loss")
ax.set_title("Fine-tuning a frozen block on a new task")
ax.legend()
fig.tight_layout()
# --8<-- [end:plot]

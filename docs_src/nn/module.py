# %% [markdown]
# # A minimal nn.Module: subclass, register, call
# Book page: nn/module

# %%
# --8<-- [start:minimal]
import torch
import torch.nn as nn
from pytorch_notes import expect_error


class AddOne(nn.Module):
    def __init__(self):
        # sets up the registries for parameters, buffers, submodules, hooks
        super().__init__()

    def forward(self, x):
        return x + 1


add_one = AddOne()
x = torch.tensor(1.0)
out = add_one(x)
assert out.item() == 2.0
assert isinstance(add_one, nn.Module)
print("add_one(1.0) =", out)


class Forgetful(nn.Module):
    def __init__(self):
        # no super().__init__() here
        self.linear = nn.Linear(2, 2)


with expect_error(AttributeError, "before Module.__init__() call"):
    Forgetful()
# --8<-- [end:minimal]

# %%
# --8<-- [start:call]
torch.manual_seed(0)


class TinyNet(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.hidden = nn.Linear(n_in, n_hidden)
        self.head = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.head(torch.relu(self.hidden(x)))


model = TinyNet(4, 8, 2)
inputs = torch.randn(3, 4)
calls = []
handle = model.register_forward_hook(
    lambda module, args, output: calls.append(output.shape)
)

through_call = model(inputs)  # nn.Module.__call__: pre-hooks, forward, hooks
assert calls == [torch.Size([3, 2])]

direct = model.forward(inputs)  # forward alone: the hook is skipped
assert calls == [torch.Size([3, 2])]  # still one call
assert torch.equal(through_call, direct)  # same numbers, only the hooks differ
handle.remove()
print("hook calls after model(x) and model.forward(x):", len(calls))
# --8<-- [end:call]


# %%
# --8<-- [start:register]
class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))  # learnable: a parameter
        self.offset = torch.tensor(0.5)  # a plain tensor: NOT registered
        # state, but not learnable
        self.register_buffer("calls", torch.tensor(0))

    def forward(self, x):
        self.calls += 1
        return self.scale * x + self.offset


scaled = Scaled()
parameter_names = [name for name, _ in scaled.named_parameters()]
assert parameter_names == ["scale"]  # offset is invisible, calls is a buffer
assert [name for name, _ in scaled.named_buffers()] == ["calls"]
# saved: parameters and buffers
assert list(scaled.state_dict()) == ["scale", "calls"]
scaled(torch.ones(3))
scaled(torch.ones(3))
assert scaled.calls.item() == 2 and scaled.state_dict()["calls"].item() == 2

# .to() converts registered tensors only: the plain attribute is left behind.
scaled.to(torch.float64)
assert scaled.scale.dtype == torch.float64
assert scaled.offset.dtype == torch.float32
print("parameters:", parameter_names)
print("state_dict keys:", list(scaled.state_dict()))
print(
    "after .to(float64): scale",
    scaled.scale.dtype,
    "| offset",
    scaled.offset.dtype,
)
# --8<-- [end:register]

# %%
# --8<-- [start:count]
for name, parameter in model.named_parameters():
    print(f"{name:12s} {tuple(parameter.shape)}")

n_parameters = sum(p.numel() for p in model.parameters())
assert model.hidden.weight.shape == (8, 4)  # (n_out, n_in)
assert model.hidden.bias.shape == (8,)
assert n_parameters == (4 * 8 + 8) + (8 * 2 + 2)  # weight + bias of each Linear
assert [name for name, _ in model.named_parameters()] == [
    "hidden.weight",
    "hidden.bias",
    "head.weight",
    "head.bias",
]
assert [name for name, _ in model.named_children()] == ["hidden", "head"]

model.hidden.requires_grad_(False)  # freeze the first layer
n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
assert n_trainable == 8 * 2 + 2
model.hidden.requires_grad_(True)
print(
    f"{n_parameters} parameters, {n_trainable} trainable with 'hidden' frozen"
)
# --8<-- [end:count]


# %%
# --8<-- [start:modulelist]
class Stack(nn.Module):
    def __init__(self, width, depth, use_module_list):
        super().__init__()
        layers = [nn.Linear(width, width) for _ in range(depth)]
        self.layers = nn.ModuleList(layers) if use_module_list else layers

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x))
        return x


def count(module):
    return sum(p.numel() for p in module.parameters())


torch.manual_seed(0)
hidden_list = Stack(width=4, depth=3, use_module_list=False)
module_list = Stack(width=4, depth=3, use_module_list=True)
assert count(module_list) == 3 * (4 * 4 + 4)
# the layers exist and run, but the module cannot see them
assert count(hidden_list) == 0
assert hidden_list(torch.randn(2, 4)).shape == (2, 4)
assert len(hidden_list.state_dict()) == 0 and len(module_list.state_dict()) == 6
assert list(module_list.state_dict())[:2] == [
    "layers.0.weight",
    "layers.0.bias",
]
hidden_list.to(torch.float64)  # .to() cannot reach the hidden layers either
assert hidden_list.layers[0].weight.dtype == torch.float32
module_list.to(torch.float64)
assert module_list.layers[0].weight.dtype == torch.float64

# The same for dictionaries: a plain dict hides its modules, nn.ModuleDict
# registers them.
holder = nn.Module()
holder.plain = {"a": nn.Linear(4, 4)}
holder.registered = nn.ModuleDict({"b": nn.Linear(4, 4)})
assert [name for name, _ in holder.named_parameters()] == [
    "registered.b.weight",
    "registered.b.bias",
]
print(
    "plain list:",
    count(hidden_list),
    "parameters | nn.ModuleList:",
    count(module_list),
)
# --8<-- [end:modulelist]

# %%
# --8<-- [start:modes]
torch.manual_seed(0)
net = nn.Sequential(
    nn.Linear(4, 16), nn.ReLU(), nn.Dropout(p=0.5), nn.Linear(16, 2)
)
batch = torch.randn(8, 4)

# a new module trains
assert net.training and all(m.training for m in net.modules())
net.eval()
assert not any(m.training for m in net.modules())  # eval() reached every child
# dropout is off: same output every time
assert torch.equal(net(batch), net(batch))
# eval() is not no_grad(): autograd still records
assert net(batch).requires_grad

net.train()
assert all(m.training for m in net.modules())
# dropout draws a new mask each call
assert not torch.equal(net(batch), net(batch))

net[2].eval()  # a single child can be switched on its own
assert net.training and not net[2].training
print("modes after net[2].eval():", [m.training for m in net])
# --8<-- [end:modes]

# %% [markdown]
# # 04 Computational graph: grad_fn, leaves, retain_graph, detach, a graph built
# at run time Book page: autograd/computational-graph

# %%
# --8<-- [start:grad-fn]
import torch

a = torch.tensor(1.0, requires_grad=True)
b = torch.tensor(3.0, requires_grad=True)
c = a * b
d = c + a
loss = d**2

for name, t in [("a", a), ("b", b), ("c", c), ("d", d), ("loss", loss)]:
    print(f"{name:>4}: grad_fn = {t.grad_fn.name() if t.grad_fn else None}")
# made by us, not by an operation
assert a.grad_fn is None and b.grad_fn is None
assert c.grad_fn.name() == "MulBackward0"
assert d.grad_fn.name() == "AddBackward0"
assert loss.grad_fn.name() == "PowBackward0"
# --8<-- [end:grad-fn]

# %%
# --8<-- [start:overloads]
squared = a**2  # tensor ** number
powered = a ** torch.tensor(2.0)  # tensor ** tensor
exponential = 2**a  # number ** tensor
node_names = [t.grad_fn.name() for t in (squared, powered, exponential)]
assert node_names == ["PowBackward0", "PowBackward1", "PowBackward2"]
print(node_names)
# --8<-- [end:overloads]


# %%
# --8<-- [start:walk]
def graph_lines(fn, names, depth=0):
    """The backward graph below grad_fn `fn`, one indented line per node."""
    label = type(fn).__name__
    if label == "AccumulateGrad":  # the node that writes a leaf's .grad
        label += f" ({names[id(fn.variable)]})"
    lines = ["    " * depth + label]
    for child, _ in fn.next_functions:
        if child is not None:  # None: an input that needs no gradient
            lines += graph_lines(child, names, depth + 1)
    return lines


lines = graph_lines(loss.grad_fn, names={id(a): "a", id(b): "b"})
print("\n".join(lines))
assert [line.strip() for line in lines] == [
    "PowBackward0",
    "AddBackward0",
    "MulBackward0",
    "AccumulateGrad (a)",
    "AccumulateGrad (b)",
    "AccumulateGrad (a)",
]
# a constant input
assert (a * torch.ones(())).grad_fn.next_functions[1][0] is None
# --8<-- [end:walk]

# %%
# --8<-- [start:two-paths]
loss.backward()
# L = (ab + a)²: dL/da = 2(ab + a)(b + 1), dL/db = 2(ab + a)a
assert a.grad.item() == 2 * (1 * 3 + 1) * (3 + 1)  # = 32, both paths added
assert b.grad.item() == 2 * (1 * 3 + 1) * 1  # = 8
print(f"dL/da = {a.grad.item()}   dL/db = {b.grad.item()}")
# --8<-- [end:two-paths]

# %%
# --8<-- [start:leaves]
import warnings

x = torch.tensor([1.0, 2.0], requires_grad=True)  # a leaf: made by us
h = x * 3  # not a leaf: made by an operation
out = (h**2).sum()
out.backward()
assert x.is_leaf and not h.is_leaf and not out.is_leaf
# tensors that need no gradient count as leaves too
assert torch.ones(2).is_leaf
assert torch.equal(x.grad, 18 * x.detach())  # dL/dx = 2 * 3x * 3

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    assert h.grad is None  # not kept for a non-leaf...
assert "not a leaf" in str(caught[0].message)  # ...and PyTorch warns you
print("UserWarning:", str(caught[0].message).split(". ")[0])
# --8<-- [end:leaves]

# %%
# --8<-- [start:retain-grad]
x.grad = None
h = x * 3
h.retain_grad()  # ask autograd to keep dL/dh as well
(h**2).sum().backward()
assert torch.equal(h.grad, 2 * h.detach())  # dL/dh = 2h
assert torch.equal(x.grad, 3 * h.grad)  # chain rule: dL/dx = dL/dh * dh/dx
print("dL/dh =", h.grad, "  dL/dx =", x.grad)
# --8<-- [end:retain-grad]

# %%
# --8<-- [start:not-a-leaf]
from pytorch_notes import expect_error

torch.manual_seed(0)
w = torch.randn(3, requires_grad=True) * 0.01  # scaled after tracking started
assert not w.is_leaf  # it is the output of a multiplication
with expect_error(ValueError, "non-leaf"):  # an optimizer only takes leaves
    torch.optim.SGD([w], lr=0.1)

w = (torch.randn(3) * 0.01).requires_grad_()  # scale first, then track
assert w.is_leaf
# a copy is an operation too
assert not torch.randn(3, requires_grad=True).double().is_leaf
# --8<-- [end:not-a-leaf]

# %%
# --8<-- [start:retain-graph]
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = (x**2).sum()  # x**2 saves x for its backward (d x²/dx = 2x)
y.backward()
# a graph's saved tensors are freed after backward
with expect_error(RuntimeError, "through the graph a second time"):
    y.backward()  # the saved x was freed by the first call

x.grad = None
y = (x**2).sum()
y.backward(retain_graph=True)  # keep the saved tensors
first = x.grad.clone()
y.backward()  # now works ... and accumulates
assert torch.equal(first, 2 * x.detach())
assert torch.equal(x.grad, 2 * first)
print("after two backward calls on one graph:", x.grad)
# --8<-- [end:retain-graph]

# %%
# --8<-- [start:two-losses]
shared = x.exp()  # a part that two losses have in common
loss_1, loss_2 = shared.sum(), (shared**2).sum()

x.grad = None
loss_1.backward(retain_graph=True)  # keep `shared`'s graph for loss_2
loss_2.backward()
separate = x.grad.clone()

x.grad = None
shared = x.exp()
(shared.sum() + (shared**2).sum()).backward()  # one backward through the sum
assert torch.allclose(x.grad, separate)
print("two backward calls:", separate, "| one, through the sum:", x.grad)
# --8<-- [end:two-losses]

# %%
# --8<-- [start:detach]
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
constant = x.detach()  # same numbers, no history, no gradient
assert not constant.requires_grad and constant.grad_fn is None

(x * x).sum().backward()
assert torch.equal(x.grad, 2 * constant)  # d(x²)/dx = 2x

x.grad = None
(x * constant).sum().backward()  # the second factor is a constant now
assert torch.equal(x.grad, constant)  # d(x c)/dx = c, half of 2x
print("gradient through x * x:         ", 2 * constant)
print("gradient through x * x.detach():", x.grad)
# --8<-- [end:detach]

# %%
# --8<-- [start:shared-storage]
view = x.detach()
assert view.data_ptr() == x.data_ptr()  # no copy: the very same memory
view[0] = 10.0  # so writing through it changes x
assert x[0].item() == 10.0
print("x after writing to its detached view:", x)

copy = x.detach().clone()  # an independent copy
assert copy.data_ptr() != x.data_ptr()
copy[0] = -1.0
assert x[0].item() == 10.0

with expect_error(RuntimeError, "Use tensor.detach().numpy()"):
    x.numpy()  # NumPy cannot follow the graph
# works on any device
print("x.detach().cpu().numpy():", x.detach().cpu().numpy())
# --8<-- [end:shared-storage]

# %%
# --8<-- [start:version-counter]
x = torch.tensor([1.0, 2.0], requires_grad=True)
e = x.exp()  # exp saves its output e for backward (d eˣ/dx = eˣ)
assert e._version == 0
e.detach().zero_()  # same storage: overwrites what backward needs
assert e._version == 1  # but the change was counted
# autograd detects a saved tensor changed in place
with expect_error(RuntimeError, "modified by an inplace operation"):
    e.sum().backward()

e = x.exp()
e.data.zero_()  # .data: the same storage, but the change is not counted
e.sum().backward()  # no error ...
# ... and a wrong gradient (should be eˣ)
assert torch.equal(x.grad, torch.zeros(2))
print(
    "gradient after a .data change:",
    x.grad,
    "| the true one, eˣ:",
    x.detach().exp(),
)
# --8<-- [end:version-counter]


# %%
# --8<-- [start:dynamic]
def grow(x):
    """Double x until its norm passes 10: how often depends on x's values."""
    doublings = 0
    while x.norm() < 10:
        x = x * 2
        doublings += 1
    return x.sum(), doublings


for start in ([1.0, 1.0], [3.0, 4.0]):
    x = torch.tensor(start, requires_grad=True)
    out, doublings = grow(x)
    out.backward()
    nodes = [line.strip() for line in graph_lines(out.grad_fn, {id(x): "x"})]
    # the graph records what ran
    assert nodes.count("MulBackward0") == doublings
    # the loop test is off the path
    assert not any("Norm" in node for node in nodes)
    # d(2^k x)/dx = 2^k
    assert torch.equal(x.grad, torch.full((2,), 2.0**doublings))
    print(f"x = {start}: doublings = {doublings}, x.grad = {x.grad.tolist()}")
    print("   graph:", " -> ".join(nodes))
# --8<-- [end:dynamic]

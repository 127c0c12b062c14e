# %% [markdown]
# # torch.compile: compiling a model
# Book page: engineering/compile

# %%
# --8<-- [start:capture]
import math

import torch
import torch._dynamo
from torch import nn


def gelu_tanh(x):  # the tanh approximation of GELU, written out
    inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
    return 0.5 * x * (1 + torch.tanh(inner))


graphs, graph_inputs = [], []


def record(gm, example_inputs):
    """A backend: gets the FX graph Dynamo captured, returns a callable."""
    graphs.append(gm)
    graph_inputs.append(example_inputs)
    return gm.forward  # run the graph as captured (no optimisation)


torch.manual_seed(0)
x = torch.randn(8)
compiled_gelu = torch.compile(gelu_tanh, backend=record)
assert torch.equal(compiled_gelu(x), gelu_tanh(x))
compiled_gelu(torch.randn(8))  # same shape: the captured graph is reused
assert len(graphs) == 1

ops = [n.target for n in graphs[0].graph.nodes if n.op == "call_function"]
print(graphs[0].code.strip())
# 8 tensor operations; math.sqrt ran in Python and became a constant
assert len(ops) == 8 and torch.tanh in ops
assert not any("sqrt" in str(op) for op in ops)
# --8<-- [end:capture]

# %%
# --8<-- [start:aot]
from functorch.compile import make_boxed_func
from torch._dynamo.backends.common import aot_autograd


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(16, 32)
        self.out = nn.Linear(32, 4)

    def forward(self, x):
        return self.out(gelu_tanh(self.hidden(x)))


aten_graphs = {}


def keep(name):
    def compiler(gm, example_inputs):
        aten_graphs[name] = [
            str(n.target) for n in gm.graph.nodes if n.op == "call_function"
        ]
        return make_boxed_func(gm.forward)  # run the ATen graph as it is

    return compiler


torch.manual_seed(0)
model = MLP()
inputs = torch.randn(64, 16)
aot_backend = aot_autograd(
    fw_compiler=keep("forward"), bw_compiler=keep("backward")
)
torch.compile(model, backend=aot_backend)(inputs).sum().backward()
for name, ops in aten_graphs.items():
    print(f"{name:8s} ({len(ops)} ops):", " ".join(sorted(set(ops))))

forward, backward = aten_graphs["forward"], aten_graphs["backward"]
# the two Linear layers became addmm (bias + x @ W.T) in ATen
assert forward.count("aten.addmm.default") == 2
# backward: two weight gradients and one gradient into the hidden layer,
# none for the inputs, which do not require a gradient
assert backward.count("aten.mm.default") == 3
# --8<-- [end:aot]

# %%
# --8<-- [start:inductor]
import re

from torch._inductor.utils import run_and_get_code


def loss_and_grads(net):
    model.zero_grad()
    loss = net(inputs).pow(2).mean()
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


compiled = torch.compile(model)  # default backend: "inductor"
# run once, keeping the Python and C++ code Inductor generated
(loss, grads), code = run_and_get_code(loss_and_grads, compiled)
eager_loss, eager_grads = loss_and_grads(model)

kernels = [re.findall(r"^(cpp_fused_\w+) = ", c, re.M) for c in code]
print("generated C++ kernels:", kernels)
print(f"loss: compiled {loss:.6f}, eager {eager_loss:.6f}")
# forward: the 8 operations of gelu_tanh fused into one C++ loop;
# the matrix products call a library (extern_kernels.addmm)
assert len(code) == 2 and len(kernels[0]) == 1
assert code[0].count("extern_kernels.addmm(") == 2
# backward: 26-29 ATen operations, 2 C++ kernels and 3 library matmuls
assert len(kernels[1]) == 2 and code[1].count("extern_kernels.mm(") == 3
assert torch.allclose(loss, eager_loss, rtol=1e-5, atol=1e-6)
for g, g_eager in zip(grads, eager_grads):
    assert torch.allclose(g, g_eager, rtol=1e-4, atol=1e-6)
print(
    "largest gradient difference:",
    f"{max((g - e).abs().max() for g, e in zip(grads, eager_grads)):.1e}",
)
# --8<-- [end:inductor]


# %%
# --8<-- [start:breaks]
def noisy(x):
    y = torch.sin(x)
    print("halfway")  # Python side effect: Dynamo cannot put it in a graph
    return torch.cos(y)


def branchy(x):
    if x.sum() > 0:  # the branch depends on the values, not the shape
        return torch.cos(x)
    return torch.sin(x)


for fn in (noisy, branchy):
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(fn)(x)
    reason = explanation.break_reasons[0].reason.splitlines()[0]
    print(
        f"{fn.__name__}: {explanation.graph_count} graphs, "
        f"{explanation.graph_break_count} break: {reason}"
    )
    assert explanation.graph_count == 2
    assert explanation.graph_break_count == 1
# --8<-- [end:breaks]

# %%
# --8<-- [start:fullgraph]
from pytorch_notes import expect_error

torch._dynamo.reset()
with expect_error(torch._dynamo.exc.Unsupported, "print"):
    torch.compile(noisy, fullgraph=True, backend="eager")(x)
# --8<-- [end:fullgraph]


# %%
# --8<-- [start:recompile]
def compiles_per_call(dynamic):
    """Call gelu_tanh on 4 lengths; number of graphs compiled so far."""
    torch._dynamo.reset()
    graphs.clear()
    graph_inputs.clear()
    fn = torch.compile(gelu_tanh, backend=record, dynamic=dynamic)
    counts = []
    for length in (4, 5, 6, 7):
        fn(torch.randn(length))
        counts.append(len(graphs))
    return counts


for dynamic in (False, None, True):
    counts = compiles_per_call(dynamic)
    # does the graph take the length as a symbolic integer input?
    symbolic = [
        any(isinstance(a, torch.SymInt) for a in example_inputs)
        for example_inputs in graph_inputs
    ]
    print(f"dynamic={dynamic}: graphs after each call {counts}")
    print("  length is an input (SymInt) of each graph:", symbolic)
    if dynamic is False:
        assert counts == [1, 2, 3, 4]  # every new length: a new graph
    if dynamic is None:  # default: the 2nd length recompiles, dynamically
        assert counts == [1, 2, 2, 2] and symbolic == [False, True]
    if dynamic is True:
        assert counts == [1, 1, 1, 1] and symbolic == [True]
# --8<-- [end:recompile]

# %%
# --8<-- [start:modes]
from torch._inductor import list_mode_options

modes = list_mode_options()
print(modes["reduce-overhead"], modes["max-autotune"])
assert modes["default"] == {}
assert modes["reduce-overhead"] == {"triton.cudagraphs": True}
assert modes["max-autotune"]["max_autotune"] is True
assert modes["max-autotune"]["triton.cudagraphs"] is True
# --8<-- [end:modes]

# %%
# --8<-- [start:export]
import io

exported = torch.export.export(model, (inputs,))
for spec in exported.graph_signature.input_specs:
    print(f"{spec.kind.name:10s} {spec.arg.name:15s} {spec.target}")
print(
    "ops:",
    [str(n.target) for n in exported.graph.nodes if n.op == "call_function"],
)
assert exported.graph_signature.user_inputs == ("x",)
assert list(exported.graph_signature.parameters) == list(
    dict(model.named_parameters())
)
with torch.no_grad():
    assert torch.equal(exported.module()(inputs), model(inputs))

buffer = io.BytesIO()
torch.export.save(exported, buffer)  # one file: graph and weights
buffer.seek(0)
loaded = torch.export.load(buffer)
with torch.no_grad():
    assert torch.equal(loaded.module()(inputs), model(inputs))
# --8<-- [end:export]

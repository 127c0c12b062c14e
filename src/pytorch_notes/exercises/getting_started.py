"""Exercises of the Getting started track (docs/getting-started/exercises.ipynb)."""

from __future__ import annotations

from unittest import mock

import torch

from pytorch_notes.exercises import exercise, expect


@exercise("getting-started.versions", en="these are the versions this Python session runs.",
          zh="这些正是当前 Python 会话所用的版本。")
def _(answer):
    import torchvision

    expect(isinstance(answer, dict) and set(answer) == {"torch", "torchvision"},
           "the answer should be a dict with the keys 'torch' and 'torchvision'.",
           "答案应当是一个字典，键为 'torch' 和 'torchvision'。")
    expect(all(isinstance(value, str) for value in answer.values()),
           "each value should be a version string such as '2.6.0': torch.version is a module, "
           "the string is an attribute of the package itself.",
           "每个值都应当是形如 '2.6.0' 的版本字符串：torch.version 是一个模块，版本字符串是包本身的属性。")
    expect(answer["torch"] == torch.__version__ and answer["torchvision"] == torchvision.__version__,
           "these are not the versions imported here (swapped, or typed by hand?).",
           "这不是这里导入的版本（对调了，还是手敲的？）。")


_VERSIONS = {"2.6.0": True, "2.10.1+cu126": True, "2.5.1+cpu": False, "1.13.1": False,
             "3.0.0": True, "2.7.0.dev20250301": True}


@exercise("getting-started.supported", en="major and minor compared as numbers: 2.10 is newer than 2.6.",
          zh="主版本号和次版本号按数字比较：2.10 比 2.6 新。")
def _(answer):
    expect(callable(answer), "the answer should be the function is_supported itself.",
           "答案应当是函数 is_supported 本身。")
    got = {version: answer(version) for version in _VERSIONS}
    wrong = [version for version, ok in _VERSIONS.items() if bool(got[version]) != ok]
    expect("2.10.1+cu126" not in wrong, "2.10 is newer than 2.6: compare numbers, not text "
           "('10' < '6' as strings).", "2.10 比 2.6 新：应当比较数字而不是文本（按字符串比较，'10' < '6'）。")
    expect("3.0.0" not in wrong, "3.0 is newer than 2.6: the major version counts first.",
           "3.0 比 2.6 新：先比较主版本号。")
    expect(not wrong, f"wrong for {', '.join(wrong)}: the book needs 2.6 or newer.",
           f"对 {', '.join(wrong)} 判断错了：本书需要 2.6 或更新的版本。")


@exercise("getting-started.cuda-build",
          en="a CPU-only build never sees a GPU; a +cu… build is what uses the NVIDIA card.",
          zh="CPU 版本永远看不到 GPU；要用上 NVIDIA 显卡，得装 +cu… 版本。")
def _(answer):
    expect(isinstance(answer, tuple) and len(answer) == 2,
           "the answer should be a pair: (what is_available() returns, 'cpu' or 'cuda').",
           "答案应当是一对值：(is_available() 的返回值, 'cpu' 或 'cuda')。")
    available, build = answer
    expect(available is False, "a CPU-only build carries no GPU libraries: whatever the "
           "machine, it cannot use CUDA.", "CPU 版本不带任何 GPU 库：不管机器上有什么，它都用不了 CUDA。")
    expect(build in ("cpu", "cuda"), "the second entry should be 'cpu' or 'cuda'.",
           "第二项应当是 'cpu' 或 'cuda'。")
    expect(build == "cuda", "to train on the NVIDIA GPU, they need a build made for it.",
           "要在 NVIDIA GPU 上训练，需要为它编译的版本。")


@exercise("getting-started.tiny-op",
          en="the tensor was made on the device and the product stayed there: [[7, 10], [15, 22]].",
          zh="张量直接建在目标设备上，乘积也留在那里：[[7, 10], [15, 22]]。")
def _(answer):
    expect(callable(answer), "the answer should be the function tiny_op itself.",
           "答案应当是函数 tiny_op 本身。")
    product = answer("cpu")
    expect(isinstance(product, torch.Tensor), "tiny_op should return the product, a tensor.",
           "tiny_op 应当返回乘积，一个张量。")
    expect(product.tolist() != [[1.0, 4.0], [9.0, 16.0]], "* multiplies element by element: the "
           "matrix product is another operator.", "* 是逐元素相乘：矩阵乘法是另一个运算符。")
    expect(product.tolist() == [[7.0, 10.0], [15.0, 22.0]], "the product of [[1, 2], [3, 4]] "
           "with itself is not what came back.", "返回的不是 [[1, 2], [3, 4]] 与自身的乘积。")
    on_meta = answer("meta")  # a device with no data: only where the tensor lives
    expect(on_meta.device.type == "meta", f"asked for the device 'meta', the product is on "
           f"{on_meta.device}: create the tensor on the device given.",
           f"要求的设备是 'meta'，乘积却在 {on_meta.device} 上：应当在给定的设备上创建张量。")


_MACHINES = [((True, False), "cuda"), ((False, True), "mps"), ((False, False), "cpu")]


@exercise("getting-started.pick-device",
          en="CUDA, then MPS, then the CPU: the same line runs on every machine.",
          zh="先 CUDA，再 MPS，最后 CPU：同一行代码在每台机器上都能运行。")
def _(answer):
    expect(callable(answer), "the answer should be the function pick_device itself.",
           "答案应当是函数 pick_device 本身。")
    picked = {}
    for (cuda, mps), _ in _MACHINES:  # pretend to be each kind of machine
        with mock.patch.object(torch.cuda, "is_available", lambda cuda=cuda: cuda), \
                mock.patch.object(torch.backends.mps, "is_available", lambda mps=mps: mps):
            picked[(cuda, mps)] = answer()
    expect(all(isinstance(device, torch.device) for device in picked.values()),
           "pick_device should return a torch.device, not a string.",
           "pick_device 应当返回 torch.device，而不是字符串。")
    names = {machine: device.type for machine, device in picked.items()}
    expect(names[(False, False)] == "cpu", "on a machine without any GPU the answer must be "
           "the CPU.", "在没有任何 GPU 的机器上，答案必须是 CPU。")
    expect(names[(True, False)] == "cuda", "on a machine with an NVIDIA GPU, CUDA should be "
           "picked.", "在有 NVIDIA GPU 的机器上，应当选 CUDA。")
    expect(names[(False, True)] == "mps", "on an Apple-silicon Mac, mps is available and should "
           "be picked.", "在 Apple 芯片的 Mac 上，mps 可用，应当选它。")

"""Typical wrong answers to the Data & TensorBoard exercises, each with the hint it must get."""

WRONG = {
    "data.to-tensor": [
        ("answer = lambda array: torch.from_numpy(array).float() / 255", "channels first"),
        ("answer = lambda array: torch.from_numpy(array).permute(2, 0, 1).float()",
         "scale the bytes into [0, 1]"),
        ("answer = lambda array: torch.from_numpy(array).permute(2, 1, 0).float() / 255",
         "height and width are swapped"),
        ("answer = lambda array: torch.from_numpy(array).reshape(3, 4, 5).float() / 255",
         "not where they were"),
    ],
    "data.channel-stats": [
        (("answer = lambda images: (torch.stack([i.mean() for i in images]).mean(),\n"
          "                         torch.stack([i.std() for i in images]).mean())"),
         "one number per channel"),
        (("answer = lambda images: (torch.stack([i.mean(dim=(1, 2)) for i in images]).mean(0),\n"
          "                         torch.stack([i.std(dim=(1, 2)) for i in images]).mean(0))"),
         "count every pixel once"),
        (("def answer(images):\n"
          "    pixels = torch.cat([i.reshape(3, -1) for i in images], dim=1)\n"
          "    return pixels.mean(dim=1), torch.stack([i.std(dim=(1, 2)) for i in images]).mean(0)"),
         "the stds are not"),
        (("def answer(images):\n"
          "    stacked = torch.stack(images)\n"
          "    return stacked.mean(dim=(0, 2, 3)), stacked.std(dim=(0, 2, 3))"),
         "stack expects each tensor to be equal size"),
    ],
    "data.dataset": [
        (("from torch.utils.data import Dataset\n"
          "class answer(Dataset):\n"
          "    def __init__(self, items, transform):\n"
          "        self.items, self.transform = items, transform\n"
          "    def __getitem__(self, index):\n"
          "        image, label = self.items[index]\n"
          "        return self.transform(image), label"),
         "a Dataset needs __len__"),
        (("from torch.utils.data import Dataset\n"
          "class answer(Dataset):\n"
          "    def __init__(self, items, transform):\n"
          "        self.items, self.transform = items, transform\n"
          "    def __len__(self):\n"
          "        return len(self.items)\n"
          "    def __getitem__(self, index):\n"
          "        image, label = self.items[index]\n"
          "        return self.transform(image), self.transform(label)"),
         "the transform is for the image only"),
        (("from torch.utils.data import Dataset\n"
          "class answer(Dataset):\n"
          "    def __init__(self, items, transform):\n"
          "        self.items, self.transform = items, transform\n"
          "    def __len__(self):\n"
          "        return len(self.items)\n"
          "    def __getitem__(self, index):\n"
          "        image, label = self.items[index % len(self.items)]\n"
          "        return self.transform(image), label"),
         "must raise IndexError"),
    ],
    "data.drop-last": [
        ("answer = (1000 // 96, 1000 // 96, 96)", "keeps a short last batch"),
        ("answer = (10, 11, 40)", "swapped"),
        ("answer = (1000 / 96, 10, 40)", "whole numbers"),
        ("answer = (11, 10, 96)", "what is left after the full batches"),
    ],
    "data.shuffle-seed": [
        (("from torch.utils.data import DataLoader\n"
          "def answer(dataset, seed):\n"
          "    torch.manual_seed(seed)\n"
          "    return DataLoader(dataset, batch_size=8, shuffle=True)"),
         "same seed gave different orders"),
        (("from torch.utils.data import DataLoader\n"
          "answer = lambda dataset, seed: DataLoader(dataset, batch_size=8)"),
         "not shuffled"),
        (("from torch.utils.data import DataLoader\n"
          "answer = lambda dataset, seed: DataLoader(\n"
          "    dataset, batch_size=8, shuffle=True,\n"
          "    generator=torch.Generator().manual_seed(0))"),
         "the seed is ignored"),
    ],
    "data.tensorboard": [
        (("from torch.utils.tensorboard import SummaryWriter\n"
          "def answer(log_dir, losses):\n"
          "    writer = SummaryWriter(log_dir=log_dir)\n"
          "    for loss in losses:\n"
          "        writer.add_scalar('loss/train', loss)\n"
          "    writer.close()"),
         "pass each loss's index as global_step"),
        (("from torch.utils.tensorboard import SummaryWriter\n"
          "def answer(log_dir, losses):\n"
          "    writer = SummaryWriter(log_dir=log_dir)\n"
          "    for step, loss in enumerate(losses):\n"
          "        writer.add_scalar('loss', loss, global_step=step)\n"
          "    writer.close()"),
         "expected the tag 'loss/train'"),
        (("from torch.utils.tensorboard import SummaryWriter\n"
          "def answer(log_dir, losses):\n"
          "    writer = SummaryWriter()\n"
          "    for step, loss in enumerate(losses):\n"
          "        writer.add_scalar('loss/train', loss, global_step=step)\n"
          "    writer.close()"),
         "no event file in log_dir"),
    ],
    "data.mnist-loader": [
        (("from torch.utils.data import DataLoader, Subset\n"
          "from pytorch_notes.datasets import mnist\n"
          "answer = DataLoader(Subset(mnist(train=False), range(256)), batch_size=32,\n"
          "                    shuffle=True)"),
         "the dataset gives PIL images"),
        (("from torch.utils.data import DataLoader, Subset\n"
          "from torchvision.transforms import ToTensor\n"
          "from pytorch_notes.datasets import mnist\n"
          "answer = DataLoader(Subset(mnist(train=False, transform=ToTensor()), range(256)),\n"
          "                    batch_size=32)"),
         "shuffle them"),
        (("from torch.utils.data import DataLoader\n"
          "from torchvision.transforms import ToTensor\n"
          "from pytorch_notes.datasets import mnist\n"
          "answer = DataLoader(mnist(train=False, transform=ToTensor()), batch_size=32,\n"
          "                    shuffle=True)"),
         "expected the first 256"),
    ],
}

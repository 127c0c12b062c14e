"""Real-data check: the book's LeNet on the real MNIST test digits, on the CPU.

Trains on the first 8,000 of the 10,000 official test digits (shipped with
pytorch_notes) and measures accuracy on the last 2,000, which it never saw:

    python benchmarks/mnist_lenet.py

Prints the machine, the held-out accuracy and the training time; exits with
status 1 if the accuracy is below 97 %. The time is reported, never judged.
"""

import argparse
import platform
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision.transforms import v2

from pytorch_notes import seed_everything
from pytorch_notes.datasets import mnist
from pytorch_notes.models import LeNet
from pytorch_notes.training import evaluate, fit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=6)
parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: PyTorch's choice)")
args = parser.parse_args()

if args.threads:
    torch.set_num_threads(args.threads)
seed_everything(0)
to_tensor = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.1307], [0.3081])])
digits = mnist(train=False, transform=to_tensor)
train = DataLoader(Subset(digits, range(8000)), batch_size=64, shuffle=True)
test = DataLoader(Subset(digits, range(8000, 10000)), batch_size=500)

model = LeNet()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
start = time.perf_counter()
history = fit(model, train, nn.CrossEntropyLoss(), optimizer, epochs=args.epochs, progress=False)
seconds = time.perf_counter() - start
accuracy = evaluate(model, test, nn.CrossEntropyLoss())["accuracy"]

print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
      f"torch {torch.__version__}")
for record in history:
    print(f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, "
          f"train accuracy {record['train_accuracy']:.4f}")
print(f"held-out accuracy on digits 8000-9999: {accuracy:.2%} after {seconds:.1f} s of training")
raise SystemExit(0 if accuracy >= 0.97 else 1)

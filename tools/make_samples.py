"""Make the real-data samples that ship inside the package (src/pytorch_notes/samples/).

    python tools/make_samples.py ../shared/datasets

- MNIST: the official test split (10,000 digits), the two .gz files copied
  byte for byte (their md5 is the one torchvision checks).
- Ants and bees: the 120 photos of the hymenoptera subset (train: 40 + 40,
  val: 20 + 20), resized so the short side is 256 pixels (the usual
  Resize(256) + CenterCrop(224) input) and saved as JPEG quality 85.

Run it again only when the source data changes; the output is deterministic.
"""

import shutil
import sys
from pathlib import Path

from PIL import Image

SHORT_SIDE = 256
TARGET = Path(__file__).resolve().parent.parent / "src" / "pytorch_notes" / "samples"


def main(source: Path) -> None:
    raw = TARGET / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copyfile(source / "MNIST" / "raw" / name, raw / name)

    photos = TARGET / "hymenoptera"
    shutil.rmtree(photos, ignore_errors=True)
    for path in sorted((source / "hymenoptera_subset").glob("*/*/*.jpg")):
        image = Image.open(path).convert("RGB")
        scale = SHORT_SIDE / min(image.size)
        if scale < 1:
            size = (round(image.width * scale), round(image.height * scale))
            image = image.resize(size, Image.Resampling.LANCZOS)
        target = photos / path.relative_to(source / "hymenoptera_subset")
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target, "JPEG", quality=85, optimize=True)
    size = sum(p.stat().st_size for p in TARGET.rglob("*") if p.is_file())
    print(f"{TARGET}: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

# torchvision baseline for bench/augment.ts: decode (PIL) + resize + RandomAffine(40 degrees,
# translate 0.2, scale 0.8..1.2, shear 0.2 degrees) + RandomHorizontalFlip + ToTensor (the 1/255
# rescale), batches of 32 from the same 2,000 JPEGs. Run with /usr/bin/python3 (Debian's torch
# and torchvision); prints one JSON line for scripts/bench.js. Two variants: a plain loop in this
# process, and a DataLoader with worker processes (one per core), as torchvision users run it.
import argparse
import json
import os
import subprocess
import tempfile
import time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

FILES = 2000
SIZE = 150
DIR = os.path.join(tempfile.gettempdir(), f"nodetorch-bench-images-{FILES}")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TRANSFORM = transforms.Compose([
    transforms.Resize((SIZE, SIZE)),
    transforms.RandomAffine(degrees=40, translate=(0.2, 0.2), scale=(0.8, 1.2), shear=0.2,
                            interpolation=transforms.InterpolationMode.BILINEAR),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
])


class Folder(Dataset):
    def __init__(self):
        self.items = []
        for label, c in enumerate(sorted(d for d in os.listdir(DIR) if os.path.isdir(os.path.join(DIR, d)))):
            for f in sorted(os.listdir(os.path.join(DIR, c))):
                self.items.append((os.path.join(DIR, c, f), label))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        with Image.open(path) as img:
            return TRANSFORM(img.convert("RGB")), float(label)


def timed(loader, limit):
    n = 0
    t0 = time.perf_counter()
    for x, _ in loader:
        n += x.shape[0]
        if n >= limit:
            break
    return n, time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if not os.path.exists(os.path.join(DIR, ".complete")):
        subprocess.run([os.path.join(ROOT, "node_modules/.bin/tsx"), os.path.join(ROOT, "bench/augment.ts"), "--generate-only"],
                       check=True, cwd=ROOT)
    torch.manual_seed(1)
    ds = Folder()
    variants = {}
    for name, workers in (("loop", 0), ("workers", os.cpu_count() or 1)):
        loader = DataLoader(ds, batch_size=32, shuffle=True, num_workers=workers)
        timed(loader, 256)  # warm-up
        n, seconds = timed(loader, FILES)
        variants[name] = {"epoch": {"us": seconds * 1e6 / n, "imagesPerSecond": n / seconds, "workers": workers}}
    print(json.dumps({"images": len(ds), "variants": variants}))


if __name__ == "__main__":
    main()

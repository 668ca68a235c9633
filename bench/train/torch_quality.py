#!/usr/bin/env python3
"""The PyTorch peer of bench/train/quality.bench.ts: how many training images Curio's SimCLR recipe needs on the
`small` net before its kNN accuracy is at least random-init + 10 points (issue 3's goal), so that the throughput
a 15-minute run would need is that count / 900 s. Counting images instead of seconds makes the answer independent
of the machine's load.

Curio's recipe, rewritten in PyTorch (fp32, CPU, 2 threads by default):
- data: the CIFAR-10 train JPEGs of ../shared, decoded once with PIL into a uint8 cache in a temp dir; split as
  `curio split --into pool:0.9,heldout:0.1 --seed 1` does (main/catalog/split.ts: labels in sorted order, one
  mulberry32(seed) stream, Fisher-Yates per label over the images in id order, largest-remainder counts). Curio's
  ids follow the import's completion order, which its concurrent decoders shuffle locally; here the id order is
  the scan order (sorted paths), so the parts have the same sizes and class balance but not exactly the same
  members.
- net: bench/train/torch_simclr.py's `small` backbone and SimCLR projector (Linear 192->2048 no bias, BN, ReLU,
  Linear 2048->128), with Curio's initialisation (main/train/nn/layers.ts: convs kaiming-normal fan-out, linears
  PyTorch's default, BN weight 1 bias 0); both views go through the backbone as one batch of 2N, as perView does.
- augment: the SimCLR preset at 32 px (shared/contract/augment.ts presetFor): random resized crop 0.08-1 with
  ratio 3/4-4/3 (torchvision's sampling, bilinear with box corners on pixel centres as tf.image.cropAndResize),
  flip 0.5, colour jitter (0.8, 0.8, 0.8, 0.2) at strength 1 with p 0.8 in a random order per batch and view,
  grayscale 0.2 (BT.601 luma), no blur (Curio leaves it out at <= 64 px). Ops follow main/augment/ops.ts.
- optimiser: LARS (eta 0.001, momentum 0.9, weight decay 1e-6; 1-D params and biases neither decayed nor adapted),
  LR 0.075*sqrt(B) (main/train/runs/defaults.ts), linear warm-up over 10% of the schedule then cosine to 0,
  NT-Xent at temperature 0.5, batch 128.
- the schedule's length: a 15-minute run's step count is not known in advance, so the LR schedule spans a fixed
  image budget (--schedule-images, 300,000 by default) and the run stops early once the goal is met.
- kNN (main/evaluate/knn.ts): backbone features, L2-normalised, cosine, k = 20, votes exp(s / 0.07), the 5,000
  held-out images as queries and the 45,000 pool images as the bank; the baseline is the same net untrained, in
  eval mode.

Evaluates every --eval-every training images (and at --extra-evals); stops when the gain over random reaches
--goal points and the next evaluation confirms it, or at --cap-images. Prints one JSON line per evaluation and
one summary line last on stdout; progress on stderr.

Usage: /usr/bin/python3 bench/train/torch_quality.py [--schedule-images 300000] [--cap-images 300000]
       [--eval-every 25000] [--extra-evals 39936] [--batch 128] [--threads 2] [--seed 0] [--out FILE]
"""
import argparse
import io
import json
import math
import os
import random
import sys
import tarfile
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_simclr import LARS, NETS, SimCLR, nt_xent  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ARCHIVE = os.path.join(REPO, "..", "shared", "datasets", "cifar10-train.tar.gz")


def log(msg):
    print(f"[torch-quality] {msg}", file=sys.stderr, flush=True)


# ---- data ----------------------------------------------------------------------------------------------------


def load_cifar(cache_dir):
    """(images uint8 [N, 3, 32, 32], labels int64 [N], paths) in scan order (sorted paths), cached as .npy."""
    img_file = os.path.join(cache_dir, "images.npy")
    meta_file = os.path.join(cache_dir, "meta.json")
    if os.path.exists(img_file) and os.path.exists(meta_file):
        with open(meta_file) as f:
            meta = json.load(f)
        return np.load(img_file), np.array(meta["labels"], dtype=np.int64), meta["paths"], meta["classes"]
    from PIL import Image

    t0 = time.perf_counter()
    entries = {}
    with tarfile.open(ARCHIVE, "r:gz") as tar:
        for m in tar:
            if not m.isfile() or not m.name.lower().endswith((".jpg", ".jpeg", ".png")):
                continue
            data = tar.extractfile(m).read()
            entries[m.name] = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
    # main/ingest/scan.ts walks each folder with its entries sorted by name (code-unit order)
    paths = sorted(entries, key=lambda p: p.split("/"))
    classes = sorted({p.split("/")[-2] for p in paths})
    labels = [classes.index(p.split("/")[-2]) for p in paths]
    shapes = {entries[p].shape for p in paths}
    if shapes != {(32, 32, 3)}:
        raise SystemExit(f"expected 32x32 RGB CIFAR images, found shapes {sorted(shapes)[:5]}")
    images = np.stack([entries[p] for p in paths]).transpose(0, 3, 1, 2).copy()
    np.save(img_file, images)
    with open(meta_file, "w") as f:
        json.dump({"labels": labels, "paths": paths, "classes": classes}, f)
    log(f"decoded {len(paths)} JPEGs in {time.perf_counter() - t0:.0f} s into {cache_dir}")
    return images, np.array(labels, dtype=np.int64), paths, classes


def mulberry32(seed):
    """main/common/random.ts's mulberry32, bit for bit (uint32 arithmetic)."""
    a = seed & 0xFFFFFFFF
    M = 0xFFFFFFFF

    def imul(x, y):
        return (x * y) & M

    def nxt():
        nonlocal a
        a = (a + 0x6D2B79F5) & M
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & M
        t &= M
        return ((t ^ (t >> 14)) & M) / 4294967296

    return nxt


def apportion(n, fractions):
    exact = [f * n for f in fractions]
    counts = [math.floor(e) for e in exact]
    target = min(n, round(sum(fractions) * n))
    left = target - sum(counts)
    order = sorted(range(len(fractions)), key=lambda i: (-(exact[i] - math.floor(exact[i])), i))
    for i in order:
        if left <= 0:
            break
        counts[i] += 1
        left -= 1
    return counts


def curio_split(labels, classes, fractions, seed):
    """main/catalog/split.ts over images in index order: one index list per part."""
    rand = mulberry32(seed)
    parts = [[] for _ in fractions]
    for c in sorted(range(len(classes)), key=lambda c: classes[c]):
        items = [int(i) for i in np.nonzero(labels == c)[0]]
        for i in range(len(items) - 1, 0, -1):
            j = math.floor(rand() * (i + 1))
            items[i], items[j] = items[j], items[i]
        offset = 0
        for pi, n in enumerate(apportion(len(items), fractions)):
            parts[pi].extend(items[offset : offset + n])
            offset += n
    return [np.array(sorted(p), dtype=np.int64) for p in parts]


# ---- augmentation (main/augment/params.ts + ops.ts) ----------------------------------------------------------

LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]], dtype=torch.float64)
YIQ2RGB = torch.linalg.inv(RGB2YIQ)


def sample_crop(rng, height, width, scale, ratio):
    """torchvision's RandomResizedCrop sampling, as sampleCropBoxes: (top, left, h, w)."""
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * (scale[0] + rng.random() * (scale[1] - scale[0]))
        aspect = math.exp(log_lo + rng.random() * (log_hi - log_lo))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = math.floor(rng.random() * (height - h + 1))
            left = math.floor(rng.random() * (width - w + 1))
            return top, left, h, w
    return 0, 0, height, width  # square images: the centre crop at an allowed ratio is the whole image


def luma(x):
    return (x * LUMA).sum(dim=1, keepdim=True)


def augment(x, rng, size=32, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """One SimCLR view of a float [n, 3, H, W] batch in [0, 1]."""
    n, _, H, W = x.shape
    # random resized crop + flip as one bilinear resample; sample i of a box lands on top + i*(h-1)/(size-1)
    i = torch.arange(size, dtype=torch.float32) / (size - 1)
    gy = torch.empty(n, size)
    gx = torch.empty(n, size)
    for b in range(n):
        top, left, h, w = sample_crop(rng, H, W, scale, ratio)
        ys = top + i * (h - 1)
        xs = left + i * (w - 1)
        gy[b] = ys / (H - 1) * 2 - 1
        gx[b] = xs / (W - 1) * 2 - 1
    flip = torch.tensor([rng.random() < 0.5 for _ in range(n)])
    gx[flip] = gx[flip].flip(1)
    grid = torch.stack([gx[:, None, :].expand(n, size, size), gy[:, :, None].expand(n, size, size)], dim=-1)
    v = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)

    # colour jitter: brightness/contrast/saturation 0.8, hue 0.2, strength 1, p 0.8; factors 1 where not applied
    apply = torch.tensor([rng.random() < 0.8 for _ in range(n)], dtype=torch.float32)

    def factors(amount):
        lo, hi = max(0.0, 1 - amount), 1 + amount
        f = torch.tensor([lo + rng.random() * (hi - lo) for _ in range(n)])
        return (f * apply + (1 - apply)).view(n, 1, 1, 1)

    fb, fc, fs = factors(0.8), factors(0.8), factors(0.8)
    hue = torch.tensor([-0.2 + rng.random() * 0.4 for _ in range(n)]) * apply
    order = ["brightness", "contrast", "saturation", "hue"]
    rng.shuffle(order)
    for step in order:
        if step == "brightness":
            v = (v * fb).clamp(0, 1)
        elif step == "contrast":
            m = luma(v).mean(dim=(1, 2, 3), keepdim=True)
            v = (v * fc + m * (1 - fc)).clamp(0, 1)
        elif step == "saturation":
            v = (v * fs + luma(v) * (1 - fs)).clamp(0, 1)
        else:
            t = hue.double() * 2 * math.pi
            c, s = torch.cos(t), torch.sin(t)
            rot = torch.zeros(n, 3, 3, dtype=torch.float64)
            rot[:, 0, 0] = 1
            rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = c, -s, s, c
            mats = (YIQ2RGB @ rot @ RGB2YIQ).float()  # [n, 3, 3], identity where hue is 0
            v = torch.einsum("nij,njhw->nihw", mats, v).clamp(0, 1)
    # grayscale p 0.2
    gray = torch.tensor([rng.random() < 0.2 for _ in range(n)], dtype=torch.float32).view(n, 1, 1, 1)
    v = v * (1 - gray) + luma(v).expand(-1, 3, -1, -1) * gray
    return v.contiguous()


# ---- model, schedule, kNN ------------------------------------------------------------------------------------


def curio_init(model):
    """main/train/nn/layers.ts: convs N(0, sqrt(2 / (k*k*out))); linears keep PyTorch's default (as Curio's)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def warmup_cosine(step, base, warmup, total):
    """main/train/optim/schedule.ts warmupCosineLr with finalLr 0."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, max(0.0, (step - warmup) / max(1, total - warmup)))
    return base * (1 + math.cos(math.pi * progress)) / 2


@torch.inference_mode()
def features(backbone, images, batch=1000):
    backbone.eval()
    out = [backbone(torch.from_numpy(images[i : i + batch]).float().div_(255)) for i in range(0, len(images), batch)]
    return F.normalize(torch.cat(out), dim=1)


@torch.inference_mode()
def knn_top1(bank, bank_labels, queries, query_labels, k=20, t=0.07, classes=10):
    correct = 0
    for i in range(0, len(queries), 500):
        sim = queries[i : i + 500] @ bank.t()
        s, idx = sim.topk(k, dim=1)
        votes = torch.zeros(len(s), classes, dtype=torch.float64)
        votes.scatter_add_(1, bank_labels[idx], torch.exp(s.double() / t))
        correct += int((votes.argmax(1) == query_labels[i : i + 500]).sum())
    return correct / len(queries)


def evaluate(backbone, images, labels, pool, heldout):
    t0 = time.perf_counter()
    bank = features(backbone, images[pool])
    queries = features(backbone, images[heldout])
    acc = knn_top1(bank, torch.from_numpy(labels[pool]), queries, torch.from_numpy(labels[heldout]))
    return acc, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schedule-images", type=int, default=300_000, help="the LR schedule's length, in images")
    ap.add_argument("--cap-images", type=int, default=300_000)
    ap.add_argument("--eval-every", type=int, default=25_000)
    ap.add_argument("--extra-evals", default="39936", help="comma-separated image counts to evaluate at as well")
    ap.add_argument("--goal", type=float, default=10.0, help="points over random init")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "curio-torch-quality-cache"))
    ap.add_argument("--out", help="also write the summary JSON here")
    a = ap.parse_args()
    if a.batch < 2 or a.schedule_images < a.batch or a.cap_images < a.batch or a.eval_every < a.batch:
        raise SystemExit("--batch must be >= 2 and the image counts at least one batch")
    if not os.path.exists(ARCHIVE):
        log(f"skipped: {ARCHIVE} is absent")
        print(json.dumps({"skipped": f"{ARCHIVE} is absent"}))
        return
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    os.makedirs(a.cache, exist_ok=True)

    images, labels, _paths, classes = load_cifar(a.cache)
    pool, heldout = curio_split(labels, classes, [0.9, 0.1], 1)
    log(f"pool {len(pool)}, heldout {len(heldout)}")

    model = SimCLR(NETS["small"]())
    curio_init(model)
    backbone = model.backbone
    random_acc, secs = evaluate(backbone, images, labels, pool, heldout)
    log(f"random init kNN k=20: {random_acc * 100:.2f}% ({secs:.0f} s)")

    steps_total = a.schedule_images // a.batch
    warmup = int(steps_total * 0.1)
    base_lr = 0.075 * math.sqrt(a.batch)
    opt = LARS(model.parameters(), lr=base_lr, weight_decay=1e-6, momentum=0.9, eta=0.001)
    evals_at = sorted({*range(a.eval_every, a.cap_images + 1, a.eval_every), *(int(s) for s in a.extra_evals.split(",") if s)})
    evals_at = [e for e in evals_at if e <= a.cap_images]
    curve = []
    reached_at = None
    train_seconds = 0.0
    train_cpu = 0.0
    seen = 0
    step = 0
    epoch = 0
    loss_value = float("nan")
    order = np.array([], dtype=np.int64)
    cursor = 0
    loads = []
    last_log = time.perf_counter()
    stop = False
    while not stop and seen + a.batch <= a.cap_images:
        if cursor + a.batch > len(order):
            order = pool[np.random.RandomState(a.seed + epoch).permutation(len(pool))]
            cursor = 0
            epoch += 1
        idx = order[cursor : cursor + a.batch]
        cursor += a.batch
        w0, c0 = time.perf_counter(), time.process_time()
        model.train()
        x = torch.from_numpy(images[idx]).float().div_(255)
        views = torch.cat([augment(x, rng), augment(x, rng)])
        lr = warmup_cosine(step, base_lr, warmup, steps_total)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        z1, z2 = model(views).chunk(2)
        loss = nt_xent(z1, z2, 0.5)
        loss.backward()
        opt.step()
        loss_value = float(loss)
        train_seconds += time.perf_counter() - w0
        train_cpu += time.process_time() - c0
        step += 1
        seen += a.batch
        if not math.isfinite(loss_value):
            raise SystemExit(f"loss is {loss_value} at step {step}")
        if time.perf_counter() - last_log > 60:
            last_log = time.perf_counter()
            loads.append(os.getloadavg()[0])
            log(f"step {step}, {seen} images, loss {loss_value:.4f}, lr {lr:.4f}, {seen / train_seconds:.1f} img/s, load {loads[-1]:.1f}")
        while evals_at and seen >= evals_at[0]:
            evals_at.pop(0)
            acc, secs = evaluate(backbone, images, labels, pool, heldout)
            gain = (acc - random_acc) * 100
            point = {"images": seen, "steps": step, "epochs": round(seen / len(pool), 3), "knn": acc, "gain": round(gain, 2),
                     "loss": round(loss_value, 4), "lr": round(lr, 4), "trainImagesPerSecond": round(seen / train_seconds, 2),
                     "load": round(os.getloadavg()[0], 2), "evalSeconds": round(secs, 1)}
            curve.append(point)
            print(json.dumps(point), flush=True)
            log(f"{seen} images: kNN {acc * 100:.2f}% ({gain:+.2f} over random)")
            if gain >= a.goal:
                if reached_at is None:
                    reached_at = seen
                elif a.eval_every > 0:
                    stop = True  # confirmed by a second evaluation
            elif reached_at is not None:
                reached_at = None  # fell back below: not reached yet

    summary = {
        "net": "small", "batch": a.batch, "threads": a.threads, "torch": torch.__version__, "seed": a.seed,
        "pool": len(pool), "heldout": len(heldout), "scheduleImages": a.schedule_images, "capImages": a.cap_images,
        "baseLr": base_lr, "warmupSteps": warmup, "scheduleSteps": steps_total,
        "randomKnn": random_acc, "goalPoints": a.goal, "imagesToGoal": reached_at,
        "imagesPerSecondNeeded": None if reached_at is None else round(reached_at / 900, 1),
        "imagesSeen": seen, "steps": step, "trainSeconds": round(train_seconds, 1), "trainCpuSeconds": round(train_cpu, 1),
        "trainImagesPerSecond": round(seen / train_seconds, 2) if train_seconds else None,
        "cpuMsPerImage": round(1000 * train_cpu / seen, 2) if seen else None,
        "loadAverages": {"min": min(loads, default=None), "max": max(loads, default=None)}, "curve": curve,
    }
    if a.out:
        with open(a.out, "w") as f:
            json.dump(summary, f, indent=1)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()

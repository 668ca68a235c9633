#!/usr/bin/env python3
"""The PyTorch peer of bench/train: one SimCLR training step (two views -> backbone -> projector -> NT-Xent ->
backward -> LARS update) on random 32x32 inputs, timed, for Curio's `small` net and ResNet-18 (CIFAR stem).

The nets mirror main/train/models (resnet.ts) and main/train/heads.ts exactly: 3x3 convs without bias, BN after
each conv, basic blocks with a 1x1 conv + BN projection when the shape changes, global average pooling; the
SimCLR projector is Linear(no bias) -> BN -> ReLU -> Linear(bias). The bench checks that the parameter counts
match Curio's. fp32, default settings, no AMP.

Prints one JSON line per net: {"net", "device", "batch", "threads", "backboneParams", "params", "steps",
"seconds", "imagesPerSecond"}.
Usage: python3 torch_simclr.py --nets small,resnet18 --batch 256 --budget 30 [--device cpu|cuda] [--threads 2]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, 0, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    """CIFAR stem (3x3 stride-1 conv, no max-pool) as Curio uses for inputs <= 64 px."""

    def __init__(self, layers, widths):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        blocks = []
        cin = widths[0]
        for i, (n, w) in enumerate(zip(layers, widths)):
            for b in range(n):
                blocks.append(BasicBlock(cin, w, 2 if (i > 0 and b == 0) else 1))
                cin = w
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = cin

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.blocks(x)
        return x.mean(dim=(2, 3))


NETS = {
    "small": lambda: ResNet([1, 1, 1, 1], [32, 64, 128, 192]),
    "resnet18": lambda: ResNet([2, 2, 2, 2], [64, 128, 256, 512]),
}


class SimCLR(nn.Module):
    def __init__(self, backbone, hidden=2048, out=128):
        super().__init__()
        self.backbone = backbone
        d = backbone.out_dim
        self.projector = nn.Sequential(nn.Linear(d, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out))

    def forward(self, x):
        return self.projector(self.backbone(x))


def nt_xent(z1, z2, t=0.5):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    sim = z @ z.t() / t
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


class LARS(torch.optim.Optimizer):
    """SGD with momentum and a layer-wise trust ratio (You et al. 2017); BN and bias excluded, as in Curio."""

    def __init__(self, params, lr, weight_decay=1e-6, momentum=0.9, eta=0.001):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if p.ndim > 1:
                    d = d.add(p, alpha=g["weight_decay"])
                    pn, dn = torch.norm(p), torch.norm(d)
                    trust = torch.where((pn > 0) & (dn > 0), g["eta"] * pn / dn, torch.ones_like(pn))
                    d = d.mul(trust)
                st = self.state[p]
                if "mu" not in st:
                    st["mu"] = torch.clone(d).detach()
                else:
                    st["mu"].mul_(g["momentum"]).add_(d)
                p.add_(st["mu"], alpha=-g["lr"])


def bench(net, batch, budget, device, max_steps):
    torch.manual_seed(0)
    backbone = NETS[net]()
    model = SimCLR(backbone).to(device)
    opt = LARS(model.parameters(), lr=0.3 * batch / 256)
    # both views as one batch through the backbone, as Curio's perView does (BN statistics over 2N)
    x = torch.rand(2 * batch, 3, 32, 32, device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        z1, z2 = model(x).chunk(2)
        loss = nt_xent(z1, z2)
        loss.backward()
        opt.step()
        return loss

    for _ in range(2):
        step().item()
    if device == "cuda":
        torch.cuda.synchronize()
    steps = 0
    t0 = time.perf_counter()
    while True:
        loss = step()
        steps += 1
        if device == "cuda" and steps % 10 != 0 and steps < max_steps:
            continue
        loss.item()
        if time.perf_counter() - t0 > budget or steps >= max_steps:
            break
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return {
        "net": net,
        "device": device,
        "batch": batch,
        "threads": torch.get_num_threads(),
        "backboneParams": sum(p.numel() for p in backbone.parameters()),
        "params": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "seconds": round(seconds, 3),
        "imagesPerSecond": batch * steps / seconds,
        "torch": torch.__version__,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", default="small,resnet18")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--budget", type=float, default=30.0, help="seconds of timed steps per net")
    ap.add_argument("--max-steps", type=int, default=1000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--params-only", action="store_true")
    a = ap.parse_args()
    if a.device == "cpu":
        torch.set_num_threads(a.threads)
    for net in a.nets.split(","):
        if a.params_only:
            b = NETS[net]()
            print(json.dumps({"net": net, "backboneParams": sum(p.numel() for p in b.parameters()), "params": sum(p.numel() for p in SimCLR(b).parameters())}), flush=True)
            continue
        print(json.dumps(bench(net, a.batch, a.budget, a.device, a.max_steps)), flush=True)


if __name__ == "__main__":
    main()

"""PyTorch peer for bench/src/train-step.ts: a ViT-S/14-shaped DINOv2 ViT (random weights) with
LoRA r8 on patch-embed, qkv and proj, query pooling + linear head, focal loss, AdamW with the
two parameter groups. Times one LoRA training step on one case of S slices (forward, backward,
optimiser) and one plugin-only step on cached tokens. Prints JSON.
With cls-only, the last block runs for the CLS query alone (keys and values from every token), as
anymc3d's trainer does when no patch tokens are needed: the same computation on both sides.
Usage: /usr/bin/python3 train_step.py SLICES THREADS REPEATS [cls-only]"""
import json
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F

S, threads, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
cls_only = sys.argv[4:5] == ["cls-only"]
torch.set_num_threads(threads)
torch.manual_seed(0)
d, depth, heads, mlp, p, img = 384, 12, 6, 1536, 14, 224
T = (img // p) ** 2 + 1
r, s = 8, 2.0
W = {"pe.w": torch.randn(d, 3, p, p) / math.sqrt(3 * p * p), "pe.b": torch.zeros(d), "cls": torch.randn(1, 1, d) * 0.02,
     "pos": torch.randn(1, T, d) * 0.02, "norm.w": torch.ones(d), "norm.b": torch.zeros(d)}
for b in range(depth):
    W.update({f"{b}.n1.w": torch.ones(d), f"{b}.n1.b": torch.zeros(d), f"{b}.qkv.w": torch.randn(3 * d, d) / math.sqrt(d),
              f"{b}.qkv.b": torch.zeros(3 * d), f"{b}.proj.w": torch.randn(d, d) / math.sqrt(d), f"{b}.proj.b": torch.zeros(d),
              f"{b}.ls1": torch.full((d,), 0.1), f"{b}.n2.w": torch.ones(d), f"{b}.n2.b": torch.zeros(d),
              f"{b}.fc1.w": torch.randn(mlp, d) / math.sqrt(d), f"{b}.fc1.b": torch.zeros(mlp), f"{b}.fc2.w": torch.randn(d, mlp) / math.sqrt(mlp),
              f"{b}.fc2.b": torch.zeros(d), f"{b}.ls2": torch.full((d,), 0.1)})
lora = {"pe.A": torch.randn(r, 3, p, p) * 0.01, "pe.B": torch.zeros(d, r, 1, 1)}
for b in range(depth):
    lora.update({f"{b}.qkv.A": torch.randn(r, d) * 0.01, f"{b}.qkv.B": torch.zeros(3 * d, r),
                 f"{b}.proj.A": torch.randn(r, d) * 0.01, f"{b}.proj.B": torch.zeros(d, r)})
for v in lora.values():
    v.requires_grad_(True)
head = {"q": (torch.randn(d) * 0.02).requires_grad_(True), "w": (torch.randn(1, d) * 0.05).requires_grad_(True),
        "b": torch.zeros(1).requires_grad_(True)}


def lin(x, n):
    return F.linear(x, W[f"{n}.w"], W[f"{n}.b"]) + s * F.linear(F.linear(x, lora[f"{n}.A"]), lora[f"{n}.B"])


def vit_cls(x):
    n = x.shape[0]
    e = F.conv2d(x, W["pe.w"], W["pe.b"], stride=p) + F.conv2d(s * F.conv2d(x, lora["pe.A"], stride=p), lora["pe.B"])
    t = torch.cat([W["cls"].expand(n, -1, -1), e.flatten(2).transpose(1, 2)], 1) + W["pos"]
    hd = d // heads
    for b in range(depth):
        rows = 1 if cls_only and b == depth - 1 else T
        h = F.layer_norm(t, (d,), W[f"{b}.n1.w"], W[f"{b}.n1.b"], 1e-6)
        qkv = lin(h, f"{b}.qkv").reshape(n, T, 3, heads, hd).permute(2, 0, 3, 1, 4)
        att = torch.softmax(qkv[0][:, :, :rows] @ qkv[1].transpose(-1, -2) / math.sqrt(hd), dim=-1)
        o = (att @ qkv[2]).transpose(1, 2).reshape(n, rows, d)
        t = t[:, :rows] + W[f"{b}.ls1"] * lin(o, f"{b}.proj")
        h2 = F.layer_norm(t, (d,), W[f"{b}.n2.w"], W[f"{b}.n2.b"], 1e-6)
        t = t + W[f"{b}.ls2"] * F.linear(F.gelu(F.linear(h2, W[f"{b}.fc1.w"], W[f"{b}.fc1.b"])), W[f"{b}.fc2.w"], W[f"{b}.fc2.b"])
    return F.layer_norm(t, (d,), W["norm.w"], W["norm.b"], 1e-6)[:, 0]


def focal(z, y, gamma=2, alpha=0.25):
    ce = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    pr = torch.sigmoid(z)
    pt = pr * y + (1 - pr) * (1 - y)
    return (ce * (1 - pt) ** gamma * (alpha * y + (1 - alpha) * (1 - y))).mean(1)


def head_loss(H, mask, y):
    scores = (H @ head["q"]) / math.sqrt(d) + (mask - 1) * 1e9
    a = torch.softmax(scores, 1)
    v = (a.unsqueeze(1) @ H).squeeze(1)
    return focal(v @ head["w"].T + head["b"], y).mean()


opt = torch.optim.AdamW([{"params": list(lora.values()), "lr": 1e-4, "weight_decay": 1e-5},
                         {"params": list(head.values()), "lr": 1e-3, "weight_decay": 1e-4}])
x = torch.randn(S, 3, img, img)
y = torch.ones(1, 1)


def lora_step():
    opt.zero_grad()
    loss = head_loss(vit_cls(x).unsqueeze(0), torch.ones(1, S), y)
    loss.backward()
    opt.step()


B = 8
tokens = torch.randn(B, S, d)
mask = torch.ones(B, S)
yb = torch.ones(B, 1)
opt_head = torch.optim.AdamW([{"params": list(head.values()), "lr": 1e-3, "weight_decay": 1e-4}])


def head_step():
    opt_head.zero_grad()
    head_loss(tokens, mask, yb).backward()
    opt_head.step()


def timed(fn, n, warm):
    for _ in range(warm):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return sorted(out)[len(out) // 2]


lora_s = timed(lora_step, repeats, 1)
head_s = timed(head_step, 50, 5)
print(json.dumps({"loraStep": lora_s, "headStep": head_s, "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))

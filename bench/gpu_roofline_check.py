"""GPU check (run on a machine with an NVIDIA GPU and PyTorch): a Llama-3.1-8B-shaped decoder in plain
PyTorch, bf16, random weights, CUDA graphs; measures decode step time by batch size and prefill time.

It answers "how close to the datasheet bandwidth / FLOPs does a weight-streaming decode step and a
prefill GEMM get on this GPU?", the two efficiency factors of garrison.sizing.efficiency. Run:

    python3 bench/gpu_roofline_check.py --out results.json [--layers 32]

then compare with Garrison's prediction on this machine's CPU:

    python3 bench/gpu_roofline_compare.py results.json
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

# Llama-3.1-8B shape (config.json of meta-llama/Llama-3.1-8B-Instruct)
H, FF, NH, NKV, HD, V = 4096, 14336, 32, 8, 128, 128256


def make_layer(dev: torch.device) -> dict[str, torch.Tensor]:
    def w(o: int, i: int) -> torch.Tensor:
        return torch.randn(o, i, device=dev, dtype=torch.bfloat16) * 0.02

    return {"qkv": w((NH + 2 * NKV) * HD, H), "o": w(H, NH * HD), "gu": w(2 * FF, H), "d": w(H, FF)}


def decode_step(
    x: torch.Tensor,
    layers: list[dict[str, torch.Tensor]],
    kc: list[torch.Tensor],
    vc: list[torch.Tensor],
    lm: torch.Tensor,
) -> torch.Tensor:
    """One token for every sequence: x [B, H]; caches [B, NKV, ctx, HD]."""
    b = x.shape[0]
    for li, p in enumerate(layers):
        qkv = x @ p["qkv"].T
        q = qkv[:, : NH * HD].view(b, NH, 1, HD)
        attn = F.scaled_dot_product_attention(q, kc[li], vc[li], enable_gqa=True)
        x = x + attn.reshape(b, NH * HD) @ p["o"].T
        gu = x @ p["gu"].T
        x = x + (F.silu(gu[:, :FF]) * gu[:, FF:]) @ p["d"].T
    return x @ lm.T


def prefill(x: torch.Tensor, layers: list[dict[str, torch.Tensor]]) -> torch.Tensor:
    """One prompt: x [T, H], causal attention."""
    t = x.shape[0]
    for p in layers:
        qkv = x @ p["qkv"].T
        q = qkv[:, : NH * HD].view(t, NH, HD).transpose(0, 1)
        # expand the KV heads so PyTorch can pick its flash-attention kernel (GQA flag disables it)
        k = qkv[:, NH * HD : (NH + NKV) * HD].view(t, NKV, HD).transpose(0, 1).repeat_interleave(NH // NKV, 0)
        v = qkv[:, (NH + NKV) * HD :].view(t, NKV, HD).transpose(0, 1).repeat_interleave(NH // NKV, 0)
        attn = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0]
        x = x + attn.transpose(0, 1).reshape(t, NH * HD) @ p["o"].T
        gu = x @ p["gu"].T
        x = x + (F.silu(gu[:, :FF]) * gu[:, FF:]) @ p["d"].T
    return x


def timed(fn, reps: int) -> float:
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / reps


def ceilings(dev: torch.device) -> tuple[float, float]:
    """Datasheet-independent ceilings measured on the same GPU: a big bf16 GEMM and a device copy."""
    m = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    for _ in range(3):
        m @ m
    tflops = 2 * 8192**3 / timed(lambda: m @ m, 10) / 1e12
    src = torch.empty(4 * 1024**3 // 2, device=dev, dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    dst.copy_(src)
    gbs = 2 * src.numel() * 2 / timed(lambda: dst.copy_(src), 10) / 1e9
    return tflops, gbs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--ctx", type=int, default=1024)
    ap.add_argument("--batches", default="1,8,32,128")
    ap.add_argument("--prefill", default="512,2048,8192")
    a = ap.parse_args()
    dev = torch.device("cuda")
    torch.manual_seed(0)
    layers = [make_layer(dev) for _ in range(a.layers)]
    lm = torch.randn(V, H, device=dev, dtype=torch.bfloat16) * 0.02
    weight_bytes = sum(t.numel() * 2 for p in layers for t in p.values()) + lm.numel() * 2
    res: dict[str, object] = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "layers": a.layers,
        "ctx": a.ctx,
        "weight_bytes": weight_bytes,
        "decode": [],
        "prefill": [],
        "matmul_tflops": None,
        "copy_gbs": None,
    }
    res["matmul_tflops"], res["copy_gbs"] = ceilings(dev)
    for b in [int(x) for x in a.batches.split(",")]:
        kc = [torch.randn(b, NKV, a.ctx, HD, device=dev, dtype=torch.bfloat16) for _ in range(a.layers)]
        vc = [torch.randn(b, NKV, a.ctx, HD, device=dev, dtype=torch.bfloat16) for _ in range(a.layers)]
        x = torch.randn(b, H, device=dev, dtype=torch.bfloat16)
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                decode_step(x, layers, kc, vc, lm)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            decode_step(x, layers, kc, vc, lm)
        for _ in range(3):
            g.replay()
        t = timed(g.replay, 20)
        kv_bytes = 2 * a.layers * b * NKV * a.ctx * HD * 2
        res["decode"].append(
            {
                "batch": b,
                "step_ms": t * 1e3,
                "kv_bytes": kv_bytes,
                "achieved_gbs": (weight_bytes + kv_bytes) / t / 1e9,
            }
        )
        del kc, vc
        torch.cuda.empty_cache()
    for t_len in [int(x) for x in a.prefill.split(",")]:
        xp = torch.randn(t_len, H, device=dev, dtype=torch.bfloat16)
        for _ in range(2):
            prefill(xp, layers)
        t = timed(lambda xp=xp: prefill(xp, layers), 3)
        linear = 2 * (weight_bytes - lm.numel() * 2) / 2 * t_len  # 2 FLOPs per weight per token
        attn_flops = 2 * a.layers * NH * HD * 2 * t_len * t_len / 2  # QK^T and AV, causal half
        res["prefill"].append(
            {
                "tokens": t_len,
                "ms": t * 1e3,
                "linear_tflops": linear / t / 1e12,
                "total_tflops": (linear + attn_flops) / t / 1e12,
            }
        )
    with open(a.out, "w") as f:
        json.dump(res, f, indent=2)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    with torch.no_grad():
        main()

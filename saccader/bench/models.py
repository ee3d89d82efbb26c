"""Forward throughput of every model (``python -m saccader benchmark forward``): images/s, the median
time per batch, the ratio to a baseline timed in the same process (the scale's BagNet), parameters,
GFLOPs per image and, on a GPU, the achieved fraction of the device's peak bf16 throughput (MFU).
"""
from __future__ import annotations

import statistics

import torch

from saccader.bench.core import count_flops, peak_flops, time_call

SCALES = {
    "tiny": {"baseline": "bagnet33_tiny", "batch": 64},
    "imagenet": {"baseline": "bagnet77_lowd", "batch": 8},
}


def models_of_scale(scale: str) -> list[str]:
    from saccader.models import get_model_cfg, list_models

    tiny = [m for m in list_models() if m.endswith("_tiny")]
    return tiny if scale == "tiny" else [m for m in list_models() if m not in tiny and get_model_cfg(m).num_classes > 100]


def forward_benchmark(scale: str = "tiny", models: list[str] | None = None, device: str | None = None,
                      batch: int | None = None, repeats: int = 5, amp: bool | None = None) -> list[dict]:
    from saccader.models import create_model

    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    amp = dev.type == "cuda" if amp is None else amp
    batch = batch or SCALES[scale]["batch"]
    names = [SCALES[scale]["baseline"]] + [m for m in (models or models_of_scale(scale)) if m != SCALES[scale]["baseline"]]
    rows, base = [], None
    for name in names:
        model = create_model(name).to(dev).eval()
        if dev.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        x = torch.randn(batch, *model.cfg.input_size, device=dev)

        def run():
            with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                return model(x)

        flops = count_flops(run) / batch
        times = time_call(run, dev, repeats=repeats)
        med = statistics.median(times)
        base = base or med
        params = sum(p.numel() for p in model.parameters())
        row = {"model": name, "device": str(dev), "batch": batch, "input": "x".join(map(str, model.cfg.input_size[1:])),
               "median_s": med, "images_per_s": batch / med, "ratio_to_baseline": med / base,
               "params_M": params / 1e6, "gflops_per_image": flops / 1e9}
        peak = peak_flops(dev)
        if peak:
            row["mfu"] = flops * batch / med / peak
        rows.append(row)
        print(_format_row(row), flush=True)
        del model
    return rows


def _format_row(r: dict) -> str:
    mfu = f"  MFU {r['mfu']:.1%}" if "mfu" in r else ""
    return (f"{r['model']:28s} {r['device']:6s} batch {r['batch']:3d} @ {r['input']:7s} "
            f"{r['images_per_s']:9.1f} img/s  median {r['median_s'] * 1e3:8.1f} ms  x{r['ratio_to_baseline']:.2f} vs baseline  "
            f"{r['params_M']:7.2f} M params  {r['gflops_per_image']:7.2f} GFLOP/img{mfu}")

"""Throughput of the accuracy-vs-glimpses evaluation sweep at the paper's geometry (project issue #6).

    python benchmarks/eval_throughput.py                         # on an H100-class GPU
    python benchmarks/eval_throughput.py --scale tiny --device cpu --repeats 1   # check

Times the evaluation code itself (``saccader.evaluation``: ``saccader_curves`` and friends, with the
coverage of every glimpse and the running top-1/top-5 accumulators) on random images already in
memory, so JPEG decoding is not included (``benchmarks/data_loading.py`` measures that). Models have
random weights: the speed does not depend on them.

Methods (``saccader.evaluation.METHODS``): the Saccader unrolled to ``--glimpses`` (12) under the
learned policy and each engineered policy (ordered_logits, random, center, sobel_mean, sobel_var),
the Saccader without location pretraining (same model, learned policy), DRAM, the
Saccader-ClassNet (NASNet at 331 px) and the full-image BagNet. The last rows, ``sweep``, give the
images/s of the whole sweep: held-out images divided by the summed time of every (method, policy)
pass, the random policy run once per seed (``--seeds``, 3 as in ``evaluate``).

Writes ``data/benchmarks/<device kind>/eval_throughput.{csv,json}`` (see benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
from contextlib import nullcontext

import torch

from saccader.bench.core import cpu_notice, setup_device, time_call, write_results

NAME = "eval_throughput"
COLUMNS = ["device_kind", "device", "method", "model", "policy", "glimpses", "input", "batch", "images", "amp",
           "runs", "repeats", "median_s", "min_s", "max_s", "images_per_s", "status"]
DEFAULT_METHODS = ["saccader", "saccader_no_pretraining", "dram", "saccader_classnet", "bagnet_full_image"]


class RandomImages:
    """``n`` random standardized images of side ``size`` with random labels, served by ``get_batch``
    like the embedded data set (what ``saccader.evaluation.curves.batches`` uses when it is there)."""

    def __init__(self, n: int, size: int, num_classes: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randn(n, 3, size, size, generator=g)
        self.labels = torch.randint(0, num_classes, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.labels)

    def get_batch(self, indices):
        idx = torch.as_tensor(indices, dtype=torch.long)
        return self.images[idx], self.labels[idx]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="imagenet", choices=["imagenet", "tiny"])
    p.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    p.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, choices=DEFAULT_METHODS)
    p.add_argument("--policies", nargs="+", help="Saccader policies (default: all of saccader.evaluation)")
    p.add_argument("--glimpses", type=int, default=12, help="glimpses of the unroll (the sweep uses 12)")
    p.add_argument("--batch", type=int, help="evaluation batch (default: evaluate's, 256; tiny 128)")
    p.add_argument("--images", type=int, help="images per timed pass (default: 8 batches)")
    p.add_argument("--seeds", type=int, default=3, help="seeds the sweep runs the random policy with")
    p.add_argument("--amp", default="none", choices=["none", "bf16"],
                   help="autocast (the evaluation runs in float32: none is what the sweep does)")
    p.add_argument("--warmup", type=int, default=1, help="untimed passes first")
    p.add_argument("--repeats", type=int, default=3, help="timed passes; the median is reported")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice; 1 is fastest on a busy CPU)")
    p.add_argument("--out-dir", help="where to write (default: data/benchmarks/<device kind>/)")
    return p.parse_args(argv)


def _model(method: str, scale: str, dev: torch.device):
    from saccader.evaluation.methods import METHODS
    from saccader.train.presets import resolve_config
    from saccader.train.stages import get_stage

    m = METHODS[method]
    cfg = resolve_config(m.stage, scale, overrides=m.overrides, data_dir="(not read)" if scale == "imagenet" else None)
    torch.manual_seed(0)
    return m, get_stage(m.stage).build(cfg, load=False).to(dev).eval()


def _pass(method, m, net, data, policy, a, dev, batch):
    """One evaluation pass of ``method`` (``policy``) over ``data`` as ``saccader.evaluation`` runs it."""
    from saccader.evaluation import curves as ev
    from saccader.evaluation.methods import input_preparer

    kw = dict(batch_size=batch, max_images=len(data), device=dev, seeds=(0,), method=method)
    prep = input_preparer(m.stage, net.cfg)
    ctx = torch.autocast(dev.type, dtype=torch.bfloat16) if a.amp == "bf16" else nullcontext()
    with ctx:
        if m.stage == "policy":
            return ev.saccader_curves(net, data, [policy], a.glimpses, prepare=prep, **kw)
        if m.stage == "dram":
            return ev.dram_curves(net, data, a.glimpses, prepare=prep, **kw)
        if m.stage == "classnet":
            return ev.classnet_curves(net, data, a.glimpses, **kw)
        return ev.full_image_curves(net, data, prepare=prep, **kw)


def main(argv=None) -> list[dict]:
    from saccader.evaluation import curves as ev
    from saccader.evaluation.methods import _batch_size

    a = parse_args(argv)
    dev, kind, desc = setup_device(a.device, a.threads, "evaluation-sweep throughput")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    batch = _batch_size(a.scale, a.batch)
    bar = ev.tqdm
    ev.tqdm = lambda iterable, *args, **kwargs: iterable  # no progress bars in the timed passes
    try:
        rows = _sweep(a, dev, kind, desc, batch)
    finally:
        ev.tqdm = bar
    path = write_results(rows, NAME, dev, COLUMNS, settings={**vars(a), "batch": batch, "images": rows[0]["images"]},
                         out_dir=a.out_dir)
    print(f"wrote {path} and {path.with_suffix('.json').name}", flush=True)
    notice = cpu_notice(dev, "evaluation-sweep throughput")
    if notice:
        print(notice, flush=True)
    return rows


def _sweep(a, dev, kind, desc, batch) -> list[dict]:
    from saccader.evaluation import curves as ev

    n = a.images or 8 * batch
    rows = []
    print(f"{'method':24s} {'policy':15s} {'model':26s} {'input':>5s} {'images':>6s} {'img/s':>9s} {'s':>8s}  status", flush=True)
    for method in a.methods:
        m, net = _model(method, a.scale, dev)
        size = 96 if a.scale == "tiny" else net.cfg.input_size[-1]  # the held-out images' size
        data = RandomImages(n, size, net.cfg.num_classes)
        policies = (a.policies or list(m.policies)) if method == "saccader" else list(m.policies)
        for policy in policies:
            row = {"device_kind": kind, "device": desc, "method": method, "model": net.cfg.name,
                   "policy": policy, "glimpses": a.glimpses if m.stage != "representation" else net.cfg.grid_size ** 2,
                   "input": size, "batch": batch, "images": n, "amp": a.amp,
                   "runs": a.seeds if policy in ev.STOCHASTIC_POLICIES else 1, "repeats": a.repeats}
            try:
                times = time_call(lambda: _pass(method, m, net, data, policy, a, dev, batch), dev, a.warmup, a.repeats)
                med = statistics.median(times)
                row.update(median_s=med, min_s=min(times), max_s=max(times), images_per_s=n / med, status="ok")
            except torch.cuda.OutOfMemoryError:
                row["status"] = "out of memory"
            except Exception as exc:  # noqa: BLE001 - report and go on
                row["status"] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            rows.append(row)
            _print(row)
        del net
        gc.collect()
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    ok = [r for r in rows if r["status"] == "ok"]
    if ok:
        total = sum(r["median_s"] * r["runs"] for r in ok)
        sweep = {"device_kind": kind, "device": desc, "method": "sweep", "model": "", "policy": "all",
                 "glimpses": a.glimpses, "input": "", "batch": batch, "images": n, "amp": a.amp,
                 "runs": sum(r["runs"] for r in ok), "repeats": a.repeats, "median_s": total, "min_s": float("nan"),
                 "max_s": float("nan"), "images_per_s": n / total,
                 "status": "ok" if len(ok) == len(rows) else f"partial: {len(rows) - len(ok)} passes failed"}
        rows.append(sweep)
        _print(sweep)
    return rows


def _print(r: dict) -> None:
    if r["status"] != "ok" and "median_s" not in r:
        print(f"{r['method']:24s} {r['policy']:15s} {r['model']:26s}  {r['status']}", flush=True)
        return
    print(f"{r['method']:24s} {r['policy']:15s} {r['model']:26s} {str(r['input']):>5s} {r['images']:6d} "
          f"{r['images_per_s']:9.1f} {r['median_s']:8.3f}  {r['status']}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""happysad's benchmark: side-by-side comparisons, medians and ratios, docs/PERFORMANCE.md.

    pip install -e ".[bench]"
    python bench/run.py                 # about 5 to 10 minutes on 2 cores
    python bench/run.py --quick         # fewer rounds, for a look

Every comparison alternates its sides (A, B, A, B, ...) in fresh processes launched by this
one invocation, and reports medians, so that a machine busy with something else slows
both sides alike instead of deciding the result. Each side gets its own process because
the speed-ups set process-wide state (the allocator) that would otherwise leak into the
other side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_ZIP = REPO.parent / "shared" / "data" / "happy-or-sad.zip"
DIGITS = REPO.parent / "shared" / "data" / "digits" / "digits.csv"

# --------------------------------------------------------------------------------------
# FLOPs of the lab's network, counted from its layer shapes.
#   Conv2D forward: 2 * kh * kw * c_in * c_out * h_out * w_out   (a multiply and an add)
#   Dense forward:  2 * n_in * n_out
#   Training step:  3x forward (forward, gradient w.r.t. inputs, gradient w.r.t. weights),
#                   except the first layer, whose input gradient is never needed: 2x.
#   Pooling, ReLU, the loss and the optimizer update are element-wise and left out.
# --------------------------------------------------------------------------------------


def lab_flops(size: int = 150, filters=(16, 32, 64), dense: int = 512) -> tuple[float, float]:
    """(forward FLOPs, training-step FLOPs) per image."""
    layers, c, s = [], 3, size
    for f in filters:
        s_out = s - 2
        layers.append(2 * 3 * 3 * c * f * s_out * s_out)
        c, s = f, s_out // 2
    flat = c * s * s
    layers += [2 * flat * dense, 2 * dense * 1]
    forward = float(sum(layers))
    train = float(2 * layers[0] + 3 * sum(layers[1:]))
    return forward, train


def cpu_peak_gflops() -> tuple[float, str]:
    """Peak float32 GFLOP/s: cores x GHz x FLOP per cycle, and how it was counted.

    FLOP per cycle per core = FMA units x float32 lanes x 2 (a multiply and an add):
    AVX-512 on Intel server cores: 2 x 16 x 2 = 64; AVX2+FMA (and AMD's AVX-512, which
    runs 512-bit FMAs as two 256-bit halves): 2 x 8 x 2 = 32; otherwise 16. The clock is
    the one /proc/cpuinfo reports (under a hypervisor, usually the base clock).
    """
    cores = os.cpu_count() or 1
    mhz, flags, model, vendor = None, set(), "unknown CPU", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "cpu MHz" and mhz is None:
                mhz = float(value)
            elif key == "flags" and not flags:
                flags = set(value.split())
            elif key == "model name" and model == "unknown CPU":
                model = value
            elif key == "vendor_id" and not vendor:
                vendor = value
    except OSError:
        pass
    ghz = (mhz or 2400.0) / 1000.0
    if "avx512f" in flags and vendor == "GenuineIntel":
        per_cycle, unit = 64, "AVX-512: 2 FMA units x 16 float32 x 2"
    elif "avx2" in flags and "fma" in flags:
        per_cycle, unit = 32, "AVX2+FMA: 2 FMA units x 8 float32 x 2"
    else:
        per_cycle, unit = 16, "SSE/AVX"
    how = f"{cores} cores x {ghz:.2f} GHz x {per_cycle} FLOP/cycle ({unit}); {model}"
    return cores * ghz * per_cycle, how


# --------------------------------------------------------------------------------------


def _run_with_rss(args: list[str]) -> tuple[dict, float]:
    """Run bench/_worker.py; return its JSON result and the child's peak RSS in MiB."""
    proc = subprocess.Popen([sys.executable, str(HERE / "_worker.py"), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{err[-3000:]}")
    line = next(l for l in out.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):]), usage.ru_maxrss / 1024.0


def median(values):
    return statistics.median(values) if values else float("nan")


def bench_training(zip_path: Path, rounds: int, epochs: int, sides: list[str]) -> dict:
    """Seconds per epoch of each side, alternating sides round by round."""
    per_side: dict[str, list[float]] = {s: [] for s in sides}
    rss: dict[str, list[float]] = {s: [] for s in sides}
    for r in range(rounds):
        order = sides if r % 2 == 0 else list(reversed(sides))
        for side in order:
            result, peak = _run_with_rss(["epochs", side, zip_path, epochs])
            per_side[side].extend(result["seconds"])
            rss[side].append(peak)
            print(f"  round {r + 1}/{rounds} {side:22s} median {median(result['seconds']):.3f} s/epoch",
                  flush=True)
    return {"seconds": per_side, "rss": rss}


def bench_threshold(zip_path: Path, rounds: int, runs_dir: Path) -> dict:
    results: dict[str, list[dict]] = {"happysad": [], "lab": []}
    rss: dict[str, list[float]] = {"happysad": [], "lab": []}
    for r in range(rounds):
        for side in (["happysad", "lab"] if r % 2 == 0 else ["lab", "happysad"]):
            result, peak = _run_with_rss(["threshold", side, zip_path, runs_dir])
            results[side].append(result)
            rss[side].append(peak)
            print(f"  round {r + 1}/{rounds} {side:9s} {result['seconds']:.1f} s, "
                  f"{result['epochs']} epochs, accuracy {result['final_accuracy']:.4f}", flush=True)
    return {"results": results, "rss": rss}


def _time_command(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def bench_startup(repeats: int) -> dict[str, list[float]]:
    happysad = str(Path(sys.executable).with_name("happysad"))
    commands = {
        "happysad --help": [happysad, "--help"],
        "happysad --version": [happysad, "--version"],
        'python -c "import tensorflow"': [sys.executable, "-c", "import tensorflow"],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeats):
        for name, cmd in commands.items():
            times[name].append(_time_command(cmd))
    return times


def bench_predict(run: Path, zip_path: Path, repeats: int) -> dict:
    """Images per second of `happysad predict` on the 80 images: whole command, and in-process."""
    from happysad.archive import prepare_data

    folder = prepare_data(zip_path)
    happysad = str(Path(sys.executable).with_name("happysad"))
    cli = [_time_command([happysad, "predict", str(run), str(folder), "--format", "csv"])
           for _ in range(repeats)]
    code = (
        "import time, json, sys\n"
        "from happysad.predict import predict\n"
        f"predict({str(run)!r}, [{str(folder)!r}])\n"  # warm: model loaded and traced once
        "ts = []\n"
        f"for _ in range({repeats}):\n"
        "    t = time.perf_counter()\n"
        f"    rows = predict({str(run)!r}, [{str(folder)!r}])\n"
        "    ts.append(time.perf_counter() - t)\n"
        "print('RESULT ' + json.dumps({'seconds': ts, 'images': len(rows)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}).stdout
    inproc = json.loads(next(l for l in out.splitlines() if l.startswith("RESULT "))[7:])
    return {"cli_seconds": cli, "inprocess_seconds": inproc["seconds"], "images": inproc["images"]}


def bench_scratch(repeats: int) -> list[dict] | None:
    """bench/bench_scratch.py in its own process: one BLAS thread for both sides, and no
    TensorFlow thread pools competing with them."""
    if not DIGITS.is_file():
        return None
    proc = subprocess.run([sys.executable, str(HERE / "bench_scratch.py"), "--repeats",
                           str(repeats), "--json"], capture_output=True, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        print(f"  skipped: {proc.stderr.strip().splitlines()[-1:] or 'no result'} "
              "(pip install -e '.[bench]')")
        return None
    return json.loads(lines[0][len("RESULT "):])["rows"]


# --------------------------------------------------------------------------------------


def render(report: dict) -> str:
    fwd, train_flops = lab_flops()
    peak, how = report["peak"]
    lines = [
        "# Performance",
        "",
        f"Regenerated by `python bench/run.py{' --quick' if report['quick'] else ''}` on "
        f"{report['date']}. Every comparison alternates its sides in fresh processes of one "
        "invocation and reports medians.",
        "",
        "## Machine",
        "",
        f"- {report['machine']}",
        f"- Python {report['versions']['python']}, TensorFlow {report['versions']['tensorflow']}, "
        f"Keras {report['versions']['keras']}, NumPy {report['versions']['numpy']}",
        f"- Peak float32: {peak:.1f} GFLOP/s = {how}",
        "",
        "## 1. Training speed (the lab's network, 80 images, batch 10, 8 steps per epoch)",
        "",
        f"FLOPs, counted from the layer shapes (see `lab_flops` in `bench/run.py`): "
        f"{fwd / 1e6:.1f} MFLOP per image forward, {train_flops / 1e6:.1f} MFLOP per image for a "
        f"training step, {80 * train_flops / 1e9:.1f} GFLOP per epoch.",
        "",
        "| side | s/epoch (median) | images/s | GFLOP/s | of peak | vs lab-style |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    secs = report["training"]["seconds"]
    lab = median(secs["lab"])
    labels = {
        "happysad": "happysad train (default: in-memory data, speed-ups on; history and backup every epoch)",
        "happysad-nospeedups": "happysad, `speedups: false` (in-memory data only)",
        "happysad-xla": "happysad, `jit_compile: true` (XLA for the whole step)",
        "lab": "lab-style (`ImageDataGenerator.flow_from_directory`, stock Keras)",
    }
    for side, values in secs.items():
        m = median(values)
        gflops = 80 * train_flops / m / 1e9
        lines.append(f"| {labels[side]} | {m:.3f} | {80 / m:.0f} | {gflops:.1f} | "
                     f"{gflops / peak:.0%} | {lab / m:.2f}x |")
    th = report["threshold"]["results"]
    lines += [
        "",
        f"Each side: {len(secs['lab'])} measured epochs over {report['rounds']} alternating rounds "
        "(the first epoch of each process, with graph tracing, is left out).",
        "",
        "## 2. Time to threshold (all 80 images, seed 1, stop above 99.9% training accuracy)",
        "",
        "Wall time of the whole process (start, imports, data, model, training to the stop,"
        " and for happysad the run folder and the saved model), and the part of it spent in"
        " epochs (first epoch, with graph tracing, included).",
        "",
        "| side | process, s (median) | in epochs, s (median) | epochs to the stop | runs |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for side in ("happysad", "lab"):
        rs = th[side]
        lines.append(f"| {side} | {median([r['seconds'] for r in rs]):.1f} | "
                     f"{median([r.get('epoch_seconds', float('nan')) for r in rs]):.1f} | "
                     f"{', '.join(str(r['epochs']) for r in rs)} | "
                     f"{', '.join('%.1f s' % r['seconds'] for r in rs)} |")
    st = report["startup"]
    tf_import = median(st['python -c "import tensorflow"'])
    whole = median([r["seconds"] for r in th["lab"]]) / median([r["seconds"] for r in th["happysad"]])
    epochs_part = (median([r.get("epoch_seconds", float("nan")) for r in th["lab"]])
                   / median([r.get("epoch_seconds", float("nan")) for r in th["happysad"]]))
    lines += ["", f"Lab-style time over happysad time: {whole:.2f} for the whole process, "
              f"{epochs_part:.2f} for the epochs. Both processes pay the TensorFlow import "
              f"({tf_import:.1f} s here, section 3), which dominates a run this short.", ""]
    lines += ["## 3. Start-up", "", "| command | seconds (median) | fraction of TensorFlow import |",
              "| --- | ---: | ---: |"]
    for name, values in st.items():
        lines.append(f"| `{name}` | {median(values):.3f} | {median(values) / tf_import:.1%} |")

    pr = report["predict"]
    lines += [
        "", "## 4. Inference: `happysad predict` on the 80 images", "",
        "| measured | seconds (median) | images/s |", "| --- | ---: | ---: |",
        f"| the whole command (start, TensorFlow import, model load, decode, predict) | "
        f"{median(pr['cli_seconds']):.2f} | {pr['images'] / median(pr['cli_seconds']):.0f} |",
        f"| `predict()` in a warm process (model load, decode, predict) | "
        f"{median(pr['inprocess_seconds']):.3f} | {pr['images'] / median(pr['inprocess_seconds']):.0f} |",
    ]

    lines += ["", "## 5. The from-scratch network vs scikit-learn (digits, 64-25-10)", ""]
    if report["scratch"] is None:
        lines.append("Skipped: the digits data or scikit-learn was not available.")
    else:
        keys = list(report["scratch"][0])
        lines.append("| " + " | ".join(keys) + " |")
        lines.append("| " + " | ".join("---" for _ in keys) + " |")
        for row in report["scratch"]:
            lines.append("| " + " | ".join(
                f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()) + " |")

    rss = report["threshold"]["rss"]
    lines += ["", "## 6. Peak memory (resident set of a whole training run to the threshold)", "",
              "| side | peak RSS, MiB (median) |", "| --- | ---: |"]
    for side in ("happysad", "lab"):
        lines.append(f"| {side} | {median(rss[side]):.0f} |")
    lines += ["", report["notes"]]
    return "\n".join(lines) + "\n"


NOTES = """## What was tried, and what limits it

The first profile of one training step before any change (`python bench/profile_step.py
--stock`, batch 10), on the first, slower machine these speed-ups were made on (2 cores,
AVX2): ~190 ms, of which the RMSprop update of the 9.5M-parameter Dense
kernel ~73 ms, the Dense layer's forward and backward ~38 ms, the three convolutions ~80 ms,
the max-pooling gradients ~27 ms. On a busy machine the same step took ~310 ms, a third of
it page faults on freshly allocated 38 MB buffers. With the speed-ups
(`python bench/profile_step.py`): ~140 ms, the update ~11 ms. The millisecond figures in the
table's rows down to the JAX one come from that machine; the rows after it, and the
paragraph below, from the 2026-12-04 machine, where the same stock step takes ~50-85 ms
(the stock update ~19-32 ms) depending on how busy it is.

| change | kept? | measured effect |
| --- | --- | --- |
| decode and resize each image once, keep the tensors in memory, prefetch | yes | part of the `speedups: false` row of section 1 |
| fuse RMSprop's update of large variables into one XLA kernel (`happysad/speed.py`) | yes | update 73 ms -> 11 ms per step; same weights to 1e-5 (tested) |
| reuse freed memory (glibc `mallopt`: no `mmap` for large blocks, no trimming) | yes | removes the per-step page faults (~90 ms a step on a busy machine); costs peak RSS (section 6) |
| one graph call per epoch (`steps_per_execution` = steps per epoch) | yes | ~135 -> ~111 ms a step: Keras's per-step Python work |
| write the epoch backup (76 MB: weights and optimizer state) from a background thread | yes | the backup cost ~0.23 s an epoch in the training loop |
| write the backup to disk only every `backup_interval` seconds (10), the epochs between held in memory for Ctrl-C | yes | the background write and fsync still took ~0.15 s of a ~0.5 s epoch on 2 cores; now 0.50 -> 0.36 s, the same as with no backup |
| XLA for the whole train step (`jit_compile: true`) | no (option) | fuses the update too, but XLA's CPU convolutions are ~2x slower than oneDNN's: the slowest row above |
| XLA for the Dense layer only, or for the pooling layers | no | 135 -> 180 and 205 ms a step |
| thread pools: inter-op 1, or intra-op 1 | no | 117 ms (defaults) vs 150-200 ms |
| another Keras backend (JAX 0.10 on CPU) | no | no faster per step here, and a second 600 MB framework to install |
| compute the Dense layer's input gradient as `einsum("io,bo->bi", kernel, dy)` instead of TensorFlow's `dy @ kernel^T` (`fast_dense_input_gradient`) | yes | that product ~5 -> ~2.8 ms (`python bench/profile_kernels.py`); same gradients to rounding (tested) |
| copy the backup snapshot once, into two reused sets of buffers | yes | ~15 -> ~9 ms an epoch |
| bfloat16 arithmetic (Keras's `mixed_bfloat16` policy; this CPU has AVX-512 BF16) | no | 0.222 vs 0.307 s/epoch, 1.39x (`python bench/alternatives.py`), but it changes the arithmetic, hence what is learned |
| PyTorch 2.13 (CPU, oneDNN), the same network and RMSprop | no | 0.78 vs 0.31 s/epoch (`python bench/alternatives.py`): 2.5x slower |
| compute the Dense kernel's gradient inside the fused RMSprop kernel (one XLA kernel: the 38 MB gradient never stored) | no | 8.65 -> 7.81 ms fastest (10.97 -> 10.57 median): under 1 ms a step, for moving the update inside the gradient, outside Keras's optimizer |
| Keras's NumPy-array input (`fit(x, y)`) instead of a `tf.data` stream | no | some epochs ran at half speed (0.6 vs 0.3 s, the same CPU time: one core busy); happysad feeds `tf.data` |

What limits it: the arithmetic itself. `python bench/profile_kernels.py` times every kernel
a training step needs, alone, fastest of 30 calls (2026-12-04, AMD EPYC with AVX-512, 2
cores, a quiet moment; under load the same script reads 40-50% more): the convolutions' forward passes and gradients ~21 ms at 105-185 GFLOP/s (the
16- and 32-channel layers run above the 166 GFLOP/s counted as peak, so the cores clock
above the nominal 2.6 GHz: the "of peak" column is against the nominal clock; the first
layer's input gradient, never needed, left out); the ReLU and max-pooling gradients ~6 ms;
the Dense layer's three products ~8.5 ms (each reads the 38 MB kernel once: memory-bound at
batch 10, ~70 GFLOP/s); RMSprop's fused update ~6 ms (190 MB moved). That sums to 41-44 ms
a step, 0.33-0.35 s for an epoch's 8 steps. That sum is a guide, not a hard floor: in a
real step independent kernels overlap, and a bare `fit` of the model measured 0.307 s an
epoch (`bench/alternatives.py`), `happysad train` 0.347 s (section 1; its data stream,
history and backup add ~0.03-0.04 s), and on a quiet moment `happysad train` has been seen
at 0.28-0.30 s. The lab-style epoch is
the same arithmetic with stock Keras's update (~19 ms a step) and input gradient (~6 ms),
plus decoding the 80 PNGs again: 0.587 s, ~0.25 s more than happysad's. So with float32
arithmetic at batch 10 we estimate the ratio per epoch cannot pass ~1.9x on this machine
(0.587 / 0.307), and it measures 1.69x; 2x needs other arithmetic (bfloat16: 1.39x faster again) or another batch size, both of which
change what is learned. The 2.2x and 2.47x of earlier runs came on machines where stock
Keras's step carried large page-fault and update costs (the profile at the top).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_ZIP, help="the happy-or-sad zip")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "PERFORMANCE.md")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the Markdown from the last run's JSON, measuring nothing")
    args = parser.parse_args()
    if args.render_only:
        report = json.loads(args.out.with_suffix(".json").read_text())
        report["notes"] = NOTES
        args.out.write_text(render(report), encoding="utf-8")
        return
    if not args.data.is_file():
        sys.exit(f"error: dataset zip {args.data} not found; pass --data PATH")
    rounds = 2 if args.quick else 3
    epochs = 3 if args.quick else 5
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import numpy

    from happysad.backend import load_keras

    keras = load_keras()  # TensorFlow's start-up chatter silenced, as the tool does it
    import tensorflow

    report: dict = {
        "quick": args.quick, "rounds": rounds,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores, "
                   f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "versions": {"python": platform.python_version(), "tensorflow": tensorflow.__version__,
                     "keras": keras.__version__, "numpy": numpy.__version__},
        "peak": cpu_peak_gflops(),
        "notes": NOTES,
    }
    print("1. training speed", flush=True)
    report["training"] = bench_training(
        args.data, rounds, epochs, ["happysad", "lab", "happysad-nospeedups", "happysad-xla"])
    with tempfile.TemporaryDirectory() as tmp:
        print("2. time to threshold", flush=True)
        report["threshold"] = bench_threshold(args.data, 2 if args.quick else 3, Path(tmp))
        print("3. start-up", flush=True)
        report["startup"] = bench_startup(5)
        print("4. inference", flush=True)
        run = Path(report["threshold"]["results"]["happysad"][0]["run"])
        report["predict"] = bench_predict(run, args.data, 3)
    print("5. from-scratch network", flush=True)
    report["scratch"] = bench_scratch(3 if args.quick else 5)
    text = render(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    (args.out.with_suffix(".json")).write_text(json.dumps(report, indent=2, default=str))
    print(text)


if __name__ == "__main__":
    main()

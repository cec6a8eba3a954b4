"""tf.distribute: mirrored on two logical CPUs, and two workers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from happysad.distribute import read_tf_config
from happysad.errors import ConfigError
from happysad.runs import RunFolder

from .conftest import make_image_folder

SMALL = ["--epochs", "3", "--image-size", "24", "--set", "conv_filters=[4]", "--set",
         "dense_units=8", "--set", "threshold=null", "--seed", "3", "-q"]


def _train(args, env=None, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "happysad", "train", *map(str, args)],
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out


def _close(a, b):
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), key


def test_tf_config_is_checked(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="needs the TF_CONFIG environment variable"):
        read_tf_config()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG must be JSON"):
        read_tf_config()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]},
                                                "task": {"type": "worker", "index": 3}}))
    with pytest.raises(ConfigError, match="index 3 is not a worker"):
        read_tf_config()


@pytest.mark.slow
def test_mirrored_on_two_cpus_matches_one_device(tmp_path):
    data = make_image_folder(tmp_path / "faces", per_class=8)
    common = ["--data", data, "--runs-dir", tmp_path / "runs", *SMALL]
    # Two replicas of batch 2 make the same global batch of 4 as one device.
    mirrored = _train([*common, "--strategy", "mirrored", "--batch-size", "2", "--name", "m"],
                      env={"HAPPYSAD_CPU_DEVICES": "2"})
    single = _train([*common, "--batch-size", "4", "--name", "s"])
    _finish(mirrored), _finish(single)
    m, s = RunFolder(tmp_path / "runs" / "m"), RunFolder(tmp_path / "runs" / "s")
    assert m.metrics()["replicas"] == 2 and m.metrics()["global_batch_size"] == 4
    _close(m.history(), s.history())


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_localhost_write_one_run_folder(tmp_path):
    data = make_image_folder(tmp_path / "faces", per_class=8)
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    common = ["--data", data, "--runs-dir", tmp_path / "runs", *SMALL,
              "--strategy", "multiworker", "--batch-size", "2", "--name", "mw"]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        procs.append(_train(common, env={"TF_CONFIG": json.dumps(tf_config),
                                         "TMPDIR": str(tmp_path)}))
    outputs = [_finish(p) for p in procs]
    assert "Run folder:" in outputs[0] and "the chief writes the run folder" in outputs[1]
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["mw"]
    assert not list(tmp_path.glob("happysad-worker*"))  # the worker's scratch copy is gone
    run = RunFolder(tmp_path / "runs" / "mw")
    assert run.model_path.is_file() and run.metrics()["replicas"] == 2
    single = _train(["--data", data, "--runs-dir", tmp_path / "runs1", *SMALL,
                     "--batch-size", "4", "--name", "s"])
    _finish(single)
    _close(run.history(), RunFolder(tmp_path / "runs1" / "s").history())


_INTERRUPT_AND_RESUME = """
import sys, keras
from happysad.config import TrainConfig, build_config
from happysad.train import resume_config, train

class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt

values = dict(data=sys.argv[1], runs_dir=sys.argv[2], name="m", strategy="mirrored", epochs=3,
              image_size=24, conv_filters=[4], dense_units=8, threshold=None, batch_size=2,
              seed=3, progress="none", backup_interval=0)
cut = train(build_config(TrainConfig, values), echo=lambda s: None, callbacks=[Interrupt()])
assert cut.status == "interrupted", cut.status
resumed = train(resume_config(cut.run.path), resume=cut.run.path, echo=lambda s: None)
print(resumed.status, resumed.run.history()["epoch"])
"""


@pytest.mark.slow
def test_an_interrupted_mirrored_run_resumes(tmp_path):
    data = make_image_folder(tmp_path / "faces", per_class=8)
    proc = subprocess.run([sys.executable, "-c", _INTERRUPT_AND_RESUME, str(data),
                           str(tmp_path / "runs")], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HAPPYSAD_CPU_DEVICES": "2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("finished [1, 2, 3]"), proc.stdout

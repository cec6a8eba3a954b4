"""The command line end to end: fast help, the main job on tiny data, one-line errors."""

from __future__ import annotations

import hashlib
import json
import io
import subprocess
import sys
import zipfile

import pytest
from click.testing import CliRunner

from happysad.cli import main

from .helpers_http import FakeServer

SMOKE = ["--image-size", "24", "--set", "conv_filters=[4]", "--set", "dense_units=8",
         "--batch-size", "4", "--epochs", "2", "--set", "threshold=null", "--seed", "3"]


def invoke(*args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kwargs)


def assert_one_line_error(result, *fragments):
    assert result.exit_code != 0, result.output
    err = result.stderr.strip()
    assert "Traceback" not in result.output and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:") or line.startswith("Error:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help_and_version_do_not_import_tensorflow():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from happysad.cli import main\n"
        "for args in (['--help'], ['--version'], ['train', '--help'], ['scratch', '--help'],"
        " ['plot', '--help'], ['summary', '--help'], ['download', '--help']):\n"
        "    r = CliRunner().invoke(main, args)\n"
        "    assert r.exit_code == 0, (args, r.output)\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'matplotlib', 'scipy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version():
    from happysad import __version__

    assert invoke("--version").output.strip() == f"happysad, version {__version__}"


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "happysad", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "train" in out and "download" in out


def test_train_plot_summary_end_to_end(tmp_path, image_folder):
    runs = tmp_path / "runs"
    result = invoke("train", "--data", image_folder, "--runs-dir", runs, "--name", "e2e", *SMOKE)
    assert result.exit_code == 0, result.output
    assert "Classes: happy -> 0, sad -> 1" in result.output
    assert "Stopped: reached the maximum of 2 epochs." in result.output
    run = runs / "e2e"
    assert (run / "model.keras").is_file()

    plotted = invoke("plot", run)
    assert plotted.exit_code == 0, plotted.output
    for name in ("training.png", "validation.png"):
        assert (run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    summary = invoke("summary", run)
    assert summary.exit_code == 0 and "Total params" in summary.output


def test_data_from_environment(tmp_path, image_folder, monkeypatch):
    monkeypatch.setenv("HAPPYSAD_DATA", str(image_folder))
    result = invoke("train", "--runs-dir", tmp_path / "runs", "-q", *SMOKE)
    assert result.exit_code == 0, result.output
    assert str(image_folder) in (next((tmp_path / "runs").iterdir()) / "metrics.json").read_text()


def test_summary_of_the_default_model_without_data():
    result = invoke("summary")
    assert result.exit_code == 0
    assert "9,494,561" in result.output
    assert "output (Dense)" in result.output and "conv3 (Conv2D)" in result.output


def test_summary_of_a_config(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("image_size: 64\nconv_filters: [8]\ndense_units: 4\n")
    result = invoke("summary", "--config", f)
    # 64 -> conv 62 -> pool 31: 31*31*8 = 7688 inputs to Dense(4)
    assert "(None, 7688)" in result.output


@pytest.mark.parametrize("args,fragments", [
    (["train", "--data", "/no/such/path"], ["data path /no/such/path not found"]),
    (["train", "--epochs", "0"], ["epochs must be at least 1"]),
    (["train", "--set", "learning_rat=1"], ["did you mean 'learning_rate'"]),
    (["train", "--set", "oops"], ["must look like key=value"]),
    (["train", "--config", "/no/config.yaml"], ["config file /no/config.yaml not found"]),
    (["train", "--learning-rate", "-1"], ["learning_rate must be > 0"]),
    (["train", "--stop-when", "val_acc=1"], ["must look like METRIC OP VALUE"]),
    (["train", "--resume", "/no/run"], ["run folder /no/run not found"]),
    (["plot", "/no/run"], ["run folder /no/run not found"]),
    (["summary", "/no/run"], ["run folder /no/run not found"]),
    (["train", "--epochs", "two"], ["'two' is not a valid integer"]),
    (["download", "--sha256", "xyz"], ["must be 64 hex digits"]),
    (["download", "--url", "http://127.0.0.1:9/x.zip"], ["--url needs --sha256 HEX"]),
    (["train", "--data", ""], ["--data is empty"]),
    (["train", "--seed", "4294967296"], ["seed must be in [0, 2**32)"]),
    (["train", "--epochs", "99999999999999999999"], ["epochs must be at most 100,000"]),
    (["train", "--set", "dense_units=100000000000"], ["parameters (at most 500,000,000)"]),
    (["train", "--name", "  "], ["name must be a plain folder name"]),
    (["train", "--name", "a\nb"], ["name must be a plain folder name"]),
    (["train", "--stop-when", "loss<1e999"], ["must be a finite number"]),
    (["train", "--set", "epochs=" + "[" * 20000], ["nested too deeply"]),
    (["train", "--data", "/dev/zero"], ["not a regular file or folder"]),
    (["download", "--url", "", "--sha256", "0" * 64], ["URL"]),
    (["predict", "run", "x.png", "--batch-size", "0"], ["0 is not in the range", "happysad predict --help"]),
    (["nosuchcommand"], ["No such command 'nosuchcommand'"]),
    (["evaluate", "run", "--threshold", "0"], ["--threshold"]),
])
def test_bad_input_is_one_clear_line(args, fragments):
    assert_one_line_error(CliRunner().invoke(main, args), *fragments)


def test_bad_data_is_one_clear_line(tmp_path):
    (tmp_path / "notzip.zip").write_text("hello")
    assert_one_line_error(invoke("train", "--data", tmp_path / "notzip.zip"), "not a zip file")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(invoke("train", "--data", tmp_path / "empty"), "no class folders")


def test_download_command_against_a_local_server(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in ("happy/a.png", "sad/b.png"):
            z.writestr(name, b"x")
    payload = buf.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    with FakeServer(payload) as server:
        ok = invoke("download", "--url", server.url("/good.zip"), "--sha256", digest,
                    "--cache-dir", tmp_path / "c", "-q")
        assert ok.exit_code == 0, ok.output
        assert f"{digest}.zip" in ok.output and (tmp_path / "c").is_dir()
        again = invoke("download", "--url", server.url("/good.zip"), "--sha256", digest,
                       "--cache-dir", tmp_path / "c", "-q")
        assert again.exit_code == 0 and server.hits["/good.zip"] == 1
        bad = invoke("download", "--url", server.url("/wrong.zip"), "--sha256", digest,
                     "--cache-dir", tmp_path / "c2", "-q")
        assert_one_line_error(bad, "checksum")
        # The default pin on another URL's file: the hint says to give that file's own.
        from happysad.download import fetch
        from happysad.config import DEFAULT_SHA256
        from happysad.errors import DownloadError

        with pytest.raises(DownloadError, match="default checksum pins the lab's dataset only"):
            fetch(server.url("/good.zip"), DEFAULT_SHA256, tmp_path / "c3", progress=False)


def test_bare_command_shows_the_whole_help():
    result = CliRunner().invoke(main, [])
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: happysad") and "Commands:" in result.stderr
    assert len(result.stderr.splitlines()) > 10  # the help itself, not folded into one line


@pytest.mark.slow
def test_a_reader_that_goes_away_does_not_cut_the_work_short(tmp_path):
    """'happysad ... | head -1': the output stops, the work does not (no 'Broken pipe')."""
    import subprocess
    import sys

    from .conftest import make_image_folder

    data = make_image_folder(tmp_path / "faces")
    command = [sys.executable, "-m", "happysad", "scratch", "train", "--data", str(data),
               "--image-size", "8", "--epochs", "300", "--optimizer", "gd", "--name", "piped",
               "--runs-dir", str(tmp_path / "runs")]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.readline()
    proc.stdout.close()  # what head does after its first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Broken pipe" not in err and "Traceback" not in err
    assert (tmp_path / "runs" / "piped" / "metrics.json").is_file()


def test_ctrl_c_outside_training_is_one_line_and_exit_130(monkeypatch, tmp_path):
    import happysad.plot

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(happysad.plot, "plot_run", interrupted)
    result = CliRunner().invoke(main, ["plot", str(tmp_path)])
    assert result.exit_code == 130 and result.stderr.startswith("error: interrupted")


def test_predict_error_does_not_suggest_a_training_option(trained_run, tmp_path):
    bad = tmp_path / "x.png"
    bad.write_text("not an image")
    result = CliRunner().invoke(main, ["predict", str(trained_run), str(bad)])
    assert_one_line_error(result, "cannot read image")
    assert "--skip-bad-images" not in result.stderr


def test_runs_and_env_commands(trained_run):
    listed = invoke("runs", "--runs-dir", trained_run.parent)
    assert listed.exit_code == 0 and "run" in listed.output and "finished" in listed.output
    as_json = json.loads(invoke("runs", "--runs-dir", trained_run.parent, "--json").output)
    assert as_json[0]["run"] == "run" and as_json[0]["epochs"] == 8
    assert_one_line_error(CliRunner().invoke(main, ["runs", "--runs-dir", str(trained_run / "nothing")]),
                          "runs folder", "not found")
    empty = trained_run.parent.parent / "empty-runs"
    empty.mkdir(exist_ok=True)
    assert "no runs in" in invoke("runs", "--runs-dir", empty).output
    info = json.loads(invoke("env", "--json").output)
    assert info["tensorflow"] and info["keras"] and any(d["type"] == "CPU" for d in info["devices"])


def test_empty_data_environment_variable_never_downloads(monkeypatch):
    # click reads an empty variable as unset; that would silently download.
    monkeypatch.setenv("HAPPYSAD_DATA", "")
    assert_one_line_error(CliRunner().invoke(main, ["train"]), "HAPPYSAD_DATA is set but empty")


def test_closed_stdout_does_not_break_training(tmp_path, image_folder):
    args = [sys.executable, "-m", "happysad", "train", "--data", str(image_folder),
            "--runs-dir", str(tmp_path / "runs"), "--name", "closed", *SMOKE]
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          close_fds=True, preexec_fn=lambda: __import__("os").close(1),
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "runs" / "closed" / "model.keras").is_file()


@pytest.mark.skipif(not __import__("os").path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", [["--version"], ["runs", "--runs-dir", "."]])
def test_a_full_output_device_is_one_line_not_a_traceback(args, tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "happysad", *args], stdout=full,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.strip()] == [
        line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "No space left on device" in done.stderr


def test_sigterm_acts_as_ctrl_c_while_a_resume_is_checked(monkeypatch, tmp_path):
    """Checking a resumed run loads Keras (seconds): SIGTERM there must end as Ctrl-C does
    (exit 130, one line), not kill the process (before: exit -15, no word)."""
    import signal

    import happysad.train

    seen = []

    def check(*args, **kwargs):
        seen.append(signal.getsignal(signal.SIGTERM))
        raise KeyboardInterrupt

    monkeypatch.setattr(happysad.train, "resume_config", check)
    result = CliRunner().invoke(main, ["train", "--resume", str(tmp_path)])
    assert seen and seen[0] not in (signal.SIG_DFL, signal.SIG_IGN, None)
    assert result.exit_code == 130 and result.stderr.startswith("error: interrupted")


def test_resume_ignores_the_data_environment_variable(monkeypatch, tmp_path):
    """HAPPYSAD_DATA is a default for new runs: it must not count as a change on resume
    (before: 'cannot change data when resuming', even for the printed resume command)."""
    import happysad.train

    asked = []

    def check(run, changed):
        asked.append(changed)
        raise KeyboardInterrupt  # enough: what the command asked for is recorded

    monkeypatch.setattr(happysad.train, "resume_config", check)
    monkeypatch.setenv("HAPPYSAD_DATA", str(tmp_path / "faces"))
    CliRunner().invoke(main, ["train", "--resume", str(tmp_path), "--epochs", "9"])
    assert asked == [{"epochs": 9}]

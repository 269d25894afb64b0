"""SSN run directories and the command line, end to end."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from spikealign.io import OutputExistsError, read_status
from spikealign.ssn import load_config
from spikealign.ssn import run as run_mod
from spikealign.ssn.train import Trainer

TINY = {"num_epochs": 9, "val_step": 4, "val_factor": 3, "dur": 30}


def tiny_cfg():
    return load_config("syn_noise_sal", overrides=TINY)


def cli(*args, cwd=None):
    env = {**os.environ, "SPIKEALIGN_QUIET": "1"}
    return subprocess.run(
        [sys.executable, "-m", "spikealign", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def test_run_writes_documented_files_and_refuses_overwrite(tmp_path):
    out = tmp_path / "run"
    m = run_mod.run(tiny_cfg(), out, show_progress=False)
    for f in (
        "config.yaml",
        "results.npz",
        "metrics.json",
        "figure.png",
        "figure.pdf",
        "status.json",
    ):
        assert (out / f).is_file(), f
    assert not (out / "checkpoint.npz").exists()
    with np.load(out / "results.npz") as r:
        assert set(r.files) == set(run_mod.RESULT_FIELDS)
        assert r["all_weights"].shape == (3, 7, 7)
        assert r["val_cycles"].tolist() == [0, 4, 8]
        assert r["dkls"][-1] == pytest.approx(m["final_dkl"])
    assert read_status(out)["state"] == "done"
    with pytest.raises(OutputExistsError, match="finished run"):
        run_mod.run(tiny_cfg(), out, show_progress=False)
    run_mod.run(tiny_cfg(), out, show_progress=False, overwrite=True)


def test_interrupted_run_resumes_bit_identically(tmp_path, monkeypatch):
    ref = tmp_path / "ref"
    run_mod.run(tiny_cfg(), ref, show_progress=False, make_figure=False)

    calls = {"n": 0}
    original = Trainer.step_block

    def flaky(self, state, **kw):
        if calls["n"] == 2:
            raise KeyboardInterrupt
        calls["n"] += 1
        return original(self, state, **kw)

    monkeypatch.setattr(Trainer, "step_block", flaky)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        run_mod.run(tiny_cfg(), out, show_progress=False, make_figure=False)
    assert read_status(out)["state"] == "interrupted"
    assert (out / "checkpoint.npz").is_file()
    monkeypatch.setattr(Trainer, "step_block", original)

    executed = []
    monkeypatch.setattr(
        Trainer,
        "validation_cycle",
        lambda self, st, _f=Trainer.validation_cycle: (executed.append(st.cycle), _f(self, st)),
    )
    run_mod.run(tiny_cfg(), out, show_progress=False, make_figure=False)
    assert executed == [8]  # only the unfinished block ran
    with np.load(ref / "results.npz") as a, np.load(out / "results.npz") as b:
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_checkpoint_of_another_config_is_not_resumed(tmp_path, monkeypatch):
    out = tmp_path / "r"
    monkeypatch.setattr(
        Trainer, "step_block", lambda self, st, **kw: (_ for _ in ()).throw(KeyboardInterrupt)
    )
    with pytest.raises(KeyboardInterrupt):
        run_mod.run(tiny_cfg(), out, show_progress=False)
    # no block finished: no checkpoint yet; write one by hand for a different config
    np.savez(out / "checkpoint.npz", config_hash=np.array("deadbeef"))
    monkeypatch.undo()
    with pytest.raises(Exception, match="checkpoint of a different config"):
        run_mod.run(tiny_cfg(), out, show_progress=False)


def test_cli_end_to_end(tmp_path):
    cfg = yaml.safe_load(
        (Path(run_mod.__file__).parent / "presets" / "syn_noise_sal.yaml").read_text()
    )
    cfg.update(TINY)
    f = tmp_path / "tiny.yaml"
    f.write_text(yaml.safe_dump(cfg))
    r = cli("ssn", "run", str(f), "--out", str(tmp_path / "o"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "final DKL" in r.stdout
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["n_validations"] == 3 and metrics["feedback"] == "sal"
    # a second run into the same finished directory is refused with one line
    r = cli("ssn", "run", str(f), "--out", str(tmp_path / "o"), "--quiet")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert "finished run" in r.stderr
    # overrides from the command line
    r = cli("ssn", "run", str(f), "--out", str(tmp_path / "o2"), "--quiet", "--set", "lr.symm=0")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "o2" / "metrics.json").read_text())["feedback"] == "none"


@pytest.mark.parametrize(
    "text, field",
    [
        ("unknown_key: 1", "unknown_key: unknown key"),
        ("sim_params: {t_ref: 0, tau_syn: 50}", "sim_params.t_ref"),
        ("lr: {bias: 0.01, weight: wrong}", "lr.weight: Input should be a valid number"),
    ],
)
def test_cli_bad_config_fails_before_simulating(tmp_path, text, field):
    cfg = yaml.safe_load((Path(run_mod.__file__).parent / "presets" / "smoke.yaml").read_text())
    cfg.update(yaml.safe_load(textwrap.dedent(text)))
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(cfg))
    r = cli("ssn", "run", str(f), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert field in r.stderr and r.stderr.strip().count("\n") == 0
    assert not (tmp_path / "o").exists()


def test_cli_lists_presets_and_checks():
    r = cli("ssn", "presets")
    assert r.returncode == 0 and "plast_noise_sal" in r.stdout
    r = cli("ssn", "check", "smoke")
    assert r.returncode == 0 and "simulated steps" in r.stdout


def test_exit_codes_of_commands_reach_the_process(monkeypatch, capsys):
    """typer returns (does not raise) the code of ``typer.Exit`` and of Ctrl-C outside its
    standalone mode; ``main`` must exit with it."""
    import typer

    from spikealign import cli

    fake = typer.Typer()

    @fake.command("fail")
    def fail():
        raise typer.Exit(3)

    @fake.command("ctrl-c")
    def ctrl_c():
        raise KeyboardInterrupt

    @fake.command("ok")
    def ok():
        typer.echo("fine")

    monkeypatch.setattr(cli, "app", fake)
    for args, code in ((["fail"], 3), (["ctrl-c"], 130)):
        with pytest.raises(SystemExit) as exc:
            cli.main(args)
        assert exc.value.code == code
    assert "interrupted" in capsys.readouterr().err
    cli.main(["ok"])  # success returns normally
    assert "fine" in capsys.readouterr().out

"""spikealign.familyrun: the shared resumable run, driven by a toy Trainable (pure Python state
with a random generator): an interrupted and resumed run ends bit-identical, a checkpoint of
another config is refused, a damaged one is reported and the run restarts, a finished run is
kept unless overwritten."""

import json

import numpy as np
import pytest

from spikealign.config import ConfigError
from spikealign.familyrun import CHECKPOINT, Trainable, run_resumable
from spikealign.io import OutputExistsError, read_status
from spikealign.rundir import RunDirWarning


class Toy:
    """``blocks`` blocks; each draws three normals from the state's generator. ``stop_at``:
    the step of that block raises KeyboardInterrupt half-way (after a draw), once."""

    def __init__(self, blocks=6, seed=0, config="a", stop_at=None, every=1):
        self.blocks, self.seed, self.config, self.stop_at, self.every = (
            blocks,
            seed,
            config,
            stop_at,
            every,
        )
        self.steps = []  # the blocks stepped (completed) by this object

    def new_state(self):
        return {"block": 0, "values": [], "rng": np.random.default_rng(self.seed)}

    @staticmethod
    def from_arrays(a):
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(str(a["rng"]))
        return {"block": int(a["block"]), "values": [float(v) for v in a["values"]], "rng": rng}

    @staticmethod
    def to_arrays(s):
        return {
            "block": np.int64(s["block"]),
            "values": np.array(s["values"], dtype=float),
            "rng": np.array(json.dumps(s["rng"].bit_generator.state)),
        }

    def step(self, s, on_progress):
        first = s["rng"].normal()
        if s["block"] == self.stop_at:
            self.stop_at = None
            raise KeyboardInterrupt  # half-way through a block: its draw is lost
        s["values"] += [first, *s["rng"].normal(size=2)]
        self.steps.append(s["block"])
        s["block"] += 1
        on_progress(1)

    def results(self, s):
        v = np.array(s["values"])
        return {"values": v}, {"total": float(v.sum()), "n": len(v), "runtime_s": 0.0}

    def trainable(self):
        return Trainable(
            family="ssn",
            config_yaml=f"toy: {self.config}\n",
            config_hash=f"hash-{self.config}",
            total=self.blocks,
            unit="block",
            progress_key="cycle",
            total_key="num_epochs",
            new_state=self.new_state,
            state_from_arrays=self.from_arrays,
            state_arrays=self.to_arrays,
            position=lambda s: s["block"],
            done=lambda s: s["block"] >= self.blocks,
            step=self.step,
            results=self.results,
            checkpoint_due=lambda s: s["block"] % self.every == 0,
        )


def run(toy, out, **kw):
    return run_resumable(toy.trainable(), out, show_progress=False, **kw)


def values(out):
    with np.load(out / "results.npz") as a:
        return a["values"].copy()


@pytest.mark.parametrize("stop_at,every", [(3, 1), (1, 1), (5, 1), (4, 3), (2, 3)])
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path, stop_at, every):
    ref = run(Toy(every=every), tmp_path / "ref")
    assert ref["n"] == 18

    toy = Toy(stop_at=stop_at, every=every)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run(toy, out)
    assert read_status(out)["state"] == "interrupted"
    saved = (stop_at // every) * every  # the last checkpointed block boundary
    if saved:
        with np.load(out / CHECKPOINT) as a:
            assert int(a["block"]) == saved and str(a["config_hash"]) == "hash-a"
    else:
        assert not (out / CHECKPOINT).exists()
    toy.steps.clear()
    m = run(toy, out)
    assert toy.steps == list(range(saved, 6))  # only the blocks after the checkpoint
    assert m == ref
    assert np.array_equal(values(out), values(tmp_path / "ref"))
    assert read_status(out)["state"] == "done" and not (out / CHECKPOINT).exists()
    assert (out / "config.yaml").read_text() == "toy: a\n"


def test_a_checkpoint_of_another_config_is_a_one_line_config_error(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run(Toy(stop_at=3), out)
    other = Toy(config="b")
    with pytest.raises(ConfigError, match="checkpoint of a different config") as exc:
        run(other, out)
    assert "\n" not in str(exc.value) and str(out) in str(exc.value)
    assert other.steps == []
    with np.load(out / CHECKPOINT) as a:  # left as it was
        assert int(a["block"]) == 3 and str(a["config_hash"]) == "hash-a"
    # --overwrite starts the other config from its beginning
    m = run(other, out, overwrite=True)
    assert other.steps == list(range(6)) and m["n"] == 18


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_checkpoint_is_reported_and_the_run_restarts(tmp_path, damage):
    ref = run(Toy(), tmp_path / "ref")
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run(Toy(stop_at=4), out)
    ckpt = out / CHECKPOINT
    data = ckpt.read_bytes()
    ckpt.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": b"\x00junk" * 50, "empty": b""}[damage]
    )
    toy = Toy()
    with pytest.warns(RunDirWarning, match="damaged checkpoint.*restarts from its beginning"):
        m = run(toy, out)
    assert toy.steps == list(range(6)) and m == ref
    assert np.array_equal(values(out), values(tmp_path / "ref"))


def test_a_finished_run_is_refused_without_overwrite(tmp_path):
    out = tmp_path / "run"
    first = run(Toy(), out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    again = Toy()
    with pytest.raises(OutputExistsError, match="finished run"):
        run(again, out)
    assert again.steps == []
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    # also with another config (named as such)
    with pytest.raises(OutputExistsError, match="finished run of another config"):
        run(Toy(config="b"), out)
    m = run(again, out, overwrite=True)
    assert again.steps == list(range(6)) and m == first

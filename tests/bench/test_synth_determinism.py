"""The synthetic state is a pure function of its config: same seed, same bytes (also across
processes with different hash seeds); another seed, another state; every API agrees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.synth import FILES, SynthConfig, generate_state, iter_state, load_state, write_state

ROOT = Path(__file__).resolve().parents[2]
ALL_FILES = [f"{name}.ndjson" for name in FILES] + ["manifest.json"]


def _bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in ALL_FILES}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    config = SynthConfig(students=400, seed=123)
    write_state(config, tmp_path / "a")
    write_state(config, tmp_path / "b")
    a, b = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    assert all(a[name] for name in ALL_FILES), "every file has content"
    for name in ALL_FILES:
        assert a[name] == b[name], f"{name} differs between two runs with the same seed"
    leftovers = [p.name for p in (tmp_path / "a").iterdir() if p.name not in ALL_FILES]
    assert leftovers == [], "the spill folder is removed"


def test_same_seed_identical_in_a_fresh_process_with_another_hash_seed(tmp_path: Path) -> None:
    """Guards against output depending on set/dict hash order (PYTHONHASHSEED)."""
    config = SynthConfig(students=300, seed=9)
    write_state(config, tmp_path / "here")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-m", "bench.synth", "--students", "300", "--seed", "9", "--out", str(tmp_path / "there"), "--quiet"],
        cwd=ROOT, env=env, check=True, timeout=120,
    )
    assert _bytes(tmp_path / "here") == _bytes(tmp_path / "there")


def test_different_seed_gives_a_different_state(tmp_path: Path) -> None:
    write_state(SynthConfig(students=300, seed=1), tmp_path / "a")
    write_state(SynthConfig(students=300, seed=2), tmp_path / "b")
    a, b = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    for name in ("students.ndjson", "submissions.ndjson", "staff.ndjson", "districts.ndjson"):
        assert a[name] != b[name], f"{name} is the same for two seeds"


def test_in_memory_streamed_and_written_states_agree(tmp_path: Path) -> None:
    config = SynthConfig(students=1500, seed=42)
    state = generate_state(config)
    write_state(config, tmp_path)
    loaded = load_state(tmp_path)
    assert loaded.config == config
    assert loaded.manifest == state.manifest
    for name in FILES:
        assert getattr(loaded, name) == getattr(state, name), name
    spilled = list(iter_state(config, spill=True))
    in_memory = list(iter_state(config, spill=False))
    assert spilled == in_memory
    assert [rec for name, rec in spilled if name == "truth"] == state.truth

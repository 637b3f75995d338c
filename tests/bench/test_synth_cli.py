"""The CLI writes every file with a manifest, takes error-rate overrides, rejects bad ones,
and a demo-sized state is quick."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.synth import FILES, ErrorRates, SynthConfig, generate_state
from bench.synth.__main__ import build_parser, config_from_args, main

ROOT = Path(__file__).resolve().parents[2]


def test_cli_writes_files_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "state"
    result = subprocess.run(
        [sys.executable, "-m", "bench.synth", "--students", "300", "--seed", "4", "--out", str(out),
         "--error-rate", "typo=0.5", "--error-rate", "nickname=0.25"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )
    assert "300 students" in result.stdout
    assert "it/s" not in result.stderr, "no progress bars when stderr is not a terminal"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["generator_version"]
    assert manifest["config"]["students"] == 300
    assert manifest["config"]["errors"]["typo"] == 0.5 and manifest["config"]["errors"]["nickname"] == 0.25
    assert manifest["config"]["errors"]["name_swap"] == ErrorRates().name_swap
    assert manifest["counts"]["students"] == 300
    for name in FILES:
        lines = (out / f"{name}.ndjson").read_text(encoding="utf-8").splitlines()
        assert lines and all(json.loads(line) for line in lines)
        assert manifest["counts"][name] == len(lines), name
    truth = [json.loads(line) for line in (out / "truth.ndjson").read_text().splitlines()]
    assert sum(t["kind"] == "first" for t in truth) == 300


def test_error_options_build_the_config() -> None:
    args = build_parser().parse_args(["--students", "10", "--out", "x", "--error-scale", "2", "--error-rate", "all=0.3", "--error-rate", "typo=0.1"])
    config = config_from_args(args)
    assert config.errors.typo == 0.1 and config.errors.name_swap == 0.3
    args = build_parser().parse_args(["--students", "10", "--out", "x", "--error-scale", "2", "--ssn-share", "0.5"])
    config = config_from_args(args)
    assert config.errors.typo == pytest.approx(2 * ErrorRates().typo) and config.ssn_share == 0.5


@pytest.mark.parametrize("bad", [["--error-rate", "tyop=0.1"], ["--error-rate", "typo=2"], ["--error-rate", "typo"], ["--ssn-share", "1.5"]])
def test_bad_options_are_rejected(bad: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--students", "10", "--out", str(tmp_path), "--quiet", *bad])
    assert exc.value.code == 2


def test_quiet_in_process_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--students", "50", "--seed", "1", "--out", str(tmp_path), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert (tmp_path / "manifest.json").exists()


def test_demo_sized_state_is_quick() -> None:
    started = time.perf_counter()
    state = generate_state(SynthConfig(students=300, seed=2))
    elapsed = time.perf_counter() - started
    assert len(state.students) == 300 and state.submissions
    assert elapsed < 5.0, f"300 students took {elapsed:.1f} s"


def test_tiny_states_still_have_two_districts() -> None:
    state = generate_state(SynthConfig(students=5, seed=1, transfer_rate=1.0))
    assert len(state.students) == 5 and len(state.districts) == 2
    assert any(t["kind"] == "transfer" for t in state.truth)

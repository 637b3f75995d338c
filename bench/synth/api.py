"""The module API: in memory for small states, streamed (iterator or files) for large ones.

    state = generate_state(SynthConfig(students=500, seed=7))      # lists of dicts
    for name, record in iter_state(SynthConfig(students=10**6)):    # constant-ish memory
        ...
    manifest = write_state(SynthConfig(students=10**6), Path("out"))  # the NDJSON files

All three produce the same records in the same order for the same config.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import SynthConfig
from .generator import FILES, Synthesizer

Record = dict[str, Any]
# Above this many students `iter_state` sorts submissions through temporary bucket files.
SPILL_THRESHOLD = 50_000


@dataclass(slots=True)
class SyntheticState:
    """Every file of a synthetic state as lists of records, plus the manifest."""

    config: SynthConfig
    manifest: dict[str, Any]
    districts: list[Record] = field(default_factory=list)
    schools: list[Record] = field(default_factory=list)
    students: list[Record] = field(default_factory=list)
    staff: list[Record] = field(default_factory=list)
    sections: list[Record] = field(default_factory=list)
    submissions: list[Record] = field(default_factory=list)
    truth: list[Record] = field(default_factory=list)


def iter_lines(
    config: SynthConfig,
    spill_dir: Path | None = None,
    on_students: Callable[[int], None] | None = None,
) -> tuple[Synthesizer, Iterator[tuple[str, str]]]:
    """The generator and its `(file stem, JSON line)` stream (fastest: no re-parsing).

    The synthesizer's `manifest()` is complete once the stream is exhausted.
    """
    synth = Synthesizer(config, on_students=on_students)
    return synth, synth.records(spill_dir)


def iter_state(config: SynthConfig, spill: bool | None = None) -> Iterator[tuple[str, Record]]:
    """Every record as `(file stem, dict)`: districts, schools, then each district's students,
    staff and sections, then submissions and truth rows alternating in stream order.

    `spill` (default: above SPILL_THRESHOLD students) sorts the submission stream through
    temporary files so memory stays bounded at a million students.
    """
    if spill is None:
        spill = config.students > SPILL_THRESHOLD
    if not spill:
        _, lines = iter_lines(config)
        for name, line in lines:
            yield name, json.loads(line)
        return
    with tempfile.TemporaryDirectory(prefix="synth-spill-") as tmp:
        _, lines = iter_lines(config, Path(tmp))
        for name, line in lines:
            yield name, json.loads(line)


def generate_state(config: SynthConfig) -> SyntheticState:
    """The whole state in memory (meant for demos and tests: up to some tens of thousands)."""
    synth, lines = iter_lines(config)
    buckets: dict[str, list[Record]] = {name: [] for name in FILES}
    for name, line in lines:
        buckets[name].append(json.loads(line))
    return SyntheticState(config=config, manifest=synth.manifest(), **buckets)


def write_state(
    config: SynthConfig,
    out_dir: Path,
    on_students: Callable[[int], None] | None = None,
    on_rows: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write the NDJSON files and manifest.json into `out_dir`; return the manifest.

    Streams throughout (one district in memory, submissions sorted via bucket files in a
    temporary folder inside `out_dir`). Progress: `on_students(n_more)` while people are made,
    `on_rows(n_more, total)` while the sorted submission stream is written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    handles = {name: open(out_dir / f"{name}.ndjson", "w", encoding="utf-8", newline="\n") for name in FILES}  # noqa: SIM115
    try:
        with tempfile.TemporaryDirectory(prefix=".synth-spill-", dir=out_dir) as tmp:
            synth, lines = iter_lines(config, Path(tmp), on_students)
            pending = 0
            for name, line in lines:
                handles[name].write(line)
                handles[name].write("\n")
                if on_rows is not None and name == "truth":
                    pending += 1
                    if pending == 5000:
                        on_rows(pending, synth.counts["submissions"])
                        pending = 0
            if on_rows is not None and pending:
                on_rows(pending, synth.counts["submissions"])
    finally:
        for handle in handles.values():
            handle.close()
    manifest = synth.manifest()
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def read_ndjson(path: Path) -> Iterator[Record]:
    """Stream the records of one NDJSON file of a written state."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def load_state(out_dir: Path) -> SyntheticState:
    """Read a written state back into memory (small states)."""
    out_dir = Path(out_dir)
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    config = SynthConfig.from_dict(manifest["config"])
    return SyntheticState(config=config, manifest=manifest, **{name: list(read_ndjson(out_dir / f"{name}.ndjson")) for name in FILES})

"""The calibration file: JSON, versioned, validated on read and replaced atomically on write.

Apart from ``analysis.calibration`` because the format (field names, version, the checks that
name a bad entry's place) changes for other reasons than the statistics, and the gate needs
only the thresholds a file yields. A file is written through no symlink and never half: a
runner's gate reads it while another session may be calibrating.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_nfv.analysis.calibration import Calibration, CalibrationFile, Family, FamilyCalibration
from pytest_nfv.analysis.history import HostFingerprint, read_json_file
from pytest_nfv.errors import HistoryError, NfvUsageError

__all__ = [
    "DEFAULT_NAME",
    "FORMAT",
    "VERSION",
    "calibration_from_json",
    "find_calibration",
    "load_calibration",
    "save_calibration",
]

FORMAT = "pytest-nfv-calibration"
VERSION = 1
DEFAULT_NAME = "nfv-calibration.json"


def _fingerprint_json(fingerprint: HostFingerprint) -> dict[str, Any]:
    return {
        "cpu_model": fingerprint.cpu_model,
        "cores": fingerprint.cores,
        "memory_gib": fingerprint.memory_gib,
        "kernel": fingerprint.kernel,
        "engines": [list(pair) for pair in fingerprint.engines],
        "echo": fingerprint.echo,
    }


def _entry_json(entry: Calibration) -> dict[str, Any]:
    return {
        "fingerprint": _fingerprint_json(entry.fingerprint),
        "arguments": entry.arguments,
        "created": entry.created,
        "sessions": entry.sessions,
        "coverage": entry.coverage,
        "confidence": entry.confidence,
        "families": [
            {
                "backend": f.family[0],
                "requirement": f.family[1],
                "metric": f.family[2],
                "scale": "log",
                "sd": f.sd,
                "df": f.df,
                "sessions": f.sessions,
                "records": f.records,
                "threshold": f.threshold,
            }
            for f in entry.families.values()
        ],
        "left_out": [
            {"backend": b, "requirement": r, "metric": m, "reason": why}
            for (b, r, m), why in entry.left_out.items()
        ],
        "sources": list(entry.sources),
    }


def _get(table: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = table.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise HistoryError(f"{where}: {name} is missing or not a {getattr(kind, '__name__', kind)}")
    return value


def _number(table: Mapping[str, Any], name: str, where: str, low: float = 0.0) -> float:
    value = float(_get(table, name, (int, float), where))
    if not math.isfinite(value) or value < low:
        raise HistoryError(f"{where}: {name} {value!r} is not a finite number >= {low:g}")
    return value


def _entry_from(raw: object, where: str) -> Calibration:
    if not isinstance(raw, dict):
        raise HistoryError(f"{where}: not an object")
    fp = _get(raw, "fingerprint", dict, where)
    engines = _get(fp, "engines", list, f"{where} fingerprint")
    if not all(isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e)
               for e in engines):  # fmt: skip
        raise HistoryError(f"{where} fingerprint: engines are not [backend, engine] pairs")
    fingerprint = HostFingerprint(
        cpu_model=_get(fp, "cpu_model", str, f"{where} fingerprint"),
        cores=int(_number(fp, "cores", f"{where} fingerprint", 1)),
        memory_gib=_number(fp, "memory_gib", f"{where} fingerprint"),
        kernel=_get(fp, "kernel", str, f"{where} fingerprint"),
        engines=tuple((e[0], e[1]) for e in engines),
        echo=_get(fp, "echo", str, f"{where} fingerprint"),
    )
    coverage = _number(raw, "coverage", where)
    confidence = _number(raw, "confidence", where)
    families: dict[Family, FamilyCalibration] = {}
    for i, item in enumerate(_get(raw, "families", list, where)):
        at = f"{where} families[{i}]"
        if not isinstance(item, dict):
            raise HistoryError(f"{at}: not an object")
        if item.get("scale") != "log":
            raise HistoryError(f"{at}: scale {item.get('scale')!r} is not 'log'")
        family = (
            _get(item, "backend", str, at),
            _get(item, "requirement", str, at),
            _get(item, "metric", str, at),
        )
        families[family] = FamilyCalibration(
            family=family,
            sd=_number(item, "sd", at),
            df=int(_number(item, "df", at, 1)),
            sessions=int(_number(item, "sessions", at, 2)),
            records=int(_number(item, "records", at, 1)),
            threshold=_number(item, "threshold", at),
            coverage=coverage,
            confidence=confidence,
        )
    left_out: dict[Family, str] = {}
    for i, item in enumerate(_get(raw, "left_out", list, where)):
        at = f"{where} left_out[{i}]"
        if not isinstance(item, dict):
            raise HistoryError(f"{at}: not an object")
        left_out[
            (
                _get(item, "backend", str, at),
                _get(item, "requirement", str, at),
                _get(item, "metric", str, at),
            )
        ] = _get(item, "reason", str, at)
    sources = raw.get("sources", [])
    return Calibration(
        fingerprint=fingerprint,
        arguments=_get(raw, "arguments", str, where),
        created=_get(raw, "created", str, where),
        sessions=int(_number(raw, "sessions", where, 1)),
        coverage=coverage,
        confidence=confidence,
        families=families,
        left_out=left_out,
        sources=tuple(str(s) for s in sources) if isinstance(sources, list) else (),
    )


def calibration_from_json(data: object, source: str) -> CalibrationFile:
    """A calibration file's parsed content.

    Raises:
        HistoryError: not a pytest-nfv calibration, a version this release does not know, or
            a malformed entry; the message names ``source``.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise HistoryError(f"{source}: not a pytest-nfv calibration file (no format {FORMAT!r})")
    version = data.get("version")
    if version != VERSION:
        raise HistoryError(
            f"{source}: calibration format version {version!r}; this pytest-nfv reads version "
            f"{VERSION}: run pytest-nfv calibrate again"
        )
    entries = data.get("calibrations")
    if not isinstance(entries, list):
        raise HistoryError(f"{source}: calibrations is not a list")
    return CalibrationFile(
        source,
        tuple(_entry_from(raw, f"{source}: calibrations[{i}]") for i, raw in enumerate(entries)),
    )


def load_calibration(path: Path) -> CalibrationFile:
    """Read a calibration file.

    Raises:
        HistoryError: missing, unreadable, not JSON, or not a calibration this release reads;
            the message names the file.
    """
    data = read_json_file(path, "calibration file", hint="; run pytest-nfv calibrate again")
    return calibration_from_json(data, str(path))


def find_calibration(named: Path | None, storage: Path) -> CalibrationFile:
    """The calibration a gate uses: the file ``named`` (on the command line or in the gate
    settings), else ``DEFAULT_NAME`` under the benchmark ``storage`` when it is there.

    Raises:
        HistoryError: the named file is missing or either file is unreadable or corrupt: a
            gate told to use this runner's thresholds never falls back in silence.
    """
    if named is not None:
        return load_calibration(named)
    default = storage / DEFAULT_NAME
    if not default.exists() and not default.is_symlink():
        return CalibrationFile(str(default), exists=False)
    return load_calibration(default)


def _same(a: Calibration, b: Calibration) -> bool:
    return not a.fingerprint.differences(b.fingerprint) and a.arguments == b.arguments


def save_calibration(path: Path, calibration: Calibration) -> CalibrationFile:
    """Add ``calibration`` to the file at ``path`` (created if absent), replacing the one of
    the same runner and arguments; written atomically, so a reader never sees half a file.

    Calibrations of other runners stay: one file may serve a pool of runners.

    Raises:
        NfvUsageError: ``path`` is a symlink or not a regular file (a planted link would have
            the write land elsewhere).
        HistoryError: the existing file is corrupt (it is not overwritten: say where else).
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        existing: tuple[Calibration, ...] = ()
    else:
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
            raise NfvUsageError(
                f"{path}: a symlink or not a regular file; a calibration is never written "
                "through one. Remove it or name another file"
            )
        existing = load_calibration(path).entries
    entries = [e for e in existing if not _same(e, calibration)] + [calibration]
    data = {
        "format": FORMAT,
        "version": VERSION,
        "calibrations": [_entry_json(e) for e in entries],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)  # replaces the name itself, never a link's target
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return CalibrationFile(str(path), tuple(entries))

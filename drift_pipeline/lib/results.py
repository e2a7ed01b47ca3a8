"""Where assets keep what they computed: one file per model, asset and partition.

Files are written atomically (write to a temporary name, then rename), so a failed run never
leaves a half-written result and never overwrites a good one with a partial file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

UNPARTITIONED = "_all"


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A stable sha256 of a frame's columns, dtypes and values (row order matters)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    if len(frame):
        hashed = pd.util.hash_pandas_object(frame.astype("object").where(frame.notna(), None), index=False)
        digest.update(hashed.to_numpy().tobytes())
    digest.update(str(len(frame)).encode())
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if value is pd.NA:
        return None
    raise TypeError(f"cannot serialise {type(value).__name__}")


def clean_for_json(value: Any) -> Any:
    """Replace NaN / inf by None recursively so the JSON is valid and stable."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_for_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_for_json(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys, no NaN)."""
    return json.dumps(clean_for_json(value), sort_keys=True, indent=1, default=_json_default, allow_nan=False)


class ResultStore:
    """A directory tree ``<root>/<model>/<asset>/<partition>.<ext>``."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, model: str, asset: str, partition: str | None, ext: str) -> Path:
        return self.root / model / asset / f"{partition or UNPARTITIONED}.{ext}"

    def _atomic_write(self, path: Path, write) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        write(tmp)
        tmp.replace(path)
        return path

    def write_frame(self, model: str, asset: str, partition: str | None, frame: pd.DataFrame) -> Path:
        path = self.path(model, asset, partition, "parquet")
        return self._atomic_write(path, lambda p: frame.to_parquet(p, index=False))

    def read_frame(self, model: str, asset: str, partition: str | None) -> pd.DataFrame:
        path = self.path(model, asset, partition, "parquet")
        if not path.exists():
            where = f"partition {partition}" if partition else "its unpartitioned result"
            raise FileNotFoundError(
                f"{model}/{asset} has not been materialised for {where} (expected {path})"
            )
        return pd.read_parquet(path)

    def write_json(self, model: str, asset: str, partition: str | None, value: Any) -> Path:
        path = self.path(model, asset, partition, "json")
        return self._atomic_write(path, lambda p: p.write_text(dumps(value)))

    def read_json(self, model: str, asset: str, partition: str | None) -> Any:
        path = self.path(model, asset, partition, "json")
        if not path.exists():
            where = f"partition {partition}" if partition else "its unpartitioned result"
            raise FileNotFoundError(f"{model}/{asset} has not been materialised for {where} (expected {path})")
        return json.loads(path.read_text())

    def read_json_or_empty(self, model: str, asset: str, partition: str | None) -> dict:
        """The stored JSON result, or ``{}`` when that asset was not run for the partition."""
        path = self.path(model, asset, partition, "json")
        return json.loads(path.read_text()) if path.exists() else {}

    def exists(self, model: str, asset: str, partition: str | None, ext: str) -> bool:
        return self.path(model, asset, partition, ext).exists()

    def write_text(self, model: str, asset: str, partition: str | None, ext: str, text: str) -> Path:
        path = self.path(model, asset, partition, ext)
        return self._atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))

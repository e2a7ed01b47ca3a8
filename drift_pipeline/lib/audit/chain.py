"""Hashing and verification of the audit store's single, global hash chain.

Every audit record, whatever its kind, takes the next sequence number ``seq`` and stores

- ``content_hash = sha256(canonical_json({"kind": kind, **fields}))``, over all of its
  columns except the four chain columns (so its ``id`` is covered too);
- ``prev_hash``, the ``record_hash`` of the record at ``seq - 1`` (:data:`GENESIS_HASH`
  for the first record);
- ``record_hash = sha256(prev_hash + content_hash)``.

Editing a record breaks its content hash; deleting one leaves a gap in ``seq`` and a
``prev_hash`` that names a record which is no longer there; moving one breaks the
``prev_hash`` links around it. Deleting the *newest* records leaves a shorter but
consistent chain: only a head hash exported earlier (``expected_head``) reveals it.

This module is pure: :func:`verify_records` checks any ordered stream of
:class:`ChainRecord`, so the rules are testable without a database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first record in the chain."""

ProblemKind = Literal["edited", "deleted", "reordered", "duplicate", "truncated", "head_mismatch"]


# --------------------------------------------------------------------------- hashing


def _canonical_value(value: Any) -> Any:
    """A JSON-ready value whose rendering does not depend on platform or driver.

    Floats are rendered by ``float.__repr__`` (the shortest text that reads back to the
    same double, identical on every platform since Python 3.1); non-finite floats, which
    JSON cannot hold, become the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical_value(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _canonical_value(value.item())
    raise TypeError(f"cannot hash a value of type {type(value).__name__}: {value!r}")


def canonical_json(content: Any) -> str:
    """Sorted-key, whitespace-free JSON of ``content`` with deterministic floats.

    Parameters
    ----------
    content : Any
        ``None``, ``bool``, ``int``, ``float``, ``str``, dates, numpy scalars, or lists
        and mappings of those.

    Returns
    -------
    str
        The same text for the same content on every platform and run.
    """
    return json.dumps(
        _canonical_value(content), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_hex(text: str) -> str:
    """Hex sha256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(kind: str, fields: Mapping[str, Any]) -> str:
    """``sha256(canonical_json({"kind": kind, **fields}))`` for one record.

    Parameters
    ----------
    kind : str
        The record kind (``"alert"``, ``"metric"``, ...), hashed with the fields so a
        row cannot be passed off as another kind.
    fields : Mapping[str, Any]
        Every column of the record except ``seq`` and the three hash columns.
    """
    return sha256_hex(canonical_json({**fields, "kind": kind}))


def link_hash(prev_hash: str, content: str) -> str:
    """``record_hash = sha256(prev_hash + content_hash)``: ties a record to its predecessor."""
    return sha256_hex(prev_hash + content)


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class ChainRecord:
    """One stored record as read back for verification."""

    seq: int
    kind: str
    record_id: int
    content_hash: str
    prev_hash: str
    record_hash: str
    fields: Mapping[str, Any]

    def label(self) -> str:
        return f"{self.kind} id {self.record_id} (seq {self.seq})"


@dataclass(frozen=True)
class ChainProblem:
    """One way in which the chain differs from what the store wrote.

    ``seq``, ``kind`` and ``record_id`` name the record concerned where it is known
    (a deleted record's kind and id are known only when its table's ids show the gap).
    """

    problem: ProblemKind
    message: str
    seq: int | None = None
    kind: str | None = None
    record_id: int | None = None


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :func:`verify_records` / ``AuditStore.verify``."""

    ok: bool
    records: int
    head_seq: int
    head_hash: str
    problems: tuple[ChainProblem, ...] = field(default_factory=tuple)
    expected_head: str | None = None
    expected_count: int | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain OK: {self.records} records, head seq {self.head_seq} hash {self.head_hash}"
        lines = [f"audit chain FAILED: {len(self.problems)} problem(s) in {self.records} records"]
        lines += [f"  [{p.problem}] {p.message}" for p in self.problems]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (e.g. a CLI ``verify --json``)."""
        return asdict(self)


@dataclass
class _IdGap:
    kind: str
    missing_ids: list[int]
    seq_before: int
    seq_after: int


def verify_records(
    records: Iterable[ChainRecord],
    *,
    expected_head: str | None = None,
    expected_count: int | None = None,
    stored_head: tuple[int, str] | None = None,
) -> VerifyReport:
    """Check an ordered stream of records against the chain rules.

    Parameters
    ----------
    records : Iterable[ChainRecord]
        Every record of every kind, in ascending ``seq`` order. Read once, streaming.
    expected_head : str, optional
        A ``record_hash`` exported earlier (e.g. printed in a signed audit report). If it
        is neither the current head nor anywhere in the chain, records were removed or
        rewritten: ``truncated``. If it is found before the head, the chain has grown.
    expected_count : int, optional
        The record count exported with ``expected_head``; fewer records now is ``truncated``.
    stored_head : tuple[int, str], optional
        ``(seq, hash)`` of the store's own head pointer; a pointer beyond the last record
        means newest records were deleted behind the store's back.

    Returns
    -------
    VerifyReport
        ``ok`` is true only if no problem was found.
    """
    problems: list[ChainProblem] = []
    previous: ChainRecord | None = None
    last_id: dict[str, tuple[int, int]] = {}  # kind -> (last id seen, its seq)
    seq_gaps: list[tuple[int, int, ChainRecord | None, ChainRecord]] = []
    id_gaps: list[_IdGap] = []
    count = 0
    expected_found_at: int | None = None

    for rec in records:
        count += 1
        recomputed = content_hash(rec.kind, rec.fields)
        if recomputed != rec.content_hash:
            problems.append(
                ChainProblem(
                    "edited",
                    f"{rec.label()} was edited: its content no longer matches its content_hash",
                    rec.seq,
                    rec.kind,
                    rec.record_id,
                )
            )
        elif link_hash(rec.prev_hash, rec.content_hash) != rec.record_hash:
            problems.append(
                ChainProblem(
                    "edited",
                    f"{rec.label()}: record_hash is not sha256(prev_hash + content_hash); its chain columns were edited",
                    rec.seq,
                    rec.kind,
                    rec.record_id,
                )
            )

        prev_seq = previous.seq if previous else 0
        prev_hash = previous.record_hash if previous else GENESIS_HASH
        if previous is not None and rec.seq == previous.seq:
            problems.append(
                ChainProblem(
                    "duplicate",
                    f"{rec.label()} has the same seq as {previous.label()}",
                    rec.seq,
                    rec.kind,
                    rec.record_id,
                )
            )
        elif rec.seq > prev_seq + 1:
            seq_gaps.append((prev_seq + 1, rec.seq - 1, previous, rec))
        elif rec.prev_hash != prev_hash:
            after = previous.label() if previous else "the start of the chain"
            problems.append(
                ChainProblem(
                    "reordered",
                    f"{rec.label()} does not follow {after}: its prev_hash names a different record "
                    "(records were moved, or the chain was rewritten)",
                    rec.seq,
                    rec.kind,
                    rec.record_id,
                )
            )

        if rec.kind in last_id:
            seen_id, seen_seq = last_id[rec.kind]
            if rec.record_id > seen_id + 1:
                id_gaps.append(_IdGap(rec.kind, list(range(seen_id + 1, rec.record_id)), seen_seq, rec.seq))
        elif rec.record_id > 1:
            id_gaps.append(_IdGap(rec.kind, list(range(1, rec.record_id)), 0, rec.seq))
        last_id[rec.kind] = (max(rec.record_id, last_id.get(rec.kind, (0, 0))[0]), rec.seq)

        if expected_head is not None and rec.record_hash == expected_head:
            expected_found_at = rec.seq
        previous = rec

    problems.extend(_deleted_problems(seq_gaps, id_gaps))

    head_seq = previous.seq if previous else 0
    head_hash = previous.record_hash if previous else GENESIS_HASH

    if stored_head is not None and tuple(stored_head) != (head_seq, head_hash):
        s_seq, s_hash = stored_head
        if s_seq > head_seq:
            problems.append(
                ChainProblem(
                    "truncated",
                    f"the store's head pointer is seq {s_seq} but the last record is seq {head_seq}: "
                    f"the newest {s_seq - head_seq} record(s) were deleted",
                    s_seq,
                )
            )
        else:
            problems.append(
                ChainProblem(
                    "head_mismatch",
                    f"the store's head pointer (seq {s_seq}, {s_hash[:12]}…) does not match the last record "
                    f"(seq {head_seq}, {head_hash[:12]}…): records were written or changed outside the store",
                    head_seq,
                )
            )

    if expected_head not in (None, head_hash, GENESIS_HASH) and expected_found_at is None:
        problems.append(
            ChainProblem(
                "truncated",
                f"the exported head {expected_head[:12]}… is not in the chain (current head seq {head_seq}): "
                "records at or before the exported head were removed or rewritten",
            )
        )
    if expected_count is not None and count < expected_count:
        problems.append(
            ChainProblem(
                "truncated",
                f"the chain holds {count} records but {expected_count} were exported earlier",
            )
        )

    problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    return VerifyReport(
        ok=not problems,
        records=count,
        head_seq=head_seq,
        head_hash=head_hash,
        problems=tuple(problems),
        expected_head=expected_head,
        expected_count=expected_count,
    )


def _deleted_problems(
    seq_gaps: list[tuple[int, int, ChainRecord | None, ChainRecord]], id_gaps: list[_IdGap]
) -> list[ChainProblem]:
    """Name deleted records: a seq gap, matched to a gap in one kind's ids where possible.

    The store assigns ids per table contiguously, so a missing id whose neighbours lie
    either side of a missing seq identifies the record that was removed.
    """
    problems = []
    for first, last, before, after in seq_gaps:
        candidates = [
            (gap.kind, rid)
            for gap in id_gaps
            if gap.seq_before < first and last < gap.seq_after
            for rid in gap.missing_ids
        ]
        where = f"between {before.label() if before else 'the start of the chain'} and {after.label()}"
        for seq in range(first, last + 1):
            kind, rid = candidates.pop(0) if len(candidates) == last - first + 1 else (None, None)
            named = f"{kind} id {rid} (seq {seq})" if kind else f"the record at seq {seq}"
            problems.append(ChainProblem("deleted", f"{named} was deleted ({where})", seq, kind, rid))
    return problems

"""The chain rules on their own: canonical hashing and verification of record streams."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random

import numpy as np
import pytest

from drift_pipeline.lib.audit.chain import (
    GENESIS_HASH,
    ChainRecord,
    canonical_json,
    content_hash,
    link_hash,
    verify_records,
)

KINDS = ("alert", "metric", "report", "decision")


def build_chain(n: int, *, seed: int = 0) -> list[ChainRecord]:
    """A valid chain of ``n`` records of mixed kinds, ids contiguous per kind."""
    rng = random.Random(seed)
    records, prev, next_id = [], GENESIS_HASH, dict.fromkeys(KINDS, 1)
    for seq in range(1, n + 1):
        kind = rng.choice(KINDS)
        fields = {"id": next_id[kind], "value": rng.random(), "name": f"r{seq}", "flag": rng.random() < 0.5}
        next_id[kind] += 1
        content = content_hash(kind, fields)
        record_hash = link_hash(prev, content)
        records.append(ChainRecord(seq, kind, fields["id"], content, prev, record_hash, fields))
        prev = record_hash
    return records


def edited(record: ChainRecord, **changes: object) -> ChainRecord:
    return dataclasses.replace(record, fields={**record.fields, **changes})


# --------------------------------------------------------------------------- hashing


def test_canonical_json_sorts_keys_and_renders_floats_by_shortest_repr():
    assert (
        canonical_json({"b": 0.1 + 0.2, "a": [1, 1.0, None, True]}) == '{"a":[1,1.0,null,true],"b":0.30000000000000004}'
    )


def test_canonical_json_is_independent_of_key_order_and_numpy_scalars():
    assert canonical_json({"x": np.float64(0.25), "y": np.int64(3)}) == canonical_json({"y": 3, "x": 0.25})


@pytest.mark.parametrize(
    ("value", "text"), [(float("nan"), '"NaN"'), (float("inf"), '"Infinity"'), (float("-inf"), '"-Infinity"')]
)
def test_canonical_json_renders_non_finite_floats_as_strings(value, text):
    assert canonical_json({"v": value}) == '{"v":' + text + "}"


def test_canonical_json_round_trips_every_double_exactly():
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [rng.standard_normal(200) * 10.0 ** rng.integers(-300, 300, 200), [5e-324, 1.7976931348623157e308]]
    )
    assert [json.loads(canonical_json({"v": float(v)}))["v"] for v in values] == [float(v) for v in values]


def test_canonical_json_rejects_values_it_cannot_render_stably():
    with pytest.raises(TypeError, match="cannot hash"):
        canonical_json({"v": object()})


def test_content_hash_covers_the_kind_and_every_field():
    fields = {"id": 1, "value": 0.5}
    by_hand = hashlib.sha256(b'{"id":1,"kind":"alert","value":0.5}').hexdigest()
    assert content_hash("alert", fields) == by_hand
    assert content_hash("metric", fields) != by_hand
    assert content_hash("alert", {"id": 1, "value": 0.5000000000000001}) != by_hand


def test_link_hash_is_sha256_of_prev_then_content():
    assert link_hash("ab", "cd") == hashlib.sha256(b"abcd").hexdigest()


# --------------------------------------------------------------------------- verification


def test_a_valid_chain_verifies_and_reports_its_head():
    chain = build_chain(30)
    report = verify_records(chain, stored_head=(30, chain[-1].record_hash))
    assert report.ok, str(report)
    assert (report.records, report.head_seq, report.head_hash) == (30, 30, chain[-1].record_hash)
    assert "OK" in str(report)


def test_an_empty_chain_verifies_at_genesis():
    report = verify_records([], stored_head=(0, GENESIS_HASH), expected_head=GENESIS_HASH, expected_count=0)
    assert report.ok and report.head_hash == GENESIS_HASH


def test_an_edited_field_is_named_by_kind_id_and_seq():
    chain = build_chain(20)
    chain[9] = edited(chain[9], value=0.0)
    report = verify_records(chain)
    assert not report.ok
    [problem] = report.problems
    assert (problem.problem, problem.seq, problem.kind, problem.record_id) == (
        "edited",
        10,
        chain[9].kind,
        chain[9].record_id,
    )
    assert f"{chain[9].kind} id {chain[9].record_id} (seq 10)" in problem.message


def test_an_edit_with_a_recomputed_content_hash_breaks_the_record_hash():
    chain = build_chain(10)
    forged = edited(chain[4], name="forged")
    chain[4] = dataclasses.replace(forged, content_hash=content_hash(forged.kind, forged.fields))
    [problem] = verify_records(chain).problems
    assert problem.problem == "edited" and problem.seq == 5 and "record_hash" in problem.message


def test_a_deleted_record_is_named_from_the_gap_in_its_kinds_ids():
    chain = build_chain(20)
    gone = chain.pop(7)
    [problem] = verify_records(chain).problems
    assert (problem.problem, problem.seq, problem.kind, problem.record_id) == (
        "deleted",
        8,
        gone.kind,
        gone.record_id,
    )


def test_two_deleted_records_are_both_reported():
    chain = build_chain(20, seed=3)
    del chain[12]
    del chain[4]
    problems = verify_records(chain).problems
    assert [(p.problem, p.seq) for p in problems] == [("deleted", 5), ("deleted", 13)]


def test_swapped_records_break_the_links_around_them():
    chain = build_chain(20)
    a, b = chain[5], chain[8]
    chain[5], chain[8] = dataclasses.replace(b, seq=6), dataclasses.replace(a, seq=9)
    problems = verify_records(chain).problems
    assert {p.problem for p in problems} == {"reordered"}
    assert {p.seq for p in problems} == {6, 7, 9, 10}
    named = {(p.kind, p.record_id) for p in problems}
    assert (a.kind, a.record_id) in named and (b.kind, b.record_id) in named


def test_a_duplicate_seq_is_reported():
    chain = build_chain(6)
    chain.insert(3, dataclasses.replace(chain[3], record_id=99))
    assert "duplicate" in {p.problem for p in verify_records(chain).problems}


def test_truncation_is_invisible_without_an_exported_head():
    chain = build_chain(20)
    assert verify_records(chain[:15]).ok


def test_truncation_is_caught_by_an_exported_head_and_count():
    chain = build_chain(20)
    exported = chain[-1].record_hash
    report = verify_records(chain[:15], expected_head=exported, expected_count=20)
    assert [p.problem for p in report.problems] == ["truncated", "truncated"]
    assert exported[:12] in report.problems[0].message or exported[:12] in report.problems[1].message


def test_an_exported_head_found_before_the_head_means_the_chain_grew():
    chain = build_chain(20)
    assert verify_records(chain, expected_head=chain[11].record_hash, expected_count=12).ok


def test_a_head_pointer_beyond_the_last_record_is_truncation():
    chain = build_chain(20)
    report = verify_records(chain[:18], stored_head=(20, chain[-1].record_hash))
    [problem] = report.problems
    assert problem.problem == "truncated" and "2 record(s)" in problem.message


@pytest.mark.parametrize("seed", range(25))
def test_any_single_tampering_of_a_random_chain_is_detected(seed):
    rng = random.Random(seed)
    chain = build_chain(rng.randint(3, 40), seed=seed)
    i = rng.randrange(len(chain) - 1)  # the newest record is only covered by an exported head
    action = rng.choice(["edit", "delete", "swap"])
    if action == "edit":
        chain[i] = edited(chain[i], value=chain[i].fields["value"] + 1.0)
    elif action == "delete":
        del chain[i]
    else:
        j = i + 1
        chain[i], chain[j] = (
            dataclasses.replace(chain[j], seq=chain[i].seq),
            dataclasses.replace(chain[i], seq=chain[j].seq),
        )
    assert not verify_records(chain).ok

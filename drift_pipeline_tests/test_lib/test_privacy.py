"""PII redaction by column name and by value, and the keyed input hash (SPEC §8)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from drift_pipeline.lib.config import load_policy
from drift_pipeline.lib.privacy import (
    Redactor,
    canonical_input,
    input_hash,
    luhn_valid,
    normalise_name,
)
from drift_pipeline.lib.project import PROJECT_ROOT

POLICY = load_policy(Path(PROJECT_ROOT / "config"))
REDACTOR = Redactor.from_settings(POLICY.privacy)


@pytest.mark.parametrize(("column", "term"), [
    ("email", "email"), ("E_Mail", "email"), ("e-mail", "email"), ("emailAddress", "email"), ("mail", "email"),
    ("phone", "phone"), ("phone_number", "phone"), ("Telephone", "phone"), ("mobileNo", "phone"),
    ("name", "name"), ("first_name", "name"), ("LastName", "name"), ("full name", "name"), ("surname", "name"),
    ("ssn", "ssn"), ("SSN", "ssn"), ("social_security_no", "ssn"),
    ("national_id", "national_id"), ("NationalID", "national_id"),
    ("card_number", "card_number"), ("creditCardNumber", "card_number"), ("cc_num", "card_number"),
    ("password", "password"), ("user_passwd", "password"), ("api_token", "token"), ("AccessToken", "token"),
    ("address", "address"), ("home_address", "address"), ("zip_code", "address"),
    ("dob", "dob"), ("date_of_birth", "dob"), ("DateOfBirth", "dob"), ("birthdate", "dob"),
    ("iban", "iban"), ("passport_no", "national_id"),  # iban from policy.yaml; passport is a national-id variant
])
def test_sensitive_column_names_are_denied(column, term):
    assert REDACTOR.denied_term(column) == term


@pytest.mark.parametrize("column", ["age", "credit_amount", "purpose", "housing", "duration_months",
                                    "personal_status", "foreign_worker", "filename", "savings", "job"])
def test_ordinary_column_names_pass(column):
    assert REDACTOR.denied_term(column) is None


def test_allow_list_exempts_exact_names_but_values_are_still_scanned():
    redactor = Redactor(allow=["model_name"])
    assert Redactor().denied_term("model_name") == "name"
    assert redactor.redact_mapping({"model_name": "contact x.y@corp.example"}) == {
        "model_name": "contact [REDACTED:email]"}


def test_normalise_name_splits_camel_case_and_separators():
    assert normalise_name("dateOfBirth") == ["date", "of", "birth"]
    assert normalise_name("E-Mail Address") == ["e", "mail", "address"]


@pytest.mark.parametrize(("text", "expected"), [
    ("write to jane.doe+x@mail.example.org now", "write to [REDACTED:email] now"),
    ("call +1 (555) 123-4567", "call [REDACTED:phone]"),
    ("call 020 7946 0958", "call [REDACTED:phone]"),
    ("card 4111 1111 1111 1111 ok", "card [REDACTED:card_number] ok"),
    ("card 4111-1111-1111-1111", "card [REDACTED:card_number]"),
    ("2024-01-05", "2024-01-05"),                       # a date is not a phone number
    ("1234.56", "1234.56"),                             # nor an amount
    ("4111 1111 1111 1112", "4111 1111 1111 1112"),     # fails Luhn: not a card number (and too long for a phone)
    ("A11", "A11"),
])
def test_value_patterns(text, expected):
    assert REDACTOR.redact_text(text) == expected


def test_card_numbers_as_integers_and_nested_values_are_redacted():
    out = REDACTOR.redact_mapping({"pan_hint": 1, "amount": 4111111111111111, "amount2": 1234567890123,
                                   "notes": ["ok", {"e_mail": "a@b.co", "text": "mail a@b.co"}]})
    assert out["pan_hint"] == "[REDACTED:card_number]"  # the name says card number ("pan")
    assert out["amount"] == "[REDACTED:card_number]"
    assert out["amount2"] == 1234567890123  # 13 digits but not Luhn-valid
    assert out["notes"] == ["ok", {"e_mail": "[REDACTED:email]", "text": "mail [REDACTED:email]"}]


def test_luhn_against_known_numbers():
    assert luhn_valid("4111111111111111") and luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112") and not luhn_valid("79927398710")


def test_input_hash_is_a_keyed_hmac_of_the_canonical_raw_input():
    raw = {"b": 2, "a": "x@y.example", "when": __import__("datetime").date(2024, 1, 2)}
    expected = hmac.new(b"k", b'{"a":"x@y.example","b":2,"when":"2024-01-02"}', hashlib.sha256).hexdigest()
    assert canonical_input(raw) == '{"a":"x@y.example","b":2,"when":"2024-01-02"}'
    assert input_hash(raw, key=b"k") == expected
    assert input_hash(dict(reversed(raw.items())), key=b"k") == expected  # key order is irrelevant
    assert input_hash(raw, key=b"other") != expected                     # the key matters
    assert input_hash({**raw, "b": 3}, key=b"k") != expected


def test_policy_privacy_section_parses():
    assert {"iban", "passport"} <= set(POLICY.privacy.deny)
    assert POLICY.privacy.value_patterns == ["email", "phone", "card_number"]
    with pytest.raises(ValueError, match="unknown pattern"):
        Redactor(value_patterns=("postcode",))

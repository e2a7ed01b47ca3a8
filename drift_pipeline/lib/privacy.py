"""PII redaction and input hashing for the decision log (SPEC §8).

Nothing a model receives is stored or rendered before :class:`Redactor` has gone over it:

- **By column name.** A column whose name matches a deny term (case-insensitive, with
  variants: ``first_name``, ``E-Mail``, ``dateOfBirth``, ``cc_number`` ...) is replaced by
  ``"[REDACTED:<term>]"`` whatever its value. The built-in terms are SPEC's list (email,
  phone, name, ssn, national id, card number, password, token, address, dob);
  ``policy.privacy.deny`` adds terms and ``policy.privacy.allow`` exempts exact column
  names (a false positive such as ``model_name``).
- **By value.** Every string (and every long integer) anywhere in the input, allowed
  columns included, is scanned for e-mail addresses, phone numbers and Luhn-valid card
  numbers; each match is replaced by ``"[REDACTED:<pattern>]"``.

The input hash is an HMAC-SHA256 of the canonical JSON of the *raw* input under a secret
key (``$DRIFT_PIPELINE_DECISION_HASH_KEY`` by default). Identical inputs get identical
hashes, so decisions can be linked without storing the input; the key matters because a
plain sha256 of a low-entropy input (a date of birth and a postcode) can be reversed by
trying every candidate. Without the variable a documented demo key is used: fine for the
bundled demo, not for production, where the key must be set (and kept: rotating it breaks
linkage with earlier hashes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

DEMO_HASH_KEY = "drift-pipeline-demo-key"
"""Key used when the configured environment variable is unset (demo only; documented)."""

# term -> (substrings of the compacted name, whole tokens of the name)
DEFAULT_DENY_TERMS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "email": (("email",), ("mail",)),
    "phone": (("phone", "mobile", "msisdn"), ("tel", "fax", "cell")),
    "name": (("firstname", "lastname", "fullname", "surname", "givenname", "familyname", "middlename",
              "maidenname", "username", "forename"), ("name",)),
    "ssn": (("socialsecurity",), ("ssn",)),
    "national_id": (("nationalid", "nationalidentity", "nationalinsurance", "passport", "taxid"), ("nin",)),
    "card_number": (("cardnumber", "cardnum", "cardno", "creditcard", "debitcard", "ccnum"), ("pan", "cvv", "cvc")),
    "password": (("password", "passwd", "passphrase"), ("pwd",)),
    "token": (("token", "apikey", "secret"), ()),
    "address": (("address", "street", "postcode", "zipcode", "postalcode"), ("addr", "zip")),
    "dob": (("dateofbirth", "birthdate", "birthday"), ("dob",)),
}
"""SPEC §8's deny-list, with the variants each term matches (always applied)."""

VALUE_PATTERNS = ("email", "phone", "card_number")

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_PHONE = re.compile(r"(?<![\w.+-])\+?\(?\d[\d ().-]{5,}\d(?![\w.-])")
_DATE_LIKE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}")


def normalise_name(name: str) -> list[str]:
    """Lower-case tokens of a column name: ``"dateOfBirth"`` -> ``["date", "of", "birth"]``.

    Parameters
    ----------
    name : str

    Returns
    -------
    list of str
        camelCase boundaries and every non-alphanumeric character split tokens.
    """
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum (ISO/IEC 7812 card numbers).

    Parameters
    ----------
    digits : str
        Digits only.

    Returns
    -------
    bool
    """
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@lru_cache(maxsize=4096)
def _denied_term(column: str, deny: tuple[str, ...], allow: tuple[str, ...]) -> str | None:
    if column.lower() in {a.lower() for a in allow}:
        return None
    tokens = normalise_name(column)
    compact = "".join(tokens)
    for term, (substrings, whole_tokens) in DEFAULT_DENY_TERMS.items():
        if any(s in compact for s in substrings) or any(t in tokens for t in whole_tokens):
            return term
    for term in deny:
        needle = "".join(normalise_name(term))
        if needle and needle in compact:
            return "_".join(normalise_name(term))
    return None


def _card_sub(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[REDACTED:card_number]" if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)


def _phone_sub(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    separated = text.startswith("+") or bool(re.search(r"[ ().-]", text))
    if not 7 <= len(digits) <= 15 or not separated or _DATE_LIKE.match(text):
        return text
    return "[REDACTED:phone]"


@dataclass(frozen=True)
class Redactor:
    """Redacts PII from decision inputs and outputs before they are stored or rendered.

    Parameters
    ----------
    deny : Sequence[str]
        Extra column-name terms, on top of :data:`DEFAULT_DENY_TERMS`; each matches as a
        substring of the compacted lower-case name.
    allow : Sequence[str]
        Exact column names (case-insensitive) exempt from name-based redaction.
    value_patterns : Sequence[str]
        Which value scanners run: any of ``email``, ``phone``, ``card_number``.
    """

    deny: Sequence[str] = ()
    allow: Sequence[str] = ()
    value_patterns: Sequence[str] = VALUE_PATTERNS

    def __post_init__(self) -> None:
        unknown = sorted(set(self.value_patterns) - set(VALUE_PATTERNS))
        if unknown:
            raise ValueError(f"privacy.value_patterns: unknown pattern(s) {unknown}; known: {list(VALUE_PATTERNS)}")

    @classmethod
    def from_settings(cls, settings: Any) -> Redactor:
        """A redactor from ``policy.privacy`` (:class:`~drift_pipeline.lib.config.PrivacySettings`)."""
        return cls(deny=tuple(settings.deny), allow=tuple(settings.allow),
                   value_patterns=tuple(settings.value_patterns))

    def denied_term(self, column: str) -> str | None:
        """The deny term a column name matches, or ``None`` (also ``None`` for allowed names).

        Parameters
        ----------
        column : str

        Returns
        -------
        str or None
            e.g. ``"name"`` for ``first_name``, ``"dob"`` for ``DateOfBirth``.
        """
        return _denied_term(str(column), tuple(self.deny), tuple(self.allow))

    def redact_text(self, text: str) -> str:
        """``text`` with every e-mail address, phone number and card number replaced."""
        if "email" in self.value_patterns:
            text = _EMAIL.sub("[REDACTED:email]", text)
        if "card_number" in self.value_patterns:
            text = _CARD.sub(_card_sub, text)
        if "phone" in self.value_patterns:
            text = _PHONE.sub(_phone_sub, text)
        return text

    def redact_value(self, value: Any) -> Any:
        """A value with PII patterns removed, recursing into mappings and sequences.

        Column names inside nested mappings are checked against the deny terms too.
        Integers of 13-19 digits that pass the Luhn check are card numbers.
        """
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int) and "card_number" in self.value_patterns:
            digits = str(abs(value))
            return "[REDACTED:card_number]" if 13 <= len(digits) <= 19 and luhn_valid(digits) else value
        if isinstance(value, Mapping):
            return self.redact_mapping(value)
        if isinstance(value, (list, tuple)):
            return [self.redact_value(v) for v in value]
        return value

    def redact_mapping(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``values`` safe to store: denied columns replaced, every value scanned.

        Parameters
        ----------
        values : Mapping[str, Any]
            e.g. a decision's input features.

        Returns
        -------
        dict
            Same keys (redacted too if a key itself holds PII), in the same order.
        """
        out: dict[str, Any] = {}
        for key, value in values.items():
            safe_key = self.redact_text(str(key))
            term = self.denied_term(str(key))
            out[safe_key] = f"[REDACTED:{term}]" if term else self.redact_value(value)
        return out

    def scan_values(self, value: Any) -> Any:
        """``value`` with value patterns redacted in every string, keys left as they are.

        For structured data whose keys are not input columns (a report's own fields).
        """
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return {k: self.scan_values(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scan_values(v) for v in value]
        return value

    def contains_pii(self, text: str) -> bool:
        """Whether a value scanner finds anything in ``text``."""
        return self.redact_text(text) != text


def _plain(value: Any) -> Any:
    """A JSON-able stand-in for ``value`` (numpy scalars, dates, sets, non-finite floats)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=repr)
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (str, bytes)):
        try:
            return _plain(value.item())
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def canonical_input(values: Mapping[str, Any] | Iterable[Any]) -> str:
    """Sorted-key, whitespace-free JSON of a raw input (the text the input hash covers)."""
    return json.dumps(_plain(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hash_key(env_var: str = "DRIFT_PIPELINE_DECISION_HASH_KEY") -> bytes:
    """The input-hash key: ``$<env_var>``, or :data:`DEMO_HASH_KEY` when unset."""
    return (os.environ.get(env_var) or DEMO_HASH_KEY).encode("utf-8")


def input_hash(values: Mapping[str, Any], *, key: bytes) -> str:
    """HMAC-SHA256 of the canonical JSON of the raw input.

    Parameters
    ----------
    values : Mapping[str, Any]
        The input exactly as the model received it (before redaction).
    key : bytes, keyword-only
        The secret key (:func:`hash_key`).

    Returns
    -------
    str
        64 hex characters; equal inputs (same keys and values, any key order) give equal hashes.
    """
    return hmac.new(key, canonical_input(values).encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonym(text: str, *, key: bytes, prefix: str = "anon") -> str:
    """A stable pseudonym ``<prefix>:<12 hex>`` for an identifier that holds PII (an e-mail actor)."""
    return f"{prefix}:{hmac.new(key, text.encode('utf-8'), hashlib.sha256).hexdigest()[:12]}"

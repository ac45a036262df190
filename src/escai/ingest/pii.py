"""PII and secret masking for the ingest pipeline's enrich stage, applied before anything is stored.

What is detected (each kind can be switched off in :class:`PiiMaskingConfig`):

``email``
    ``local@domain.tld`` with a dotted domain whose last label is alphabetic. ``user@``, ``user@localhost``,
    ``@decorator``, ``a @ b``, ``pkg@1.2.3`` and the ``git@github.com:org/repo`` service account are left
    alone.
``phone``
    International ``+CC`` numbers (8-15 digits, as in E.164, with optional spaces, dots, dashes and a
    parenthesised area code), North-American ``(415) 555-0100`` / ``415-555-0100`` / ``415.555.0100`` /
    ``415 555 0100`` (optionally ``1-`` prefixed), trunk-``0`` national numbers such as ``020 7946 0958`` or
    ``03-1234-5678``, and French ``01 23 45 67 89``. Separators are required for national numbers: a bare
    ten-digit run is more often an id or a timestamp than a phone number.
``card``
    13-19 digits, optionally grouped by spaces or dashes, that pass the Luhn check and start with 2-6 (the
    first digit of every major network: Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Discover/UnionPay 6).
    The first-digit rule keeps millisecond epoch timestamps (``17...``) and snowflake ids (``18...``) out,
    since one random digit run in ten passes Luhn. Digit runs failing Luhn are never masked.
``api_key``
    Keys recognised by their shape alone: OpenAI ``sk-``/``sk-proj-``, Anthropic ``sk-ant-``, AWS access key
    ids ``AKIA``/``ASIA``, GitHub ``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_``/``github_pat_``, Slack
    ``xox[baprs]-``, Google ``AIza`` and JWTs ``eyJ....eyJ....sig``.
``bearer_token``
    The credential after ``Bearer`` (the word ``Bearer`` is kept so the log still reads). After an
    ``Authorization`` header any credential is masked; elsewhere it must look random (a digit, a symbol or
    an inner capital, at least 8 characters) so that prose like "the bearer authentication" survives.
``secret``
    Values recognised by their context: ``api_key=...``, ``"password": "..."``, ``Authorization: Basic ...``,
    ``X-Api-Key: ...`` and similar key/value pairs in text, the password in ``scheme://user:password@host``,
    and, in :meth:`PiiMasker.mask_value`, the whole value of any dict key that names a secret (see
    :func:`is_secret_key`).
``ip``
    IPv4 and IPv6 addresses, validated with :mod:`ipaddress`. Loopback and unspecified addresses
    (``127.0.0.1``, ``0.0.0.0``, ``::1``, ``::``) identify nobody and are kept unless
    ``keep_loopback_ip=False``. A four-part version number that is also a valid address (``1.2.3.4``) IS
    masked: the text alone cannot tell them apart and leaking an address is the worse mistake. ``v1.2.3.4``
    and ``1.2.3.4.5`` are not addresses and are kept.

Replacements are typed placeholders (``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[API_KEY]``,
``[BEARER_TOKEN]``, ``[SECRET]``, ``[IP]``) or, with ``style="hash"``, the placeholder plus a keyed hash
(``[EMAIL:3f2a1b9c]``, HMAC-SHA256 of the normalised value) so one person or key can be followed across
events without being revealed. Normalisation before hashing: e-mails lower-cased, phones and cards reduced
to digits, IPs to their canonical compressed form.

Speed, on one core of the 2-core development machine (``bench/bench_pii.py``): a typical clean event (content
of ~200 characters, a few short attributes) takes 5-6 us, content and attributes together; an event with PII
10-50 us; long texts about 17 us per KB. Each detector runs only behind a cheap test it cannot match without
(the "Gates" comment), short strings and dict keys found clean are cached per masker, and nothing the masker
would mask is ever cached: it keeps no sensitive value once a call returns.

Known limits (all deliberate trade-offs for speed or against false positives):

* Only ASCII forms are recognised (except letters in an e-mail's local part): full-width digits, the
  full-width at sign U+FF20 and internationalised domain names pass.
* Free prose is not understood: "my password is hunter2" or a phone number written as words is not masked;
  key/value secrets need a ``:`` or ``=`` and an unquoted value stops at the first space. Credentials in
  command-line flags (``curl -u user:pass``, ``--password x``) are not recognised either.
* A bare (unquoted) value after a secret-sounding key is masked even in code (``token: the unit...``);
  obvious non-secrets (``None``, ``true``, ``str``, ``${VAR}``, ``<your-key>``, ``***``, the key's own
  name as in ``password=password``) are kept.
* Phone detection is pattern based, not a numbering-plan database: an unusual national format can pass, and
  three space-separated groups shaped like ``123 456 7890`` are masked even when they are not a phone.
  A ``+CC`` number may absorb one following short group of digits.
* A Luhn-valid 13-19 digit number starting with 2-6 is masked as a card even when it is an id. A grouped
  card run straight into more digit groups (``4111 1111 1111 1111 4111 ...``) is ambiguous and kept.
* IPv6 candidates with fewer than three groups and no group of three or more hex digits (``1::2``) are kept,
  because that shape is far more often a Python slice than an address. An IPv6 address glued to a word by a
  colon (``ip:2001:db8::1``) is not found.
* In :meth:`PiiMasker.mask_value`, dict keys are masked like any string; two keys that mask to the same
  placeholder are kept apart with a ``~2``, ``~3`` suffix. Objects other than ``dict``/``list``/``tuple``/
  ``str`` (datetimes, models, bytes) are returned unchanged; structures deeper than Python's recursion
  limit, or cyclic ones, raise :class:`RecursionError`.
* With ``style="hash"`` the hash is as secret as the key: a leaked key lets anyone test guesses (e.g.
  candidate e-mail addresses) against the stored tokens.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import ipaddress
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal, NamedTuple

__all__ = [
    "MaskResult",
    "MaskedValue",
    "PiiKind",
    "PiiMasker",
    "PiiMaskingConfig",
    "ReplacementStyle",
    "is_secret_key",
    "luhn_valid",
]


class PiiKind(StrEnum):
    """The kinds of sensitive item the masker recognises; the value is the key used in counts."""

    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    API_KEY = "api_key"
    BEARER_TOKEN = "bearer_token"  # noqa: S105 - the name of a kind, not a credential
    SECRET = "secret"  # noqa: S105 - the name of a kind, not a credential
    IP = "ip"


ReplacementStyle = Literal["placeholder", "hash"]

_LABELS: Final = frozenset(kind.value.upper() for kind in PiiKind)
# Plain-str lookups: reading an enum member's .value goes through a Python-level descriptor (~0.3 us).
_COUNT_KEY: Final[dict[PiiKind, str]] = {kind: kind.value for kind in PiiKind}
_PLACEHOLDER: Final[dict[PiiKind, str]] = {kind: f"[{kind.value.upper()}]" for kind in PiiKind}

# When two detections overlap, the more specific one wins: a bearer token or a vendor key is a better
# description than "some value after password=", and both are better than an e-mail-shaped substring.
_PRIORITY: Final[dict[PiiKind, int]] = {
    PiiKind.BEARER_TOKEN: 0,
    PiiKind.API_KEY: 1,
    PiiKind.SECRET: 2,
    PiiKind.EMAIL: 3,
    PiiKind.CARD: 4,
    PiiKind.IP: 5,
    PiiKind.PHONE: 6,
}


@dataclass(frozen=True, slots=True)
class PiiMaskingConfig:
    """Which kinds to mask and how to write replacements; immutable so one masker can be shared."""

    email: bool = True
    phone: bool = True
    card: bool = True
    api_key: bool = True
    bearer_token: bool = True
    secret: bool = True
    ip: bool = True
    keep_loopback_ip: bool = True
    style: ReplacementStyle = "placeholder"
    # repr=False: the key must never end up in a log line that prints the config.
    hash_key: bytes | str = field(default=b"", repr=False)
    hash_length: int = 8

    def __post_init__(self) -> None:
        if self.style not in ("placeholder", "hash"):
            raise ValueError(f"style must be 'placeholder' or 'hash', not {self.style!r}")
        if self.style == "hash" and not self.hash_key:
            # An unkeyed hash of an e-mail address can be reversed by hashing a list of candidate addresses.
            raise ValueError("style='hash' needs a non-empty hash_key")
        if not 4 <= self.hash_length <= 64:
            raise ValueError(f"hash_length must be between 4 and 64, not {self.hash_length}")

    def enabled(self, kind: PiiKind) -> bool:
        """Whether masking of ``kind`` is switched on."""
        return bool(getattr(self, kind.value))


class MaskResult(NamedTuple):
    """Masked text and how many items of each kind (``PiiKind`` values) were replaced; unpacks as a pair."""

    text: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """Number of items replaced, all kinds together."""
        return sum(self.counts.values())


class MaskedValue(NamedTuple):
    """A masked copy of a JSON-like value and the per-kind counts; unpacks as a pair."""

    value: Any
    counts: dict[str, int]


# What a NamedTuple's generated __new__ calls, without its Python frame; bound once, because looking up
# tuple.__new__ builds a new method object every time (0.2 us, twice per event).
_new_tuple: Final = tuple.__new__


# --------------------------------------------------------------------------------------------------------
# Secret-named keys
# --------------------------------------------------------------------------------------------------------

_NON_ALNUM: Final = re.compile(r"[^a-z0-9]+")
_SECRET_SUBSTRINGS: Final = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "accesskey",
    "privatekey",
    "authorization",
    "cookie",
    "credential",
)
_TRAILING_NON_ALNUM: Final = "".join(chr(code) for code in range(128) if not chr(code).isalnum())


def is_secret_key(name: str) -> bool:
    """Whether a dict key or ``key=`` name denotes a secret (password, secret, token, api_key, ...).

    Case and separators do not matter (``apiKey``, ``X-Api-Key``, ``AWS_SECRET_ACCESS_KEY``). ``token`` counts
    only at the end of the name (``access_token``, ``sessionToken``), because LLM telemetry is full of
    ``max_tokens``, ``prompt_tokens`` and ``token_count`` whose values are usage numbers, not secrets.
    Deliberately not cached: the names come from untrusted data and may themselves hold PII.
    """
    lowered = name.lower()
    # Dropping separators makes "api_key", "apiKey", "x-api-key" and "APIKEY" all read "apikey".
    joined = _NON_ALNUM.sub("", lowered)
    for part in _SECRET_SUBSTRINGS:
        if part in joined:
            return True
    return lowered.rstrip(_TRAILING_NON_ALNUM).endswith("token")


# --------------------------------------------------------------------------------------------------------
# Patterns. All are ASCII-only (re.ASCII). CPython's regex engine finds a pattern that starts with a literal
# ("@", "sk-", "::") at about 1 us per KB, while one that starts with a character class or a lookbehind costs
# 10-50 us per KB; so every detector scans from a literal anchor or runs its full pattern only on a small
# window (a digit cluster), and boundary lookbehinds sit after the first character. Most texts never reach
# a detector at all: see "Gates" below for what decides which ones run.
# --------------------------------------------------------------------------------------------------------

# The domain part, anchored on "@"; the local part is then read backwards from the "@".
_EMAIL_DOMAIN_RE: Final = re.compile(
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![A-Za-z0-9\-])", re.ASCII
)
_EMAIL_LOCAL_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")

_URL_CREDENTIALS_RE: Final = re.compile(r"://[^\s/@:]{1,256}:(?P<pw>[^\s/@]{1,256})@", re.ASCII)

# A single alternation of all vendor prefixes would start on a character class (slow, see above); instead
# four scans each start on one literal, and "sk-"/"xox" and "gh_"/"github_pat_" share their "-" and "_"
# anchors through lookbehinds. Named groups mark where the anchor sits inside the key (see _VENDOR_PREFIX).
_DASH_KEY_RE: Final = re.compile(  # OpenAI sk-, sk-proj-, sk-svcacct-; Anthropic sk-ant-; Slack xox[baprs]-
    r"-(?:(?<=sk-)(?P<sk>[A-Za-z0-9][A-Za-z0-9_\-]{19,})|(?<=xox[baprs]-)(?P<xox>[A-Za-z0-9\-]{10,}))", re.ASCII
)
_UNDERSCORE_KEY_RE: Final = re.compile(  # GitHub classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained tokens
    r"_(?:(?<=gh[pousr]_)(?P<gh>[A-Za-z0-9]{30,255})|(?<=github_pat_)(?P<pat>[A-Za-z0-9_]{22,255}))", re.ASCII
)
_A_KEY_RE: Final = re.compile(r"A(?:[KS]IA[A-Z0-9]{16}|Iza[A-Za-z0-9_\-]{35})", re.ASCII)  # AWS key id, Google
_JWT_RE: Final = re.compile(r"eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*", re.ASCII)  # '{"' header
_VENDOR_PREFIX: Final = {"sk": len("sk-"), "xox": len("xoxb-"), "gh": len("ghp_"), "pat": len("github_pat_")}
# Characters that may not touch a key on either side, or it is part of a longer identifier.
_TOKEN_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

_BEARER_RE: Final = re.compile(r"(?:earer|EARER)[ \t]+(?P<tok>[A-Za-z0-9\-._~+/]+=*)", re.ASCII)  # after B/b
# "Authorization: Bearer x" / "authorization": "Bearer x": right before the scheme, nothing in between.
_AUTHORIZATION_BEFORE: Final = re.compile(r"authorization[\"']?[ \t]*[:=][ \t]*[\"']?$", re.ASCII | re.IGNORECASE)

# Key/value secrets: find a keyword, widen it to the whole key, ask is_secret_key, then read the value.
# Each keyword is one literal scan (~1.3 us per KB), so free text is scanned for the six that name secrets
# in practice; "key" covers api_key, apiKey, x-api-key, access_key and private_key. Dict keys are checked
# with the full is_secret_key rule (passphrase, credentials, ...).
# Lookarounds after the literal keep the fast start and drop the commonest non-secrets at once: "token" must
# end a word ("max_tokens", "tokenizer" fail), "key" must follow api/access/private ("monkey", "sort_key" fail).
_KV_KEYWORD_PATTERNS: Final = {
    "passw": r"passw",
    "secret": r"secret",
    "token": r"token(?![a-z0-9])",
    "key": (
        r"key(?:(?<=apikey)|(?<=api[_.\-]key)|(?<=accesskey)|(?<=access[_.\-]key)"
        r"|(?<=privatekey)|(?<=private[_.\-]key))"
    ),
    "authoriz": r"authoriz",
    "cookie": r"cookie",
}
_KV_KEYWORD_SCANS: Final = tuple(
    (keyword, re.compile(pattern, re.ASCII)) for keyword, pattern in _KV_KEYWORD_PATTERNS.items()
)
_KV_KEYWORD_ANYCASE_RE: Final = re.compile(
    "|".join(f"(?:{pattern})" for pattern in _KV_KEYWORD_PATTERNS.values()), re.ASCII | re.IGNORECASE
)
_KEY_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_KV_VALUE_RE: Final = re.compile(
    r"""
    (?:\\?["'])?[ \t]*[:=][ \t]*                       # closing quote of a quoted key, then : or =
    (?:
        \\"(?P<edq>[^"\\\r\n]{1,1024})\\"              # JSON inside a JSON string: \"value\"
      | "(?P<dq>(?:[^"\\\r\n]|\\.){1,1024})"
      | '(?P<sq>[^'\r\n]{1,1024})'
      | (?P<template>\$\{[^}\s]{0,256}\}|\{\{[^}\r\n]{0,256}\}\})   # ${VAR}, {{ var }}: a reference, kept
      | (?P<bare>(?!=)(?:(?i:basic|bearer|digest|token|bot)[ \t]+)?[^\s"'`,;&(){}\[\]<>]{1,1024})
    )
    """,
    re.ASCII | re.VERBOSE,
)
# Values that are clearly not a secret: unset markers, type annotations in code, templates, our own output.
_NOT_A_SECRET: Final = frozenset(
    {"none", "null", "nil", "true", "false", "undefined", "str", "string", "bytes", "int", "any", "secretstr"}
    | {"optional", "required", "redacted", "masked", "hidden", "n/a", "os.environ", "os.getenv"}
    | {"basic", "bearer", "digest"}  # a scheme whose credential another detector already replaced
)
_TEMPLATE_RE: Final = re.compile(
    r"\$\{.*\}|\{\{.*\}\}|\$[A-Za-z_][A-Za-z0-9_]*|<.*>|\[[A-Z_]+(?::[0-9a-f]+)?\]|[*xX.\-]+", re.ASCII
)


_CARD_RE: Final = re.compile(
    r"""
    [2-6](?<![A-Za-z0-9_.+\-].)
    (?:
        [0-9]{12,18}(?![A-Za-z0-9_]|\.[0-9])          # one unbroken number
      | (?<![0-9][ \-].)[0-9](?:[ \-]?[0-9]){11,17}   # grouped: must be the whole run of digit groups,
        (?![A-Za-z0-9_]|[ .\-][0-9])                  # or "1234 5678 9012 3456 7890" would yield a card
    )
    """,
    re.ASCII | re.VERBOSE,
)

_PHONE_RE: Final = re.compile(
    r"""
    [+(0-9](?<![A-Za-z0-9_+.\-/:#].)                   # not glued to a word, number, version, path or time
    (?<=(?P<first>.))                                  # remember which form started (+, ( or a digit)
    (?:
        (?<=\+)[1-9][0-9]{0,2}(?:[ .\-]?(?:\([0-9]{1,5}\)|[0-9]{1,5}+)){1,6}  # +CC, groups, "(0)20"
      | (?<=1)[ .\-](?:\([0-9]{3}\)[ ]?|[0-9]{3}[ .\-])[0-9]{3}[ .\-][0-9]{4}   # 1-415-555-0100
      | (?<=\()[0-9]{3}\)[ ]?[0-9]{3}[ .\-][0-9]{4}                     # (415) 555-0100
      | (?<=[0-9])[0-9]{2}[ .\-][0-9]{3}[ .\-][0-9]{4}                  # 415-555-0100
      | (?<=0)[0-9]{1,4}[ \-][0-9]{3,4}(?:[ \-][0-9]{3,4})?             # 020 7946 0958, 03-1234-5678
      | (?<=0)[1-9](?:[ .][0-9]{2}){4}                                  # 01 23 45 67 89
    )
    (?![A-Za-z0-9_])(?![.\-/:][0-9])
    """,
    re.ASCII | re.VERBOSE,
)

# No phone pattern matches in a cluster without a "+" before it (international) or one of these: a "555-0100"
# pair of groups (North American) or a trunk "0" starting a number (national, with the phone pattern's own
# boundary test). Tested first, they keep ISO dates and times ("2026-11-23 17:49") away from the full pattern.
_PHONE_HINT_RE: Final = re.compile(r"[0-9]{3}[ .\-][0-9]{4}|0(?<![A-Za-z0-9_+.\-/:#]0)[0-9]", re.ASCII)

_IPV4_RE: Final = re.compile(
    r"[0-9](?<![A-Za-z0-9_.].)[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}(?![A-Za-z0-9_]|\.[0-9])", re.ASCII
)
# Every IPv6 text form has "::" or a run of hex groups between colons; the hint scan is anchored on ":".
_IPV6_HINT_RE: Final = re.compile(r":(?::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:)", re.ASCII)
_IPV6_CHARS: Final = frozenset("0123456789abcdefABCDEF:")
_IPV6_RUN_RE: Final = re.compile(r"[0-9A-Fa-f:.]*", re.ASCII)
_IPV6_RE: Final = re.compile(
    r"""
    [0-9A-Fa-f:](?<![A-Za-z0-9_:.].)
    (?:(?<=:)|[0-9A-Fa-f]{0,3}:)                       # first group (possibly empty) and its colon
    (?:[0-9A-Fa-f]{0,4}:){1,6}
    (?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9A-Fa-f]{1,4})?  # last group, or an embedded IPv4 address
    (?![A-Za-z0-9_:]|\.[0-9])
    """,
    re.ASCII | re.VERBOSE,
)
_IPV6_MAX_LENGTH: Final = 45  # "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
# "[::2]", "[::-1]": Python slices, the commonest "::" in agent text. All the address pattern can make of one
# ("::", "::2") has no group of three digits and fewer than three groups, which _check_ipv6 drops while
# loopback addresses are kept; this one match settles it, without the walk back and the full pattern.
_IPV6_SLICE_RE: Final = re.compile(r"(?<![0-9A-Fa-f:])::[0-9A-Fa-f]{0,2}(?![0-9A-Fa-f:.])", re.ASCII)
# The IPv6 gate: a hint that is not a slice (the two lookarounds after "::" say "not _IPV6_SLICE_RE"). Log
# lines and code often have colons and slices, but few texts have such a hint.
_IPV6_GATE_RE: Final = re.compile(
    r":(?::(?:(?<=[0-9A-Fa-f:]::)|(?![0-9A-Fa-f]{0,2}(?![0-9A-Fa-f:.])))|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:)", re.ASCII
)

# --------------------------------------------------------------------------------------------------------
# Gates. Most events hold no PII at all, so what the masker costs is what it takes to prove a text clean. On
# a 200-character text each regex or substring scan costs 0.2-0.5 us, mostly fixed costs; a regex also pays
# about 50 ns at every position where it starts an attempt, and one that starts on a character class (rather
# than a literal) 5-10 ns per character. One "could anything match?" alternation over the text is therefore
# the slowest option of all: digits, colons and common letters would start attempts everywhere.
#
# Instead the text is mapped once to its "shape" (one bytes.translate, ~0.4 us): digit -> "0", separator
# " .()" -> ".", ASCII letter -> lower case, and the rare letters "bgkwxz" -> "!". Two scans of the shape
# replace a dozen scans of the text:
#
# * digit clusters (_DIGIT_CLUSTER_RE) start on the literal "0", for the card, phone and IPv4 detectors;
# * _GATE_RE starts on the literal "!", so it attempts only at those letters, and the character after the
#   "!" picks the one alternative to try. It finds the bearer scheme, the vendor key prefixes ("sk-", "ghp_",
#   "AKIA", ...) and the secret keywords, which all hold a marked letter but "secret".
#
# "secret" is a substring test of the shape, taken only when the text has a ":" or "="; "@" (e-mails, URL
# credentials), "J" (JWTs), "ASIA" (AWS) and an IPv6 hint are tests of the text. The gates only decide which
# detectors run, and each detector then reads the text itself: a gate may open for nothing (one shape stands
# for several texts) but never stays shut when its detector would find something. Short strings (roles, tool
# and model names, ids) pay fixed costs, not per-character ones: for them one trigger scan answers "could any
# detector fire at all?" before any gate.
# --------------------------------------------------------------------------------------------------------
_SEPARATORS: Final = " .()"  # "-" separates digit groups too, but keeps its own shape for "sk-" and "xoxb-"
_MARKED_LETTERS: Final = "bgkwxz"


def _shape_byte(byte: int) -> int:
    char = chr(byte).lower() if 65 <= byte <= 90 else chr(byte)
    if char in "0123456789":
        return ord("0")
    if char in _SEPARATORS:
        return ord(".")
    if char in _MARKED_LETTERS:
        return ord("!")
    return ord("?") if char == "!" else ord(char)


_SHAPE_TABLE: Final = bytes(_shape_byte(byte) for byte in range(256))
_DIGIT_CLUSTER_RE: Final = re.compile(rb"0[0.\-]{5,}0")

# Words found from their marked letter, the detector they open, and any condition on what follows the word
# (in the shape, where a key character [A-Za-z0-9] reads [a-z0!]). Each keyword of _KV_KEYWORD_PATTERNS must
# be here or be "secret".
_GATE_WORDS: Final = (
    ("token", "k", "secret", r"(?![a-z0])"),  # "max_tokens" stays out; "!" may be "_" or a marked letter
    *(
        (f"{prefix}{separator}key", "k", "secret", "")
        for prefix in ("api", "access", "private")
        for separator in ("", "_", ".", "-")
    ),
    ("cookie", "k", "secret", ""),
    ("passw", "w", "secret", ""),
    ("authoriz", "z", "secret", ""),
    ("bearer", "b", "bearer", ""),
    ("sk-", "k", "dash_key", r"(?=[a-z0!][a-z0!_\-]{19})"),
    ("xox", "x", "dash_key", r"(?=[!aprs]-[a-z0!\-]{10})"),  # xox[baprs]-
    ("gh", "g", "underscore_key", r"(?=[pousr]_[a-z0!]{30})"),
    ("github_pat_", "g", "underscore_key", r"(?=[a-z0!_]{22})"),
    ("akia", "k", "a_key", r"(?=[a-z0!]{16})"),
    ("aiza", "z", "a_key", r"(?=[a-z0!_\-]{35})"),
)


def _gate_pattern() -> bytes:
    """_GATE_RE's source: "!" and then, grouped by the character after it, what each word needs there."""
    by_next: dict[str, list[str]] = {}
    ending: list[tuple[int, str]] = []  # words that end on their marked letter
    for index, (word, letter, _, condition) in enumerate(_GATE_WORDS):
        shaped = word.encode("ascii").translate(_SHAPE_TABLE).decode("ascii")
        at = word.index(letter)
        behind = f"(?<={re.escape(shaped)})" if at else ""
        after = shaped[at + 1 :]
        if after:
            by_next.setdefault(after[0], []).append(f"{re.escape(after[1:])}{behind}{condition}(?P<g{index}>)")
        else:
            assert not condition, "a word ending on its marked letter takes no condition"
            ending.append((index, shaped))
    branches = [f"{re.escape(first)}(?:{'|'.join(rests)})" for first, rests in by_next.items()]
    if ending:
        # No character after the "!" picks these, so every attempt tries them: one look-behind serves them all,
        # each word cut to the shortest one's length ("pass!" or "hori!"), which can only widen the gate.
        width = min(len(shaped) for _, shaped in ending)
        suffixes = "|".join(re.escape(shaped[-width:]) for _, shaped in ending)
        assert len({_GATE_WORDS[index][2] for index, _ in ending}) == 1, "one group, so one detector"
        branches.append(f"(?<={suffixes})(?P<g{ending[0][0]}>)")
    return f"!(?:{'|'.join(branches)})".encode("ascii")


_GATE_RE: Final = re.compile(_gate_pattern())
_GATE_DETECTORS: Final = {f"g{index}": detector for index, (_, _, detector, _) in enumerate(_GATE_WORDS)}
_NO_GATES: Final[frozenset[str]] = frozenset()
_TRIGGER_RE: Final = re.compile(r"[0-9@:=]|sk-|AKIA|ASIA|gh[pousr]_|github_pat_|xox|AIza|eyJ|[Bb](?:earer|EARER)")
_TRIGGER_MAX_LENGTH: Final = 64
# Events repeat the same short strings (keys, roles, model and tool names, header values). Those found
# clean are remembered, per masker since the answer depends on the config, so a repeat costs one dict
# lookup. Only strings with nothing to mask are kept, never PII; the cache is emptied when full, which
# is thread-safe and costs one re-check per hot string per refill.
_CLEAN_CACHE_MAX_LENGTH: Final = 128
_CLEAN_CACHE_SIZE: Final = 8192

# Shortest maskable texts are "a@b.cd" and "1.1.1.1"; anything shorter cannot hold PII.
_MIN_LENGTH: Final = 6
_NUMBERS: Final = (int, float)  # with None, the JSON scalars that hold nothing to mask (bool is an int)

_DOUBLED: Final = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_valid(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn checksum used by payment card numbers."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = sum(map(int, digits[-1::-2])) + sum(_DOUBLED[int(digit)] for digit in digits[-2::-2])
    return total % 10 == 0


_Span = tuple[int, int, PiiKind, str]  # start, end, kind, normalised value (what the hash style hashes)


class PiiMasker:
    """Detects and replaces PII in text and JSON-like values; one instance can be shared between threads.

    :meth:`mask_text` and :meth:`mask_json` return ``(masked, counts)`` pairs, the shape the enrich stage's
    ``TextMasker`` interface (:mod:`escai.ingest.stages`) expects, so a masker plugs into ``MaskPii`` as is.
    """

    def __init__(self, config: PiiMaskingConfig | None = None) -> None:
        """Build a masker; ``config`` defaults to masking every kind with plain placeholders."""
        self._config = config if config is not None else PiiMaskingConfig()
        cfg = self._config
        self._email = cfg.email
        self._phone = cfg.phone
        self._card = cfg.card
        self._api_key = cfg.api_key
        self._bearer = cfg.bearer_token
        self._secret = cfg.secret
        self._ip = cfg.ip
        self._keep_loopback = cfg.keep_loopback_ip
        # A slice can be an unspecified address ("[::]") only when loopback addresses are masked too.
        self._ipv6_gate = _IPV6_GATE_RE if cfg.keep_loopback_ip else _IPV6_HINT_RE
        self._digit_kinds = cfg.phone or cfg.card or cfg.ip
        self._hmac: hmac.HMAC | None = None
        if cfg.style == "hash":
            key = cfg.hash_key.encode() if isinstance(cfg.hash_key, str) else cfg.hash_key
            # Keyed once; each replacement copies the keyed state instead of re-deriving the key pads.
            self._hmac = hmac.new(key, digestmod=hashlib.sha256)
        self._hash_length = cfg.hash_length
        self._totals: dict[str, int] = {}
        self._totals_lock = threading.Lock()
        self._clean: dict[str, None] = {}  # short strings known to hold nothing to mask (see _CLEAN_CACHE_SIZE)
        self._clean_keys: dict[str, bool] = {}  # clean dict keys -> whether they name a secret
        self._plain_keys: set[str] = set()  # the clean keys that name no secret, for one C-level subset test

    @property
    def config(self) -> PiiMaskingConfig:
        """The configuration this masker was built with."""
        return self._config

    @property
    def masked_counts(self) -> dict[str, int]:
        """Items masked per kind since this masker was created, over all calls (a snapshot copy)."""
        with self._totals_lock:
            return dict(self._totals)

    # ---------------------------------------------------------------------------------------------- public

    def mask_text(self, text: str) -> MaskResult:
        """Return ``text`` with every enabled kind of PII replaced, and the number replaced per kind."""
        counts: dict[str, int] = {}
        if len(text) > _CLEAN_CACHE_MAX_LENGTH:
            # Event content: too long for the clean cache, so straight to the detectors, past _mask's tests.
            spans = self._find_spans(text)
            masked = self._replace(text, spans, counts) if spans else text
        else:
            masked = self._mask(text, counts)
        if counts:
            self._add_totals(counts)
        return _new_tuple(MaskResult, (masked, counts))

    def mask_value(self, value: Any) -> Any:
        """Return a masked copy of a JSON-like value; see :meth:`mask_json` for the rules and the counts."""
        return self.mask_json(value).value

    def mask_json(self, value: Any) -> MaskedValue:
        """Return a masked copy of a JSON-like value and the number of items replaced per kind.

        Strings (dict keys included) are masked like :meth:`mask_text`; with the ``secret`` kind enabled, the
        whole value under a secret-named key (:func:`is_secret_key`) is replaced, whatever its type, except
        ``None``, booleans and empty strings, which hide nothing. Dicts (and other mappings), lists and tuples
        are rebuilt, so the result shares none of them with the input, and the input is never modified; other
        objects (sets, datetimes, bytes) are returned as they are.
        """
        counts: dict[str, int] = {}
        # Attributes are a dict, usually of known keys and scalars: checked without building anything first.
        masked = self._copy_if_clean(value) if value.__class__ is dict else None
        if masked is None:
            masked = self._walk(value, counts)
        if counts:
            self._add_totals(counts)
        return _new_tuple(MaskedValue, (masked, counts))

    # ---------------------------------------------------------------------------------------------- walking

    def _walk(self, value: Any, counts: dict[str, int]) -> Any:
        if isinstance(value, str):
            return self._mask(value, counts)
        # Numbers and None leave before the container tests; the Mapping ABC check alone costs about 1 us.
        if value is None or isinstance(value, (int, float)):
            return value
        if isinstance(value, dict):
            return self._walk_mapping(value, counts)
        if isinstance(value, list):
            return [self._walk(item, counts) for item in value]
        if isinstance(value, tuple):
            return tuple(self._walk(item, counts) for item in value)
        if isinstance(value, Mapping):
            return self._walk_mapping(value, counts)
        return value

    def _copy_if_clean(self, value: dict[Any, Any]) -> dict[Any, Any] | None:
        """A copy of ``value`` if all its keys are known clean non-secret keys and all its values known clean
        scalars (the usual attributes dict, whose keys and short values repeat), else None; counts nothing."""
        if not self._plain_keys.issuperset(value):
            return None  # a key not seen before, not a str, or naming a secret
        clean = self._clean
        for item in value.values():
            # The tests _walk_mapping would make, cheapest first; isinstance() is a specialised call in 3.11.
            if isinstance(item, str):
                if item not in clean and len(item) >= _MIN_LENGTH:
                    return None
            elif item is not None and not isinstance(item, _NUMBERS):
                return None
        return value.copy()

    def _walk_mapping(self, value: Mapping[Any, Any], counts: dict[str, int]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        clean_keys = self._clean_keys
        clean = self._clean
        renamed = False  # until a key is masked, kept keys are as distinct as in the input: no clash test
        for key, item in value.items():
            # Keys repeat in every event: a clean key is looked up once, with its is_secret_key answer.
            secret = clean_keys.get(key)
            if secret is None:
                if not isinstance(key, str):
                    out[key] = self._walk(item, counts)
                    continue
                new_key, secret = self._walk_key(key, counts)
                renamed = renamed or new_key is not key
            else:
                new_key = key
            if renamed and new_key in out:
                new_key = _unclash(new_key, out)
            if secret and _holds_secret(item):
                _bump(counts, PiiKind.SECRET)
                normalised = item if isinstance(item, str) else repr(item)
                out[new_key] = self._replacement(PiiKind.SECRET, normalised)
                continue
            # Exact type tests: cheaper than isinstance, and subclasses take the general path in _walk.
            kind = item.__class__
            if kind is str:
                # The two cheap exits of _mask inlined: a short value or one already found clean.
                out[new_key] = item if len(item) < _MIN_LENGTH or item in clean else self._mask(item, counts)
            elif kind is int or kind is float or kind is bool or item is None:
                out[new_key] = item
            else:
                out[new_key] = self._walk(item, counts)
        return out

    def _walk_key(self, key: str, counts: dict[str, int]) -> tuple[str, bool]:
        """A dict key masked, and whether it names a secret; remembers clean keys with that answer."""
        new_key = self._mask(key, counts)
        secret = self._secret and is_secret_key(key)
        if new_key is key and len(key) <= _CLEAN_CACHE_MAX_LENGTH:
            if len(self._clean_keys) >= _CLEAN_CACHE_SIZE:
                self._clean_keys.clear()
                self._plain_keys.clear()
            self._clean_keys[key] = secret
            if not secret:
                self._plain_keys.add(key)
        return new_key, secret

    # ---------------------------------------------------------------------------------------------- text

    def _mask(self, text: str, counts: dict[str, int]) -> str:
        length = len(text)
        if length < _MIN_LENGTH:
            return text
        cacheable = length <= _CLEAN_CACHE_MAX_LENGTH
        if cacheable and text in self._clean:
            return text
        if length <= _TRIGGER_MAX_LENGTH and _TRIGGER_RE.search(text) is None:
            spans: list[_Span] = []
        else:
            spans = self._find_spans(text)
        if not spans:
            if cacheable:
                self._remember_clean(text)
            return text
        return self._replace(text, spans, counts)

    def _find_spans(self, text: str) -> list[_Span]:
        """Every detection in ``text``, each detector only where its gate lets it (see "Gates")."""
        spans: list[_Span] = []
        if "@" in text:  # a one-character test is a memchr, ten times cheaper than any other scan
            if self._secret and "://" in text:
                self._find_url_credentials(text, spans)
            if self._email:
                self._find_emails(text, spans)
        ascii_only = text.isascii()
        # For ASCII text UTF-8 is ASCII, and encode() without arguments is ten times faster than the "ascii"
        # codec with "replace" (needed otherwise, to keep one byte per character).
        shape = (text.encode() if ascii_only else text.encode("ascii", "replace")).translate(_SHAPE_TABLE)
        # Each scan below is searched once before anything else is set up: the usual clean text leaves there.
        cluster = _DIGIT_CLUSTER_RE.search(shape) if self._digit_kinds else None
        if cluster is not None:
            self._find_in_digit_clusters(text, shape, cluster, spans)
        hit = _GATE_RE.search(shape)
        gates = _NO_GATES if hit is None else _open_gates(shape, hit.start())
        if self._bearer and "bearer" in gates:
            self._find_bearer(text, spans)
        if self._api_key and (gates or "A" in text or "J" in text):
            self._find_vendor_keys(text, gates, spans)
        has_colon = ":" in text
        if (
            self._secret
            and (has_colon or "=" in text)
            # find(): "in" on bytes first tries to read the needle as an integer, which costs more. Outside
            # ASCII, lower-casing can make a keyword the shape does not show (the Kelvin sign is a "k").
            and ("secret" in gates or shape.find(b"secret") >= 0 or not ascii_only)
        ):
            self._find_key_values(text, spans)
        if self._ip and has_colon and self._ipv6_gate.search(text) is not None:
            self._find_ipv6(text, spans)
        return spans

    def _remember_clean(self, text: str) -> None:
        if len(self._clean) >= _CLEAN_CACHE_SIZE:
            self._clean.clear()
        self._clean[text] = None

    def _replace(self, text: str, spans: list[_Span], counts: dict[str, int]) -> str:
        if len(spans) > 1:
            spans = _resolve_overlaps(spans)
        pieces: list[str] = []
        position = 0
        for start, end, kind, normalised in spans:
            pieces.append(text[position:start])
            pieces.append(self._replacement(kind, normalised))
            _bump(counts, kind)
            position = end
        pieces.append(text[position:])
        return "".join(pieces)

    def _replacement(self, kind: PiiKind, normalised: str) -> str:
        placeholder = _PLACEHOLDER[kind]
        if self._hmac is None:
            return placeholder
        mac = self._hmac.copy()
        # The kind is part of the message so the same string never links, say, a secret to an e-mail.
        mac.update(f"{_COUNT_KEY[kind]}\x00{normalised}".encode("utf-8", "surrogatepass"))
        return f"{placeholder[:-1]}:{mac.hexdigest()[: self._hash_length]}]"

    def _add_totals(self, counts: dict[str, int]) -> None:
        with self._totals_lock:
            for kind, count in counts.items():
                self._totals[kind] = self._totals.get(kind, 0) + count

    # ---------------------------------------------------------------------------------------------- detectors

    @staticmethod
    def _find_vendor_keys(text: str, gates: frozenset[str], spans: list[_Span]) -> None:
        if "dash_key" in gates:
            PiiMasker._scan_vendor_keys(_DASH_KEY_RE, text, spans)
        if "underscore_key" in gates:
            PiiMasker._scan_vendor_keys(_UNDERSCORE_KEY_RE, text, spans)
        # "ASIA" has no marked letter, and "J" is rare enough for a memchr to be the cheapest gate.
        if "a_key" in gates or ("A" in text and "ASIA" in text):
            PiiMasker._scan_vendor_keys(_A_KEY_RE, text, spans)
        if "J" in text and "eyJ" in text:
            PiiMasker._scan_vendor_keys(_JWT_RE, text, spans)

    @staticmethod
    def _scan_vendor_keys(pattern: re.Pattern[str], text: str, spans: list[_Span]) -> None:
        for match in pattern.finditer(text):
            group = match.lastgroup
            start = match.start() if group is None else match.start(group) - _VENDOR_PREFIX[group]
            end = match.end()
            if (start and text[start - 1] in _TOKEN_CHARS) or (end < len(text) and text[end] in _TOKEN_CHARS):
                continue  # inside a longer identifier ("task-...", "AKIA..." followed by more)
            spans.append((start, end, PiiKind.API_KEY, text[start:end]))

    @staticmethod
    def _find_bearer(text: str, spans: list[_Span]) -> None:
        for match in _BEARER_RE.finditer(text):
            start = match.start() - 1  # the "B" before "earer"
            if start < 0 or text[start] not in "Bb" or (start and text[start - 1] in _TOKEN_CHARS):
                continue
            token = match.group("tok")
            after_header = _AUTHORIZATION_BEFORE.search(text, max(0, start - 40), start)
            if after_header is None and not _looks_random(token):
                continue
            spans.append((match.start("tok"), match.end("tok"), PiiKind.BEARER_TOKEN, token))

    @staticmethod
    def _find_key_values(text: str, spans: list[_Span]) -> None:
        lowered = text.lower()
        # A substring test per keyword (~0.15 us) before its scan (~0.3 us).
        keywords = [pattern for keyword, pattern in _KV_KEYWORD_SCANS if keyword in lowered]
        if not keywords:
            return
        if len(lowered) == len(text):
            hits: list[tuple[int, int]] = []
            for pattern in keywords:
                for match in pattern.finditer(lowered):
                    hits.append((match.start(), match.end()))
            hits.sort()
        else:
            # A few characters lower-case to two ("İ"), shifting positions: use the slower any-case scan. An
            # ASCII keyword in any case still shows in ``lowered``, so the test above holds for it too.
            hits = [(match.start(), match.end()) for match in _KV_KEYWORD_ANYCASE_RE.finditer(text)]
        done_until = -1
        length = len(text)
        for hit_start, hit_end in hits:
            if hit_start < done_until:
                continue  # a second keyword inside a key already handled ("secret_token")
            key_start = hit_start
            while key_start > 0 and text[key_start - 1] in _KEY_CHARS and hit_start - key_start < 64:
                key_start -= 1
            key_end = hit_end
            while key_end < length and text[key_end] in _KEY_CHARS and key_end - hit_end < 64:
                key_end += 1
            done_until = key_end
            key = text[key_start:key_end]
            if not is_secret_key(key) or (key in _LABELS and key_start > 0 and text[key_start - 1] == "["):
                continue  # not a secret, or our own "[SECRET:1a2b3c4d]" from an earlier pass
            found = _KV_VALUE_RE.match(text, key_end)
            if found is None:
                continue
            group = found.lastgroup
            assert group is not None  # one of the value alternatives always matched
            if group == "template":
                continue
            secret = found.group(group)
            if _is_not_a_secret(secret, key):
                continue
            spans.append((found.start(group), found.end(group), PiiKind.SECRET, secret))
            done_until = found.end()

    @staticmethod
    def _find_url_credentials(text: str, spans: list[_Span]) -> None:
        for match in _URL_CREDENTIALS_RE.finditer(text):
            spans.append((match.start("pw"), match.end("pw"), PiiKind.SECRET, match.group("pw")))

    @staticmethod
    def _find_emails(text: str, spans: list[_Span]) -> None:
        for match in _EMAIL_DOMAIN_RE.finditer(text):
            at = match.start()
            start = at
            while start > 0 and at - start < 64:
                char = text[start - 1]
                # RFC 6531 allows non-ASCII letters in the local part ("josé@..."): take them too.
                if char not in _EMAIL_LOCAL_CHARS and not (char > "\x7f" and char.isalnum()):
                    break
                start -= 1
            if start == at:
                continue  # "@decorator", "a @ b", "@types/node": no local part
            if text[start:at] == "git":
                continue  # "git@github.com:org/repo.git" is a service account in a remote URL, not a person
            spans.append((start, match.end(), PiiKind.EMAIL, text[start : match.end()].lower()))

    def _find_in_digit_clusters(
        self, text: str, shape: bytes, cluster: re.Match[bytes] | None, spans: list[_Span]
    ) -> None:
        """Run the card, phone and IPv4 detectors on each digit cluster from ``cluster`` (the first) on."""
        ip, card, phone = self._ip, self._card, self._phone
        while cluster is not None:
            # Most clusters are dates, times and counters that no detector wants; the tests are ordered so
            # that those leave after a count or two. Needs: IPv4 three dots; card 13+ digits; international
            # phone 8+ digits after a "+"; national phone 9+ digits with separators (which skips ISO dates
            # and plain ids).
            start, end = cluster.span()
            digits = shape.count(48, start, end)  # 48 is "0", the shape of every digit
            separators = end - start - digits
            wants_ip = ip and separators >= 3 and text.count(".", start, end) >= 3
            wants_card = card and digits >= 13
            wants_phone = phone and (
                (digits >= 9 and separators > 0) or (digits >= 8 and start > 0 and text[start - 1] == "+")
            )
            cluster = _DIGIT_CLUSTER_RE.search(shape, end)
            if not (wants_ip or wants_card or wants_phone):
                continue
            # One character more on the left for a "+" or "(" that starts a phone number, and two on the right
            # so that the patterns' lookaheads see what follows the cluster (re clips an end past the text).
            low, high = (start - 1 if start else 0), end + 2
            if wants_ip:
                self._find_ipv4(text, low, high, spans)
            if wants_card:
                self._find_cards(text, low, high, spans)
            if wants_phone and (text[low] == "+" or _PHONE_HINT_RE.search(text, start, end) is not None):
                self._find_phones(text, low, high, spans)

    @staticmethod
    def _find_cards(text: str, low: int, high: int, spans: list[_Span]) -> None:
        for match in _CARD_RE.finditer(text, low, high):
            digits = match.group().replace(" ", "").replace("-", "")
            if luhn_valid(digits):
                spans.append((match.start(), match.end(), PiiKind.CARD, digits))

    @staticmethod
    def _find_phones(text: str, low: int, high: int, spans: list[_Span]) -> None:
        for match in _PHONE_RE.finditer(text, low, high):
            start, end = match.start(), match.end()
            candidate = match.group()
            digits = "".join(char for char in candidate if char.isdigit())
            if match.group("first") == "+":
                # The +CC branch may run into a following number; drop trailing groups until E.164 fits.
                while len(digits) > 15:
                    cut = max(candidate.rfind(" "), candidate.rfind("."), candidate.rfind("-"))
                    if cut <= 0:
                        break
                    candidate = candidate[:cut].rstrip("(")
                    digits = "".join(char for char in candidate if char.isdigit())
                    end = start + len(candidate)
                if not 8 <= len(digits) <= 15:
                    continue
            elif candidate[0] == "0" and len(digits) < 9:
                continue
            if len(set(digits)) == 1:
                continue  # 000 000 0000 is a filler, not a number anyone answers
            spans.append((start, end, PiiKind.PHONE, digits))

    def _find_ipv4(self, text: str, low: int, high: int, spans: list[_Span]) -> None:
        for match in _IPV4_RE.finditer(text, low, high):
            # None: an octet above 255 or with a leading zero, so a version or a counter, not an address.
            found = _parse_ip(match.group())
            if found is None or (self._keep_loopback and found[1]):
                continue
            spans.append((match.start(), match.end(), PiiKind.IP, found[0]))

    def _find_ipv6(self, text: str, spans: list[_Span]) -> None:
        done_until = -1
        for hint in _IPV6_HINT_RE.finditer(text):
            position = hint.start()
            if position < done_until:
                continue
            if self._keep_loopback and _IPV6_SLICE_RE.match(text, position) is not None:
                continue  # a slice; it holds no other colon, so no later hint is affected
            # Walk back to the start of the hex-and-colon run holding this colon; the pattern then decides.
            start = position
            while start > 0 and text[start - 1] in _IPV6_CHARS and position - start < _IPV6_MAX_LENGTH:
                start -= 1
            match = _IPV6_RE.match(text, start)
            if match is not None and match.end() > position:
                self._check_ipv6(match, spans)
                done_until = match.end()
            else:
                # No address starts where this run does: skip the whole run, so that a long run of colons
                # costs one pass, not one walk back per colon.
                run_end = _IPV6_RUN_RE.match(text, position)
                done_until = run_end.end() if run_end is not None else hint.end()

    def _check_ipv6(self, match: re.Match[str], spans: list[_Span]) -> None:
        candidate = match.group()
        # Valid IPv6 text has "::" or at least six colons; checking first avoids costly exceptions for the
        # many "17:49:31" clock times.
        if "::" not in candidate and candidate.count(":") < 6:
            return
        # Cheap string tests before ipaddress, which takes several microseconds per candidate.
        groups = [group for group in candidate.split(":") if group]
        # "1::2", "[::2]": a Python slice far more often than an address. "::1" and "::" are loopback and
        # unspecified, masked only when asked for.
        few_groups = len(groups) < 3 and not any(len(group) >= 3 for group in groups)
        if few_groups and (self._keep_loopback or candidate not in ("::1", "::")):
            return
        found = _parse_ip(candidate)
        if found is None:
            return
        canonical, local = found
        if local and self._keep_loopback:
            return
        spans.append((match.start(), match.end(), PiiKind.IP, canonical))


def _parse_ip(candidate: str) -> tuple[str, bool] | None:
    """Canonical form of a valid IPv4/IPv6 address and whether it is loopback or unspecified, else None.

    Not cached although ipaddress is slowish (a few us): a cache would keep addresses, which are PII, in memory.
    """
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    return address.compressed, address.is_loopback or address.is_unspecified


def _open_gates(shape: bytes, start: int) -> frozenset[str]:
    """The detectors _GATE_RE lets through, from its first hit at ``start`` on."""
    return frozenset(_GATE_DETECTORS[hit.lastgroup or ""] for hit in _GATE_RE.finditer(shape, start))


def _resolve_overlaps(spans: list[_Span]) -> list[_Span]:
    """Keep the highest-priority (then longest, then earliest) of overlapping spans; return them in order."""
    spans.sort(key=lambda span: (_PRIORITY[span[2]], span[0] - span[1], span[0]))
    starts: list[int] = []
    kept: list[_Span] = []
    for span in spans:
        start, end = span[0], span[1]
        index = bisect.bisect_left(starts, start)
        # Kept spans never overlap each other, so only the neighbours on either side can collide.
        if index > 0 and kept[index - 1][1] > start:
            continue
        if index < len(kept) and kept[index][0] < end:
            continue
        starts.insert(index, start)
        kept.insert(index, span)
    return kept


def _unclash(key: str, out: dict[Any, Any]) -> str:
    """``key`` with a ``~2``, ``~3``... suffix free in ``out``.

    Two different e-mails as keys both become "[EMAIL]" (or one meets a literal "[EMAIL]" key): both entries are
    kept, not the last.
    """
    suffix = 2
    while f"{key}~{suffix}" in out:
        suffix += 1
    return f"{key}~{suffix}"


def _bump(counts: dict[str, int], kind: PiiKind) -> None:
    key = _COUNT_KEY[kind]
    counts[key] = counts.get(key, 0) + 1


def _holds_secret(value: Any) -> bool:
    return value is not None and not isinstance(value, bool) and value != ""


def _looks_random(token: str) -> bool:
    """A credential rather than an English word: long enough, with a digit, a symbol or an inner capital."""
    if len(token) < 8:
        return False
    return not token.isalpha() or not token[1:].islower()


def _is_not_a_secret(value: str, key: str) -> bool:
    lowered = value.strip().lower()
    if not lowered or lowered in _NOT_A_SECRET or lowered == key.lower():
        return True
    return _TEMPLATE_RE.fullmatch(value.strip()) is not None

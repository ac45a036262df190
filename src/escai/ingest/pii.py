"""PII and secret masking for the ingest pipeline's enrich stage, applied before anything is stored.

What is detected (each kind can be switched off in :class:`PiiMaskingConfig`):

``email``
    ``local@domain.tld`` with a dotted domain whose last label is alphabetic. ``user@``, ``@decorator``,
    ``a @ b`` and ``pkg@1.2.3`` are left alone.
``phone``
    International ``+CC`` numbers (8-15 digits, as in E.164, with optional spaces, dots, dashes and a
    parenthesised area code), North-American ``(415) 555-0100`` / ``415-555-0100`` / ``415.555.0100`` /
    ``415 555 0100`` (optionally ``1-`` prefixed), trunk-``0`` national numbers such as ``020 7946 0958`` or
    ``03-1234-5678``, and French ``01 23 45 67 89``. Separators are required for national numbers: a bare
    ten-digit run is more often an id or a timestamp than a phone number.
``card``
    13-19 digits, optionally grouped by spaces or dashes, that pass the Luhn check and start with 2-6 (the
    first digit of every major network: Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Discover/UnionPay 6).
    The first-digit rule keeps millisecond epoch timestamps (``17...``) and most numeric ids out, since one
    random digit run in ten passes Luhn.
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

Known limits (all deliberate trade-offs for speed or against false positives):

* Only ASCII forms are recognised: full-width digits or ``＠``, and internationalised domain names, pass.
* Free prose is not understood: "my password is hunter2" or a phone number written as words is not masked;
  key/value secrets need a ``:`` or ``=`` and an unquoted value stops at the first space.
* A bare (unquoted) value after a secret-sounding key is masked even in code (``token: the unit...``);
  obvious non-secrets (``None``, ``true``, ``str``, ``${VAR}``, ``<your-key>``, ``***``, the key's own
  name as in ``password=password``) are kept.
* Phone detection is pattern based, not a numbering-plan database: an unusual national format can pass, and
  three space-separated groups shaped like ``123 456 7890`` are masked even when they are not a phone.
  A ``+CC`` number may absorb one following short group of digits.
* A Luhn-valid 13-19 digit number starting with 2-6 is masked as a card even when it is an id.
* IPv6 candidates with fewer than three groups and no group of three or more hex digits (``1::2``) are kept,
  because that shape is far more often a Python slice than an address.
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
from functools import lru_cache
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
    BEARER_TOKEN = "bearer_token"
    SECRET = "secret"
    IP = "ip"


ReplacementStyle = Literal["placeholder", "hash"]

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


# --------------------------------------------------------------------------------------------------------
# Secret-named keys
# --------------------------------------------------------------------------------------------------------

_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM: Final = re.compile(r"[^A-Za-z0-9]+")
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


@lru_cache(maxsize=8192)
def is_secret_key(name: str) -> bool:
    """Whether a dict key or ``key=`` name denotes a secret (password, secret, token, api_key, ...).

    Case and separators do not matter (``apiKey``, ``X-Api-Key``, ``AWS_SECRET_ACCESS_KEY``). ``token`` counts
    only as the last word (``access_token``, ``sessionToken``), because LLM telemetry is full of
    ``max_tokens``, ``prompt_tokens`` and ``token_count`` whose values are usage numbers, not secrets.
    """
    words = [word.lower() for word in _NON_ALNUM.split(_CAMEL_BOUNDARY.sub("_", name)) if word]
    if not words:
        return False
    # Joining the words makes "api_key", "apiKey", "x-api-key" and "APIKEY" all read "apikey".
    joined = "".join(words)
    if any(part in joined for part in _SECRET_SUBSTRINGS):
        return True
    return words[-1].endswith("token")


# --------------------------------------------------------------------------------------------------------
# Patterns. All are ASCII-only (re.ASCII) and most start with a character class, with the boundary
# lookbehind placed after the first character: CPython's regex engine can then skip quickly to candidate
# positions instead of trying a full match at every character, which matters at 20,000+ events/s.
# --------------------------------------------------------------------------------------------------------

_EMAIL_RE: Final = re.compile(
    r"[A-Za-z0-9._%+\-](?<![A-Za-z0-9._%+\-].)[A-Za-z0-9._%+\-]{0,63}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![A-Za-z0-9\-])",
    re.ASCII,
)

_URL_CREDENTIALS_RE: Final = re.compile(r"://[^\s/@:]{1,256}:(?P<pw>[^\s/@]{1,256})@", re.ASCII)

_VENDOR_KEY_RE: Final = re.compile(
    r"""
    (?:
        sk-[A-Za-z0-9][A-Za-z0-9_\-]{19,}              # OpenAI sk-, sk-proj-, sk-svcacct-; Anthropic sk-ant-
      | (?:AKIA|ASIA)[A-Z0-9]{16}                      # AWS access key id (long-term, temporary)
      | gh[pousr]_[A-Za-z0-9]{30,255}                  # GitHub classic tokens
      | github_pat_[A-Za-z0-9_]{22,255}                # GitHub fine-grained tokens
      | xox[baprs]-[A-Za-z0-9\-]{10,}                  # Slack
      | AIza[A-Za-z0-9_\-]{35}                         # Google API key
      | eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*   # JWT: base64url('{"...') header
    )
    (?![A-Za-z0-9_\-])
    """,
    re.ASCII | re.VERBOSE,
)
_VENDOR_HINTS: Final = ("sk-", "AKIA", "ASIA", "gh", "xox", "AIza", "eyJ")

_BEARER_RE: Final = re.compile(
    r"[Bb](?<![A-Za-z0-9_\-].)(?:earer|EARER)[ \t]+(?P<tok>[A-Za-z0-9\-._~+/]+=*)", re.ASCII
)
# "Authorization: Bearer x" / "authorization": "Bearer x": right before the scheme, nothing in between.
_AUTHORIZATION_BEFORE: Final = re.compile(r"authorization[\"']?[ \t]*[:=][ \t]*[\"']?$", re.ASCII | re.IGNORECASE)

# Key/value secrets: find a keyword, widen it to the whole key, ask is_secret_key, then read the value.
_KV_KEYWORD_LOWER_RE: Final = re.compile(
    r"passw|passphrase|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|authoriz|cookie|credential",
    re.ASCII,
)
_KV_KEYWORD_ANYCASE_RE: Final = re.compile(_KV_KEYWORD_LOWER_RE.pattern, re.ASCII | re.IGNORECASE)
_KEY_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_KV_VALUE_RE: Final = re.compile(
    r"""
    (?:\\?["'])?[ \t]*[:=][ \t]*                       # closing quote of a quoted key, then : or =
    (?:
        \\"(?P<edq>[^"\\\r\n]{1,1024})\\"              # JSON inside a JSON string: \"value\"
      | "(?P<dq>(?:[^"\\\r\n]|\\.){1,1024})"
      | '(?P<sq>[^'\r\n]{1,1024})'
      | (?P<bare>(?!=)(?:(?i:basic|bearer|digest|token|bot)[ \t]+)?[^\s"'`,;&(){}\[\]<>]{1,1024})
    )
    """,
    re.ASCII | re.VERBOSE,
)
# Values that are clearly not a secret: unset markers, type annotations in code, templates, our own output.
_NOT_A_SECRET: Final = frozenset(
    {"none", "null", "nil", "true", "false", "undefined", "str", "string", "bytes", "int", "any", "secretstr"}
    | {"optional", "required", "redacted", "masked", "hidden", "n/a", "os.environ", "os.getenv"}
)
_TEMPLATE_RE: Final = re.compile(r"\$\{.*\}|\{\{.*\}\}|<.*>|\[[A-Z_]+(?::[0-9a-f]+)?\]|[*xX.\-]+", re.ASCII)

_CARD_RE: Final = re.compile(
    r"[2-6](?<![A-Za-z0-9_.+\-].)(?<![0-9][ \-].)[0-9](?:[ \-]?[0-9]){11,17}(?![A-Za-z0-9_])(?![ .\-][0-9])",
    re.ASCII,
)

_PHONE_RE: Final = re.compile(
    r"""
    [+(0-9](?<![A-Za-z0-9_+.\-/:#].)                   # not glued to a word, number, version, path or time
    (?<=(?P<first>.))                                  # remember which form started (+, ( or a digit)
    (?:
        (?<=\+)[1-9][0-9]{0,2}(?:[ .\-]?\(?[0-9]{1,5}\)?){1,6}          # +CC then groups
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

_IPV4_RE: Final = re.compile(
    r"[0-9](?<![A-Za-z0-9_.].)[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}(?![A-Za-z0-9_]|\.[0-9])", re.ASCII
)
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

# One cheap scan answers "could any detector fire at all?" for the many short strings inside an event
# (roles, tool names, ids without digits): a miss skips all the detectors.
_TRIGGER_RE: Final = re.compile(r"[0-9@:=]|sk-|AKIA|ASIA|gh[pousr]_|github_pat_|xox|AIza|eyJ|[Bb]earer|BEARER")
_DIGIT_RE: Final = re.compile(r"[0-9]")

# Shortest maskable texts are "a@b.cd" and "1.1.1.1"; anything shorter cannot hold PII.
_MIN_LENGTH: Final = 6

_DOUBLED: Final = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_valid(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn checksum used by payment card numbers."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = sum(map(int, digits[-1::-2])) + sum(_DOUBLED[int(digit)] for digit in digits[-2::-2])
    return total % 10 == 0


_Span = tuple[int, int, PiiKind, str]  # start, end, kind, normalised value (what the hash style hashes)


class PiiMasker:
    """Detects and replaces PII in text and JSON-like values; immutable, safe to share between threads."""

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
        self._needs_digit = cfg.phone or cfg.card or cfg.ip
        self._hmac: hmac.HMAC | None = None
        if cfg.style == "hash":
            key = cfg.hash_key.encode() if isinstance(cfg.hash_key, str) else cfg.hash_key
            # Keyed once; each replacement copies the keyed state instead of re-deriving the key pads.
            self._hmac = hmac.new(key, digestmod=hashlib.sha256)
        self._hash_length = cfg.hash_length
        self._totals: dict[str, int] = {}
        self._totals_lock = threading.Lock()

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
        masked = self._mask(text, counts)
        if counts:
            self._add_totals(counts)
        return MaskResult(masked, counts)

    def mask_value(self, value: Any) -> Any:
        """Return a masked copy of a JSON-like value; see :meth:`mask_json` for the rules and the counts."""
        return self.mask_json(value).value

    def mask_json(self, value: Any) -> MaskedValue:
        """Return a masked copy of a JSON-like value and the number of items replaced per kind.

        Strings (dict keys included) are masked like :meth:`mask_text`; with the ``secret`` kind enabled, the
        whole value under a secret-named key (:func:`is_secret_key`) is replaced, whatever its type, except
        ``None``, booleans and empty strings, which hide nothing. Dicts, lists and tuples are rebuilt, so the
        result never shares a container with the input and the input is never modified.
        """
        counts: dict[str, int] = {}
        masked = self._walk(value, counts)
        if counts:
            self._add_totals(counts)
        return MaskedValue(masked, counts)

    # ---------------------------------------------------------------------------------------------- walking

    def _walk(self, value: Any, counts: dict[str, int]) -> Any:
        if isinstance(value, str):
            return self._mask(value, counts)
        if isinstance(value, Mapping):
            return self._walk_mapping(value, counts)
        if isinstance(value, list):
            return [self._walk(item, counts) for item in value]
        if isinstance(value, tuple):
            return tuple(self._walk(item, counts) for item in value)
        return value

    def _walk_mapping(self, value: Mapping[Any, Any], counts: dict[str, int]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str):
                new_key = self._mask(key, counts)
                if new_key != key and new_key in out:
                    # Two different e-mails as keys both become "[EMAIL]": keep both entries, not the last.
                    suffix = 2
                    while f"{new_key}~{suffix}" in out:
                        suffix += 1
                    new_key = f"{new_key}~{suffix}"
                if self._secret and is_secret_key(key) and _holds_secret(item):
                    _bump(counts, PiiKind.SECRET)
                    normalised = item if isinstance(item, str) else repr(item)
                    out[new_key] = self._replacement(PiiKind.SECRET, normalised)
                else:
                    out[new_key] = self._walk(item, counts)
            else:
                out[key] = self._walk(item, counts)
        return out

    # ---------------------------------------------------------------------------------------------- text

    def _mask(self, text: str, counts: dict[str, int]) -> str:
        if len(text) < _MIN_LENGTH or _TRIGGER_RE.search(text) is None:
            return text
        spans: list[_Span] = []
        if self._bearer and ("earer" in text or "EARER" in text):
            self._find_bearer(text, spans)
        if self._api_key and any(hint in text for hint in _VENDOR_HINTS):
            self._find_regex(_VENDOR_KEY_RE, text, PiiKind.API_KEY, spans)
        if self._secret:
            if "=" in text or ":" in text:
                self._find_key_values(text, spans)
            if "@" in text and "://" in text:
                self._find_url_credentials(text, spans)
        if self._email and "@" in text:
            self._find_emails(text, spans)
        if self._needs_digit and _DIGIT_RE.search(text) is not None:
            if self._card:
                self._find_cards(text, spans)
            if self._ip and "." in text:
                self._find_ipv4(text, spans)
            if self._phone:
                self._find_phones(text, spans)
        if self._ip and ":" in text:
            self._find_ipv6(text, spans)
        if not spans:
            return text
        return self._replace(text, spans, counts)

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
        label = kind.value.upper()
        if self._hmac is None:
            return f"[{label}]"
        mac = self._hmac.copy()
        # The kind is part of the message so the same string never links, say, a secret to an e-mail.
        mac.update(f"{kind.value}\x00{normalised}".encode("utf-8", "surrogatepass"))
        return f"[{label}:{mac.hexdigest()[: self._hash_length]}]"

    def _add_totals(self, counts: dict[str, int]) -> None:
        with self._totals_lock:
            for kind, count in counts.items():
                self._totals[kind] = self._totals.get(kind, 0) + count

    # ---------------------------------------------------------------------------------------------- detectors

    @staticmethod
    def _find_regex(pattern: re.Pattern[str], text: str, kind: PiiKind, spans: list[_Span]) -> None:
        for match in pattern.finditer(text):
            spans.append((match.start(), match.end(), kind, match.group()))

    @staticmethod
    def _find_bearer(text: str, spans: list[_Span]) -> None:
        for match in _BEARER_RE.finditer(text):
            token = match.group("tok")
            after_header = _AUTHORIZATION_BEFORE.search(text, max(0, match.start() - 40), match.start())
            if after_header is None and not _looks_random(token):
                continue
            spans.append((match.start("tok"), match.end("tok"), PiiKind.BEARER_TOKEN, token))

    @staticmethod
    def _find_key_values(text: str, spans: list[_Span]) -> None:
        # str.lower() keeps positions only for ASCII ("İ".lower() is two characters); non-ASCII text takes
        # the slower case-insensitive pattern instead.
        if text.isascii():
            keywords = _KV_KEYWORD_LOWER_RE.finditer(text.lower())
        else:
            keywords = _KV_KEYWORD_ANYCASE_RE.finditer(text)
        done_until = -1
        length = len(text)
        for keyword in keywords:
            if keyword.start() < done_until:
                continue  # a second keyword inside a key already handled ("secret_token")
            key_start = keyword.start()
            while key_start > 0 and text[key_start - 1] in _KEY_CHARS and keyword.start() - key_start < 64:
                key_start -= 1
            key_end = keyword.end()
            while key_end < length and text[key_end] in _KEY_CHARS and key_end - keyword.end() < 64:
                key_end += 1
            done_until = key_end
            key = text[key_start:key_end]
            if not is_secret_key(key):
                continue
            found = _KV_VALUE_RE.match(text, key_end)
            if found is None:
                continue
            group = found.lastgroup
            assert group is not None  # one of the four value alternatives always matched
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
        for match in _EMAIL_RE.finditer(text):
            spans.append((match.start(), match.end(), PiiKind.EMAIL, match.group().lower()))

    @staticmethod
    def _find_cards(text: str, spans: list[_Span]) -> None:
        for match in _CARD_RE.finditer(text):
            digits = match.group().replace(" ", "").replace("-", "")
            if luhn_valid(digits):
                spans.append((match.start(), match.end(), PiiKind.CARD, digits))

    @staticmethod
    def _find_phones(text: str, spans: list[_Span]) -> None:
        for match in _PHONE_RE.finditer(text):
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
                if not 8 <= len(digits) <= 15 or candidate.count("(") != candidate.count(")"):
                    continue
            elif candidate[0] == "0" and len(digits) < 9:
                continue
            if len(set(digits)) == 1:
                continue  # 000 000 0000 is a filler, not a number anyone answers
            spans.append((start, end, PiiKind.PHONE, digits))

    def _find_ipv4(self, text: str, spans: list[_Span]) -> None:
        for match in _IPV4_RE.finditer(text):
            try:
                address = ipaddress.IPv4Address(match.group())
            except ValueError:
                continue  # octet above 255 or with a leading zero: a version or a counter, not an address
            if self._keep_loopback and (address.is_loopback or address.is_unspecified):
                continue
            spans.append((match.start(), match.end(), PiiKind.IP, str(address)))

    def _find_ipv6(self, text: str, spans: list[_Span]) -> None:
        for match in _IPV6_RE.finditer(text):
            candidate = match.group()
            # Valid IPv6 text has "::" or at least six colons; checking first avoids costly exceptions for
            # the many "17:49:31" clock times.
            if "::" not in candidate and candidate.count(":") < 6:
                continue
            groups = [group for group in candidate.split(":") if group]
            if len(groups) < 3 and not any(len(group) >= 3 for group in groups):
                continue  # "1::2" or "::1": a Python slice far more often than an address
            try:
                address = ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            if self._keep_loopback and (address.is_loopback or address.is_unspecified):
                continue
            spans.append((match.start(), match.end(), PiiKind.IP, address.compressed))


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


def _bump(counts: dict[str, int], kind: PiiKind) -> None:
    counts[kind.value] = counts.get(kind.value, 0) + 1


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

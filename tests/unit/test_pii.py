"""Unit tests for escai.ingest.pii: what is masked, what must survive, and the masking contract."""

from __future__ import annotations

import copy
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from escai.ingest.pii import (
    MaskedValue,
    MaskResult,
    PiiKind,
    PiiMasker,
    PiiMaskingConfig,
    is_secret_key,
    luhn_valid,
)

HASH_KEY = b"unit-test-hash-key-0123456789abcdef"

# Shapes of real credentials, assembled from pieces so that no secret scanner (or push protection) mistakes
# this file for a leak; none of them is a real key.
OPENAI_KEY = "sk-" + "A1b2C3d4E5f6G7h8I9j0" * 2 + "KlMnOpQr"
OPENAI_PROJECT_KEY = "sk-proj-" + "Zx9_Yw8-Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0" * 2
ANTHROPIC_KEY = "sk-ant-api03-" + "q1W2e3R4t5Y6u7I8o9P0" * 4 + "-AbCdEfAA"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GITHUB_PAT = "github" + "_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV"
SLACK_TOKEN = "-".join(("xox" + "b", "123456789012", "1234567890123", "AbCdEfGhIjKlMnOpQrStUvWx"))
GOOGLE_KEY = "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def with_luhn_digit(payload: str) -> str:
    """Append the Luhn check digit that makes ``payload`` a valid card number."""
    for check in "0123456789":
        if luhn_valid(payload + check):
            return payload + check
    raise AssertionError("unreachable: exactly one check digit is valid")


def masked(text: str, config: PiiMaskingConfig | None = None) -> MaskResult:
    """Mask ``text`` with a fresh masker."""
    return PiiMasker(config).mask_text(text)


# ------------------------------------------------------------------------------------------------ kinds


POSITIVE_CASES: list[tuple[PiiKind, str, str]] = [
    # (kind, input, expected output)
    (PiiKind.EMAIL, "mail alice@example.com now", "mail [EMAIL] now"),
    (PiiKind.EMAIL, "cc: first.last+tag@sub.example.co.uk.", "cc: [EMAIL]."),
    (PiiKind.EMAIL, "<x_y%z-w@mail-server.example.org>", "<[EMAIL]>"),
    (PiiKind.EMAIL, "Contact josé.garcía@example.com today", "Contact [EMAIL] today"),
    (PiiKind.EMAIL, '{"to": "Bob.Smith@Example.COM"}', '{"to": "[EMAIL]"}'),
    (PiiKind.PHONE, "call +1 (415) 555-0100 now", "call [PHONE] now"),
    (PiiKind.PHONE, "London +44 20 7946 0958.", "London [PHONE]."),
    (PiiKind.PHONE, "Berlin +49 30 1234567", "Berlin [PHONE]"),
    (PiiKind.PHONE, "mobile +4915112345678", "mobile [PHONE]"),
    (PiiKind.PHONE, "India +91-98765-43210", "India [PHONE]"),
    (PiiKind.PHONE, "Paris +33 1 23 45 67 89", "Paris [PHONE]"),
    (PiiKind.PHONE, "US (415) 555-0100", "US [PHONE]"),
    (PiiKind.PHONE, "dashed 415-555-0100", "dashed [PHONE]"),
    (PiiKind.PHONE, "dotted 415.555.0100", "dotted [PHONE]"),
    (PiiKind.PHONE, "spaced 415 555 0100", "spaced [PHONE]"),
    (PiiKind.PHONE, "toll free 1-800-555-0199", "toll free [PHONE]"),
    (PiiKind.PHONE, "UK 020 7946 0958", "UK [PHONE]"),
    (PiiKind.PHONE, "Tokyo 03-1234-5678", "Tokyo [PHONE]"),
    (PiiKind.PHONE, "France 01 23 45 67 89", "France [PHONE]"),
    (PiiKind.CARD, "card 4111 1111 1111 1111 exp 12/29", "card [CARD] exp 12/29"),
    (PiiKind.CARD, "card 4111-1111-1111-1111", "card [CARD]"),
    (PiiKind.CARD, "visa=4111111111111111;", "visa=[CARD];"),
    (PiiKind.CARD, "mc 5555555555554444", "mc [CARD]"),
    (PiiKind.CARD, "amex 3782 822463 10005", "amex [CARD]"),
    (PiiKind.CARD, "discover 6011111111111117", "discover [CARD]"),
    (PiiKind.CARD, "diners 30569309025904", "diners [CARD]"),
    (PiiKind.CARD, "old visa 4222222222222", "old visa [CARD]"),
    (PiiKind.CARD, f"19 digits {with_luhn_digit('622126000000000000')}", "19 digits [CARD]"),
    (PiiKind.API_KEY, f"key {OPENAI_KEY}", "key [API_KEY]"),
    (PiiKind.API_KEY, f"key {OPENAI_PROJECT_KEY}", "key [API_KEY]"),
    (PiiKind.API_KEY, f"key {ANTHROPIC_KEY}", "key [API_KEY]"),
    (PiiKind.API_KEY, f"aws {AWS_KEY_ID} loaded", "aws [API_KEY] loaded"),
    (PiiKind.API_KEY, f"gh {GITHUB_TOKEN}", "gh [API_KEY]"),
    (PiiKind.API_KEY, f"gh {GITHUB_PAT}", "gh [API_KEY]"),
    (PiiKind.API_KEY, f"slack {SLACK_TOKEN}", "slack [API_KEY]"),
    (PiiKind.API_KEY, f"google {GOOGLE_KEY}", "google [API_KEY]"),
    (PiiKind.API_KEY, f"session {JWT} ok", "session [API_KEY] ok"),
    (PiiKind.API_KEY, f'client = OpenAI(api_key="{OPENAI_KEY}")', 'client = OpenAI(api_key="[API_KEY]")'),
    (PiiKind.BEARER_TOKEN, "Authorization: Bearer abc", "Authorization: Bearer [BEARER_TOKEN]"),
    (
        PiiKind.BEARER_TOKEN,
        '{"Authorization": "Bearer tok.en-123_x"}',
        '{"Authorization": "Bearer [BEARER_TOKEN]"}',
    ),
    (
        PiiKind.BEARER_TOKEN,
        "curl -H 'authorization: bearer 9f8e7d6c5b4a3210' https://api.example.com",
        "curl -H 'authorization: bearer [BEARER_TOKEN]' https://api.example.com",
    ),
    (PiiKind.BEARER_TOKEN, "sent Bearer 9f8e7d6c5b4a3210 upstream", "sent Bearer [BEARER_TOKEN] upstream"),
    (PiiKind.BEARER_TOKEN, "BEARER dGhpc2lzYXRva2Vu==", "BEARER [BEARER_TOKEN]"),
    (PiiKind.BEARER_TOKEN, f"Authorization: Bearer {JWT}", "Authorization: Bearer [BEARER_TOKEN]"),
    (PiiKind.SECRET, "GET /v1?api_key=abc123&page=2", "GET /v1?api_key=[SECRET]&page=2"),
    (PiiKind.SECRET, "password: hunter2", "password: [SECRET]"),
    (PiiKind.SECRET, '{"password": "p@ss w0rd", "user": "bob"}', '{"password": "[SECRET]", "user": "bob"}'),
    (PiiKind.SECRET, "{'client_secret': 'shh-123'}", "{'client_secret': '[SECRET]'}"),
    (PiiKind.SECRET, r'"{\"password\": \"hunter2\"}"', r'"{\"password\": \"[SECRET]\"}"'),
    (PiiKind.SECRET, "Authorization: Basic dXNlcjpwYXNz", "Authorization: [SECRET]"),
    (PiiKind.SECRET, "X-Api-Key: 0123abcd\nAccept: */*", "X-Api-Key: [SECRET]\nAccept: */*"),
    (PiiKind.SECRET, "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "AWS_SECRET_ACCESS_KEY=[SECRET]"),
    (PiiKind.SECRET, "export GITHUB_TOKEN=abc123", "export GITHUB_TOKEN=[SECRET]"),
    (PiiKind.SECRET, "refreshToken = 'r-123'", "refreshToken = '[SECRET]'"),
    (PiiKind.SECRET, "Cookie: sessionid=abc123; theme=dark", "Cookie: [SECRET]; theme=dark"),
    (PiiKind.SECRET, "İstanbul office password=hunter2", "İstanbul office password=[SECRET]"),
    (
        PiiKind.SECRET,
        "DATABASE_URL=postgres://admin:s3cret@db.example.com:5432/app",
        "DATABASE_URL=postgres://admin:[SECRET]@db.example.com:5432/app",
    ),
    (PiiKind.IP, "from 192.168.1.10 ok", "from [IP] ok"),
    (PiiKind.IP, "dns 8.8.8.8.", "dns [IP]."),
    (PiiKind.IP, "http://10.0.0.5:8080/health", "http://[IP]:8080/health"),
    (PiiKind.IP, "subnet 172.16.0.0/12", "subnet [IP]/12"),
    (PiiKind.IP, "v6 2001:db8::1 up", "v6 [IP] up"),
    (PiiKind.IP, "full 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "full [IP]"),
    (PiiKind.IP, "link fe80::1ff:fe23:4567:890a%eth0", "link [IP]%eth0"),
    (PiiKind.IP, "mapped ::ffff:192.0.2.1", "mapped [IP]"),
    (PiiKind.IP, "url https://[2001:db8::42]:443/", "url https://[[IP]]:443/"),
    # Documented choice: a four-part version that is also a valid address is masked (cannot tell them apart).
    (PiiKind.IP, "pinned to 1.2.3.4", "pinned to [IP]"),
]


@pytest.mark.parametrize(("kind", "text", "expected"), POSITIVE_CASES)
def test_each_kind_is_masked(kind: PiiKind, text: str, expected: str) -> None:
    """Every supported form of every kind is replaced by its typed placeholder and counted once."""
    result = masked(text)
    assert result.text == expected
    assert result.counts == {kind.value: 1}


NEGATIVE_CASES: list[str] = [
    "at 2026-11-23T17:49:31Z the run finished",
    "ts=2026-11-23 17:49:31.123456+00:00 level=info",
    "released 2026-11-23, see 23.11.2026",
    "in the year 2026 we shipped 3 agents",
    "version 1.2.3 and v1.2.3.4 and 1.2.3.4.5 and numpy==1.26.4 on Python 3.11.7",
    "run 123e4567-e89b-12d3-a456-426614174000 started",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "card-like 4111 1111 1111 1112 fails Luhn",
    "ids 1234567812345678 and 4111-1111-1111-1112",
    "epoch ms 1732384171000 and snowflake 1859171428399104011",
    "pi is 3.14159265358979 roughly",
    "reach user@ and ask",
    "user@localhost is not a routable address",
    "result = a @ b  # matrix product",
    "@dataclass\nclass A: pass",
    "npm i @types/node@18.2.0",
    "pkg@1.2.3 is pinned",
    "HTTP 404 on port 8080 after 1,234,567 rows",
    "ISBN 978-3-16-148410-0",
    "order 123-45-6789",
    "max_tokens=4096, prompt_tokens: 812, total_tokens: 908",
    "tokenizer = AutoTokenizer.from_pretrained(name)",
    "the bearer of bad news",
    "Bearer authentication is described in RFC 6750",
    "evens = items[1::2]; rev = items[::-1]",
    "std::vector<int> v; Foo::Bar::baz()",
    "at 12:30:45 and 17:49",
    "mac 00:1a:2b:3c:4d:5e",
    "octets 999.1.1.1 and 256.256.256.256 and 01.02.03.04",
    "bind 127.0.0.1:8000 or 0.0.0.0 or ::1",
    "pip install scikit-learn # sk-learn",
    "task-1234567890abcdefghijklmnop",
    "password: None",
    "api_key=os.environ['OPENAI_API_KEY']",
    "api_key = ${OPENAI_API_KEY} or $OPENAI_API_KEY",
    "password: {{ vault_password }}",
    "def login(user: str, password: str) -> bool:",
    "login(password=password)",
    "token = <your-token-here>",
    "password=***",
    "if password == expected:",
    "keyboard monkey keys primary_key=7",
    "filler 000 000 0000",
    "git remote add origin git@github.com:escai/escai.git",
    "grouped 4111 1111 1111 1111 4111 1111 1111 1111 is one long ambiguous run",
    "",
    "short",
]


@pytest.mark.parametrize("text", NEGATIVE_CASES)
def test_realistic_non_pii_is_kept(text: str) -> None:
    """Timestamps, versions, ids, hashes, code and prose that only look like PII are left untouched."""
    result = masked(text)
    assert result.text == text
    assert result.counts == {}


def test_loopback_addresses_can_be_masked_on_request() -> None:
    """keep_loopback_ip=False masks loopback and unspecified addresses too."""
    result = masked("bind 127.0.0.1 and 0.0.0.0 and ::1", PiiMaskingConfig(keep_loopback_ip=False))
    assert result.text == "bind [IP] and [IP] and [IP]"


def test_mixed_text_counts_every_kind() -> None:
    """One text with several kinds reports a count per kind, keyed by plain strings."""
    text = (
        "User alice@example.com (+1 415 555 0100) paid with 4111 1111 1111 1111 from 203.0.113.9; "
        f'config {{"api_key": "{OPENAI_KEY}", "db_password": "pw123"}}, header Authorization: Bearer abc.def.ghi, '
        "cc bob@example.org"
    )
    result = masked(text)
    assert result.counts == {"email": 2, "phone": 1, "card": 1, "ip": 1, "api_key": 1, "secret": 1, "bearer_token": 1}
    assert all(type(kind) is str for kind in result.counts)
    assert result.total == 8
    for leaked in ("alice", "415", "4111", "203.0", OPENAI_KEY, "pw123", "abc.def"):
        assert leaked not in result.text


def test_several_items_in_one_run_are_each_masked() -> None:
    """Neighbouring items separated only by spaces or punctuation are masked one by one."""
    assert masked("range 10.0.0.1 - 10.0.0.255").text == "range [IP] - [IP]"
    result = masked("cards 4111111111111111 5555555555554444, 378282246310005")
    assert result.text == "cards [CARD] [CARD], [CARD]"
    assert result.counts == {"card": 3}


def test_pathological_inputs_stay_linear() -> None:
    """Inputs built to make regexes backtrack (digit runs after "+", colon runs, long keys) stay fast."""
    masker = PiiMasker()
    texts = [
        ("+" + "1234567890" * 3 + "a ") * 1_000,
        ":" * 100_000,
        "a:" * 50_000,
        "password_" * 10_000 + "=x",
        "x@" + "a." * 20_000 + "1",
        "1 " * 50_000,
    ]
    start = time.perf_counter()
    for text in texts:
        masker.mask_text(text)
    # About 0.2 s on a laptop; exponential backtracking in the +CC phone pattern alone once took 6 s here.
    assert time.perf_counter() - start < 5.0


def test_overlapping_detections_collapse_to_the_most_specific() -> None:
    """A vendor key after api_key= is one API_KEY, and a URL password is not also an e-mail."""
    assert masked(f"api_key={OPENAI_KEY}").text == "api_key=[API_KEY]"
    result = masked("postgres://admin:s3cret@db.example.com/app")
    assert result.text == "postgres://admin:[SECRET]@db.example.com/app"
    assert result.counts == {"secret": 1}


@pytest.mark.parametrize("style", ["placeholder", "hash"])
def test_masking_is_idempotent(style: str) -> None:
    """Masking already-masked text changes nothing, in both styles (placeholders are not re-detected)."""
    config = PiiMaskingConfig(style="hash", hash_key=HASH_KEY) if style == "hash" else PiiMaskingConfig()
    masker = PiiMasker(config)
    first = masker.mask_text(
        'Authorization: Bearer abc123456789 {"password": "hunter2"} 4111 1111 1111 1111 a@b.com '
        f"10.1.2.3 +1 415 555 0100 {OPENAI_KEY} api_key=xyz"
    )
    assert first.total == 8
    second = masker.mask_text(first.text)
    assert second.text == first.text
    assert second.counts == {}


# ------------------------------------------------------------------------------------------------ Luhn


@pytest.mark.parametrize("length", range(13, 20))
def test_luhn_valid_numbers_of_every_card_length_are_masked(length: int) -> None:
    """Luhn-valid numbers of 13 to 19 digits starting with a network digit are masked."""
    number = with_luhn_digit("4" + "0" * (length - 3) + "7")
    assert len(number) == length
    assert masked(f"pay {number} now").text == "pay [CARD] now"


@pytest.mark.parametrize("length", range(13, 20))
def test_luhn_invalid_numbers_are_kept(length: int) -> None:
    """The same numbers with a wrong check digit are not masked."""
    valid = with_luhn_digit("4" + "0" * (length - 3) + "7")
    invalid = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    assert masked(f"pay {invalid} now").counts == {}


def test_luhn_helper() -> None:
    """luhn_valid accepts known test numbers and rejects altered or non-digit input."""
    assert luhn_valid("4111111111111111")
    assert luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("")
    assert not luhn_valid("4111 1111 1111 1111")
    assert not luhn_valid("４１１１")


# ------------------------------------------------------------------------------------------------ secret keys


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "PASSWORD",
        "db_password",
        "userPassword",
        "passwd",
        "passphrase",
        "secret",
        "client_secret",
        "AWS_SECRET_ACCESS_KEY",
        "token",
        "access_token",
        "refreshToken",
        "id-token",
        "api_key",
        "apiKey",
        "API-KEY",
        "x-api-key",
        "apikey",
        "authorization",
        "Proxy-Authorization",
        "access_key",
        "accessKeyId",
        "private_key",
        "privateKey",
        "cookie",
        "Set-Cookie",
        "credentials",
    ],
)
def test_secret_key_names(name: str) -> None:
    """Key names that denote secrets are recognised whatever their case or separators."""
    assert is_secret_key(name)


@pytest.mark.parametrize(
    "name",
    [
        "max_tokens",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "token_count",
        "tokenizer",
        "tokenType",
        "key",
        "keys",
        "primary_key",
        "sort_key",
        "monkey",
        "author",
        "auth_method",
        "email",
        "",
        "__",
    ],
)
def test_non_secret_key_names(name: str) -> None:
    """Usage counters and ordinary names are not mistaken for secrets."""
    assert not is_secret_key(name)


# ------------------------------------------------------------------------------------------------ JSON values


def test_nested_structures_are_masked() -> None:
    """Strings at any depth in dicts, lists and tuples are masked; other scalars pass through."""
    when = datetime(2026, 11, 23, tzinfo=UTC)
    value = {
        "messages": [
            {"role": "user", "content": "mail bob@example.com please"},
            {"role": "assistant", "content": "done", "tool_calls": [{"args": {"ip": "10.1.2.3"}}]},
        ],
        "pair": ("+1 415 555 0100", 7),
        "usage": {"prompt_tokens": 812, "max_tokens": 4096},
        "flags": [True, None, 1.5],
        "when": when,
        3: "int key kept, value masked: 8.8.4.4",
    }
    result = PiiMasker().mask_json(value)
    assert result.value == {
        "messages": [
            {"role": "user", "content": "mail [EMAIL] please"},
            {"role": "assistant", "content": "done", "tool_calls": [{"args": {"ip": "[IP]"}}]},
        ],
        "pair": ("[PHONE]", 7),
        "usage": {"prompt_tokens": 812, "max_tokens": 4096},
        "flags": [True, None, 1.5],
        "when": when,
        3: "int key kept, value masked: [IP]",
    }
    assert result.counts == {"email": 1, "ip": 2, "phone": 1}


def test_secret_named_keys_are_masked_entirely() -> None:
    """Values under secret-named keys are replaced whatever they hold; None, booleans and '' hide nothing."""
    value = {
        "password": "correct horse battery staple",
        "apiKey": 123456,
        "Authorization": {"scheme": "Basic", "credentials": "dXNlcjpwYXNz"},
        "refresh_token": ["a", "b"],
        "private_key": None,
        "use_token": True,
        "client_secret": "",
        "prompt_tokens": 812,
        "user": "bob",
    }
    result = PiiMasker().mask_json(value)
    assert result.value == {
        "password": "[SECRET]",
        "apiKey": "[SECRET]",
        "Authorization": "[SECRET]",
        "refresh_token": "[SECRET]",
        "private_key": None,
        "use_token": True,
        "client_secret": "",
        "prompt_tokens": 812,
        "user": "bob",
    }
    assert result.counts == {"secret": 4}


def test_dict_keys_are_masked_and_kept_apart() -> None:
    """PII in dict keys is masked, and two keys that mask alike do not overwrite each other."""
    result = PiiMasker().mask_value({"a@example.com": 1, "b@example.com": 2, "c@example.com": 3, "plain": 4})
    assert result == {"[EMAIL]": 1, "[EMAIL]~2": 2, "[EMAIL]~3": 3, "plain": 4}
    assert PiiMasker().mask_value({"a@example.com": 1, "[EMAIL]": 2}) == {"[EMAIL]": 1, "[EMAIL]~2": 2}


def test_repeated_strings_are_masked_and_counted_every_time() -> None:
    """The clean-string cache only short-cuts clean strings: PII is masked and counted on every repeat."""
    masker = PiiMasker()
    for _ in range(3):
        assert masker.mask_text("ip 203.0.113.7") == ("ip [IP]", {"ip": 1})
        assert masker.mask_text("gpt-4o-2024-08-06") == ("gpt-4o-2024-08-06", {})
        assert masker.mask_json({"password": "x", "model": "gpt-4o"}) == (
            {"password": "[SECRET]", "model": "gpt-4o"},
            {"secret": 1},
        )
    assert masker.masked_counts == {"ip": 3, "secret": 3}


def test_input_is_not_mutated() -> None:
    """mask_value returns new containers and leaves the input, at every depth, exactly as it was."""
    value: dict[str, Any] = {
        "content": "mail bob@example.com",
        "password": "hunter2",
        "nested": {"list": ["10.1.2.3", {"token": "abc"}], "tuple": ("x@example.org",)},
    }
    before = copy.deepcopy(value)
    result = PiiMasker().mask_value(value)
    assert value == before
    assert result is not value
    assert result["nested"] is not value["nested"]
    assert result["nested"]["list"] is not value["nested"]["list"]
    # Even without PII the containers are fresh, so callers may mutate the result safely.
    clean = {"a": ["b"]}
    copied = PiiMasker().mask_value(clean)
    assert copied == clean
    assert copied is not clean
    assert copied["a"] is not clean["a"]


@pytest.mark.parametrize("scalar", ["no pii here", 42, 1.5, None, True, b"bytes@example.com"])
def test_scalars_pass_through(scalar: object) -> None:
    """Non-container values are returned as they are (bytes are not decoded)."""
    assert PiiMasker().mask_value(scalar) == scalar


def test_known_attribute_dicts_are_still_copied_and_masked() -> None:
    """Once a dict's keys are known clean, later dicts with them are fresh copies, and new values are masked."""
    masker = PiiMasker()
    attributes = {"gen_ai.request.model": "gpt-4o-mini", "iteration": 3, "done": False, "score": 0.5}
    for _ in range(3):  # the first call learns the keys, the later ones take the known-keys path
        value, counts = masker.mask_json(attributes)
        assert value == attributes
        assert value is not attributes
        assert counts == {}
    assert masker.mask_value({"gen_ai.request.model": "ops@example.com", "iteration": 4}) == {
        "gen_ai.request.model": "[EMAIL]",
        "iteration": 4,
    }
    assert masker.mask_value({"gen_ai.request.model": {"owner": "ops@example.com"}, "iteration": None}) == {
        "gen_ai.request.model": {"owner": "[EMAIL]"},
        "iteration": None,
    }
    assert masker.mask_json({"gen_ai.request.model": "gpt-4o-mini", "api_key": "abc"}) == (
        {"gen_ai.request.model": "gpt-4o-mini", "api_key": "[SECRET]"},
        {"secret": 1},
    )
    assert masker.masked_counts == {"email": 2, "secret": 1}


# ------------------------------------------------------------------------------------------------ gates

# Prose with digits, a path and test output around a case makes a long text: past the short-string trigger
# and the clean cache, so every gate runs.
FILLER = " Thought: step 12345 of the plan; read page 2 of /work/src/app/main.py, 3 passed in 0.12s. " * 2

GATED_CASES: list[tuple[PiiKind, str, str]] = [
    (PiiKind.SECRET, "APIKEY=abc123", "APIKEY=[SECRET]"),
    (PiiKind.SECRET, "api.key: abc123", "api.key: [SECRET]"),
    (PiiKind.SECRET, "Access-Key = abc123", "Access-Key = [SECRET]"),
    (PiiKind.SECRET, "PRIVATEKEY: abc123", "PRIVATEKEY: [SECRET]"),
    (PiiKind.SECRET, "COOKIE: a=b", "COOKIE: [SECRET]"),
    (PiiKind.SECRET, "AUTHORIZATION: Basic QQ==", "AUTHORIZATION: [SECRET]"),
    (PiiKind.SECRET, "PassWord=hunter2", "PassWord=[SECRET]"),
    (PiiKind.SECRET, "TOKEN: abc123", "TOKEN: [SECRET]"),
    (PiiKind.SECRET, "SeCrEt=abc123", "SeCrEt=[SECRET]"),
    (PiiKind.SECRET, "api\u212aey=abc123", "api\u212aey=[SECRET]"),  # the Kelvin sign lower-cases to "k"
    (PiiKind.API_KEY, GITHUB_PAT, "[API_KEY]"),  # no "gh" anywhere, unlike the classic tokens
    (PiiKind.API_KEY, "ghs_" + "A1b2" * 9, "[API_KEY]"),
    (PiiKind.API_KEY, "ASIA" + "ABCDEFGHIJ234567", "[API_KEY]"),
    (PiiKind.API_KEY, "xoxp-1234567890-abc", "[API_KEY]"),
    (PiiKind.BEARER_TOKEN, "BEARER 9f8e7d6c5b4a3210", "BEARER [BEARER_TOKEN]"),
    (PiiKind.BEARER_TOKEN, "bEARER abcDefghij", "bEARER [BEARER_TOKEN]"),  # no digit, colon or "=" to trigger on
    (PiiKind.IP, "ip fe80::1", "ip [IP]"),
    (PiiKind.IP, "::ffff:10.1.2.3", "[IP]"),
    (PiiKind.PHONE, "call 020 7946 0958", "call [PHONE]"),
]


@pytest.mark.parametrize("padded", [False, True], ids=["short", "long"])
@pytest.mark.parametrize(("kind", "text", "expected"), GATED_CASES)
def test_gates_let_every_form_through(kind: PiiKind, text: str, expected: str, padded: bool) -> None:
    """Every keyword, key prefix and form the gates look for reaches its detector, in short and long texts."""
    if padded:
        text, expected = FILLER + text + FILLER, FILLER + expected + FILLER
    result = masked(text)
    assert result.text == expected
    assert result.counts == {kind.value: 1}


TYPICAL_CLEAN_OUTPUT: list[str] = [
    "2026-11-23 17:49:31 INFO agent.planner: iteration 3 finished in 0.12s; 2026-11-23 17:49:32 DEBUG retry 2",
    "```python\ndef top(items: list[int]) -> list[int]:\n    return sorted(items)[::-1][:2]\n```\nstd::vector",
    "Step 3/12: retrying after 250 ms (attempt 2 of 5), max_tokens=1024, prompt_tokens: 812, tokenizer: bpe",
    "Action: read_file(path='/work/src/escai/ingest/pii.py', start=120, end=980) -> 860 lines, task: backlog",
    "Tool result: ===== 390 passed, 3 failed in 14.17s ===== tests/unit/test_pii.py:97 (score 0.948)",
]


@pytest.mark.parametrize("text", TYPICAL_CLEAN_OUTPUT)
def test_typical_agent_output_is_kept(text: str) -> None:
    """Long agent output full of what opens a gate (timestamps, slices, colons, "tokens", rare letters) is kept."""
    result = masked(FILLER + text)
    assert result.text == FILLER + text
    assert result.counts == {}


def test_slices_are_addresses_only_when_unspecified_addresses_are_masked() -> None:
    """With keep_loopback_ip=False an unspecified "[::]" is masked, and so, unavoidably, is a slice's "::"."""
    config = PiiMaskingConfig(keep_loopback_ip=False)
    assert masked("bind [::]:8000", config).text == "bind [[IP]]:8000"
    assert masked("rev = items[::-1]", config).text == "rev = items[[IP]-1]"
    assert masked("bind [::]:8000 and rev = items[::-1]").counts == {}


# ------------------------------------------------------------------------------------------------ hash style


def test_hash_style_is_stable_and_keyed() -> None:
    """The same value gets the same token across calls and maskers with one key, another with another key."""
    text = "mail alice@example.com"
    first = PiiMasker(PiiMaskingConfig(style="hash", hash_key=HASH_KEY)).mask_text(text).text
    again = PiiMasker(PiiMaskingConfig(style="hash", hash_key=HASH_KEY)).mask_text(text).text
    other_key = PiiMasker(PiiMaskingConfig(style="hash", hash_key=b"another-key")).mask_text(text).text
    assert re.fullmatch(r"mail \[EMAIL:[0-9a-f]{8}\]", first)
    assert first == again
    assert first != other_key
    assert "alice" not in first


def test_hash_style_distinguishes_values_and_normalises() -> None:
    """Different values get different tokens; case and phone punctuation do not matter."""
    masker = PiiMasker(PiiMaskingConfig(style="hash", hash_key=HASH_KEY))
    alice, bob, alice_upper = masker.mask_text("alice@example.com bob@example.com ALICE@Example.com").text.split()
    assert alice != bob
    assert alice == alice_upper
    dashed = masker.mask_text("415-555-0100").text
    dotted = masker.mask_text("415.555.0100").text
    assert dashed == dotted


def test_hash_style_accepts_text_key_and_length() -> None:
    """A str key equals its UTF-8 bytes, and hash_length sets the token length."""
    from_str = PiiMasker(PiiMaskingConfig(style="hash", hash_key="k\u00e9y", hash_length=16))
    from_bytes = PiiMasker(PiiMaskingConfig(style="hash", hash_key="k\u00e9y".encode(), hash_length=16))
    text = "ip 203.0.113.7"
    assert from_str.mask_text(text).text == from_bytes.mask_text(text).text
    assert re.fullmatch(r"ip \[IP:[0-9a-f]{16}\]", from_str.mask_text(text).text)


def test_hash_style_applies_to_secret_fields() -> None:
    """Secret-named dict values are hashed too, so equal secrets can be correlated without being shown."""
    masker = PiiMasker(PiiMaskingConfig(style="hash", hash_key=HASH_KEY))
    result = masker.mask_value([{"password": "hunter2"}, {"password": "hunter2"}, {"password": "other"}])
    tokens = [item["password"] for item in result]
    assert tokens[0] == tokens[1] != tokens[2]
    assert re.fullmatch(r"\[SECRET:[0-9a-f]{8}\]", tokens[0])


# ------------------------------------------------------------------------------------------------ config


SAMPLES: dict[PiiKind, str] = {
    PiiKind.EMAIL: "alice@example.com",
    PiiKind.PHONE: "+1 415 555 0100",
    PiiKind.CARD: "4111 1111 1111 1111",
    PiiKind.API_KEY: AWS_KEY_ID,
    PiiKind.BEARER_TOKEN: "Bearer 9f8e7d6c5b4a3210",
    PiiKind.SECRET: "password=hunter2",
    PiiKind.IP: "203.0.113.7",
}


@pytest.mark.parametrize("disabled", list(PiiKind))
def test_masking_can_be_disabled_per_kind(disabled: PiiKind) -> None:
    """Switching one kind off keeps its items verbatim while every other kind is still masked."""
    switch_off: dict[str, Any] = {disabled.value: False}
    config = PiiMaskingConfig(**switch_off)
    assert not config.enabled(disabled)
    text = " | ".join(SAMPLES.values())
    result = PiiMasker(config).mask_text(text)
    assert SAMPLES[disabled] in result.text
    assert disabled.value not in result.counts
    assert set(result.counts) == {kind.value for kind in PiiKind} - {disabled.value}


def test_disabled_secret_kind_keeps_secret_fields() -> None:
    """With secret=False, values under secret-named keys are only masked for the other kinds."""
    masker = PiiMasker(PiiMaskingConfig(secret=False))
    assert masker.mask_value({"password": "hunter2", "token": "a@example.com"}) == {
        "password": "hunter2",
        "token": "[EMAIL]",
    }


def test_invalid_configs_are_refused() -> None:
    """Unknown styles, unkeyed hashing and odd hash lengths raise ValueError."""
    with pytest.raises(ValueError, match="style"):
        PiiMaskingConfig(style="rot13")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hash_key"):
        PiiMaskingConfig(style="hash")
    with pytest.raises(ValueError, match="hash_length"):
        PiiMaskingConfig(style="hash", hash_key=HASH_KEY, hash_length=2)


def test_config_is_frozen_and_hides_the_key() -> None:
    """The config cannot be changed after creation and its repr never shows the hash key."""
    config = PiiMaskingConfig(style="hash", hash_key=HASH_KEY)
    with pytest.raises(AttributeError):
        config.email = False  # type: ignore[misc]
    assert HASH_KEY.decode() not in repr(config)
    assert PiiMasker(config).config is config


# ------------------------------------------------------------------------------------------------ results


def test_results_unpack_as_pairs() -> None:
    """mask_text and mask_json results unpack as (masked, counts), as the enrich stage expects."""
    masker = PiiMasker()
    text, counts = masker.mask_text("ip 203.0.113.7")
    assert (text, counts) == ("ip [IP]", {"ip": 1})
    value, value_counts = masker.mask_json({"ip": "203.0.113.7"})
    assert (value, value_counts) == ({"ip": "[IP]"}, {"ip": 1})
    assert isinstance(masker.mask_json({}), MaskedValue)


def test_masked_counts_accumulate_across_calls() -> None:
    """masked_counts totals every call on the masker and is a snapshot the caller cannot corrupt."""
    masker = PiiMasker()
    assert masker.masked_counts == {}
    masker.mask_text("a@example.com and b@example.com")
    masker.mask_value({"password": "x", "note": "c@example.com"})
    masker.mask_text("nothing here")
    snapshot = masker.masked_counts
    assert snapshot == {"email": 3, "secret": 1}
    snapshot["email"] = 0
    assert masker.masked_counts["email"] == 3

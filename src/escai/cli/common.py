"""Helpers shared by CLI commands."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from escai.exceptions import ConfigurationError
from escai.settings import Settings


def settings_with(**overrides: Any) -> Settings:
    """Settings from the environment, with the command-line options that were given taking precedence."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as error:
        reasons = "; ".join(str(item["msg"]).removeprefix("Value error, ") for item in error.errors())
        raise ConfigurationError(reasons) from None

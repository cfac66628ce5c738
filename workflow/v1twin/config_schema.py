"""Checking a config against the JSON schema, with one short message per mistake.

Snakemake's own `validate` prints the whole schema (hundreds of lines) under the error; a user who
misspelt one key needs the key, where it is and what would have been allowed.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import jsonschema
import yaml

CONFIGFILE_HINT = (
    "`--configfile FILE` replaces config/config.yaml instead of adding to it; to change a few keys, "
    "start FILE with `base: config/config.yaml` (or `base: config/paper.yaml`) and write only those keys"
)


class ConfigError(ValueError):
    """A config mistake; the message names the key, where it is and what is allowed."""


def load_schema(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def check_against_schema(instance: dict, schema: dict, definition: str | None = None) -> None:
    """Raise ConfigError for the most relevant schema violation of `instance` (or of one `$defs` entry)."""
    if definition is not None:
        schema = {"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]}
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise ConfigError(describe(error))


def describe(error: jsonschema.ValidationError) -> str:
    """One line for one violation: the key path, then the problem in the user's terms."""
    where = ".".join(map(str, error.absolute_path))
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        return _unknown_key(error, where)
    if error.validator == "required" and not where:
        return f"config: {error.message}. {CONFIGFILE_HINT}"
    return f"config key {where or '(top level)'}: {error.message}"


def _unknown_key(error: jsonschema.ValidationError, where: str) -> str:
    allowed = list(error.schema.get("properties", {}))
    unknown = [key for key in error.instance if key not in allowed]
    key = unknown[0] if unknown else "?"
    place = f"in {where}" if where else "at the top level"
    close = difflib.get_close_matches(str(key), allowed, n=1)
    suggestion = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown config key {key!r} {place}; {suggestion}allowed: {', '.join(allowed)}"

"""The config schema: the one place of every default, and checks with one short message per mistake.

Snakemake's own `validate` prints the whole schema (hundreds of lines) under the error; a user who
misspelt one key needs the key, where it is and what would have been allowed. Defaults may depend on
a mapping's `type` (a CNN core has other defaults than a rotation-equivariant one): they are written
in the schema's `if type … then` branches and filled in by `with_defaults`.
"""

from __future__ import annotations

import copy
import difflib
import functools
from pathlib import Path

import jsonschema
import yaml

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"

CONFIGFILE_HINT = (
    "`--configfile FILE` replaces config/config.yaml instead of adding to it; to change a few keys, "
    "start FILE with `base: config/config.yaml` (or `base: config/paper.yaml`) and write only those keys"
)


class ConfigError(ValueError):
    """A config mistake; the message names the key, where it is and what is allowed."""


def load_schema(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


@functools.cache
def workflow_schema() -> dict:
    return load_schema(SCHEMA_FILE)


def _fill_defaults(validator, properties, instance, schema):
    """jsonschema's `properties` check, which first sets the defaults of the properties left out."""
    if isinstance(instance, dict):
        for key, subschema in properties.items():
            if "default" in subschema and key not in instance:
                instance[key] = copy.deepcopy(subschema["default"])
    yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, schema)


_DefaultFillingValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"properties": _fill_defaults})


def with_defaults(instance: dict, definition: str | None = None, schema: dict | None = None) -> dict:
    """A checked copy of `instance` (the config, or one `$defs` entry such as "core") with every default
    of the schema filled in; ConfigError names the first mistake."""
    schema = schema or workflow_schema()
    check_against_schema(instance, schema, definition)
    if definition is not None:
        schema = {"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]}
    filled = copy.deepcopy(instance)
    for _ in _DefaultFillingValidator(schema).iter_errors(filled):
        pass  # already checked: the pass only fills defaults
    return filled


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

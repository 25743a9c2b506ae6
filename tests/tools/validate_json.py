#!/usr/bin/env python3
"""Validates a JSON document against one of lemma's schemas (tools/schemas/).

Implements the part of JSON Schema those schemas use: type (with lists),
required, properties, additionalProperties (false or a schema), items, enum,
and $ref to "#/$defs/NAME". Usage: validate_json.py SCHEMA [DOCUMENT] (the
document defaults to standard input). Exit 0 when valid; otherwise each
violation is printed with its JSON path and the exit status is 1.
"""
import json
import sys

TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
}


def type_ok(value, name):
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def check(value, schema, root, path, errors):
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        schema = root["$defs"][ref[len("#/$defs/"):]]
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_ok(value, n) for n in names):
            errors.append(f"{path}: {value!r} is not of type {names}")
            return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing required '{key}'")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, v in value.items():
            if key in props:
                check(v, props[key], root, f"{path}.{key}", errors)
            elif extra is False:
                errors.append(f"{path}: unexpected '{key}'")
            elif isinstance(extra, dict):
                check(v, extra, root, f"{path}.{key}", errors)
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            check(v, schema["items"], root, f"{path}[{i}]", errors)


def main():
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    text = open(sys.argv[2]).read() if len(sys.argv) > 2 else sys.stdin.read()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        print(f"not JSON: {e}")
        return 1
    errors = []
    check(doc, schema, schema, "$", errors)
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

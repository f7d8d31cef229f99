#!/usr/bin/python3
"""Checks schemas/api/error.v1.schema.json: it is a valid draft 2020-12 schema, every body in
tests/unit/transport/error_bodies/ validates (the C++ unit test checks that error_mapping.cpp
writes exactly those bodies), and a few broken bodies do not.  check_error_schema.py SOURCE_DIR"""

import json
import pathlib
import sys

import jsonschema

root = pathlib.Path(sys.argv[1])
schema = json.loads((root / "schemas/api/error.v1.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
failures = 0
for path in sorted((root / "tests/unit/transport/error_bodies").glob("*.json")):
    errors = list(validator.iter_errors(json.loads(path.read_text())))
    print(f"{'FAIL' if errors else 'ok  '} {path.name} {'; '.join(e.message for e in errors)}")
    failures += bool(errors)
broken = [
    {},
    {"error": {"code": "not_found"}},
    {"error": {"code": "teapot", "message": "x"}},
    {"error": {"code": "internal", "message": "x", "problems": []}},
    {"error": {"code": "internal", "message": "x", "problems": [{"pointer": "vms", "message": "m"}]}},
]
for body in broken:
    accepted = validator.is_valid(body)
    print(f"{'FAIL' if accepted else 'ok  '} refuses {json.dumps(body)}")
    failures += accepted
sys.exit(1 if failures else 0)

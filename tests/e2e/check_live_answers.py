#!/usr/bin/python3
"""Validates answers captured from the live agents against schemas/openapi.yaml: each capture is
a JSON file {"agent": "dr"|"production", "method": "get", "path": "/v1/jobs/7", "status": 200,
"body": ...}; the operation is found by matching the path against the spec's path templates
(literal segments first), the response schema by status (else `default`), and the body is
validated with JSON Schema 2020-12 (python3-jsonschema), every $ref resolved, the drpair/v1
document schemas included. Fails on any invalid body, on an answer whose operation or status the
spec does not have, and when there is nothing to check.

    check_live_answers.py CAPTURE_DIR SOURCE_DIR
"""

import json
import os
import sys

import yaml
from jsonschema import Draft202012Validator, RefResolver


def load_spec(source):
    path = os.path.join(source, "schemas", "openapi.yaml")
    with open(path) as f:
        return path, yaml.safe_load(f)


def match(template, path):
    t = template.strip("/").split("/")
    p = path.split("?")[0].strip("/").split("/")
    if len(t) != len(p):
        return None
    literals = 0
    for a, b in zip(t, p):
        if a.startswith("{") and a.endswith("}"):
            if not b:
                return None
        elif a != b:
            return None
        else:
            literals += 1
    return literals


def operation(spec, method, path):
    best = None
    for template, item in spec["paths"].items():
        score = match(template, path)
        if score is None or method not in item:
            continue
        if best is None or score > best[0]:
            best = (score, template, item[method])
    return best


def response_schema(spec, op, status):
    responses = op.get("responses", {})
    answer = responses.get(str(status)) or responses.get("default")
    if answer is None:
        return None
    while "$ref" in answer and "content" not in answer:
        name = answer["$ref"].split("/")[-1]
        answer = spec["components"]["responses"][name]
    content = answer.get("content", {})
    media = content.get("application/json")
    return media.get("schema") if media else {}


def main():
    captures, source = sys.argv[1], sys.argv[2]
    spec_path, spec = load_spec(source)
    # Every schema file under its file URL, its "$id" ("urn:drpair:schema:...") dropped: a $ref
    # inside it ("#/$defs/name") would resolve against the urn, which Python's urljoin cannot
    # join a fragment onto; against the file URL it resolves in the same document.
    schemas_dir = os.path.dirname(spec_path)
    base_uri = "file://" + schemas_dir + "/"
    store = {}
    for root, _, files in os.walk(schemas_dir):
        for name in files:
            if not name.endswith(".json") or "examples" in root:
                continue
            path = os.path.join(root, name)
            with open(path) as f:
                doc = json.load(f)
            if isinstance(doc, dict):
                doc.pop("$id", None)
            store["file://" + path] = doc
    resolver = RefResolver(base_uri + "openapi.yaml", spec, store=store)
    failures, checked = [], 0
    for name in sorted(os.listdir(captures)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(captures, name)) as f:
            cap = json.load(f)
        where = f"{name} ({cap['agent']} {cap['method'].upper()} {cap['path']} -> {cap['status']})"
        found = operation(spec, cap["method"], cap["path"])
        if found is None:
            failures.append(f"{where}: no such operation in the spec")
            continue
        schema = response_schema(spec, found[2], cap["status"])
        if schema is None:
            failures.append(f"{where}: the spec has no {cap['status']} answer for {found[1]}")
            continue
        validator = Draft202012Validator(schema, resolver=resolver)
        errors = sorted(validator.iter_errors(cap["body"]), key=lambda e: list(e.path))
        checked += 1
        if errors:
            for e in errors[:5]:
                pointer = "/" + "/".join(str(p) for p in e.path)
                message = e.message if len(e.message) <= 300 else e.message[:300] + "..."
                failures.append(f"{where}: {pointer}: {message}")
        else:
            print(f"ok: {where}")
    if checked == 0:
        failures.append("no captured answer to check")
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    print(f"{checked} answers checked, {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

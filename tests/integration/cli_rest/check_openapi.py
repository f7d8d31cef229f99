#!/usr/bin/python3
"""Checks schemas/openapi.yaml: it parses as YAML, is structurally OpenAPI 3.1, every $ref in it
(and in the JSON Schema files it refers to) resolves, its component schemas are valid JSON Schema
2020-12, and it has exactly the operations of the REST API contract (the table below, from the
API spec). Uses openapi-spec-validator as well when it is installed (Debian 12 does not package
it).

    check_openapi.py SOURCE_DIR
"""

import json
import os
import re
import sys

import yaml
from jsonschema import Draft202012Validator

# (method, path) of every operation the API contract names.
EXPECTED = {
    ("get", "/healthz"), ("get", "/metrics"),
    ("get", "/v1/apps"), ("get", "/v1/apps/{app}"),
    ("get", "/v1/apps/{app}/descriptions"),
    ("get", "/v1/apps/{app}/descriptions/{kind}/{generation}"),
    ("post", "/v1/apps/{app}/protection"), ("delete", "/v1/apps/{app}/protection"),
    ("post", "/v1/apps/{app}/snapshots"), ("post", "/v1/apps/{app}/failover"),
    ("post", "/v1/apps/{app}/reprotect"), ("post", "/v1/apps/{app}/failback"),
    ("post", "/v1/apps/{app}/drill"), ("post", "/v1/apps/{app}/drill/cleanup"),
    ("get", "/v1/jobs"), ("get", "/v1/jobs/{id}"), ("get", "/v1/audit"),
    ("post", "/v1/hooks/failover"), ("post", "/v1/hooks/alertmanager"),
    ("get", "/v1/peer/inventory"), ("post", "/v1/peer/pools/{pool}/bootstrap"),
    ("put", "/v1/peer/apps/{app}"), ("get", "/v1/peer/apps/{app}"),
    ("delete", "/v1/peer/apps/{app}"), ("post", "/v1/peer/apps/{app}/stop"),
    ("post", "/v1/peer/apps/{app}/release"), ("get", "/v1/peer/apps/{app}/images/{pool}/{image}"),
    ("post", "/v1/peer/apps/{app}/images/{pool}/{image}/snapshot"),
    ("post", "/v1/peer/apps/{app}/images/{pool}/{image}/demote"),
    ("post", "/v1/peer/apps/{app}/images/{pool}/{image}/promote"),
    ("post", "/v1/peer/apps/{app}/images/{pool}/{image}/resync"),
    ("post", "/v1/peer/apps/{app}/reverse"), ("post", "/v1/peer/apps/{app}/start"),
    ("post", "/v1/peer/apps/{app}/pairs"),
}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SCHEME_TYPES = {"apiKey", "http", "mutualTLS", "oauth2", "openIdConnect"}

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def unescape(token):
    return token.replace("~1", "/").replace("~0", "~")


def resolve_pointer(doc, fragment, where):
    node = doc
    if fragment in ("", "/"):
        return node
    if not fragment.startswith("/"):
        problem(where, f"fragment '#{fragment}' is not a JSON pointer")
        return None
    for token in fragment[1:].split("/"):
        token = unescape(token)
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            problem(where, f"'#{fragment}' does not resolve")
            return None
    return node


class Documents:
    """The OpenAPI document and the files its $refs name, each loaded once."""

    def __init__(self, root_path):
        self.root_path = os.path.abspath(root_path)
        self.docs = {}
        self.checked = set()

    def load(self, path):
        path = os.path.abspath(path)
        if path not in self.docs:
            with open(path, encoding="utf-8") as f:
                self.docs[path] = yaml.safe_load(f) if path.endswith((".yaml", ".yml")) \
                    else json.load(f)
        return self.docs[path]

    def resolve(self, ref, base_path, where):
        """The node `ref` names, relative to the file `base_path`; None (and a problem) if none."""
        target, _, fragment = ref.partition("#")
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            problem(where, f"$ref '{ref}' is not a relative file path")
            return None, None
        path = base_path if target == "" else os.path.join(os.path.dirname(base_path), target)
        if not os.path.isfile(path):
            problem(where, f"$ref '{ref}': no file {os.path.relpath(path)}")
            return None, None
        try:
            doc = self.load(path)
        except (OSError, ValueError, yaml.YAMLError) as e:
            problem(where, f"$ref '{ref}': cannot read {path}: {e}")
            return None, None
        return resolve_pointer(doc, fragment, where), path

    def check_refs(self, node, path, where):
        """Every $ref below `node` (in file `path`) resolves; followed into other files."""
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                # Inside a JSON Schema file, "#/$defs/..." is relative to that file (its $id is a
                # URN, so nothing else can be meant).
                _, target_path = self.resolve(ref, path, where)
                if target_path is not None and target_path != path \
                        and target_path not in self.checked:
                    self.checked.add(target_path)
                    self.check_refs(self.load(target_path), target_path,
                                    os.path.basename(target_path))
            for key, value in node.items():
                self.check_refs(value, path, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                self.check_refs(value, path, f"{where}/{i}")


def deref(docs, node, where):
    """`node`, or what its $ref names inside the OpenAPI document."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 10:
        node, _ = docs.resolve(node["$ref"], docs.root_path, where)
        seen += 1
    return node


def check_structure(docs, api):
    if not isinstance(api, dict):
        problem("(document)", "not a mapping")
        return
    if not re.fullmatch(r"3\.1\.\d+", str(api.get("openapi", ""))):
        problem("/openapi", f"'{api.get('openapi')}' is not 3.1.x")
    info = api.get("info")
    if not isinstance(info, dict) or not isinstance(info.get("title"), str) \
            or not isinstance(info.get("version"), str):
        problem("/info", "needs title and version strings")
    allowed_top = {"openapi", "info", "jsonSchemaDialect", "servers", "paths", "webhooks",
                   "components", "security", "tags", "externalDocs"}
    for key in api:
        if key not in allowed_top and not key.startswith("x-"):
            problem(f"/{key}", "not an OpenAPI 3.1 field")

    components = api.get("components", {})
    schemes = components.get("securitySchemes", {})
    for name, scheme in schemes.items():
        if scheme.get("type") not in SCHEME_TYPES:
            problem(f"/components/securitySchemes/{name}", f"bad type {scheme.get('type')}")
        if scheme.get("type") == "http" and "scheme" not in scheme:
            problem(f"/components/securitySchemes/{name}", "http needs a scheme")
        if scheme.get("type") == "apiKey" and (scheme.get("in") not in ("query", "header",
                                                                        "cookie")
                                               or "name" not in scheme):
            problem(f"/components/securitySchemes/{name}", "apiKey needs in and name")
    for needed in ("mutualTLS", "bearerAuth"):
        if needed not in schemes:
            problem("/components/securitySchemes", f"no {needed}")

    def check_security(requirements, where):
        if not isinstance(requirements, list):
            problem(where, "security must be a list")
            return
        for i, req in enumerate(requirements):
            for name in req:
                if name not in schemes:
                    problem(f"{where}/{i}", f"unknown security scheme '{name}'")

    check_security(api.get("security", []), "/security")

    for name, schema in components.get("schemas", {}).items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as e:  # jsonschema.SchemaError: report and go on
            problem(f"/components/schemas/{name}", f"not a valid JSON Schema: {e}")

    paths = api.get("paths")
    if not isinstance(paths, dict) or not paths:
        problem("/paths", "missing or empty")
        return
    found = set()
    operation_ids = set()
    for path, item in paths.items():
        where = f"/paths/{path}"
        if not path.startswith("/"):
            problem(where, "a path must start with '/'")
        templated = set(re.findall(r"{([^}]+)}", path))
        common = [deref(docs, p, where) for p in item.get("parameters", [])]
        for method, op in item.items():
            if method == "parameters" or method.startswith("x-") or method in (
                    "summary", "description", "servers"):
                continue
            if method not in METHODS:
                problem(where, f"'{method}' is not an HTTP method")
                continue
            found.add((method, path))
            owhere = f"{where}/{method}"
            op_id = op.get("operationId")
            if op_id in operation_ids:
                problem(owhere, f"operationId '{op_id}' used twice")
            operation_ids.add(op_id)
            params = common + [deref(docs, p, owhere) for p in op.get("parameters", [])]
            declared = set()
            for p in params:
                if not isinstance(p, dict) or "name" not in p or \
                        p.get("in") not in ("path", "query", "header", "cookie"):
                    problem(owhere, f"bad parameter {p}")
                    continue
                if "schema" not in p and "content" not in p:
                    problem(owhere, f"parameter '{p['name']}' has neither schema nor content")
                if p["in"] == "path":
                    declared.add(p["name"])
                    if p.get("required") is not True:
                        problem(owhere, f"path parameter '{p['name']}' must be required")
            if templated != declared:
                problem(owhere, f"path parameters {sorted(declared)} != template "
                                f"{sorted(templated)}")
            responses = op.get("responses")
            if not isinstance(responses, dict) or not responses:
                problem(owhere, "no responses")
                continue
            for code, response in responses.items():
                if not re.fullmatch(r"default|[1-5](\d\d|XX)", str(code)):
                    problem(f"{owhere}/responses", f"bad status '{code}'")
                response = deref(docs, response, f"{owhere}/responses/{code}")
                if not isinstance(response, dict) or "description" not in response:
                    problem(f"{owhere}/responses/{code}", "a response needs a description")
            if "security" in op:
                check_security(op["security"], f"{owhere}/security")
            body = op.get("requestBody")
            if body is not None and "content" not in deref(docs, body, owhere):
                problem(f"{owhere}/requestBody", "needs content")
    for missing in sorted(EXPECTED - found):
        problem("/paths", f"no operation {missing[0].upper()} {missing[1]}")
    for extra in sorted(found - EXPECTED):
        problem("/paths", f"operation {extra[0].upper()} {extra[1]} is not in the API contract")


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "."
    path = os.path.join(source, "schemas", "openapi.yaml")
    docs = Documents(path)
    try:
        api = docs.load(path)
    except (OSError, yaml.YAMLError) as e:
        print(f"{path}: not YAML: {e}")
        return 1
    check_structure(docs, api)
    docs.check_refs(api, docs.root_path, "")
    try:
        from openapi_spec_validator import validate  # optional: not in Debian 12
    except ImportError:
        validate = None
    if validate is not None:
        try:
            validate(api, base_uri="file://" + docs.root_path)
        except Exception as e:  # the validator's own error types vary between versions
            problem("(openapi-spec-validator)", str(e).splitlines()[0])
    for p in problems:
        print(f"{path}: {p}")
    if problems:
        return 1
    print(f"{path}: OpenAPI {api['openapi']}, {len(api['paths'])} paths, every $ref resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())

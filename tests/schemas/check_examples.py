#!/usr/bin/python3
"""Checks the drpair/v1 JSON Schemas against their examples and the description fixtures.

  check_examples.py [SOURCE_DIR]

- every schemas/<document>.v1.schema.json is itself a valid draft 2020-12 schema;
- every schemas/examples/valid/<document>.<case>.json validates against its schema;
- every schemas/examples/invalid/<document>.<case>.json does not;
- every tests/fixtures/descriptions/**.json validates against the schema its "kind" names,
  except the deliberately invalid ones (named *.invalid*.json or in a folder named "invalid").

Format keywords are not relied upon (no format checker): the patterns carry the rules.
Prints one line per file and exits 1 on any disagreement. Run it with Debian's /usr/bin/python3,
which has python3-jsonschema (4.10 or later, for Draft202012Validator).
"""

import json
import pathlib
import sys

import jsonschema

DOCUMENTS = {  # file-name prefix -> kind
    "first_description": "FirstDescription",
    "second_description": "SecondDescription",
    "mapping_policy": "MappingPolicy",
    "inventory": "Inventory",
}


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def error_summary(errors, width=140):
    def one(e):
        message = e.message if len(e.message) <= width else e.message[:width] + "..."
        return f"{e.json_path}: {message}"
    return "; ".join(one(e) for e in errors)


class Checker:
    def __init__(self, root):
        self.root = root
        self.failures = 0
        self.validators = {}  # kind -> validator

    def report(self, ok, label, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {label}{'  ' + detail if detail else ''}")
        if not ok:
            self.failures += 1

    def load_schemas(self):
        for prefix, kind in DOCUMENTS.items():
            path = self.root / "schemas" / f"{prefix}.v1.schema.json"
            label = path.relative_to(self.root)
            try:
                schema = load_json(path)
                jsonschema.Draft202012Validator.check_schema(schema)
            except (OSError, ValueError, jsonschema.SchemaError) as e:
                self.report(False, label, f"not a valid schema: {e}")
                continue
            self.validators[kind] = jsonschema.Draft202012Validator(schema)
            self.report(True, label, "valid draft 2020-12 schema")

    def check(self, path, kind, expect_valid):
        label = path.relative_to(self.root)
        validator = self.validators.get(kind)
        if validator is None:
            self.report(False, label, f"no usable schema for {kind}")
            return
        try:
            doc = load_json(path)
        except ValueError as e:
            self.report(False, label, f"not JSON: {e}")
            return
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        if expect_valid:
            self.report(not errors, label, error_summary(errors) if errors else "valid")
        else:
            self.report(bool(errors), label,
                        f"rejected: {error_summary(errors)}" if errors else "accepted, expected a rejection")

    def check_examples(self):
        for folder, expect_valid in (("valid", True), ("invalid", False)):
            counts = dict.fromkeys(DOCUMENTS, 0)
            for path in sorted((self.root / "schemas" / "examples" / folder).glob("*.json")):
                prefix = path.name.split(".", 1)[0]
                if prefix not in DOCUMENTS:
                    self.report(False, path.relative_to(self.root),
                                f"name must start with one of {', '.join(DOCUMENTS)}")
                    continue
                counts[prefix] += 1
                self.check(path, DOCUMENTS[prefix], expect_valid)
            for prefix, count in counts.items():
                if count == 0:
                    self.report(False, f"schemas/examples/{folder}", f"no {prefix} example")

    def check_fixtures(self):
        folder = self.root / "tests" / "fixtures" / "descriptions"
        for path in sorted(folder.rglob("*.json")):
            relative = path.relative_to(folder)
            label = path.relative_to(self.root)
            if ".invalid" in path.name or "invalid" in relative.parts[:-1]:
                print(f"skip {label}  deliberately invalid")
                continue
            try:
                doc = load_json(path)
            except ValueError as e:
                self.report(False, label, f"not JSON: {e}")
                continue
            kind = doc.get("kind") if isinstance(doc, dict) else None
            if kind not in DOCUMENTS.values():
                print(f"skip {label}  kind {kind!r} has no schema here")
                continue
            self.check(path, kind, True)


def main():
    default_root = pathlib.Path(__file__).resolve().parents[2]
    root = pathlib.Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else default_root
    checker = Checker(root)
    checker.load_schemas()
    checker.check_examples()
    checker.check_fixtures()
    print(f"{checker.failures} disagreement(s)")
    return 1 if checker.failures else 0


if __name__ == "__main__":
    sys.exit(main())

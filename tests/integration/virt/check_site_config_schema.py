"""The site config fixtures are valid against schemas/site_config.v1.schema.json, and configs the
C++ reader rejects are rejected by the schema too (run with /usr/bin/python3: Debian's jsonschema)."""
import json
import sys

import jsonschema

root = sys.argv[1]
schema = json.load(open(f"{root}/schemas/site_config.v1.schema.json"))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
failed = False
for name in ("site-a", "site-b"):
    errors = list(validator.iter_errors(json.load(open(f"{root}/tests/fixtures/libvirt/{name}.json"))))
    for e in errors:
        print(f"{name}.json: {e.json_path}: {e.message}")
    failed = failed or bool(errors)
base = {"apiVersion": "drpair/v1", "kind": "SiteConfig", "site": "s"}
valid = [
    {**base, "consoleLogDir": "/var/log/drpair/console"},
]
for doc in valid:
    for e in validator.iter_errors(doc):
        print(f"schema rejects what the reader accepts: {json.dumps(doc)}: {e.json_path}: {e.message}")
        failed = True
invalid = [
    {**base, "colour": "blue"},
    {**base, "ceph": {"user": "client.libvirt"}},
    {**base, "ceph": {"secretUuid": "5e1b0000-0000-4000-8000-0000000000c1"}},
    {**base, "ceph": {"clientConf": "relative.conf"}},
    {**base, "domainType": "xen"},
    {**base, "networks": {"templates": [{"kind": "linux"}]}},
    {**base, "portgroups": [{"switch": "s", "portgroup": "p"}]},
    {**base, "restore": {"parallelism": 0}},
    {**base, "consoleLogDir": "var/log/drpair"},
    {**base, "consoleLogDir": ""},
    {"apiVersion": "drpair/v1", "kind": "SiteConfig"},
]
for doc in invalid:
    if validator.is_valid(doc):
        print(f"schema accepts what the reader rejects: {json.dumps(doc)}")
        failed = True
sys.exit(1 if failed else 0)

"""The example configs in deploy/examples are valid against their schemas (agent configs against
schemas/agent_config.v1.schema.json, site configs against site_config, the policy against
mapping_policy), and agent configs the C++ reader rejects are rejected by the schema too (run with
/usr/bin/python3: Debian's jsonschema)."""
import copy
import json
import sys

import jsonschema

root = sys.argv[1]


def load(path):
    with open(f"{root}/{path}") as f:
        return json.load(f)


def validator(name):
    schema = load(f"schemas/{name}.v1.schema.json")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


failed = False
agent = validator("agent_config")
for name, schema in (("production-agent", agent), ("dr-agent", agent),
                     ("site-a", validator("site_config")), ("site-b", validator("site_config")),
                     ("policy", validator("mapping_policy"))):
    for e in schema.iter_errors(load(f"deploy/examples/{name}.json")):
        print(f"deploy/examples/{name}.json: {e.json_path}: {e.message}")
        failed = True

dr = load("deploy/examples/dr-agent.json")
production = load("deploy/examples/production-agent.json")


def changed(base, pointer, value=None, delete=False):
    """A copy of `base` with the value at the JSON Pointer replaced (or deleted)."""
    doc = copy.deepcopy(base)
    parts = pointer.strip("/").split("/")
    parent = doc
    for p in parts[:-1]:
        parent = parent[int(p)] if isinstance(parent, list) else parent[p]
    if delete:
        del parent[parts[-1]]
    else:
        parent[parts[-1]] = value
    return doc


bad_hash = "ab" * 31
invalid = [changed(dr, "/colour", "blue"),
           changed(dr, "/listen/colour", "blue"),
           changed(dr, "/apiVersion", "drpair/v2"),
           changed(dr, "/kind", "SiteConfig"),
           changed(dr, "/role", "primary"),
           changed(dr, "/listen/port", 65536),
           changed(dr, "/listen/port", "8443"),
           changed(dr, "/listen/address", ""),
           changed(dr, "/peer/timeoutSeconds", 0),
           changed(dr, "/libvirt/uri", "qemu"),
           changed(dr, "/ceph/clientId", "client.admin"),
           changed(dr, "/protection/replicationTimeoutSeconds", 0),
           changed(dr, "/failover/fenceTimeoutSeconds", 3601),
           changed(dr, "/operators/anyOperator", "yes"),
           changed(dr, "/operators/bearerTokens/0/sha256", bad_hash),
           changed(dr, "/webhooks/alertmanager/tokenSha256", bad_hash),
           changed(dr, "/webhooks/alertmanager/type", "drill"),
           changed(dr, "/webhooks/maxAgeSeconds", 0),
           changed(dr, "/webhooks/secret", "inline"),        # both secret and secretFile
           changed(dr, "/webhooks/secretFile", delete=True),  # neither
           changed(production, "/webhooks", dr["webhooks"])]  # webhooks on production
for key in ("apiVersion", "kind", "role", "listen", "tls", "peer", "stateFile", "libvirt",
            "siteConfig", "ceph"):
    invalid.append(changed(dr, f"/{key}", delete=True))
for pointer in ("/listen/port", "/tls/cert", "/tls/key", "/tls/peerCa", "/peer/site", "/peer/url",
                "/peer/ca", "/libvirt/uri", "/ceph/conf"):
    invalid.append(changed(dr, pointer, delete=True))
for url in ("http://site-a:8443", "site-a:8443", "https://site-a", "https://site-a:8443/",
            "https://site-a:8443/api", "https://user@site-a:8443", "https://::1:8443",
            "https://site-a:0", "https://site-a:65536", "https://site_a:8443",
            "https://-site-a:8443"):
    invalid.append(changed(dr, "/peer/url", url))
for doc in invalid:
    if agent.is_valid(doc):
        print(f"schema accepts what the reader rejects: {json.dumps(doc)}")
        failed = True

valid = [changed(dr, "/peer/url", "https://[::1]:8444"),
         changed(dr, "/peer/url", "https://10.0.0.1:65535"),
         changed(dr, "/stateFile", ":memory:"),
         changed(changed(dr, "/webhooks/secretFile", delete=True), "/webhooks/secret", "s"),
         changed(production, "/listen/port", 0)]
for doc in valid:
    for e in agent.iter_errors(doc):
        print(f"schema rejects what the reader accepts: {e.json_path}: {e.message}")
        failed = True
sys.exit(1 if failed else 0)

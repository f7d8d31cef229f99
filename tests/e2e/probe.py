#!/usr/bin/env python3
"""A hostile-input probe of both agents of a running lab (README, "Transport and security").

  probe.py LAB_ENV_FILE

Sends some hundreds of bad requests to both agents, as a caller with a valid certificate would:
malformed and hostile JSON bodies on every route that reads one, framing tricks (Transfer-Encoding
other than chunked alone, both framing headers, a smuggled second request), HEAD, bad targets,
oversize bodies, wrong roles (a viewer certificate changing things, the Alertmanager token off its
hook, the peer on operator routes and the operator on peer routes), forged webhooks, a burst of new
connections, and 200 stalled clients held open at the DR agent through all of it (150 that never
start TLS, 50 that send half a request header). It requires: every answer below 500 with the error body for 4xx, no
connection dropped without an answer, GET /healthz under 100 ms while the load runs, both agents
alive with the same PIDs, no app's state changed, and every client that never started TLS cut by the
agent at its handshake deadline (10 s). It prints the agents' RSS before and after.
"""
import concurrent.futures
import hashlib
import hmac
import json
import multiprocessing
import os
import socket
import ssl
import sys
import time

env = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l and not l.startswith("#"))
lab = env["DRPAIR_LAB_DIR"]
pki = os.path.join(lab, "pki")
AGENTS = {"dr": env["DRPAIR_DR_URL"], "production": env["DRPAIR_PRODUCTION_URL"]}
CERTS = {
    "ops": (env["DRPAIR_CERT"], env["DRPAIR_KEY"]),
    "viewer": (f"{pki}/operator/dashboard.crt", f"{pki}/operator/dashboard.key"),
    "site-a": (f"{pki}/site-a/agent.crt", f"{pki}/site-a/agent.key"),
    "site-b": (f"{pki}/site-b/agent.crt", f"{pki}/site-b/agent.key"),
}
failures = []
statuses = {}


def context(who):
    ctx = ssl.create_default_context(cafile=env["DRPAIR_CACERT"])
    ctx.check_hostname = False
    ctx.load_cert_chain(*CERTS[who])
    return ctx


CONTEXTS = {who: context(who) for who in CERTS}


def exchange(agent, who, raw, expect_close=False):
    """Sends raw bytes on a new mutual-TLS connection; returns the answers' status codes."""
    host, port = AGENTS[agent].split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as tcp:
        tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with CONTEXTS[who].wrap_socket(tcp) as tls:
            tls.sendall(raw)
            # Nothing more to send: a server that drains before closing sees the end at once.
            # (On a duplicate of the descriptor: SSLSocket.shutdown would drop the TLS layer.)
            with socket.fromfd(tls.fileno(), socket.AF_INET, socket.SOCK_STREAM) as raw_tcp:
                raw_tcp.shutdown(socket.SHUT_WR)
            data = b""
            try:
                while True:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except (ssl.SSLError, ConnectionResetError, socket.timeout):
                pass
    answers = []
    rest = data
    head_first = raw.startswith(b"HEAD ")
    while rest.startswith(b"HTTP/1.1 "):
        head, _, rest = rest.partition(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if head_first and not answers:
            body = None  # an answer to HEAD has no body; its Content-Length is not followed
        else:
            body, rest = rest[:length], rest[length:]
        answers.append((status, body))
    return answers


def request(agent, who, method, path, body=None, headers=None, close=True):
    h = {"Host": "agent", "Connection": "close" if close else "keep-alive"}
    if body is not None:
        h["Content-Type"] = "application/json"
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    raw = f"{method} {path} HTTP/1.1\r\n".encode() + b"".join(
        f"{k}: {v}\r\n".encode() for k, v in h.items()) + b"\r\n" + (body or b"")
    return raw


def check(name, agent, who, raw, want=None, count=1):
    answers = exchange(agent, who, raw)
    if len(answers) != count:
        failures.append(f"{name}: {len(answers)} answer(s), expected {count}")
        return
    for status, body in answers:
        statuses[status] = statuses.get(status, 0) + 1
        if status >= 500:
            failures.append(f"{name}: {status} {body[:200]!r}")
        if 400 <= status < 500 and body is not None:
            try:
                e = json.loads(body)["error"]
                assert isinstance(e["code"], str) and isinstance(e["message"], str)
            except Exception:
                failures.append(f"{name}: {status} without the error body: {body[:200]!r}")
        if want is not None and status != want:
            failures.append(f"{name}: {status}, expected {want}: {body[:200]!r}")


def sign(body):
    secret = env["DRPAIR_WEBHOOK_SECRET"].encode()
    t = str(int(time.time()))
    mac = hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Drpair-Signature": f"t={t},v1={mac}"}


def pid(agent):
    return int(open(os.path.join(lab, agent, "agent.pid")).read().strip())


def rss_kib(agent):
    for line in open(f"/proc/{pid(agent)}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def app_states():
    out = {}
    for agent in AGENTS:
        answers = exchange(agent, "ops", request(agent, "ops", "GET", "/v1/apps"))
        out[agent] = sorted((a["id"], a["state"], a["generation"])
                            for a in json.loads(answers[0][1])["apps"])
    return out


pids = {a: pid(a) for a in AGENTS}
rss_before = {a: rss_kib(a) for a in AGENTS}
states_before = app_states()

# /healthz, timed all through the load, in a process of its own (the probe's threads must not
# delay its clock): on one kept-alive connection per agent (what the agent itself takes to answer;
# this is held to 100 ms) and on a new connection each time (the TLS handshake included, which on
# these two cores competes with the probe's own burst of handshakes; printed).
stop = multiprocessing.Event()
health = multiprocessing.Queue()


def kept_alive(agent):
    host, port = AGENTS[agent].split("//")[1].split(":")
    tcp = socket.create_connection((host, int(port)), timeout=10)
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return CONTEXTS["ops"].wrap_socket(tcp)


def ask(conn):
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(body) < length:
        body += conn.recv(65536)
    return int(head[9:12])


def watch_health():
    kept, fresh, bad = 0.0, 0.0, []
    conns = {agent: kept_alive(agent) for agent in AGENTS}
    while not stop.is_set():
        for agent in AGENTS:
            t0 = time.monotonic()
            if ask(conns[agent]) != 200:
                bad.append(f"/healthz of {agent} on a kept-alive connection")
            kept = max(kept, time.monotonic() - t0)
            t0 = time.monotonic()
            answers = exchange(agent, "ops", request(agent, "ops", "GET", "/healthz"))
            fresh = max(fresh, time.monotonic() - t0)
            if not answers or answers[0][0] != 200:
                bad.append(f"/healthz of {agent}: {answers}")
        time.sleep(0.05)
    health.put((kept, fresh, bad))


watcher = multiprocessing.Process(target=watch_health)
watcher.start()

# 200 stalled clients at the DR agent, open while the rest of the probe runs.
HANDSHAKE_DEADLINE = 10  # seconds: the agents' handshake_timeout (transport/http_server.hpp)
stalled_since = time.monotonic()
dr_host, dr_port = AGENTS["dr"].split("//")[1].split(":")
silent = [socket.create_connection((dr_host, int(dr_port)), timeout=10) for _ in range(150)]
half_sent = []
for _ in range(50):
    tcp = socket.create_connection((dr_host, int(dr_port)), timeout=10)
    half = CONTEXTS["ops"].wrap_socket(tcp)
    half.sendall(b"GET /v1/apps HTTP/1.1\r\nHost: agent\r\nX-Slow: ")
    half_sent.append(half)

deep = b"[" * 100000 + b"]" * 100000
bodies = {
    "deep": deep, "nul": b'{"type":"disaster"}\x00garbage', "huge number": b'{"type": 1e400}',
    "trailing": b'{"type":"disaster"} x', "wrong type": b'{"type": 1}', "null": b"null",
    "array": b'["disaster"]', "not json": b"{not json", "empty object": b"{}",
    "unknown key": b'{"type":"disaster","forse":true}', "utf8": b'{"type":"\xff\xfe"}',
    "long string": b'{"type":"' + b"x" * 100000 + b'"}',
}
# Bodies no JSON reader takes: refused before any route acts (the production routes would act on
# a readable one, so they get only these).
unreadable = ["deep", "nul", "huge number", "trailing", "not json", "utf8"]
routes = {
    "dr": [("ops", "POST", "/v1/apps/app1/failover", bodies),
           ("ops", "POST", "/v1/hooks/alertmanager", bodies),
           ("site-a", "PUT", "/v1/peer/apps/probe-app", bodies),
           ("site-a", "POST", "/v1/peer/pools/rbd/bootstrap", bodies)],
    "production": [("ops", "POST", "/v1/apps/app1/protection", unreadable),
                   ("ops", "POST", "/v1/apps/app1/snapshots", unreadable)],
}
for agent, list_ in routes.items():
    for who, method, path, names in list_:
        for name in names:
            check(f"{agent} {method} {path} {name}", agent, who,
                  request(agent, who, method, path, bodies[name]), 400)
# The signed hook: unsigned and forged bodies are refused on the signature, signed ones on the body.
for name, body in bodies.items():
    check(f"hook unsigned {name}", "dr", "ops", request("dr", "ops", "POST", "/v1/hooks/failover", body), 401)
    check(f"hook signed {name}", "dr", "ops",
          request("dr", "ops", "POST", "/v1/hooks/failover", body, sign(body)))
forced = b'{"app":"app1","type":"disaster","idempotencyKey":"probe-force","force":true}'
check("hook asking for force", "dr", "ops",
      request("dr", "ops", "POST", "/v1/hooks/failover", forced, sign(forced)), 403)
stale = {"X-Drpair-Signature": "t=1,v1=" + "0" * 64}
check("hook with a stale signature", "dr", "ops",
      request("dr", "ops", "POST", "/v1/hooks/failover", forced, stale), 401)

# Framing: each one answer (400) and a closed connection; the smuggled request is never read.
smuggled = b"GET /v1/apps HTTP/1.1\r\nHost: agent\r\n\r\n"
for agent in AGENTS:
    for framing in [b"Transfer-Encoding: gzip\r\n", b"Transfer-Encoding: chunked, gzip\r\n",
                    b"Transfer-Encoding: xchunked\r\n", b"Transfer-Encoding: gzip, chunked\r\n",
                    b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
                    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                    b"Content-Length: 3\r\nContent-Length: 4\r\n",
                    b"Content-Length: -1\r\n", b"Content-Length: 99999999999999999999\r\n"]:
        raw = (b"POST /v1/apps/app1/snapshots HTTP/1.1\r\nHost: agent\r\n"
               b"Content-Type: application/json\r\n" + framing + b"\r\n" + smuggled)
        check(f"{agent} framing {framing!r}", agent, "ops", raw, None, 1)
    # HEAD: no body, and the next answer on the connection is intact.
    raw = b"HEAD /v1/apps HTTP/1.1\r\nHost: agent\r\n\r\n" + \
          b"GET /healthz HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n"
    check(f"{agent} HEAD then GET", agent, "ops", raw, None, 2)
    for target in [b"http://evil/v1/apps", b"/v1/apps/%zz", b"/v1/apps/" + b"a" * 20000, b"*",
                   b"/../../etc/passwd", b"/v1/jobs/99999999999999999999", b"/v1/jobs/-1",
                   b"/v1/apps/app1/descriptions/third/1", b"/v1/audit?limit=99999"]:
        raw = b"GET " + target + b" HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n"
        check(f"{agent} target {target[:40]!r}", agent, "ops", raw)
    big = b"{" + b" " * (9 * 1024 * 1024) + b"}"
    check(f"{agent} 9 MiB body", agent, "ops",
          request(agent, "ops", "POST", "/v1/apps/app1/snapshots", big), 413)
    check(f"{agent} bad method", agent, "ops", request(agent, "ops", "BREW", "/v1/apps"), 405)

# Roles: each credential only its job.
for agent, method, path in [("dr", "POST", "/v1/apps/app1/failover"),
                            ("production", "POST", "/v1/apps/app1/protection"),
                            ("production", "DELETE", "/v1/apps/app1/protection"),
                            ("production", "POST", "/v1/apps/app1/snapshots")]:
    check(f"viewer {method} {path}", agent, "viewer",
          request(agent, "viewer", method, path, b'{"type":"disaster","force":true}'), 403)
    check(f"peer {method} {path}", agent, "site-a" if agent == "dr" else "site-b",
          request(agent, "ops", method, path, b"{}"), 403)
check("viewer reads", "dr", "viewer", request("dr", "viewer", "GET", "/v1/apps"), 200)
token = {"Authorization": "Bearer " + env["DRPAIR_ALERTMANAGER_TOKEN"]}
for method, path in [("GET", "/v1/apps"), ("GET", "/v1/audit"), ("GET", "/v1/jobs"),
                     ("POST", "/v1/apps/app1/failover"), ("GET", "/v1/peer/apps/app1")]:
    check(f"alertmanager token {method} {path}", "dr", "ops",
          request("dr", "ops", method, path, b'{"type":"disaster"}', token), 403)
for agent, path in [("dr", "/v1/peer/apps/app1"), ("production", "/v1/peer/apps/app1/stop"),
                    ("production", "/v1/peer/apps/app1/images/rbd/app1-web1-root/demote")]:
    check(f"operator on {path}", agent, "ops",
          request(agent, "ops", "POST" if "stop" in path or "demote" in path else "GET", path), 403)
# Every route of schemas/openapi.yaml, called by every role: 403 exactly when the spec's
# x-drpair-access leaves the role out. Parameters name nothing that exists, so an allowed call
# ends in a 4xx of the route itself and changes nothing.
import yaml  # noqa: E402  (python3-yaml, as check_live_answers.py)
spec = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), "../../schemas/openapi.yaml")))
roles = {"operator": ("ops", {}), "viewer": ("viewer", {}), "alertmanager": ("ops", token)}
route_checks = 0
for template, item in spec["paths"].items():
    path = template
    for name in ["app", "pool", "image", "kind", "generation", "id"]:
        path = path.replace("{" + name + "}", {"id": "999999", "generation": "1",
                                               "kind": "first"}.get(name, "probe-nope"))
    for method, op in item.items():
        if method not in ("get", "post", "put", "delete"):
            continue
        access = {a.strip() for a in op["x-drpair-access"].split(",")}
        agents = ["dr", "production"] if op["x-drpair-agent"] == "both" else [op["x-drpair-agent"]]
        for agent in agents:
            peer = "site-a" if agent == "dr" else "site-b"
            callers = dict(roles, peer=(peer, {}))
            if agent == "production":
                callers.pop("alertmanager")  # its token is the DR agent's
            for role, (cert, headers) in callers.items():
                allowed = "any" in access or role in access
                answers = exchange(agent, cert, request(agent, cert, method.upper(), path,
                                                        b"{}" if method != "get" else None,
                                                        headers))
                route_checks += 1
                status = answers[0][0] if answers else 0
                statuses[status] = statuses.get(status, 0) + 1
                if status == 0 or status >= 500 or (status == 403) == allowed:
                    failures.append(f"{role} {method.upper()} {path} at {agent}: {status} "
                                    f"(x-drpair-access: {op['x-drpair-access']})")
print(f"probe: {route_checks} route x role checks against schemas/openapi.yaml")

check("bad bearer token", "dr", "ops",
      request("dr", "ops", "GET", "/v1/apps", None, {"Authorization": "Bearer nope"}), 401)

# A burst of new connections, 200 at once, each one request.
def one(i):
    agent = "dr" if i % 2 else "production"
    return exchange(agent, "ops", request(agent, "ops", "GET", "/healthz"))
with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
    for answers in pool.map(one, range(200)):
        if not answers or answers[0][0] not in (200, 429):
            failures.append(f"connection burst: {answers[:1]}")
        else:
            statuses[answers[0][0]] = statuses.get(answers[0][0], 0) + 1

stop.set()
kept_worst, fresh_worst, bad = health.get(timeout=60)
watcher.join()
failures.extend(bad)

# Every silent client is cut at the handshake deadline: its socket reads the end (or a reset).
time.sleep(max(0.0, stalled_since + HANDSHAKE_DEADLINE + 2 - time.monotonic()))
still_open = 0
for tcp in silent:
    tcp.settimeout(0.5)
    try:
        if tcp.recv(1) != b"":
            still_open += 1
    except socket.timeout:
        still_open += 1
    except OSError:
        pass  # reset: cut too
    tcp.close()
for half in half_sent:
    half.close()
if still_open:
    failures.append(f"{still_open} of {len(silent)} clients that never started TLS were not cut "
                    f"within {HANDSHAKE_DEADLINE + 2} s")
print(f"probe: {len(silent)} silent and {len(half_sent)} half-header clients held at the DR agent; "
      f"{len(silent) - still_open} silent ones cut by {HANDSHAKE_DEADLINE + 2} s")
sent = sum(statuses.values())
rss_after = {a: rss_kib(a) for a in AGENTS}
for agent in AGENTS:
    if pid(agent) != pids[agent] or not os.path.exists(f"/proc/{pids[agent]}"):
        failures.append(f"the {agent} agent restarted or died")
if app_states() != states_before:
    failures.append(f"state changed: {states_before} -> {app_states()}")
if kept_worst > 0.1:
    failures.append(f"/healthz took {kept_worst * 1000:.0f} ms at worst (limit 100 ms)")
print(f"probe: {sent} answers, by status {dict(sorted(statuses.items()))}")
print(f"probe: /healthz worst {kept_worst * 1000:.1f} ms on a kept-alive connection, "
      f"{fresh_worst * 1000:.1f} ms on a new one")
for agent in AGENTS:
    print(f"probe: {agent} agent RSS {rss_before[agent] / 1024:.1f} MiB before, "
          f"{rss_after[agent] / 1024:.1f} MiB after")
for f in failures:
    print("probe: FAILED:", f)
sys.exit(1 if failures else 0)

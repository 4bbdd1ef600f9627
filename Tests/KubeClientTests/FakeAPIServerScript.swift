// The fake API server the client tests start (python3, loopback only). Kept as a string so the test
// target has no unhandled resource files.
let fakeAPIServerScript = #"""
# A small in-memory Kubernetes-style API server for KubeClient tests. Loopback only; exits when stdin closes
# or after a time limit. Behaviour knobs are read from a JSON config file on every request; every request is
# appended as one JSON line to a log file.
import base64, copy, json, os, ssl, sys, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

CONFIG_PATH, LOG_PATH = sys.argv[1], sys.argv[2]
TLS_DIR = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != "-" else None
REQUIRE_CLIENT_CERT = len(sys.argv) > 4 and sys.argv[4] == "require-cert"

lock = threading.Condition()
store = {}          # (gv, plural, ns, name) -> object
history = []        # (rv, type, gv, plural, ns, object)
state = {"rv": 100, "min_rv": 0, "forced_gone": 0, "conflicts": 0}

def config():
    try:
        with open(CONFIG_PATH) as f:
            return json.load(f)
    except Exception:
        return {}

def log(entry):
    with open(LOG_PATH, "a") as f:
        f.write(json.dumps(entry) + "\n")

def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

def status(code, reason, message, details=None):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "details": details or {}, "code": code}

def parse(path):
    segs = [s for s in path.split("/") if s]
    if segs[:2] == ["api", "v1"]:
        gv, rest = "v1", segs[2:]
    elif segs[:1] == ["apis"] and len(segs) >= 3:
        gv, rest = segs[1] + "/" + segs[2], segs[3:]
    else:
        return None
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest:
        return None
    return gv, rest[0], ns, (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else None)

def bump():
    state["rv"] += 1
    return str(state["rv"])

def record(kind, gv, plural, ns, obj):
    history.append((int(obj["metadata"]["resourceVersion"]), kind, gv, plural, ns, copy.deepcopy(obj)))
    lock.notify_all()

def merge(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge(result.get(k), v)
    return result

def json_patch(obj, ops):
    obj = copy.deepcopy(obj)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = obj
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1]
        kind = op["op"]
        if kind == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if cur != op["value"]:
                raise ValueError("test failed at " + op["path"])
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-": parent.append(op["value"])
                elif kind == "add": parent.insert(int(last), op["value"])
                else: parent[int(last)] = op["value"]
            else:
                parent[last] = op["value"]
        elif kind == "remove":
            if isinstance(parent, list): del parent[int(last)]
            else: del parent[last]
    return obj

def matches_labels(obj, selector):
    if not selector:
        return True
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in selector.split(","):
        k, _, v = term.partition("=")
        if labels.get(k) != v:
            return False
    return True

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def handle_any(self, method):
        cfg = config()
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization") or ""
        cn = None
        if hasattr(self.connection, "getpeercert"):
            cert = self.connection.getpeercert()
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName": cn = v
        entry = {"method": method, "path": url.path, "query": q, "auth": auth, "cn": cn,
                 "contentType": self.headers.get("Content-Type"), "body": raw.decode() if raw else None}
        tokens = cfg.get("tokens")
        if tokens is not None and not (auth.startswith("Bearer ") and auth[7:] in tokens) and not (cn and cn in cfg.get("users", [])):
            entry["result"] = 401
            log(entry)
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        if state.get("throttled", 0) < cfg.get("throttle_requests", 0):
            state["throttled"] = state.get("throttled", 0) + 1
            entry["result"] = 429
            log(entry)
            data = json.dumps(status(429, "TooManyRequests", "too many requests, please try again later",
                                     {"retryAfterSeconds": 0})).encode()
            self.send_response(429)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        log(entry)
        parsed = parse(url.path)
        if parsed is None:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        gv, plural, ns, name, sub = parsed
        body = json.loads(raw) if raw else None
        with lock:
            if method == "GET" and name is None and q.get("watch") in ("true", "1"):
                return self.watch(cfg, gv, plural, ns, q)
            return self.dispatch(cfg, method, gv, plural, ns, name, sub, q, body)

    def watch(self, cfg, gv, plural, ns, q):
        rv = q.get("resourceVersion")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        def send(ev):
            self.chunk((json.dumps(ev) + "\n").encode())
        if state["forced_gone"] > 0 or (rv not in (None, "", "0") and int(rv) < state["min_rv"]):
            state["forced_gone"] = max(0, state["forced_gone"] - 1)
            send({"type": "ERROR", "object": status(410, "Expired", "too old resource version: %s (%d)" % (rv, state["min_rv"]))})
            self.chunk(b"")
            return
        deadline = time.time() + min(int(q.get("timeoutSeconds", "30")), cfg.get("max_watch_seconds", 30))
        max_events = cfg.get("watch_max_events")
        sent = 0
        if rv in (None, "", "0"):
            for (g, p, n, _), obj in sorted(store.items()):
                if g == gv and p == plural and (ns is None or n == ns):
                    send({"type": "ADDED", "object": obj}); sent += 1
            start = state["rv"]
        else:
            start = int(rv)
        while True:
            for (erv, kind, g, p, n, obj) in history:
                if erv > start and g == gv and p == plural and (ns is None or n == ns) and matches_labels(obj, q.get("labelSelector")):
                    send({"type": kind, "object": obj}); sent += 1
                    start = erv
                    if max_events is not None and sent >= max_events:
                        break
            if max_events is not None and sent >= max_events:
                break
            remaining = deadline - time.time()
            if remaining <= 0:
                break
            lock.wait(min(remaining, 0.2))
        if cfg.get("bookmark_on_close") and q.get("allowWatchBookmarks") == "true":
            send({"type": "BOOKMARK", "object": {"kind": "X", "apiVersion": gv, "metadata": {"resourceVersion": str(state["rv"])}}})
        self.chunk(b"")

    def dispatch(self, cfg, method, gv, plural, ns, name, sub, q, body):
        key = (gv, plural, ns or "", name)
        if method == "GET" and name is None:
            items = [o for (g, p, n, _), o in sorted(store.items())
                     if g == gv and p == plural and (ns is None or n == ns) and matches_labels(o, q.get("labelSelector"))]
            offset, list_rv = 0, str(state["rv"])
            if q.get("continue"):
                token = json.loads(base64.b64decode(q["continue"]))
                offset, list_rv = token["offset"], token["rv"]
            limit = int(q["limit"]) if q.get("limit") else None
            page = items[offset:offset + limit] if limit else items[offset:]
            meta = {"resourceVersion": list_rv}
            if limit and offset + limit < len(items):
                meta["continue"] = base64.b64encode(json.dumps({"offset": offset + limit, "rv": list_rv}).encode()).decode()
                meta["remainingItemCount"] = len(items) - offset - limit
            return self.send_json(200, {"kind": "List", "apiVersion": gv, "metadata": meta, "items": page})
        if method == "POST" and name is None:
            meta = body.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            key = (gv, plural, ns or "", meta.get("name"))
            if key in store:
                return self.send_json(409, status(409, "AlreadyExists", '%s "%s" already exists' % (plural, meta["name"]),
                                                  {"name": meta["name"], "kind": plural}))
            if meta.get("resourceVersion"):
                return self.send_json(500, status(500, "InternalError", "resourceVersion should not be set on objects to be created"))
            meta.update({"uid": str(uuid.uuid4()), "creationTimestamp": now(), "generation": 1, "resourceVersion": bump()})
            store[key] = body
            record("ADDED", gv, plural, ns or "", body)
            return self.send_json(201, body)
        current = store.get(key)
        if method == "PATCH" and q.get("fieldManager") is None and self.headers.get("Content-Type") == "application/apply-patch+yaml":
            return self.send_json(400, status(400, "BadRequest", "fieldManager: Required value: is required for apply patch"))
        if current is None and not (method == "PATCH" and self.headers.get("Content-Type") == "application/apply-patch+yaml"):
            return self.send_json(404, status(404, "NotFound", '%s "%s" not found' % (plural, name), {"name": name, "kind": plural}))
        if method == "GET":
            return self.send_json(200, current)
        if method in ("PUT", "PATCH"):
            if method == "PUT":
                if state["conflicts"] < cfg.get("conflict_updates", 0):
                    state["conflicts"] += 1
                    bump_obj = copy.deepcopy(current)
                    bump_obj["metadata"]["resourceVersion"] = bump()
                    store[key] = bump_obj
                    record("MODIFIED", gv, plural, ns or "", bump_obj)
                    current = bump_obj
                if body.get("metadata", {}).get("resourceVersion") != current["metadata"]["resourceVersion"]:
                    return self.send_json(409, status(409, "Conflict",
                        'Operation cannot be fulfilled on %s "%s": the object has been modified; please apply your changes to the latest version and try again' % (plural, name),
                        {"name": name, "kind": plural}))
                new = body
            else:
                ctype = self.headers.get("Content-Type")
                if ctype == "application/merge-patch+json" or ctype == "application/apply-patch+yaml":
                    new = merge(current or {}, body)
                elif ctype == "application/json-patch+json":
                    try:
                        new = json_patch(current, body)
                    except Exception as e:
                        return self.send_json(422, status(422, "Invalid", str(e)))
                else:
                    return self.send_json(415, status(415, "UnsupportedMediaType", "the body of the request was in an unknown format"))
                if current is None:
                    new.setdefault("metadata", {}).update({"uid": str(uuid.uuid4()), "creationTimestamp": now(), "generation": 1,
                                                           "resourceVersion": bump()})
                    store[key] = new
                    record("ADDED", gv, plural, ns or "", new)
                    return self.send_json(201, new)
            if sub == "status":
                merged = copy.deepcopy(current)
                merged["status"] = new.get("status")
                new = merged
            elif "status" in current:
                new["status"] = current["status"]
            new["metadata"]["uid"] = current["metadata"]["uid"]
            new["metadata"]["creationTimestamp"] = current["metadata"]["creationTimestamp"]
            gen = current["metadata"].get("generation", 1)
            new["metadata"]["generation"] = gen + 1 if new.get("spec") != current.get("spec") else gen
            new["metadata"]["resourceVersion"] = bump()
            store[key] = new
            record("MODIFIED", gv, plural, ns or "", new)
            if current.get("metadata", {}).get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                del store[key]
                record("DELETED", gv, plural, ns or "", new)
            return self.send_json(200, new)
        if method == "DELETE":
            pre = (body or {}).get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != current["metadata"]["uid"]:
                return self.send_json(409, status(409, "Conflict", "Precondition failed: UID in precondition: %s, UID in object meta: %s" % (pre["uid"], current["metadata"]["uid"])))
            if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"]["resourceVersion"]:
                return self.send_json(409, status(409, "Conflict", "Precondition failed: resourceVersion"))
            if current["metadata"].get("finalizers"):
                current["metadata"].setdefault("deletionTimestamp", now())
                current["metadata"]["resourceVersion"] = bump()
                record("MODIFIED", gv, plural, ns or "", current)
                return self.send_json(200, current)
            del store[key]
            current["metadata"]["resourceVersion"] = bump()
            record("DELETED", gv, plural, ns or "", current)
            return self.send_json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success",
                                        "details": {"name": name, "kind": plural, "uid": current["metadata"]["uid"]}})
        return self.send_json(405, status(405, "MethodNotAllowed", "method not allowed"))

    def do_GET(self): self.handle_any("GET")
    def do_POST(self): self.handle_any("POST")
    def do_PUT(self): self.handle_any("PUT")
    def do_PATCH(self): self.handle_any("PATCH")
    def do_DELETE(self): self.handle_any("DELETE")

class Server(ThreadingHTTPServer):
    daemon_threads = True

def control_loop():
    # Control commands arrive on stdin, one per line; EOF (the test process ended) stops the server.
    for line in sys.stdin:
        cmd = line.strip()
        with lock:
            if cmd == "compact":
                state["min_rv"] = state["rv"] + 1
            elif cmd.startswith("gone "):
                state["forced_gone"] = int(cmd.split()[1])
            elif cmd.startswith("purge "):
                # Drop an object without a watch event, as if history was compacted past its deletion.
                _, gv, plural, ns, name = cmd.split()
                store.pop((gv, plural, ns, name), None)
                state["rv"] += 1
            elif cmd == "wake":
                lock.notify_all()
        print("ok " + cmd, flush=True)
    os._exit(0)

server = Server(("127.0.0.1", 0), Handler)
if TLS_DIR:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert = os.environ.get("FAKE_APISERVER_CERT", "server")
    ctx.load_cert_chain(os.path.join(TLS_DIR, cert + ".crt"), os.path.join(TLS_DIR, cert + ".key"))
    ctx.load_verify_locations(os.path.join(TLS_DIR, "ca.crt"))
    ctx.verify_mode = ssl.CERT_REQUIRED if REQUIRE_CLIENT_CERT else ssl.CERT_OPTIONAL
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
threading.Thread(target=control_loop, daemon=True).start()
threading.Timer(float(os.environ.get("FAKE_APISERVER_LIFETIME", "300")), lambda: os._exit(0)).start()
print("PORT %d" % server.server_address[1], flush=True)
server.serve_forever()
"""#

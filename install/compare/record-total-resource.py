#!/usr/bin/env python3
"""Record the original's total-resources page (`/total_resource/api/...` and its node
pop-up `/myapp/feature/check?url=/frontend/service/total_resource`) for the cluster of
`bins/dashboard/tests/total_resource.rs`, as fixtures `45_*` of
`bins/dashboard/tests/reference/original/`.

The cluster is `bins/dashboard/tests/reference/total-resource-cluster.json` (nodes, pods,
`metrics.k8s.io` pod usage, Prometheus series), which the Rust test seeds too. This
script starts its own `fake-kube` with `--load` of that file (metrics cannot be written
over its API) and `--no-argo --no-kubelet --no-argo-pods --no-seed`, and writes its
kubeconfig where the original reads cluster `dev` (`/home/myapp/kubeconfig/dev-kubeconfig`,
read on every request; an existing file is put back at the end).

Prometheus: the original's `PROMETHEUS` is fixed in its `config.py`
(`prometheus-k8s.monitoring:9090`), so this script serves the file's series on
`--prom-listen` both as a Prometheus and as an HTTP proxy. Start the original's web with
`HTTP_PROXY=http://<prom-listen> NO_PROXY=127.0.0.1,localhost` in its environment
(`bash ../shared/original-backend/stop.sh web`, then `start.sh` again with those
variables) so that its `requests` reach this fake; the script says whether the
Prometheus queries arrived, and the `echart` fixtures' descriptions say so too.

Users: `alice` and `bob` (role Gamma; created through `POST /users/api/` when missing,
which makes them `dev` members of `public`), and an org project `train` (expand
`{"org": "train"}`, inserted when missing). As in the Rust test: alice is a member of
`public` only, bob of `train` only (written into `project_user`). `--cleanup` deletes
`train` and those memberships afterwards (the users stay).

The original caches what it reads (Redis db 1, for 10 s to 24 h, shared between users);
the script deletes those keys before every request, so each answer is the original's
for that user on a cold cache.

Exchanges (as admin, alice and bob unless said): `_info` (admin, alice), the list, the
list ordered by memory descending and its page 1 of size 2 (admin), `/data`, `echart`, the pop-up, and the
pop-up endpoint for another page (`url=/frontend/`, admin).

Usage (the original running on 8090 with the proxy variables above, its database
`kubeflow` on 127.0.0.1; `cargo build -p testkit --bin fake-kube` first):
  python3 install/compare/record-total-resource.py [--base http://127.0.0.1:8090]
      [--out bins/dashboard/tests/reference/original] [--fake-kube PATH]
      [--prom-listen 127.0.0.1:19090] [--cleanup]
Standard library, the `mysql` and `redis-cli` clients only.
"""
import argparse
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import record  # noqa: E402  (same directory)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER = os.path.join(ROOT, "bins/dashboard/tests/reference/total-resource-cluster.json")
ORIGINAL_KUBECONFIG = "/home/myapp/kubeconfig/dev-kubeconfig"
USERS = {"alice": "public", "bob": "train"}
PAGE = "/frontend/service/total_resource"
# the original's cache keys of this page and of the K8s reads it makes with cache=True
CACHE_PATTERNS = ["*total_resource_*", "*all_pods_*", "*all_nodes_*"]


def mysql(db, sql):
    out = subprocess.run(["mysql", "-h127.0.0.1", "-uroot", "-N", "-B", db], input=sql.encode(),
                         capture_output=True, check=True)
    return out.stdout.decode()


def clear_cache(db):
    """Deletes the original's cached cluster reads (Flask-Caching on Redis db `db`)."""
    for pattern in CACHE_PATTERNS:
        keys = subprocess.run(["redis-cli", "-n", str(db), "--scan", "--pattern", pattern],
                              capture_output=True, check=True, text=True).stdout.split()
        if keys:
            subprocess.run(["redis-cli", "-n", str(db), "DEL", *keys], capture_output=True, check=True)


class Prometheus(http.server.BaseHTTPRequestHandler):
    """`/api/v1/query_range` and `/api/v1/query`, direct or as a proxy's absolute URL:
    a query containing a needle of the file gets its series (as `testkit::prometheus`)."""
    series = []
    queries = []

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        promql = q.get("query", "")
        Prometheus.queries.append((u.netloc, u.path, promql))
        if u.path not in ("/api/v1/query_range", "/api/v1/query"):
            self.reply(404, {"status": "error", "error": "not found"})
            return
        result = next((s["series"] for s in self.series if s["needle"] in promql), [])
        kind = "matrix" if u.path.endswith("_range") else "vector"
        self.reply(200, {"status": "success", "data": {"resultType": kind, "result": result}})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_fake_kube(binary, workdir):
    kubeconfig = os.path.join(workdir, "kubeconfig")
    listen = f"127.0.0.1:{free_port()}"
    log = open(os.path.join(workdir, "fake-kube.log"), "w")
    proc = subprocess.Popen([binary, "--listen", listen, "--kubeconfig", kubeconfig, "--no-argo",
                             "--no-kubelet", "--no-argo-pods", "--no-seed", "--load", CLUSTER],
                            stdout=log, stderr=subprocess.STDOUT)
    for _ in range(100):
        if os.path.exists(kubeconfig) and proc.poll() is None:
            try:
                socket.create_connection(listen.split(":"), timeout=1).close()
                return proc, kubeconfig
            except OSError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"fake-kube did not start; its log: {open(log.name).read()}")


def setup_users(c, db):
    for user in USERS:
        if record.lookup(c, "admin", "/users/api", "username", user) is None:
            gamma = record.lookup(c, "admin", "/roles/api", "name", "Gamma")
            body = {"username": user, "nickname": user, "password": user + "pass123",
                    "email": f"{user}@example.com", "roles": str(gamma), "org": "public"}
            st = c.call("admin", "POST", "/users/api/", body=body)[1]
            print(f"created {user}: {st}", file=sys.stderr)
        c.set_bare(user)
    mysql(db, "INSERT INTO project (name, `describe`, type, expand, created_on, changed_on) "
              "SELECT 'train', 'train', 'org', '{\"org\": \"train\"}', NOW(), NOW() FROM DUAL "
              "WHERE NOT EXISTS (SELECT 1 FROM project WHERE name = 'train' AND type = 'org');\n")
    for user, project in USERS.items():
        mysql(db, f"DELETE project_user FROM project_user JOIN ab_user ON ab_user.id = project_user.user_id "
                  f"WHERE ab_user.username = '{user}';\n"
                  f"INSERT INTO project_user (project_id, user_id, role, created_on, changed_on) "
                  f"SELECT p.id, u.id, 'dev', NOW(), NOW() FROM project p, ab_user u "
                  f"WHERE p.name = '{project}' AND p.type = 'org' AND u.username = '{user}';\n")
    print(mysql(db, "SELECT u.username, p.name FROM project_user pu JOIN ab_user u ON u.id = pu.user_id "
                    "JOIN project p ON p.id = pu.project_id WHERE u.username IN ('alice', 'bob');"),
          file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8090")
    ap.add_argument("--db", default="kubeflow")
    ap.add_argument("--cache-db", type=int, default=1, help="the original's Redis cache database")
    ap.add_argument("--out", default=os.path.join(ROOT, "bins/dashboard/tests/reference/original"))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--fake-kube", default=os.path.join(target, "debug/fake-kube"))
    ap.add_argument("--prom-listen", default="127.0.0.1:19090")
    ap.add_argument("--cleanup", action="store_true", help="delete project train and its memberships afterwards")
    a = ap.parse_args()

    cluster = json.load(open(CLUSTER))
    Prometheus.series = cluster["prometheus"]
    host, port = a.prom_listen.rsplit(":", 1)
    prom = http.server.ThreadingHTTPServer((host, int(port)), Prometheus)
    threading.Thread(target=prom.serve_forever, daemon=True).start()

    workdir = tempfile.mkdtemp(prefix="rec-total-")
    kube, kubeconfig = start_fake_kube(a.fake_kube, workdir)
    backup = None
    if os.path.exists(ORIGINAL_KUBECONFIG):
        backup = os.path.join(workdir, "dev-kubeconfig.orig")
        shutil.copy(ORIGINAL_KUBECONFIG, backup)
    made_dir = not os.path.isdir(os.path.dirname(ORIGINAL_KUBECONFIG))
    os.makedirs(os.path.dirname(ORIGINAL_KUBECONFIG), exist_ok=True)
    shutil.copy(kubeconfig, ORIGINAL_KUBECONFIG)

    c = record.Client(a.base, "original")
    r = record.Recorder(c, a.out)
    c.set_bare("admin")
    tags = {"admin": "admin", "alice": "alice", "bob": "bob"}

    def rec(name, desc, user, path, query=None):
        clear_cache(a.cache_db)
        return r.rec(f"45_{name}_{tags[user]}", f"{desc}, as {tags[user]}", user, "GET", path, query)

    try:
        setup_users(c, a.db)
        for user in ("admin", "alice"):
            rec("total_resource_info", "GET _info of the total-resource page", user, "/total_resource/api/_info")
        for user in tags:
            rec("total_resource_list", "GET the total-resource list (the pods holding resources)",
                user, "/total_resource/api/")
        rec("total_resource_list_order_memory_desc", "GET the total-resource list ordered by memory descending",
            "admin", "/total_resource/api/",
            {"form_data": record.fd({"order_column": "memory", "order_direction": "desc"})})
        rec("total_resource_list_page", "GET the total-resource list, page 1 of size 2", "admin",
            "/total_resource/api/", {"form_data": record.fd({"page": 1, "page_size": 2})})
        for user in tags:
            rec("total_resource_data", "GET /data of the total-resource page", user, "/total_resource/api/data")
        for user in tags:
            before = len(Prometheus.queries)
            rec("total_resource_echart", "GET the gauges (echart) of the total-resource page with a fake "
                "Prometheus", user, "/total_resource/api/echart")
            if len(Prometheus.queries) == before:
                print("WARNING: the original did not query the fake Prometheus (is its web started with "
                      f"HTTP_PROXY=http://{a.prom_listen}?); its echart fixture has no usage", file=sys.stderr)
                path = os.path.join(a.out, f"45_total_resource_echart_{tags[user]}.json")
                fx = json.load(open(path))
                fx["description"] = fx["description"].replace("with a fake Prometheus", "WITHOUT Prometheus")
                with open(path, "w") as f:
                    json.dump(fx, f, ensure_ascii=False, indent=2)
                    f.write("\n")
        for user in tags:
            rec("feature_check_total_resource", "GET the node pop-up of the total-resource page", user,
                "/myapp/feature/check", {"url": PAGE})
        rec("feature_check_other", "GET the pop-up endpoint for a page without one", "admin",
            "/myapp/feature/check", {"url": "/frontend/"})
        print("Prometheus queries:", *Prometheus.queries, sep="\n  ", file=sys.stderr)
    finally:
        clear_cache(a.cache_db)
        kube.terminate()
        kube.wait(timeout=10)
        prom.shutdown()
        if backup:
            shutil.copy(backup, ORIGINAL_KUBECONFIG)
        else:
            os.remove(ORIGINAL_KUBECONFIG)
            if made_dir:
                for d in (os.path.dirname(ORIGINAL_KUBECONFIG), os.path.dirname(os.path.dirname(ORIGINAL_KUBECONFIG))):
                    try:
                        os.rmdir(d)
                    except OSError:
                        break
        if a.cleanup:
            mysql(a.db, "DELETE project_user FROM project_user JOIN project ON project.id = project_user.project_id "
                        "WHERE project.name = 'train' AND project.type = 'org';\n"
                        "DELETE FROM project WHERE name = 'train' AND type = 'org';\n")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

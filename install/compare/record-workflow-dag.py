#!/usr/bin/env python3
"""Record the original's run page answers (`web/dag`, `web/layout`) for one finished
3-task workflow, as fixtures `40_*` of `bins/dashboard/tests/reference/original/`.

The object is `bins/dashboard/tests/reference/argo-workflow-3task.json`, the one the
Rust tests put into their fake cluster. The original reads cluster `dev` through the
kubeconfig file its config names (`CLUSTERS['dev']['KUBECONFIG']`,
`/home/myapp/kubeconfig/dev-kubeconfig`; read on every request, so no restart): this
script writes there a kubeconfig of a running `fake-kube` (`--kubeconfig`, default
`/tmp/rundag/kubeconfig`) and removes it at the end. Without that file the original's
`K8s()` falls back to the in-cluster configuration and every answer is a 500.

Exchanges:
* `40_*`: the object in the cluster and a `workflow` row written as the original's watcher
  writes it (`watch_workflow.py` `save_workflow`: labels/annotations/spec/status as
  `json.dumps(indent=4)`, every `startedAt`/`finishedAt` and the creation time +8 h,
  `username` from the labels); `get_dag` reads the cluster and updates the row;
* `42_*`: the object not in the cluster (404), the same watcher row: the DB fallback;
* `41_*`: neither in the cluster nor in the DB;
each as admin and as `plainuser` (created through `POST /users/api/` as `record.py` does,
when missing; it is neither the runner nor the creator of the pipeline).
* `44_*`: `web/node_detail` (the node dialog of the run page) with the object in the
  cluster and the watcher's row, and the pod of node `<wf>-1305441720` (`download-data`)
  with three events for it (`../argo-pod-3task-download-data.json`, an Argo v3.4
  emissary pod): that node as admin and as `plainuser`, a node whose pod is not in the
  cluster (`<wf>-2942193862`), a node the workflow does not have.

`--only 44` records the `44_*` exchanges alone (leaving `40_*`–`43_*` as they are).

Usage (the original running on 8090, its database `kubeflow` on 127.0.0.1, fake-kube
running with `--no-argo --no-kubelet --no-argo-pods --no-seed`):
  python3 install/compare/record-workflow-dag.py [--base http://127.0.0.1:8090]
      [--out bins/dashboard/tests/reference/original] [--delete-row]
Standard library and the `mysql` client only.
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import record  # noqa: E402  (same directory)
import urllib.error  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OBJECT = os.path.join(ROOT, "bins/dashboard/tests/reference/argo-workflow-3task.json")
POD = os.path.join(ROOT, "bins/dashboard/tests/reference/argo-pod-3task-download-data.json")
ORIGINAL_KUBECONFIG = "/home/myapp/kubeconfig/dev-kubeconfig"


def kube(server, method, path, body=None):
    """One call to the fake API server (its token is not checked for these)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server + path, data=data, method=method,
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer fake-kube-token"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def plus8(ts):
    t = datetime.datetime.strptime(ts.replace("T", " ").replace("Z", ""), "%Y-%m-%d %H:%M:%S")
    return (t + datetime.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")


def localize(v):
    """The watcher's `check_status_time`: startedAt/finishedAt +8 h, recursively."""
    if isinstance(v, dict):
        return {k: plus8(x) if k in ("startedAt", "finishedAt") and isinstance(x, str) and x else localize(x)
                for k, x in v.items()}
    if isinstance(v, list):
        return [localize(x) for x in v]
    return v


def sql_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def mysql(db, sql):
    out = subprocess.run(["mysql", "-h127.0.0.1", "-uroot", "-N", "-B", db], input=sql.encode(),
                         capture_output=True, check=True)
    return out.stdout.decode()


def status_of(st):
    """`get_crd_status` for workflows: the last node Pending → Pending, else the phase."""
    nodes = st.get("nodes") or {}
    if not nodes:
        return ""
    last = list(nodes.values())[-1]
    return "Pending" if last.get("phase") == "Pending" else st.get("phase", "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8090")
    ap.add_argument("--db", default="kubeflow")
    ap.add_argument("--out", default=os.path.join(ROOT, "bins/dashboard/tests/reference/original"))
    ap.add_argument("--kubeconfig", default="/tmp/rundag/kubeconfig", help="a running fake-kube's kubeconfig")
    ap.add_argument("--delete-row", action="store_true", help="delete the workflow row afterwards")
    ap.add_argument("--only", choices=["44"], help="record only these exchanges")
    a = ap.parse_args()

    obj = json.load(open(OBJECT))
    meta = obj["metadata"]
    name, ns = meta["name"], meta["namespace"]
    labels = meta["labels"]
    username = next((labels[k] for k in ("run-rtx", "pipeline-rtx", "run-username", "pipeline-username")
                     if labels.get(k)), "admin")
    dumps = lambda v: json.dumps(v, indent=4, ensure_ascii=False)  # noqa: E731
    create_time = plus8(meta["creationTimestamp"])
    info = {"pipeline_name": labels["pipeline-name"], "describe": meta["annotations"].get("description", ""),
            "run_id": labels["run-id"], "alert_status": "", "has_push": ""}
    cols = {
        "name": name, "namespace": ns, "cluster": "dev", "create_time": create_time,
        "change_time": plus8(obj["status"]["finishedAt"]), "status": status_of(obj["status"]),
        "annotations": dumps(meta["annotations"]), "labels": dumps(labels), "spec": dumps(obj["spec"]),
        "status_more": dumps(localize(obj["status"])), "username": username,
        "info_json": json.dumps(info, ensure_ascii=False),
    }
    insert_row = (f"DELETE FROM workflow WHERE name = {sql_str(name)};\n"
                  f"INSERT INTO workflow ({', '.join(cols)}, add_row_time) VALUES "
                  f"({', '.join(sql_str(v) for v in cols.values())}, NOW());\n")
    server = next(l.split("server:", 1)[1].strip() for l in open(a.kubeconfig) if "server:" in l)
    os.makedirs(os.path.dirname(ORIGINAL_KUBECONFIG), exist_ok=True)
    shutil.copy(a.kubeconfig, ORIGINAL_KUBECONFIG)
    wf_path = f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows"

    c = record.Client(a.base, "original")
    r = record.Recorder(c, a.out)
    c.set_bare("admin")
    if record.lookup(c, "admin", "/users/api", "username", record.PLAIN) is None:
        gamma = record.lookup(c, "admin", "/roles/api", "name", "Gamma")
        body = {"username": record.PLAIN, "nickname": record.PLAIN, "password": record.PLAIN_PASSWORD,
                "email": f"{record.PLAIN}@example.com", "roles": str(gamma), "org": "public"}
        st = c.call("admin", "POST", "/users/api/", body=body)[1]
        print(f"created {record.PLAIN}: {st}", file=sys.stderr)
    c.set_bare(record.PLAIN)

    def rec_both(prefix, desc, wf_name):
        for user, tag in (("admin", "admin"), (record.PLAIN, "plain")):
            for what in ("dag", "layout"):
                r.rec(f"{prefix}_workflow_web_{what}_{tag}", f"GET web/{what} {desc} as {tag}",
                      user, "GET", f"/workflow_modelview/api/web/{what}/dev/{ns}/{wf_name}")

    def node_detail():
        """44: the node dialog; the workflow and the watcher's row, one node's pod and its events."""
        pod_file = json.load(open(POD))
        pod, events = pod_file["pod"], pod_file["events"]
        pods_path = f"/api/v1/namespaces/{ns}/pods"
        events_path = f"/api/v1/namespaces/{ns}/events"
        kube(server, "DELETE", f"{wf_path}/{name}")
        print("fake-kube workflow:", kube(server, "POST", wf_path, obj), file=sys.stderr)
        kube(server, "DELETE", f"{pods_path}/{pod['metadata']['name']}")
        print("fake-kube pod:", kube(server, "POST", pods_path, pod), file=sys.stderr)
        for ev in events:
            kube(server, "DELETE", f"{events_path}/{ev['metadata']['name']}")
            print("fake-kube event:", kube(server, "POST", events_path, ev), file=sys.stderr)
        mysql(a.db, insert_row)
        base = f"/workflow_modelview/api/web/node_detail/dev/{ns}/{name}"
        for user, tag in (("admin", "admin"), (record.PLAIN, "plain")):
            r.rec(f"44_workflow_web_node_detail_{tag}",
                  f"GET web/node_detail of node download-data (its pod and 3 events in the cluster) as {tag}",
                  user, "GET", f"{base}/{name}-1305441720")
        r.rec("44_workflow_web_node_detail_no_pod_admin",
              "GET web/node_detail of a node whose pod is not in the cluster, as admin",
              "admin", "GET", f"{base}/{name}-2942193862")
        r.rec("44_workflow_web_node_detail_missing_node_admin",
              "GET web/node_detail of a node the workflow does not have, as admin",
              "admin", "GET", f"{base}/{name}-999")
        kube(server, "DELETE", f"{pods_path}/{pod['metadata']['name']}")
        for ev in events:
            kube(server, "DELETE", f"{events_path}/{ev['metadata']['name']}")
        kube(server, "DELETE", f"{wf_path}/{name}")
        mysql(a.db, f"DELETE FROM workflow WHERE name = {sql_str(name)};")

    try:
        if a.only == "44":
            node_detail()
            return
        # 40: in the cluster, and the watcher's row (the row is updated by each call)
        kube(server, "DELETE", f"{wf_path}/{name}")
        st = kube(server, "POST", wf_path, obj)
        print(f"fake-kube create: {st}", file=sys.stderr)
        mysql(a.db, insert_row)
        rec_both("40", "of a finished 3-task workflow read from the cluster (the watcher's row exists)", name)
        print("row after 40:", mysql(a.db, f"SELECT id, status, username, cluster, create_time, change_time, "
                                           f"LEFT(status_more, 300) FROM workflow WHERE name = {sql_str(name)};"),
              file=sys.stderr)
        # 42: not in the cluster: the DB fallback
        kube(server, "DELETE", f"{wf_path}/{name}")
        mysql(a.db, insert_row)
        rec_both("42", "of a finished 3-task workflow gone from the cluster (DB fallback)", name)
        # 41: neither
        for what in ("dag", "layout"):
            r.rec(f"41_workflow_web_{what}_missing_admin",
                  f"GET web/{what} of a workflow neither in the cluster nor in the DB, as admin",
                  "admin", "GET", f"/workflow_modelview/api/web/{what}/dev/{ns}/no-such-workflow-x1")
        # 43: in the cluster without a row: the original inserts one
        mysql(a.db, f"DELETE FROM workflow WHERE name = {sql_str(name)};")
        kube(server, "POST", wf_path, obj)
        r.rec("43_workflow_web_dag_no_row_admin",
              "GET web/dag of a workflow in the cluster without a DB row (the original inserts it), as admin",
              "admin", "GET", f"/workflow_modelview/api/web/dag/dev/{ns}/{name}")
        print("row inserted by 43:", mysql(a.db, f"SELECT id, name, namespace, cluster, create_time, status, username, "
                                                 f"info_json, change_time, foreign_key, add_row_time, LEFT(labels, 80), "
                                                 f"LEFT(status_more, 200) FROM workflow WHERE name = {sql_str(name)};"),
              file=sys.stderr)
        kube(server, "DELETE", f"{wf_path}/{name}")
        if a.delete_row:
            mysql(a.db, f"DELETE FROM workflow WHERE name = {sql_str(name)};")
    finally:
        os.remove(ORIGINAL_KUBECONFIG)
        for d in (os.path.dirname(ORIGINAL_KUBECONFIG), os.path.dirname(os.path.dirname(ORIGINAL_KUBECONFIG))):
            try:
                os.rmdir(d)  # only when this script made it and it is empty
            except OSError:
                break


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Record request/response pairs from a cube-studio back end as JSON fixtures.

The same fixed list of requests runs against either the original Python back end
(`--target original`, which accepts a bare `Authorization: <username>`) or our Rust
dashboard (`--target ours`, which needs `Authorization: <username>|<secret>`; the
secret is read from `/userinfo/api/current/userinfo` after a `POST /login/`).

Before the cases run, a setup step (recorded too, files 00_*) creates, when missing, a
plain (non-admin, role Gamma) user `plainuser` and a sacrificial user `victimuser`, both
with org `public`; both back ends then make each of them a `dev` member of the org
project `public` by themselves. Exchanges 32_* later delete and re-add victimuser's
membership (the project member POST).

Usage:
  python3 install/compare/record.py --base http://127.0.0.1:8090 --target original \
      --out bins/dashboard/tests/reference/original
  python3 install/compare/record.py --base http://127.0.0.1:8091 --target ours \
      --out /var/tmp/ours-recorded --admin-password admin
Standard library only.
"""
import argparse
import datetime
import http.cookiejar
import json
import os
import re
import shlex
import sys
import urllib.error
import urllib.parse
import urllib.request

PLAIN = "plainuser"
PLAIN_PASSWORD = "plainpass123"
VICTIM = "victimuser"

# Every model view our dashboard serves (bins/dashboard/src/views/*.rs), plus the
# original's /job_template_fab_modelview/api which ours does not serve.
VIEWS = [
    ("project", "/project_modelview/api"),
    ("project_org", "/project_modelview/org/api"),
    ("project_job_template", "/project_modelview/job_template/api"),
    ("project_user", "/project_user_modelview/api"),
    ("repository", "/repository_modelview/api"),
    ("images", "/images_modelview/api"),
    ("job_template", "/job_template_modelview/api"),
    ("job_template_fab", "/job_template_fab_modelview/api"),
    ("users", "/users/api"),
    ("roles", "/roles/api"),
    ("userinfo", "/userinfo/api"),
    ("log", "/log_modelview/api"),
    ("pipeline", "/pipeline_modelview/api"),
    ("pipeline_home", "/pipeline_modelview/home/api"),
    ("task", "/task_modelview/api"),
    ("workflow", "/workflow_modelview/api"),
    ("runhistory", "/runhistory_modelview/api"),
]

KEEP_HEADERS = None  # keep all response headers (Date etc. are ignored by compare.py)


def fd(obj):
    return json.dumps(obj, ensure_ascii=False)


class Client:
    def __init__(self, base, target):
        self.base = base.rstrip("/")
        self.target = target
        self.auth = {}  # user -> Authorization header value
        self.redact = {}  # user -> value written to the fixture

    def raw(self, method, path, query=None, body=None, headers=None, opener=None):
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            hdrs["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        op = opener or urllib.request.build_opener(NoRedirect)
        try:
            resp = op.open(req, timeout=120)
            status, rh, content = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, rh, content = e.code, e.headers, e.read()
        return url, status, rh, content

    def login(self, user, password):
        """Our dashboard: form login with a cookie jar, then read the user's secret."""
        jar = http.cookiejar.CookieJar()
        op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
        _, st, _, c = self.raw("POST", "/login/", body={"username": user, "password": password}, opener=op)
        _, st2, _, c2 = self.raw("GET", "/userinfo/api/current/userinfo", opener=op)
        if st2 != 200:
            raise SystemExit(f"login as {user} failed: {st} {c[:200]!r} / {st2} {c2[:200]!r}")
        secret = json.loads(c2)["secret"]
        self.auth[user] = f"{user}|{secret}"
        self.redact[user] = f"{user}|<secret>"

    def set_bare(self, user):
        self.auth[user] = user
        self.redact[user] = user

    def call(self, user, method, path, query=None, body=None):
        hdrs = {"Authorization": self.auth[user]} if user else {}
        url, st, rh, content = self.raw(method, path, query, body, hdrs)
        return url, st, rh, content


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def headers_dict(rh):
    out = {}
    for k, v in rh.items():
        if k in out:
            out[k] = out[k] if isinstance(out[k], list) else [out[k]]
            out[k].append(v)
        else:
            out[k] = v
    return out


def decode(content, ctype):
    if "json" in (ctype or ""):
        try:
            return "json", json.loads(content)
        except Exception:
            pass
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", __import__("base64").b64encode(content).decode()
    try:
        return "json", json.loads(text)
    except Exception:
        return "text", text


class Recorder:
    def __init__(self, client, out):
        self.c = client
        self.out = out
        self.n = 0
        self.index = []
        os.makedirs(out, exist_ok=True)

    def rec(self, name, desc, user, method, path, query=None, body=None):
        url, st, rh, content = self.c.call(user, method, path, query, body)
        hd = headers_dict(rh)
        btype, bval = decode(content, hd.get("Content-Type", ""))
        reqh = {"Authorization": self.c.redact[user]} if user else {}
        curl = ["curl", "-sS", "-X", method, "-D", "-", "-o", "-"]
        for k, v in reqh.items():
            curl += ["-H", f"{k}: {v}"]
        if body is not None:
            curl += ["-H", "Content-Type: application/json", "--data", fd(body)]
        curl.append(url)
        fx = {
            "name": name,
            "description": desc,
            "user": user,
            "curl": " ".join(shlex.quote(x) for x in curl),
            "request": {
                "method": method,
                "url": url,
                "path": path,
                "query": query or {},
                "headers": reqh,
                "body": body,
            },
            "response": {"status": st, "headers": hd, "body_type": btype, "body": bval},
        }
        fname = f"{name}.json"
        with open(os.path.join(self.out, fname), "w") as f:
            json.dump(fx, f, ensure_ascii=False, indent=2)
            f.write("\n")
        self.index.append((fname, method, path, user, st))
        print(f"{st} {method} {path} {fd(query) if query else ''} [{user}] -> {fname}", file=sys.stderr)
        return st, bval


def first_id(rec_body):
    try:
        data = rec_body["result"]["data"]
        return data[0]["id"] if data else None
    except Exception:
        return None


def lookup(c, user, base, col, value):
    q = {"form_data": fd({"page": 0, "page_size": 20, "filters": [{"col": col, "opr": "eq", "value": value}]})}
    _, st, _, content = c.call(user, "GET", base + "/", q)
    try:
        data = json.loads(content)["result"]["data"]
    except Exception:
        return None
    for row in data:
        if row.get(col) == value or str(row.get(col)) == str(value):
            return row.get("id")
    return data[0].get("id") if data else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--target", choices=["original", "ours"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--admin-password", default="admin")
    a = ap.parse_args()

    c = Client(a.base, a.target)
    r = Recorder(c, a.out)
    if a.target == "original":
        c.set_bare("admin")
    else:
        c.login("admin", a.admin_password)

    # ---------------------------------------------------------------- setup
    gamma = lookup(c, "admin", "/roles/api", "name", "Gamma")
    public = lookup(c, "admin", "/project_modelview/org/api", "name", "public")
    print(f"Gamma role id={gamma} public org project id={public}", file=sys.stderr)
    ids = {}
    for user in (PLAIN, VICTIM):
        uid = lookup(c, "admin", "/users/api", "username", user)
        if uid is None:
            body = {"username": user, "nickname": user, "password": PLAIN_PASSWORD,
                    "email": f"{user}@example.com", "roles": str(gamma), "org": "public"}
            st, b = r.rec(f"00_setup_users_post_{user}", f"admin creates the Gamma user {user}",
                          "admin", "POST", "/users/api/", body=body)
            uid = lookup(c, "admin", "/users/api", "username", user)
        ids[user] = uid
    admin_id = lookup(c, "admin", "/users/api", "username", "admin")
    print(f"user ids: {ids} admin={admin_id}", file=sys.stderr)
    if a.target == "original":
        c.set_bare(PLAIN)
    else:
        c.login(PLAIN, PLAIN_PASSWORD)

    # (the original makes every new user a `dev` member of the org project `public`)

    # ---------------------------------------------------------------- 1. _info and list of every view
    page = {"form_data": fd({"page": 0, "page_size": 20})}
    for user, tag in (("admin", "admin"), (PLAIN, "plain")):
        for short, base in VIEWS:
            r.rec(f"10_{short}_info_{tag}", f"GET {base}/_info as {tag}", user, "GET", base + "/_info")
            st, body = r.rec(f"11_{short}_list_{tag}", f"GET {base}/ list page 0 size 20 as {tag}", user, "GET", base + "/", page)
            rid = first_id(body) if st == 200 else None
            if rid is not None:
                r.rec(f"12_{short}_show_first_{tag}", f"GET {base}/<first listed id> as {tag}", user, "GET", f"{base}/{rid}")

    # ---------------------------------------------------------------- 2. home endpoints
    for user, tag in (("admin", "admin"), (PLAIN, "plain")):
        for short, path in (("menu", "/myapp/menu"), ("navbar_right", "/myapp/navbar_right"),
                            ("feature_check", "/myapp/feature/check?url=/frontend/"),
                            ("current_userinfo", "/userinfo/api/current/userinfo")):
            p, _, qs = path.partition("?")
            r.rec(f"20_{short}_{tag}", f"GET {path} as {tag}", user, "GET", p, dict(urllib.parse.parse_qsl(qs)) or None)
        r.rec(f"20_feature_check_nourl_{tag}", f"GET /myapp/feature/check without url as {tag} (the original 500s)",
              user, "GET", "/myapp/feature/check")

    # ---------------------------------------------------------------- 3. specific differences
    for short, base in (("project_user", "/project_user_modelview/api"), ("runhistory", "/runhistory_modelview/api")):
        for opr, val in (("eq", datetime.date.today().isoformat()), ("gt", "2020-01-01 00:00:00"),
                         ("lt", "2099-01-01 00:00:00")):
            r.rec(f"30_{short}_filter_created_on_{opr}", f"{base} list filtered on created_on {opr} {val} as admin",
                  "admin", "GET", base + "/",
                  {"form_data": fd({"page": 0, "page_size": 20, "filters": [{"col": "created_on", "opr": opr, "value": val}]})})
    for d in ("asc", "desc"):
        r.rec(f"31_roles_list_order_id_{d}", f"roles list order_column id {d}", "admin", "GET", "/roles/api/",
              {"form_data": fd({"page": 0, "page_size": 20, "order_column": "id", "order_direction": d})})
    r.rec("31_users_list_order_id_asc", "users list order_column id asc", "admin", "GET", "/users/api/",
          {"form_data": fd({"page": 0, "page_size": 20, "order_column": "id", "order_direction": "asc"})})
    # project member create: an already-member duplicate, and the plain user adding someone (not creator)
    r.rec("32_project_user_post_by_plain", "plain user (dev, not creator) adds victim to public (original 422)",
          PLAIN, "POST", "/project_user_modelview/api/", body={"project": public, "user": ids[VICTIM], "role": "dev"})
    # victimuser's automatic membership of public is deleted, then added again (unique project_id+user_id)
    q = {"form_data": fd({"page": 0, "page_size": 100, "filters": [{"col": "project", "opr": "rel_o_m", "value": public}]})}
    _, _, _, content = c.call("admin", "GET", "/project_user_modelview/api/", q)
    try:
        rows = json.loads(content)["result"]["data"]
    except Exception:
        rows = []
    for row in rows:
        u = row.get("user")
        uname = u.get("username") if isinstance(u, dict) else str(u)
        if uname == VICTIM or (isinstance(u, dict) and u.get("id") == ids[VICTIM]) or str(u).startswith(VICTIM):
            r.rec("32_project_user_delete_by_admin", "admin deletes victimuser's membership of public",
                  "admin", "DELETE", f"/project_user_modelview/api/{row['id']}")
            break
    r.rec("32_project_user_post_by_admin", "admin adds victimuser to org project public as ops (original answers 200)",
          "admin", "POST", "/project_user_modelview/api/", body={"project": public, "user": ids[VICTIM], "role": "ops"})
    r.rec("32_project_org_post_by_admin", "admin creates an org project (the original needs a cluster for this)",
          "admin", "POST", "/project_modelview/org/api/", body={"name": "compare-org", "describe": "compare-org", "expand": "{}"})
    # not-permitted show / delete by the plain user
    r.rec("33_users_show_admin_by_plain", "plain user shows the admin user", PLAIN, "GET", f"/users/api/{admin_id}")
    r.rec("33_users_delete_victim_by_plain", "plain user deletes another user", PLAIN, "DELETE", f"/users/api/{ids[VICTIM]}")
    r.rec("33_userinfo_show_admin_by_plain", "plain user shows admin via userinfo (base_permissions [])", PLAIN, "GET", f"/userinfo/api/{admin_id}")
    r.rec("33_userinfo_delete_victim_by_plain", "plain user deletes via userinfo", PLAIN, "DELETE", f"/userinfo/api/{ids[VICTIM]}")
    r.rec("33_roles_show_gamma_by_plain", "plain user shows role Gamma", PLAIN, "GET", f"/roles/api/{gamma}")
    r.rec("33_roles_delete_gamma_by_plain", "plain user deletes role Gamma (roles lack can_delete)", PLAIN, "DELETE", f"/roles/api/{gamma}")
    r.rec("33_project_org_delete_public_by_plain", "plain user deletes org project public", PLAIN, "DELETE", f"/project_modelview/org/api/{public}")
    r.rec("33_log_show_1_by_plain", "plain user shows log 1 (log lacks can_show in the original)", PLAIN, "GET", "/log_modelview/api/1")
    r.rec("33_log_delete_1_by_plain", "plain user deletes log 1", PLAIN, "DELETE", "/log_modelview/api/1")
    r.rec("33_log_show_1_by_admin", "admin shows log 1", "admin", "GET", "/log_modelview/api/1")
    r.rec("33_runhistory_delete_missing_by_plain", "plain user deletes a missing run history", PLAIN, "DELETE", "/runhistory_modelview/api/999999")
    # images download_template
    for short, base in (("images", "/images_modelview/api"), ("repository", "/repository_modelview/api")):
        r.rec(f"34_{short}_download_template", f"{base}/download_template/ content type and body", "admin", "GET", base + "/download_template/")
    # users show / list columns
    r.rec("35_users_show_admin", "users show (columns) as admin", "admin", "GET", f"/users/api/{admin_id}")
    r.rec("35_users_show_plain_by_admin", "users show of the plain user as admin", "admin", "GET", f"/users/api/{ids[PLAIN]}")
    r.rec("35_userinfo_show_admin_by_admin", "userinfo show as admin", "admin", "GET", f"/userinfo/api/{admin_id}")
    # log list rows (page size 5, keys of the rows)
    r.rec("36_log_list_admin", "log list rows as admin", "admin", "GET", "/log_modelview/api/",
          {"form_data": fd({"page": 0, "page_size": 5})})

    with open(os.path.join(a.out, "INDEX.tsv"), "w") as f:
        f.write("file\tmethod\tpath\tuser\tstatus\n")
        for row in r.index:
            f.write("\t".join(str(x) for x in row) + "\n")


if __name__ == "__main__":
    main()

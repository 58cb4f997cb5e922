#!/usr/bin/env python3
"""Compare fixtures recorded by record.py from the original back end with the same
requests recorded from our dashboard, and write a Markdown report.

Usage:
  python3 install/compare/compare.py ORIGINAL_DIR OURS_DIR > COMPARISON.md

Rules
* status code, Content-Type (mime + charset), Content-Disposition, the presence of the
  `api_flashes` header, and the names of cookies set are compared for every exchange.
* `_info`, menu, navbar, feature-check and current-userinfo bodies (the "contract"
  bodies) are compared by value at every level: dict keys missing/extra, scalar
  values, lists of strings (missing/extra/order), lists of field objects matched by
  their `name`; for related `values` lists only the set of `value` labels is compared
  (ids depend on the data).
* Every other body (lists, shows, posts, deletes) is compared by shape: keys
  missing/extra at every level and JSON types (strings are sub-typed: datetime-iso,
  datetime-http, html, json-text, empty) -- row values are data, not contract; the
  envelope `status`/`message` values are still compared. For `result.data` lists the
  union of row keys and the set of types per key are compared.
Differences are labelled: STATUS, HEADER, MISSING (in ours), EXTRA (in ours), TYPE,
VALUE, ORDER, FIELD-MISSING / FIELD-EXTRA (named objects: _info field objects, menu
items), INFO (row counts when one side has no rows), INTENDED (a `password` the original
leaks and ours leaves out), DATA (related `values` whose labels differ: the rows of the two
databases differ, so these are only hints).
"""
import collections
import json
import os
import re
import sys

SKIP_VALUE_KEYS = {"secret", "created_on", "changed_on", "id", "count"}


def jtype(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, str):
        if v == "":
            return "str(empty)"
        if re.match(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?", v):
            return "str(datetime-iso)"
        if re.match(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}", v):
            return "str(datetime-http)"
        if v.lstrip().startswith("<"):
            return "str(html)"
        s = v.strip()
        if (s.startswith("{") and s.endswith("}")) or (s.startswith("[") and s.endswith("]")):
            try:
                json.loads(s)
                return "str(json-text)"
            except Exception:
                pass
        return "str"
    return type(v).__name__


def base_type(t):
    return t.split("(")[0]


def short(v, n=160):
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= n else s[: n - 3] + "..."


class Diff:
    def __init__(self):
        self.items = []

    def add(self, kind, path, text):
        self.items.append((kind, path or "$", text))


def diff_value(o, u, path, d, depth=0):
    """Value comparison (contract bodies)."""
    to, tu = jtype(o), jtype(u)
    if base_type(to) != base_type(tu):
        d.add("TYPE", path, f"original {to} {short(o, 100)} / ours {tu} {short(u, 100)}")
        return
    if isinstance(o, dict):
        for k in o:
            if k not in u:
                d.add("MISSING", f"{path}.{k}", f"original has {short(o[k], 120)}")
        for k in u:
            if k not in o:
                d.add("EXTRA", f"{path}.{k}", f"ours has {short(u[k], 120)}")
        for k in o:
            if k in u:
                if k == "values" and isinstance(o[k], list) and isinstance(u[k], list):
                    diff_related_values(o[k], u[k], f"{path}.{k}", d)
                elif k in SKIP_VALUE_KEYS:
                    if base_type(jtype(o[k])) != base_type(jtype(u[k])):
                        d.add("TYPE", f"{path}.{k}", f"original {jtype(o[k])} / ours {jtype(u[k])}")
                else:
                    diff_value(o[k], u[k], f"{path}.{k}", d, depth + 1)
    elif isinstance(o, list):
        if all(isinstance(x, dict) and "name" in x for x in o + u) and (o or u):
            on = [x["name"] for x in o]
            un = [x["name"] for x in u]
            for n in on:
                if n not in un:
                    d.add("FIELD-MISSING", f"{path}[name={n}]", f"original has {short(next(x for x in o if x['name']==n), 200)}")
            for n in un:
                if n not in on:
                    d.add("FIELD-EXTRA", f"{path}[name={n}]", f"ours has {short(next(x for x in u if x['name']==n), 200)}")
            common_o = [n for n in on if n in un]
            common_u = [n for n in un if n in on]
            if common_o != common_u:
                d.add("ORDER", path, f"original {short(common_o, 300)} / ours {short(common_u, 300)}")
            for n in common_o:
                diff_value(next(x for x in o if x["name"] == n), next(x for x in u if x["name"] == n), f"{path}[name={n}]", d, depth + 1)
        elif all(isinstance(x, dict) and "type" in x for x in o + u) and (o or u):
            # validators: matched by their type
            ot = [x["type"] for x in o]
            ut = [x["type"] for x in u]
            for t in ot:
                if t not in ut:
                    d.add("MISSING", f"{path}[type={t}]", f"original has {short(next(x for x in o if x['type']==t), 200)}")
            for t in ut:
                if t not in ot:
                    d.add("EXTRA", f"{path}[type={t}]", f"ours has {short(next(x for x in u if x['type']==t), 200)}")
            co = [t for t in ot if t in ut]
            cu = [t for t in ut if t in ot]
            if co != cu:
                d.add("ORDER", path, f"original {ot} / ours {ut}")
            for t in co:
                diff_value(next(x for x in o if x["type"] == t), next(x for x in u if x["type"] == t), f"{path}[type={t}]", d, depth + 1)
        elif all(not isinstance(x, dict) for x in o + u):
            so = [json.dumps(x, ensure_ascii=False) for x in o]
            su = [json.dumps(x, ensure_ascii=False) for x in u]
            miss = [x for x in so if x not in su]
            extra = [x for x in su if x not in so]
            if miss:
                d.add("MISSING", path, "items only in original: " + ", ".join(miss))
            if extra:
                d.add("EXTRA", path, "items only in ours: " + ", ".join(extra))
            co = [x for x in so if x in su]
            cu = [x for x in su if x in so]
            if co != cu:
                d.add("ORDER", path, f"original [{', '.join(so)}] / ours [{', '.join(su)}]")
        else:
            if len(o) != len(u):
                d.add("VALUE", path, f"list length original {len(o)} / ours {len(u)}: original {short(o, 300)} / ours {short(u, 300)}")
            for i, (a, b) in enumerate(zip(o, u)):
                diff_value(a, b, f"{path}[{i}]", d, depth + 1)
    else:
        if o != u:
            d.add("VALUE", path, f"original {short(o, 200)} / ours {short(u, 200)}")


def diff_related_values(o, u, path, d):
    def labels(lst):
        out = []
        for x in lst:
            if isinstance(x, dict):
                out.append(str(x.get("value", x)))
            elif isinstance(x, list) and len(x) == 2:
                out.append(str(x[1]))
            else:
                out.append(str(x))
        return out
    lo, lu = labels(o), labels(u)
    shapes_o = sorted({jtype(x) if not isinstance(x, dict) else "object" + str(sorted(x)) for x in o})
    shapes_u = sorted({jtype(x) if not isinstance(x, dict) else "object" + str(sorted(x)) for x in u})
    if o and u and shapes_o != shapes_u:
        d.add("TYPE", path, f"item shapes original {shapes_o} / ours {shapes_u}")
    miss = [x for x in lo if x not in lu]
    extra = [x for x in lu if x not in lo]
    if miss or extra:
        d.add("DATA", path, f"labels only in original {short(miss, 200)}; only in ours {short(extra, 200)} (depends on the rows of each database)")


def diff_shape(o, u, path, d, top=False):
    """Shape comparison (data bodies)."""
    to, tu = jtype(o), jtype(u)
    if to != tu and not (to.startswith("str") and tu.startswith("str") and "empty" in (to + tu)):
        if not (to == "null" or tu == "null") or True:
            d.add("TYPE", path, f"original {to} {short(o, 80)} / ours {tu} {short(u, 80)}")
        if base_type(to) != base_type(tu):
            return
    if isinstance(o, dict) and isinstance(u, dict):
        for k in o:
            if k not in u:
                d.add("MISSING", f"{path}.{k}", f"original has {jtype(o[k])} {short(o[k], 100)}")
        for k in u:
            if k not in o:
                d.add("EXTRA", f"{path}.{k}", f"ours has {jtype(u[k])} {short(u[k], 100)}")
        for k in o:
            if k in u:
                p = f"{path}.{k}"
                if top and k in ("status", "message"):
                    if o[k] != u[k]:
                        d.add("VALUE", p, f"original {short(o[k])} / ours {short(u[k])}")
                    continue
                if isinstance(o[k], list) and isinstance(u[k], list) and (
                        any(isinstance(x, dict) for x in o[k] + u[k])):
                    diff_rows(o[k], u[k], p, d)
                else:
                    diff_shape(o[k], u[k], p, d)
    elif isinstance(o, list) and isinstance(u, list):
        if any(isinstance(x, dict) for x in o + u):
            diff_rows(o, u, path, d)
        else:
            ts_o = sorted({jtype(x) for x in o})
            ts_u = sorted({jtype(x) for x in u})
            if o and u and ts_o != ts_u:
                d.add("TYPE", path + "[]", f"item types original {ts_o} / ours {ts_u}")


def diff_rows(o, u, path, d):
    """Lists of objects: union of keys; set of types per key; nested objects recursed on the first pair."""
    ko, ku = collections.OrderedDict(), collections.OrderedDict()
    for rows, keys in ((o, ko), (u, ku)):
        for r in rows:
            if isinstance(r, dict):
                for k, v in r.items():
                    keys.setdefault(k, set()).add(jtype(v))
    if not o or not u:
        if o != u:
            d.add("INFO", path, f"rows original {len(o)} / ours {len(u)} (cannot compare row keys)" +
                  (f"; original row keys {list(ko)}" if o else "") + (f"; ours row keys {list(ku)}" if u else ""))
        return
    for k in ko:
        if k not in ku:
            d.add("MISSING", f"{path}[].{k}", f"original rows have {sorted(ko[k])}")
    for k in ku:
        if k not in ko:
            d.add("EXTRA", f"{path}[].{k}", f"ours rows have {sorted(ku[k])}")
    for k in ko:
        if k in ku:
            a = {t for t in ko[k] if t != "null"}
            b = {t for t in ku[k] if t != "null"}
            if a and b and not (a & b):
                d.add("TYPE", f"{path}[].{k}", f"original {sorted(ko[k])} / ours {sorted(ku[k])}")
            elif ("null" in ko[k]) != ("null" in ku[k]) and not (a and b and a == b):
                d.add("TYPE", f"{path}[].{k}", f"original {sorted(ko[k])} / ours {sorted(ku[k])} (nullability)")
            # recurse into nested objects / lists of the first rows having them
            ov = next((r[k] for r in o if isinstance(r, dict) and isinstance(r.get(k), (dict, list)) and r.get(k)), None)
            uv = next((r[k] for r in u if isinstance(r, dict) and isinstance(r.get(k), (dict, list)) and r.get(k)), None)
            if ov is not None and uv is not None and base_type(jtype(ov)) == base_type(jtype(uv)):
                diff_shape(ov, uv, f"{path}[].{k}", d)


def ctype(h):
    v = h.get("Content-Type") or h.get("content-type") or ""
    return v if isinstance(v, str) else v[0]


def hget(h, name):
    for k, v in h.items():
        if k.lower() == name.lower():
            return v
    return None


def cookie_names(h):
    v = hget(h, "Set-Cookie")
    if v is None:
        return []
    if isinstance(v, str):
        v = [v]
    return sorted({c.split("=", 1)[0].strip() for c in v})


CONTRACT = re.compile(r"(_info_|menu|navbar|feature_check|current_userinfo)")


def compare(fo, fu):
    d = Diff()
    ro, ru = fo["response"], fu["response"]
    if ro["status"] != ru["status"]:
        d.add("STATUS", "", f"original {ro['status']} / ours {ru['status']}")
    co, cu = ctype(ro["headers"]), ctype(ru["headers"])
    if co.replace(" ", "").lower() != cu.replace(" ", "").lower():
        d.add("HEADER", "Content-Type", f"original {co!r} / ours {cu!r}")
    for h in ("Content-Disposition", "api_flashes", "Location"):
        vo, vu = hget(ro["headers"], h), hget(ru["headers"], h)
        if (vo is None) != (vu is None) or (h != "api_flashes" and vo != vu):
            d.add("HEADER", h, f"original {vo!r} / ours {vu!r}")
        elif h == "api_flashes" and vo != vu:
            try:
                same = json.loads(vo) == json.loads(vu)
            except Exception:
                same = False
            if same:
                d.add("HEADER", h, "same JSON value, different spacing: original `, ` separators / ours compact")
            else:
                d.add("HEADER", h, f"original {vo!r} / ours {vu!r}")
    cno, cnu = cookie_names(ro["headers"]), cookie_names(ru["headers"])
    if cno != cnu:
        d.add("HEADER", "Set-Cookie", f"cookies original {cno} / ours {cnu}")
    if ro["body_type"] != ru["body_type"]:
        d.add("TYPE", "body", f"original {ro['body_type']} / ours {ru['body_type']}")
        return d
    if ro["body_type"] != "json":
        if ro["body"] != ru["body"]:
            d.add("VALUE", "body", f"original {short(ro['body'], 300)} / ours {short(ru['body'], 300)}")
        return d
    if CONTRACT.search(fo["name"]):
        diff_value(ro["body"], ru["body"], "$", d)
    else:
        diff_shape(ro["body"], ru["body"], "$", d, top=True)
    # password hashes / registry passwords the original leaks in bodies: ours leaving them
    # out is intended (see README.md), so they get their own kind
    d.items = [("INTENDED", p, "password not exposed by ours (upstream leak): " + t)
               if k == "MISSING" and p.endswith(".password") and ".columns_info." not in p
               else (k, p, t) for k, p, t in d.items]
    return d


def main():
    odir, udir = sys.argv[1], sys.argv[2]
    names = sorted(f for f in os.listdir(odir) if f.endswith(".json") and re.match(r"^\d\d_", f))
    results = []
    for f in names:
        fo = json.load(open(os.path.join(odir, f)))
        p = os.path.join(udir, f)
        if not os.path.exists(p):
            results.append((f, fo, None, None))
            continue
        fu = json.load(open(p))
        results.append((f, fo, fu, compare(fo, fu)))
    only_ours = sorted(f for f in os.listdir(udir) if f.endswith(".json") and f not in names)

    # differences repeated in many exchanges (headers) are reported once
    rep = collections.Counter()
    for _, _, _, d in results:
        if d:
            for it in set(d.items):
                if it[0] == "HEADER":
                    rep[it] += 1
    systematic = {it for it, n in rep.items() if n >= 10}
    sys_ids = {it: f"S{i+1}" for i, it in enumerate(sorted(systematic, key=lambda x: (-rep[x], x)))}
    kinds = collections.Counter()
    for _, _, _, d in results:
        if d:
            for k, _, _ in d.items:
                kinds[k] += 1
    out = []
    w = out.append
    w("# Original vs ours: recorded exchanges compared\n")
    w("Generated by `install/compare/compare.py` (see README.md in this folder for how the two sides were "
      "recorded). Original = the Python back end at cube-studio commit b7ed2f08; ours = `dashboard` of this branch. "
      "\"MISSING\" = present in the original, absent in ours; \"EXTRA\" = present in ours only. "
      "`_info`/menu/navbar/feature/userinfo bodies are compared by value, other bodies by shape "
      "(keys and JSON types; row values are data). Paths: `$` is the body root, `[]` any row, "
      "`[name=x]` the field object named x. A hand-written digest of the main classes is in README.md "
      "(section \"Comparison digest\").\n")
    w(f"Exchanges: {len(results)}; identical: {sum(1 for r in results if r[3] is not None and not r[3].items)}; "
      f"with differences: {sum(1 for r in results if r[3] is not None and r[3].items)}; "
      f"not recorded on ours: {sum(1 for r in results if r[3] is None)}.\n")
    w("Differences by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()) + "\n")
    if systematic:
        w("## Systematic differences\n")
        w("Reported here once, left out of the details below (the Summary table still counts them).\n")
        for it, sid in sorted(sys_ids.items(), key=lambda x: int(x[1][1:])):
            w(f"- **{sid}** {it[0]} `{it[1]}`: {it[2]} — in {rep[it]} exchanges")
        w("")
    w("## Classes of difference\n")
    w("Counts of (kind, path) with the field/column names and row indexes generalised to `*`, "
      "over all exchanges, largest first.\n")
    cls = collections.Counter()
    for _, _, _, d in results:
        if d:
            for k, pth, _ in d.items:
                g = re.sub(r"\[name=[^\]]*\]", "[name=*]", pth)
                g = re.sub(r"\[type=[^\]]*\]", "[type=*]", g)
                g = re.sub(r"\[\d+\]", "[*]", g)
                g = re.sub(r"\.(label_columns|description_columns|cols_width|columns_info|filters|related|action|"
                           r"user_permissions)\.[^.\[]+", r".\1.*", g)
                cls[(k, g)] += 1
    w("| count | kind | path |")
    w("|---|---|---|")
    for (k, g), n in cls.most_common():
        if n < 2:
            break
        w(f"| {n} | {k} | `{g}` |")
    w("")
    w("## Summary\n")
    w("| fixture | request | user | original | ours | diffs |")
    w("|---|---|---|---|---|---|")
    for f, fo, fu, d in results:
        req = fo["request"]
        q = req.get("query", {}).get("form_data", "")
        rq = f"{req['method']} {req['path']}" + (f" `{q}`" if q and q != '{"page": 0, "page_size": 20}' else "")
        if fu is None:
            w(f"| {f[:-5]} | {rq} | {fo.get('user')} | {fo['response']['status']} | — | not recorded on ours "
              "(a show of the first listed row: ours listed no row, or the view answered an error) |")
        else:
            c = collections.Counter(k for k, _, _ in d.items)
            w(f"| {f[:-5]} | {rq} | {fo.get('user')} | {fo['response']['status']} | {fu['response']['status']} | "
              + (", ".join(f"{k} {v}" for k, v in c.most_common()) or "none") + " |")
    if only_ours:
        w("\nRecorded on ours only: " + ", ".join(only_ours) + "\n")
    w("\n## Details\n")
    for f, fo, fu, d in results:
        if fu is None or not d.items:
            continue
        req = fo["request"]
        w(f"### {f[:-5]}\n")
        w(f"`{req['method']} {req['path']}`" + (f" `form_data={req['query'].get('form_data')}`" if req.get("query") else "")
          + (f" body `{short(req['body'], 300)}`" if req.get("body") is not None else "") + f" as `{fo.get('user')}`\n")
        if fo["response"]["status"] != fu["response"]["status"] or fo["response"]["status"] >= 400:
            w(f"- original body: `{short(fo['response']['body'], 400)}`")
            w(f"- ours body: `{short(fu['response']['body'], 400)}`")
        sys_here = [sys_ids[it] for it in d.items if it in sys_ids]
        if sys_here:
            w(f"- systematic: {', '.join(sorted(set(sys_here)))}")
        for k, p, t in d.items:
            if (k, p, t) in sys_ids:
                continue
            t = t.replace("|", "\\|").replace("\n", "\\n")
            w(f"- **{k}** `{p}`: {t}")
        w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()

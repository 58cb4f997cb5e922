//! `/openapi.json` (OpenAPI 3.1), generated from the routes as [`crate::routing::Routes`]
//! registered them and from the view declarations (their columns and JSON types), and
//! `/docs`, a page that renders it with no external network.

use serde_json::{Map, Value, json};

use crate::engine::meta::SqlKind;
use crate::engine::resolve::{ColumnRef, Resolved};
use crate::routing::{Answer, RouteDoc};
use crate::state::AppState;

/// Names and texts shared with the route declarations.
pub mod schemas {
    use crate::engine::view::ModelView;

    /// The `form_data` query parameter of lists.
    pub const FORM_DATA: &str = "JSON: {\"filters\": [{\"col\", \"opr\", \"value\"}], \"page\" (from 0), \"page_size\", \"order_column\", \"order_direction\" (asc|desc), \"columns\", \"str_related\"}";

    /// The component name of a view's row schema (`/users/api` → `users_api_row`).
    pub fn row_name(view: &ModelView) -> String {
        let base: String = view
            .route_base()
            .trim_matches('/')
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("{base}_row")
    }
}

/// An actix path pattern as an OpenAPI path and its path parameters:
/// `/users/api/{pk:\d+}` → `/users/api/{pk}`, `pk` an integer.
fn openapi_path(pattern: &str) -> (String, Vec<Value>) {
    let mut path = String::new();
    let mut params = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // the closing brace of this segment (a regex may hold braces of its own)
        let mut depth = 1usize;
        let mut end = after.len();
        for (i, c) in after.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let inner = &after[..end];
        let (name, regex) = inner.split_once(':').unwrap_or((inner, ""));
        path.push('{');
        path.push_str(name);
        path.push('}');
        let schema = if regex == "\\d+" {
            json!({"type": "integer"})
        } else {
            json!({"type": "string"})
        };
        params.push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
        rest = after.get(end + 1..).unwrap_or("");
    }
    path.push_str(rest);
    (path, params)
}

fn json_type(kind: SqlKind) -> Value {
    match kind {
        SqlKind::Int | SqlKind::BigInt => json!(["integer", "null"]),
        SqlKind::Float => json!(["number", "null"]),
        SqlKind::Bool => json!(["boolean", "null"]),
        SqlKind::String | SqlKind::Text | SqlKind::Enum | SqlKind::DateTime | SqlKind::Date => {
            json!(["string", "null"])
        }
    }
}

/// The row schema of every view: its list and show columns with their JSON types.
fn row_schemas(state: &AppState) -> Map<String, Value> {
    let mut out = Map::new();
    for view in &state.views {
        let Ok(rv) = Resolved::new(view, &state.schema, &state.models) else {
            continue;
        };
        let mut props = Map::new();
        props.insert("id".into(), json!({"type": "integer"}));
        for name in rv.list_columns().into_iter().chain(rv.show_columns()) {
            let schema = match rv.resolve(&name) {
                ColumnRef::Column(c) => json!({"type": json_type(c.kind)}),
                ColumnRef::Relation(r) if r.is_many() => {
                    json!({"type": "array", "description": "related rows"})
                }
                ColumnRef::Relation(_) => json!({"description": "the related row"}),
                ColumnRef::Property | ColumnRef::Unknown => {
                    json!({"description": "computed by the view"})
                }
            };
            let mut schema = schema;
            if let Value::Object(m) = &mut schema {
                m.insert("title".into(), json!(rv.label(&name)));
            }
            props.insert(name, schema);
        }
        out.insert(
            schemas::row_name(view),
            json!({"type": "object", "description": format!("A row of {} (table {})", view.route_base(), view.table), "properties": props}),
        );
    }
    out
}

fn response(answer: &Answer) -> Value {
    let error = json!({"description": "An error: the envelope with status 1 and a message", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let ok = match answer {
        Answer::Envelope(result) => {
            json!({"description": "The envelope", "content": {"application/json": {"schema": {
                "allOf": [{"$ref": "#/components/schemas/Envelope"}, {"type": "object", "properties": {"result": result}}]
            }}}})
        }
        Answer::Json(schema) => {
            json!({"description": "JSON", "content": {"application/json": {"schema": schema}}})
        }
        Answer::Other(what) => json!({"description": what}),
    };
    json!({"200": ok, "default": error})
}

/// The OpenAPI 3.1 document of `docs`, the routes as registered.
pub fn document(state: &AppState, docs: &[RouteDoc]) -> Value {
    let mut paths = Map::new();
    let mut ids = std::collections::BTreeSet::new();
    for d in docs {
        let (path, path_params) = openapi_path(&d.path);
        let methods: Vec<&str> = if d.method == "*" {
            vec!["get", "post", "put", "patch", "delete"]
        } else {
            vec![d.method]
        };
        let item = paths
            .entry(path.clone())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let mut item = item;
        for method in methods {
            let method = method.to_lowercase();
            if item.contains_key(&method) {
                // an earlier route of the same path and method answers first
                continue;
            }
            let mut op_id: String = format!("{method}{}", d.path)
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            while !ids.insert(op_id.clone()) {
                op_id.push('_');
            }
            let mut parameters = path_params.clone();
            for (name, description) in &d.query {
                parameters.push(json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}}));
            }
            let mut op = json!({
                "summary": d.summary,
                "operationId": op_id,
                "tags": [d.tag],
                "parameters": parameters,
                "responses": response(&d.answer),
            });
            if d.public {
                op["security"] = json!([]);
            }
            if let Some(body) = &d.body {
                op["requestBody"] =
                    json!({"content": {"application/json": {"schema": body}}, "required": true});
            }
            item.insert(method, op);
        }
        paths.insert(path, Value::Object(item));
    }
    let mut components = row_schemas(state);
    components.insert(
        "Envelope".into(),
        json!({"type": "object", "required": ["status", "message", "result"], "properties": {
            "status": {"type": "integer", "description": "0: success"},
            "message": {"type": "string"},
            "result": {}
        }}),
    );
    components.insert(
        "Error".into(),
        json!({"type": "object", "required": ["status", "message"], "properties": {
            "status": {"type": "integer", "const": 1},
            "message": {"type": "string", "description": "what went wrong, in words"},
            "result": {}
        }}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "cube-studio dashboard",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The REST API of the cube-studio control plane (a drop-in back end for cube-studio's React front end). Generated from the routes as the dashboard registers them and from its view declarations."
        },
        "servers": [{"url": "/"}],
        "security": [{"userToken": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "userToken": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`<username>|<token>`, `<token>` or `Bearer <token>`: the user's token from the user centre (GET /userinfo/api/current/userinfo, field secret)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session", "description": "set by POST /login/"}
            },
            "schemas": components
        },
        "paths": paths
    })
}

/// `/docs`: renders `/openapi.json` in the browser, with nothing loaded from elsewhere.
pub const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cube-studio dashboard API</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#1f2328}
header{background:#1672fa;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
input{width:100%;padding:8px;font-size:14px;margin:8px 0 16px;box-sizing:border-box}
h2{font-size:16px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:28px}
details{border:1px solid #d0d7de;border-radius:6px;margin:6px 0}
summary{cursor:pointer;padding:6px 10px;font-family:ui-monospace,monospace;font-size:13px}
.m{display:inline-block;width:64px;font-weight:bold}.get{color:#1a7f37}.post{color:#0969da}
.put{color:#9a6700}.delete{color:#cf222e}.patch{color:#8250df}.s{font-family:system-ui;color:#57606a;margin-left:8px}
.pub{font-family:system-ui;font-size:11px;background:#ddf4ff;border-radius:8px;padding:1px 6px;margin-left:6px}
pre{background:#f6f8fa;padding:8px;margin:0 10px 10px;overflow:auto;font-size:12px}
</style></head><body>
<header><h1>cube-studio dashboard — REST API</h1><div id="info"></div></header>
<main><input id="q" placeholder="filter: path, method or words" autofocus><div id="out">loading /openapi.json …</div></main>
<script>
const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
fetch('/openapi.json').then(r => r.json()).then(doc => {
  document.getElementById('info').textContent = doc.info.description + ' OpenAPI ' + doc.openapi + ', version ' + doc.info.version + '.';
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) ops.push({path, method, op});
  const render = q => {
    const groups = {};
    for (const o of ops) {
      const text = (o.method + ' ' + o.path + ' ' + (o.op.summary || '')).toLowerCase();
      if (q && !q.toLowerCase().split(/\s+/).every(w => text.includes(w))) continue;
      (groups[o.op.tags[0]] = groups[o.op.tags[0]] || []).push(o);
    }
    let html = '';
    for (const [tag, list] of Object.entries(groups)) {
      html += '<h2>' + esc(tag) + '</h2>';
      for (const o of list) {
        const detail = {parameters: o.op.parameters, requestBody: o.op.requestBody, responses: o.op.responses};
        html += '<details><summary><span class="m ' + o.method + '">' + o.method.toUpperCase() + '</span>' + esc(o.path)
          + '<span class="s">' + esc(o.op.summary || '') + '</span>'
          + (o.op.security && o.op.security.length === 0 ? '<span class="pub">no login</span>' : '')
          + '</summary><pre>' + esc(JSON.stringify(detail, null, 2)) + '</pre></details>';
      }
    }
    document.getElementById('out').innerHTML = html || 'no route matches';
  };
  render('');
  document.getElementById('q').addEventListener('input', e => render(e.target.value));
}).catch(e => { document.getElementById('out').textContent = 'cannot load /openapi.json: ' + e; });
</script></body></html>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actix_patterns_become_openapi_paths() {
        let (p, params) = openapi_path("/users/api/{pk:\\d+}");
        assert_eq!(p, "/users/api/{pk}");
        assert_eq!(params[0]["schema"]["type"], "integer");
        let (p, params) = openapi_path("/frontend/{path:.*}");
        assert_eq!(p, "/frontend/{path}");
        assert_eq!(params[0]["schema"]["type"], "string");
        let (p, params) = openapi_path("/a/{x:[0-9]{2}}/b/{y}/c");
        assert_eq!(p, "/a/{x}/b/{y}/c");
        assert_eq!(params.len(), 2);
        assert_eq!(openapi_path("/plain/").0, "/plain/");
    }
}

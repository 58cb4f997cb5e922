//! The small HTML pages of the `/k8s` routes: live log, shell, pod, search. Plain HTML
//! with a little inline script; no framework and nothing fetched from elsewhere. Every
//! value from the cluster is escaped.

use chrono::Utc;
use k8s_openapi::api::core::v1::Service;
use serde_json::Value;

use super::k8s::PodAt;
use crate::auth::Ctx;
use crate::reply::html_escape as esc;
use app_core::k8s::pod_summary::PodSummary;

const STYLE: &str = "body{font-family:-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#fff;color:#222}\
header{padding:8px 14px;background:#1672fa;color:#fff;font-size:14px;display:flex;gap:16px;align-items:center}\
header a{color:#fff}\
.warn{padding:6px 14px;background:#fff7e6;border-bottom:1px solid #ffd591;font-size:13px}\
pre{margin:0;padding:10px 14px;font:12px/1.45 Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all}\
#term{background:#111;color:#ddd;min-height:calc(100vh - 40px);outline:none}\
table{border-collapse:collapse;margin:10px 14px;font-size:13px}\
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f5f5f5}\
h3{margin:14px 14px 0;font-size:15px}\
.chip{display:inline-block;background:#eef;border-radius:8px;padding:0 6px;margin:1px}\
.err{color:#c00}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

fn pod_path(at: &PodAt) -> String {
    format!(
        "{}/{}/{}",
        urlencoding::encode(&at.cluster),
        urlencoding::encode(&at.namespace),
        urlencoding::encode(&at.name)
    )
}

/// A string as a JavaScript literal inside a `<script>` element.
fn js(s: &str) -> String {
    serde_json::to_string(s)
        .unwrap_or_else(|_| "\"\"".into())
        .replace("</", "<\\/")
}

/// The live log: the last lines, then each line as the container writes it.
pub fn log_page(at: &PodAt, container: &str, status: &str) -> String {
    let base = pod_path(at);
    let c = urlencoding::encode(container);
    let body = format!(
        "<header><b>{pod}</b><span>{container}</span>\
         <a href=\"/k8s/download/log/{base}\">下载日志</a>\
         <a href=\"/k8s/web/debug/{base}/{c}\">在线调试</a>\
         <span id=\"state\">连接中…</span></header>\
         <div class=\"warn\">{status}</div>\
         <pre id=\"log\"></pre>\
         <script>\
         const log=document.getElementById('log'),state=document.getElementById('state');\
         const es=new EventSource({src});\
         es.onopen=()=>state.textContent='实时';\
         es.onmessage=e=>{{const atEnd=window.innerHeight+window.scrollY>=document.body.offsetHeight-40;\
           log.append(e.data+'\\n');if(atEnd)window.scrollTo(0,document.body.scrollHeight);}};\
         es.addEventListener('end',e=>{{state.textContent='容器已结束';es.close();}});\
         es.addEventListener('failure',e=>{{state.textContent='失败: '+e.data;es.close();}});\
         es.onerror=()=>{{if(es.readyState===2)state.textContent='已断开';}};\
         </script>",
        pod = esc(&at.name),
        container = esc(container),
        status = esc(status),
        src = js(&format!("/k8s/stream/log/{base}/{c}")),
    );
    page(&format!("log {}", at.name), &body)
}

/// The shell: a terminal over the `stream/exec` websocket. Keys go as typed (Enter as
/// `\r`, arrows and the like as their escape sequences); output is shown with colour and
/// cursor sequences removed. A socket refused before it ever opened (a debug pod still
/// starting: 409) is tried again every second for 30 s.
pub fn shell_page(at: &PodAt, container: &str, warning: Option<&str>) -> String {
    let base = pod_path(at);
    let c = urlencoding::encode(container);
    let warn = warning
        .map(|w| format!("<div class=\"warn\">{}</div>", esc(w)))
        .unwrap_or_default();
    let body = format!(
        "<header><b>{pod}</b><span>{container}</span>\
         <a href=\"/k8s/web/log/{base}/{c}\">日志</a><span id=\"state\">连接中…</span></header>{warn}\
         <pre id=\"term\" tabindex=\"0\"></pre>\
         <script>\
         const term=document.getElementById('term'),state=document.getElementById('state');\
         const proto=location.protocol==='https:'?'wss:':'ws:';\
         const dec=new TextDecoder();\
         const strip=s=>s.replace(/\\x1b\\[[0-?]*[ -\\/]*[@-~]/g,'').replace(/\\x1b[@-Z\\\\-_]/g,'');\
         function put(s){{for(const ch of strip(s)){{if(ch==='\\b'||ch==='\\x7f'){{term.textContent=term.textContent.slice(0,-1);}}\
           else if(ch!=='\\r'&&ch!=='\\x07'){{term.textContent+=ch;}}}}window.scrollTo(0,document.body.scrollHeight);}}\
         let ws=null,opened=false,tries=0;\
         const send=o=>{{if(ws&&ws.readyState===1)ws.send(JSON.stringify(o));}};\
         function size(){{const w=8,h=17;send({{op:'resize',cols:Math.max(20,Math.floor(term.clientWidth/w)),rows:Math.max(5,Math.floor(window.innerHeight/h))}});}}\
         function connect(){{ws=new WebSocket(proto+'//'+location.host+{src});ws.binaryType='arraybuffer';\
           ws.onopen=()=>{{opened=true;state.textContent='已连接';size();term.focus();}};\
           ws.onmessage=e=>put(typeof e.data==='string'?e.data:dec.decode(e.data,{{stream:true}}));\
           ws.onclose=e=>{{if(!opened&&tries<30){{tries+=1;state.textContent='等待容器启动…';setTimeout(connect,1000);return;}}\
             state.textContent='已断开'+(e.reason?'（'+e.reason+'）':'');}};}}\
         window.addEventListener('resize',size);\
         const keys={{Enter:'\\r',Backspace:'\\x7f',Tab:'\\t',Escape:'\\x1b',ArrowUp:'\\x1b[A',ArrowDown:'\\x1b[B',ArrowRight:'\\x1b[C',ArrowLeft:'\\x1b[D',Home:'\\x1b[H',End:'\\x1b[F',Delete:'\\x1b[3~'}};\
         term.addEventListener('keydown',e=>{{let d=null;\
           if(e.ctrlKey&&e.key.length===1){{const k=e.key.toUpperCase().charCodeAt(0);if(k>=64&&k<96)d=String.fromCharCode(k-64);}}\
           else if(keys[e.key])d=keys[e.key];else if(e.key.length===1&&!e.metaKey)d=e.key;\
           if(d!==null){{e.preventDefault();send({{op:'stdin',data:d}});}}}});\
         term.addEventListener('paste',e=>{{e.preventDefault();send({{op:'stdin',data:e.clipboardData.getData('text')}});}});\
         connect();\
         </script>",
        pod = esc(&at.name),
        container = esc(container),
        src = js(&format!("/k8s/stream/exec/{base}/{c}")),
    );
    page(&format!("shell {}", at.name), &body)
}

fn cell(v: impl AsRef<str>) -> String {
    format!("<td>{}</td>", esc(v.as_ref()))
}

/// How long ago, as the original's `humanize.naturaltime` says it.
pub fn ago(t: Option<chrono::DateTime<Utc>>) -> String {
    let Some(t) = t else { return String::new() };
    let s = (Utc::now() - t).num_seconds().max(0);
    match s {
        0..=9 => "now".into(),
        10..=59 => format!("{s} seconds ago"),
        60..=119 => "a minute ago".into(),
        120..=3599 => format!("{} minutes ago", s / 60),
        3600..=7199 => "an hour ago".into(),
        7200..=86_399 => format!("{} hours ago", s / 3600),
        86_400..=172_799 => "a day ago".into(),
        _ => format!("{} days ago", s / 86_400),
    }
}

/// A pod's page: what it is, why it does not run, its events and its object.
pub fn pod_page(at: &PodAt, events: &[Value], ctx: &Ctx) -> String {
    let s = &at.summary;
    let base = pod_path(at);
    let container = s.default_container().unwrap_or("");
    let rows = [
        ("cluster", at.cluster.clone()),
        ("namespace", at.namespace.clone()),
        ("status", format!("{} ({})", s.status, s.pod_substatus)),
        ("user", s.username.clone()),
        ("node", format!("{} {}", s.node_name, s.host_ip)),
        ("pod ip", s.pod_ip.clone()),
        ("images", s.images.join(", ")),
        ("containers", s.containers.join(", ")),
        ("restarts", s.restart_count.to_string()),
        ("created", ago(s.start_time)),
        ("message", s.message.join("; ")),
    ];
    let table: String = rows
        .iter()
        .map(|(k, v)| format!("<tr><th>{k}</th>{}</tr>", cell(v)))
        .collect();
    let ev: String = events
        .iter()
        .map(|e| {
            let f = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            format!(
                "<tr>{}{}{}{}</tr>",
                cell(f("time")),
                cell(f("type")),
                cell(f("reason")),
                cell(f("message"))
            )
        })
        .collect();
    let mut object = serde_json::to_value(&at.pod).unwrap_or(Value::Null);
    if let Some(m) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    let text = serde_json::to_string_pretty(&object).unwrap_or_default();
    let delete = if ctx.is_admin || s.username == ctx.username {
        format!(
            "<a href=\"/k8s/web/delete/pod/{base}\" onclick=\"return confirm('delete?')\">删除</a>"
        )
    } else {
        String::new()
    };
    let c = urlencoding::encode(container);
    let body = format!(
        "<header><b>{pod}</b><a href=\"/k8s/web/log/{base}/{c}\">日志</a>\
         <a href=\"/k8s/web/debug/{base}/{c}\">进入</a>{delete}</header>\
         <table>{table}</table><h3>Events</h3>\
         <table><tr><th>time</th><th>type</th><th>reason</th><th>message</th></tr>{ev}</table>\
         <h3>Pod</h3><pre>{text}</pre>",
        pod = esc(&at.name),
        text = esc(&text),
    );
    page(&format!("pod {}", at.name), &body)
}

/// Where a search page looks.
pub struct SearchPlace<'a> {
    pub cluster: &'a str,
    pub namespace: &'a str,
    pub search: &'a str,
    pub grafana_task_path: &'a str,
}

fn status_dot(substatus: &str) -> &'static str {
    match substatus {
        "Running" => "#33c43c",
        "Error" | "Failed" | "CrashLoopBackOff" => "#d81e06",
        "Succeeded" | "Completed" => "#155a1a",
        "Terminating" => "#757575",
        _ => "#f3b146",
    }
}

/// The original's `pods.html`: the pods (status, name, images, node, status, restarts,
/// age, links to log / shell / monitoring / delete) and services of a search.
pub fn search_page(
    place: &SearchPlace<'_>,
    pods: &[PodSummary],
    services: &[Service],
    is_admin: bool,
) -> String {
    let (c, ns) = (
        urlencoding::encode(place.cluster),
        urlencoding::encode(place.namespace),
    );
    let pod_rows: String = pods
        .iter()
        .map(|p| {
            let name = urlencoding::encode(&p.name);
            let container = urlencoding::encode(p.default_container().unwrap_or(""));
            let name_cell = if is_admin {
                format!("<td><a href=\"/k8s/web/pod/{c}/{ns}/{name}\">{}</a></td>", esc(&p.name))
            } else {
                cell(&p.name)
            };
            let images: String = p
                .images
                .iter()
                .map(|i| format!("<div class=\"chip\">{}</div>", esc(i)))
                .collect::<Vec<_>>()
                .join("<br>");
            let errors = if p.message.is_empty() {
                String::new()
            } else {
                format!(
                    "<tr><td></td><td colspan=\"7\" class=\"err\">{}</td></tr>",
                    esc(&p.message.join("; "))
                )
            };
            format!(
                "<tr><td><span style=\"color:{dot}\">●</span></td>{name_cell}<td>{images}</td>{node}{status}{restarts}{age}\
                 <td><a href=\"/k8s/web/log/{c}/{ns}/{name}/{container}\">日志</a> | \
                 <a href=\"/k8s/web/debug/{c}/{ns}/{name}/{container}\">进入</a> | \
                 <a href=\"{grafana}{name}\">监控</a> | \
                 <a href=\"/k8s/web/delete/pod/{c}/{ns}/{name}\">删除</a></td></tr>{errors}",
                dot = status_dot(&p.pod_substatus),
                node = cell(&p.host_ip),
                status = cell(&p.pod_substatus),
                restarts = cell(p.restart_count.to_string()),
                age = cell(ago(p.start_time)),
                grafana = esc(place.grafana_task_path),
            )
        })
        .collect();
    let svc_rows: String = services
        .iter()
        .map(|s| {
            let name = s.metadata.name.clone().unwrap_or_default();
            let spec = s.spec.as_ref();
            let ports: Vec<i32> = spec
                .and_then(|x| x.ports.as_ref())
                .map(|p| p.iter().map(|p| p.port).collect())
                .unwrap_or_default();
            let internal: Vec<String> = ports
                .iter()
                .map(|p| format!("{name}.{}:{p}", place.namespace))
                .collect();
            let external: Vec<String> = spec
                .and_then(|x| x.external_ips.as_ref())
                .and_then(|ips| ips.first())
                .map(|ip| {
                    ports
                        .iter()
                        .map(|p| {
                            let a = esc(&format!("{ip}:{p}"));
                            format!("<a href=\"http://{a}\">{a}</a>")
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "<tr><td><span style=\"color:#33c43c\">●</span></td>{}{}<td>{}</td><td>{}</td>{}</tr>",
                cell(&name),
                cell(spec.and_then(|x| x.cluster_ip.clone()).unwrap_or_default()),
                internal.iter().map(|i| esc(i)).collect::<Vec<_>>().join("<br>"),
                external.join("<br>"),
                cell(ago(s.metadata.creation_timestamp.as_ref().and_then(app_core::k8s::pod_summary::k8s_time))),
            )
        })
        .collect();
    let body = format!(
        "<header><b>{search}</b><span>{cluster} / {namespace}</span></header>\
         <h3>Pods</h3><table><tr><th></th><th>Name</th><th>Images</th><th>Node</th><th>Status</th>\
         <th>Restarts</th><th>Created</th><th>Ops</th></tr>{pod_rows}</table>\
         <h3>Services</h3><table><tr><th></th><th>Name</th><th>Cluster ip</th>\
         <th>Internal Endpoints</th><th>External Endpoints</th><th>Created</th></tr>{svc_rows}</table>",
        search = esc(place.search),
        cluster = esc(place.cluster),
        namespace = esc(place.namespace),
    );
    page(&format!("search {}", place.search), &body)
}

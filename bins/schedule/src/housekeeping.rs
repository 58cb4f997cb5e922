//! The housekeeping of orchestration.md §3.3–3.4, against every configured cluster:
//! old workflows and training jobs, debug pods and test services, expired notebooks,
//! pods stuck terminating, GPU and utilisation reports, and the automatic correction
//! of the resources scheduled tasks ask for.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use app_core::database::with_conn;
use app_core::k8s::ops::{
    self, DEPLOYMENT, INFERENCE_SERVICE_OBJECTS, Kind, TRAINING_KINDS, WORKFLOW,
};
use app_core::resource_status::{is_training_final, training_status};
use app_core::usage::Prometheus;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use crate::context::Ctx;

type Outcome = Result<String, String>;

use app_core::k8s::load::k8s_time;

fn rfc3339(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// The phase and finish time of a workflow or training job of API group `group`
/// (`get_crd_status`): the phase as the watcher reads it
/// (`resource_status::training_status`); the finish time is `finishedAt`, else
/// `completionTime`, else for a final phase (`is_training_final`) the
/// `state.lastTransitionTime` of Volcano jobs.
pub fn crd_status(group: &str, obj: &Value) -> (String, Option<DateTime<Utc>>) {
    let phase = training_status(group, obj);
    let status = &obj["status"];
    let finished = rfc3339(status.get("finishedAt"))
        .or_else(|| rfc3339(status.get("completionTime")))
        .or_else(|| {
            if is_training_final(&phase) {
                rfc3339(status["state"].get("lastTransitionTime"))
            } else {
                None
            }
        });
    (phase, finished)
}

async fn clients(ctx: &Ctx) -> Vec<(String, kube::Client)> {
    let mut out = Vec::new();
    for name in ctx.clusters.names() {
        match ctx.clusters.client(&name).await {
            Ok(c) => out.push((name, c)),
            Err(e) => tracing::warn!(cluster = %name, error = %e, "cluster unreachable: skipped"),
        }
    }
    out
}

/// The newest `workflow` row whose labels name a run id.
#[derive(Debug, Clone)]
struct RunRow {
    id: i32,
    name: Option<String>,
    namespace: Option<String>,
    status: Option<String>,
}

/// Run ids looked up by one scan of `workflow`.
const RUN_IDS_PER_QUERY: usize = 100;

/// The status of the DB workflow of each run id, read once for a whole pass: the newest
/// row whose labels match `%"run-id": "<id>"%`, as one query per object did before, but
/// with one scan of `workflow` for up to [`RUN_IDS_PER_QUERY`] run ids.
#[derive(Debug, Default)]
struct RunStatuses(HashMap<String, RunRow>);

impl RunStatuses {
    async fn load(ctx: &Ctx, run_ids: BTreeSet<String>) -> RunStatuses {
        let run_ids: Vec<String> = run_ids.into_iter().collect();
        let mut out = HashMap::new();
        for chunk in run_ids.chunks(RUN_IDS_PER_QUERY) {
            let ids = chunk.to_vec();
            match with_conn(&ctx.pool, move |conn| Ok(newest_rows(conn, &ids)?)).await {
                Ok(rows) => out.extend(rows),
                // unknown, as a failed lookup always was
                Err(e) => tracing::warn!(error = %e, "cannot read the workflow rows of runs"),
            }
        }
        RunStatuses(out)
    }

    /// Status of the DB workflow of a run id, if recorded.
    fn status(&self, run_id: &str) -> Option<&str> {
        self.0.get(run_id)?.status.as_deref()
    }

    /// The rows of workflow `name` in `namespace` were marked `Deleted`.
    fn mark_deleted(&mut self, name: &str, namespace: &str) {
        for row in self.0.values_mut() {
            if row.name.as_deref() == Some(name) && row.namespace.as_deref() == Some(namespace) {
                row.status = Some("Deleted".into());
            }
        }
    }
}

/// The newest `workflow` row of each of `run_ids` (by the same `LIKE` as ever), in one
/// scan: every row says which of the patterns it matches.
fn newest_rows(
    conn: &mut MysqlConnection,
    run_ids: &[String],
) -> QueryResult<HashMap<String, RunRow>> {
    #[derive(diesel::QueryableByName)]
    struct Matched {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: i32,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        name: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        namespace: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        status: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Text)]
        matched: String,
    }
    if run_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let flags: Vec<String> = (0..run_ids.len())
        .map(|i| format!("IF(labels LIKE ?, '{i}', NULL)"))
        .collect();
    let sql = format!(
        "SELECT id, name, namespace, status, CONCAT_WS(',', {}) AS matched FROM workflow HAVING matched <> ''",
        flags.join(", ")
    );
    let mut query = diesel::sql_query(sql).into_boxed::<diesel::mysql::Mysql>();
    for run_id in run_ids {
        query = query
            .bind::<diesel::sql_types::Text, _>(app_models::queries::run_id_label_pattern(run_id));
    }
    let rows: Vec<Matched> = query.load(conn)?;
    let mut out: HashMap<String, RunRow> = HashMap::new();
    for r in rows {
        for i in r.matched.split(',').filter_map(|i| i.parse::<usize>().ok()) {
            let Some(run_id) = run_ids.get(i) else {
                continue;
            };
            if out.get(run_id).is_some_and(|newest| newest.id > r.id) {
                continue;
            }
            out.insert(
                run_id.clone(),
                RunRow {
                    id: r.id,
                    name: r.name.clone(),
                    namespace: r.namespace.clone(),
                    status: r.status.clone(),
                },
            );
        }
    }
    Ok(out)
}

/// Marks the rows of a deleted workflow `Deleted`; true when the update ran.
async fn mark_deleted(ctx: &Ctx, wf_name: &str, wf_ns: &str) -> bool {
    let (n, ns) = (wf_name.to_string(), wf_ns.to_string());
    let now = app_core::time_string_now(ctx.config.schedule.time_zone);
    with_conn(&ctx.pool, move |conn| {
        use app_models::schema::workflow::dsl::*;
        Ok(
            diesel::update(workflow.filter(name.eq(n)).filter(namespace.eq(ns)))
                .set((status.eq("Deleted"), change_time.eq(now)))
                .execute(conn)?,
        )
    })
    .await
    .is_ok()
}

/// The objects of one kind in one cluster that `delete_workflow` looks at.
struct Listed {
    cluster: String,
    client: kube::Client,
    kind: &'static Kind,
    objects: Vec<DynamicObject>,
}

/// Lists, cluster by cluster, the workflows, the training jobs and the deployments with
/// a run id; on a failure, what was listed before it and the error.
async fn list_for_deletion(ctx: &Ctx) -> (Vec<Listed>, Option<String>) {
    let mut listed = Vec::new();
    for (cluster, client) in clients(ctx).await {
        let kinds = std::iter::once(&WORKFLOW)
            .chain(TRAINING_KINDS)
            .map(|k| (k, ""))
            .chain(std::iter::once((&DEPLOYMENT, "run-id")));
        for (kind, selector) in kinds {
            match ops::list_objects(&client, kind, None, selector).await {
                Ok(objects) => listed.push(Listed {
                    cluster: cluster.clone(),
                    client: client.clone(),
                    kind,
                    objects,
                }),
                Err(e) => return (listed, Some(format!("{cluster}: {e}"))),
            }
        }
    }
    (listed, None)
}

/// Deletes an object `delete_workflow` found by listing all namespaces: `Ok(false)` when
/// the cluster forbids it (403: a namespace the scheduler has no Role in, see
/// install/kubernetes), logged and skipped so that one such object does not end every pass.
async fn delete_listed(
    client: &kube::Client,
    kind: &Kind,
    namespace: &str,
    name: &str,
) -> Result<bool, ops::OpsError> {
    match ops::delete_object(client, kind, namespace, name).await {
        Ok(()) => Ok(true),
        Err(ops::OpsError::Kube(kube::Error::Api(s))) if s.code == 403 => {
            tracing::warn!(kind = kind.plural, %namespace, %name, reason = %s.message, "not allowed to delete: skipped");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// `delete_workflow`: deletes finished workflows and training jobs older than the TTL and
/// those whose workflow was stopped; alerts on ones running too long. Everything is
/// listed first, so the DB status of every run id is read together; the objects are then
/// handled in the order they were listed (a listing that failed ends the pass there).
pub async fn delete_workflow(ctx: &Ctx, _: NaiveDateTime) -> Outcome {
    let ttl = chrono::Duration::hours(ctx.config.schedule.finished_ttl_hours);
    let alert_after = chrono::Duration::hours(ctx.config.schedule.running_alert_hours);
    let now = Utc::now();
    let (listed, list_error) = list_for_deletion(ctx).await;
    let run_ids: BTreeSet<String> = listed
        .iter()
        .flat_map(|l| &l.objects)
        .filter_map(|o| o.metadata.labels.as_ref()?.get("run-id").cloned())
        .collect();
    let mut runs = RunStatuses::load(ctx, run_ids).await;
    let (mut deleted, mut alerted) = (0, 0);
    for Listed {
        cluster,
        client,
        kind,
        objects,
    } in &listed
    {
        if **kind == DEPLOYMENT {
            // deployments a finished run started
            for d in objects {
                let (Some(name), Some(ns)) =
                    (d.metadata.name.clone(), d.metadata.namespace.clone())
                else {
                    continue;
                };
                let Some(run) = d
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("run-id"))
                    .cloned()
                else {
                    continue;
                };
                if matches!(runs.status(&run), Some("Succeeded" | "Deleted" | "Failed"))
                    && delete_listed(client, &DEPLOYMENT, &ns, &name)
                        .await
                        .map_err(|e| format!("{cluster}: {e}"))?
                {
                    deleted += 1;
                }
            }
            continue;
        }
        for obj in objects {
            let (Some(name), Some(ns)) =
                (obj.metadata.name.clone(), obj.metadata.namespace.clone())
            else {
                continue;
            };
            let labels = obj.metadata.labels.clone().unwrap_or_default();
            let (phase, finished) = crd_status(kind.group, &obj.data);
            let created = obj.metadata.creation_timestamp.as_ref().and_then(k8s_time);
            let stopped = match labels.get("run-id") {
                Some(run) => runs.status(run) == Some("Deleted"),
                None => false,
            };
            let expired = finished
                .map(|f| now.signed_duration_since(f) > ttl)
                .unwrap_or(false);
            if stopped || expired {
                if !delete_listed(client, kind, &ns, &name)
                    .await
                    .map_err(|e| format!("{cluster}: {e}"))?
                {
                    continue;
                }
                deleted += 1;
                if **kind == WORKFLOW && mark_deleted(ctx, &name, &ns).await {
                    runs.mark_deleted(&name, &ns);
                }
            } else if **kind == WORKFLOW
                && phase == "Running"
                && created
                    .map(|c| now.signed_duration_since(c) > alert_after)
                    .unwrap_or(false)
            {
                let user = [
                    "run-rtx",
                    "pipeline-rtx",
                    "run-username",
                    "pipeline-username",
                ]
                .iter()
                .find_map(|k| labels.get(*k))
                .cloned()
                .unwrap_or_default();
                let mut to = vec![user.clone()];
                to.extend(ctx.config.admin_users.clone());
                let message = format!(
                    "{user} workflows {name} {} 创建时间 {}， 已经运行时间过久，注意修正",
                    labels.get("pipeline-id").cloned().unwrap_or_default(),
                    created.map(|c| c.to_rfc3339()).unwrap_or_default()
                );
                ctx.notify_once(
                    &format!("running-too-long:{cluster}:{ns}:{name}"),
                    24 * 3600,
                    to,
                    message,
                    "schedule",
                )
                .await;
                alerted += 1;
            }
        }
    }
    if let Some(e) = list_error {
        return Err(e);
    }
    Ok(format!("deleted {deleted}, alerted {alerted}"))
}

/// `delete_debug_docker`: nightly removal of debug/run pods, debug and test inference
/// services, and image-build pods.
pub async fn delete_debug_docker(ctx: &Ctx, _: NaiveDateTime) -> Outcome {
    let (mut pods, mut services) = (0, 0);
    for (cluster, client) in clients(ctx).await {
        let api: Api<Pod> = Api::namespaced(client.clone(), &ctx.config.pipeline_namespace);
        for p in api
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("{cluster}: {e}"))?
            .items
        {
            let name = p.metadata.name.clone().unwrap_or_default();
            if name.starts_with("debug-") || name.starts_with("run-") {
                if let Some(run) = p.metadata.labels.as_ref().and_then(|l| l.get("run-id")) {
                    ops::delete_run(&client, &ctx.config.pipeline_namespace, run)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                ops::delete_pod(&client, &ctx.config.pipeline_namespace, &name)
                    .await
                    .map_err(|e| e.to_string())?;
                pods += 1;
            }
        }
        let nb: Api<Pod> = Api::namespaced(client.clone(), &ctx.config.notebook_namespace);
        for p in nb
            .list(&ListParams::default().labels("pod-type=docker"))
            .await
            .map_err(|e| format!("{cluster}: {e}"))?
            .items
        {
            if let Some(name) = p.metadata.name {
                ops::delete_pod(&client, &ctx.config.notebook_namespace, &name)
                    .await
                    .map_err(|e| e.to_string())?;
                pods += 1;
            }
        }
        // inference services in debug / test: their objects go, the rows go offline
        let rows: Vec<String> = with_conn(&ctx.pool, |conn| {
            #[derive(diesel::QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::Text)]
                name: String,
            }
            let r: Vec<N> = diesel::sql_query("SELECT name FROM inferenceservice WHERE model_status IN ('debug', 'test') AND name IS NOT NULL").load(conn)?;
            Ok(r.into_iter().map(|n| n.name).collect())
        })
        .await
        .map_err(|e| e.to_string())?;
        let ns = ctx.config.service_namespace.clone();
        for svc in &rows {
            for name in [svc.clone(), format!("debug-{svc}"), format!("test-{svc}")] {
                for kind in INFERENCE_SERVICE_OBJECTS {
                    ops::delete_object(&client, kind, &ns, &name)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            services += 1;
        }
        let offline = with_conn(&ctx.pool, |conn| Ok(diesel::sql_query("UPDATE inferenceservice SET model_status = 'offline' WHERE model_status IN ('debug', 'test')").execute(conn)?)).await;
        if let Err(e) = offline {
            tracing::warn!(error = %e, "cannot mark debug/test services offline");
            ctx.failed_write("inferenceservice_offline");
        }
    }
    let summary = format!("debug pods deleted {pods}, debug/test services cleaned {services}");
    ctx.notify_admins(
        format!("{} {summary}", Utc::now().format("%Y-%m-%d")),
        "schedule",
    )
    .await;
    Ok(summary)
}

/// `delete_notebook`: stops notebooks untouched for `NOTEBOOK_EXPIRY_DAYS` (a reminder a
/// day before).
pub async fn delete_notebook(ctx: &Ctx, now: NaiveDateTime) -> Outcome {
    let days = ctx.config.schedule.notebook_expiry_days;
    if days <= 0 {
        return Ok("notebook expiry off".into());
    }
    #[derive(diesel::QueryableByName)]
    struct Nb {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: i32,
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        namespace: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        username: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Datetime>)]
        changed_on: Option<NaiveDateTime>,
    }
    let rows: Vec<Nb> = with_conn(&ctx.pool, |conn| {
        Ok(diesel::sql_query(
            "SELECT n.id, COALESCE(n.name, '') AS name, COALESCE(n.namespace, 'jupyter') AS namespace, COALESCE(u.username, '') AS username, n.changed_on \
             FROM notebook n LEFT JOIN ab_user u ON u.id = n.created_by_fk",
        )
        .load(conn)?)
    })
    .await
    .map_err(|e| e.to_string())?;
    let (mut stopped, mut reminded) = (0, 0);
    let clients = clients(ctx).await;
    for nb in rows {
        let Some(changed) = nb.changed_on else {
            continue;
        };
        let age = now - changed;
        if age > chrono::Duration::days(days) {
            for (_, client) in &clients {
                ops::delete_pod(client, &nb.namespace, &nb.name)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let id = nb.id;
            if let Err(e) = with_conn(&ctx.pool, move |conn| Ok(diesel::sql_query("UPDATE notebook SET expand = JSON_SET(IF(JSON_VALID(expand), expand, '{}'), '$.status', 'offline') WHERE id = ?").bind::<diesel::sql_types::Integer, _>(id).execute(conn)?)).await {
                // the pod is gone; the row says online until the next pass marks it
                tracing::warn!(notebook = id, error = %e, "cannot mark the stopped notebook offline");
                ctx.failed_write("notebook_offline");
            }
            ctx.notify_once(
                &format!(
                    "notebook-stopped:{}:{}",
                    nb.id,
                    changed.and_utc().timestamp()
                ),
                7 * 24 * 3600,
                vec![nb.username.clone()],
                format!("notebook {} 已过期，已停止", nb.name),
                "schedule",
            )
            .await;
            stopped += 1;
        } else if age > chrono::Duration::days(days) - chrono::Duration::days(1) {
            ctx.notify_once(
                &format!(
                    "notebook-reminder:{}:{}",
                    nb.id,
                    changed.and_utc().timestamp()
                ),
                2 * 24 * 3600,
                vec![nb.username.clone()],
                format!("notebook {} 将在一天内过期，请续期", nb.name),
                "schedule",
            )
            .await;
            reminded += 1;
        }
    }
    Ok(format!("stopped {stopped}, reminded {reminded}"))
}

/// `check_pod_terminating`: pods stuck terminating for more than 5 minutes.
pub async fn check_pod_terminating(ctx: &Ctx, _: NaiveDateTime) -> Outcome {
    let mut stuck = 0;
    for (cluster, client) in clients(ctx).await {
        let api: Api<Pod> = Api::all(client);
        for p in api
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("{cluster}: {e}"))?
            .items
        {
            let Some(since) = p.metadata.deletion_timestamp.as_ref().and_then(k8s_time) else {
                continue;
            };
            if Utc::now().signed_duration_since(since) > chrono::Duration::minutes(5) {
                let (ns, name) = (
                    p.metadata.namespace.unwrap_or_default(),
                    p.metadata.name.unwrap_or_default(),
                );
                let host = p.status.and_then(|s| s.host_ip).unwrap_or_default();
                ctx.notify_once(
                    &format!("terminating:{cluster}:{ns}:{name}"),
                    3600,
                    ctx.config.admin_users.clone(),
                    format!("集群{cluster},{host} {name} kill失败， 可先选择强制删除 /k8s/delete/pod/{cluster}/{ns}/{name}"),
                    "schedule",
                )
                .await;
                stuck += 1;
            }
        }
    }
    Ok(format!("stuck terminating {stuck}"))
}

fn gpu_of(pod: &Pod) -> f64 {
    let mut total = 0.0;
    for c in pod
        .spec
        .as_ref()
        .map(|s| s.containers.clone())
        .unwrap_or_default()
    {
        let res = c.resources.unwrap_or_default();
        let from = res.limits.or(res.requests).unwrap_or_default();
        for (k, v) in from {
            if k.contains("gpu") {
                total += v.0.parse::<f64>().unwrap_or(0.0);
            }
        }
    }
    total
}

/// `watch_gpu`: GPUs held by running pods per cluster, to the admins.
pub async fn watch_gpu(ctx: &Ctx, _: NaiveDateTime) -> Outcome {
    let mut lines = Vec::new();
    for (cluster, client) in clients(ctx).await {
        let mut used = 0.0;
        for ns in [
            &ctx.config.pipeline_namespace,
            &ctx.config.automl_namespace,
            &ctx.config.notebook_namespace,
            &ctx.config.service_namespace,
        ] {
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            for p in api
                .list(&ListParams::default().fields("status.phase=Running"))
                .await
                .map_err(|e| format!("{cluster}: {e}"))?
                .items
            {
                let g = gpu_of(&p);
                if g > 0.0 {
                    let labels = p.metadata.labels.clone().unwrap_or_default();
                    let user = ["run-rtx", "user", "rtx-user", "run-username", "username"]
                        .iter()
                        .find_map(|k| labels.get(*k))
                        .cloned()
                        .unwrap_or_default();
                    lines.push(format!(
                        "{ns},{user},{},{g}",
                        p.metadata.name.clone().unwrap_or_default()
                    ));
                    used += g;
                }
            }
        }
        lines.push(format!("{cluster}集群共已使用{used}张卡"));
    }
    let report = lines.join("\n");
    ctx.notify_admins(report.clone(), "schedule").await;
    Ok(report)
}

/// `watch_pod_utilization`: needs Prometheus (`PROMETHEUS_URL`); without it, skipped.
pub async fn watch_pod_utilization(ctx: &Ctx, _: NaiveDateTime) -> Outcome {
    let Some(prom) = ctx.config.prometheus_url.as_deref() else {
        return Ok("PROMETHEUS_URL not set: skipped".into());
    };
    let q = format!(
        "max_over_time(sum by (pod) (rate(container_cpu_usage_seconds_total{{namespace=\"{}\"}}[5m]))[1d:5m])",
        ctx.config.service_namespace
    );
    let resp = Prometheus::new(prom)
        .query(&q, None)
        .await
        .map_err(|e| e.to_string())?;
    let n = resp["data"]["result"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    Ok(format!("{n} pods measured"))
}

/// `check_pipeline_run`: durations of today's workflows per pipeline, logged.
pub async fn check_pipeline_run(ctx: &Ctx, now: NaiveDateTime) -> Outcome {
    let today = now.format("%Y-%m-%d").to_string();
    #[derive(diesel::QueryableByName)]
    struct W {
        #[diesel(sql_type = diesel::sql_types::Text)]
        foreign_key: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        status_more: String,
    }
    let rows: Vec<W> = with_conn(&ctx.pool, move |conn| {
        Ok(diesel::sql_query("SELECT COALESCE(foreign_key, '') AS foreign_key, COALESCE(status_more, '{}') AS status_more FROM workflow WHERE status IN ('Running', 'Succeeded') AND create_time >= ?")
            .bind::<diesel::sql_types::Text, _>(today)
            .load(conn)?)
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut per: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for w in rows {
        let s: Value = serde_json::from_str(&w.status_more).unwrap_or(Value::Null);
        let parse = |k: &str| s[k].as_str().and_then(app_models::time::parse_time);
        if let (Some(a), Some(b)) = (parse("startedAt"), parse("finishedAt")) {
            per.entry(w.foreign_key)
                .or_default()
                .push((b - a).num_seconds());
        }
    }
    for (p, d) in &per {
        tracing::info!(pipeline = %p, durations_secs = ?d, "pipeline run times today");
    }
    Ok(format!("{} pipelines ran today", per.len()))
}

/// The original's correction formula: `ceil(max*1.4)+2`, capped (cpu 150, memory 350 G).
pub fn recommend(max_cpu: f64, max_mem_gb: f64) -> (i64, i64) {
    let cpu = ((max_cpu * 1.4).ceil() as i64 + 2).min(150);
    let mem = ((max_mem_gb * 1.4).ceil() as i64 + 2).min(350);
    (cpu, mem)
}

/// `adjust_task_resources` (the seed's "intelligent correction"): from the usage the
/// watcher recorded in `task.monitoring`, rewrite the CPU and memory of scheduled tasks
/// (templates can opt out with `NO_RESOURCE_CHECK` in their env).
pub async fn adjust_task_resources(ctx: &Ctx, _: NaiveDateTime) -> Outcome {
    #[derive(diesel::QueryableByName, Clone)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: i32,
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        monitoring: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        cpu: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        memory: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        env: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        describe: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        receivers: String,
    }
    let tasks: Vec<T> = with_conn(&ctx.pool, |conn| {
        Ok(diesel::sql_query(
            "SELECT t.id, t.name, COALESCE(t.monitoring, '{}') AS monitoring, COALESCE(t.resource_cpu, '') AS cpu, COALESCE(t.resource_memory, '') AS memory, \
             COALESCE(j.env, '') AS env, p.`describe` AS `describe`, CONCAT(COALESCE(u.username, ''), ',', COALESCE(p.alert_user, '')) AS receivers \
             FROM task t JOIN pipeline p ON p.id = t.pipeline_id LEFT JOIN job_template j ON j.id = t.job_template_id LEFT JOIN ab_user u ON u.id = p.created_by_fk \
             WHERE p.schedule_type = 'crontab' AND t.monitoring LIKE '%\"task\"%'",
        )
        .load(conn)?)
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut changed = 0;
    for t in tasks {
        if t.env
            .to_uppercase()
            .replace('-', "_")
            .contains("NO_RESOURCE_CHECK")
        {
            continue;
        }
        let m: Value = serde_json::from_str(&t.monitoring).unwrap_or(Value::Null);
        let samples = m["task"].as_array().cloned().unwrap_or_default();
        if samples.len() < 10 {
            continue;
        }
        let max = |k: &str| {
            samples
                .iter()
                .filter_map(|s| {
                    s[k].as_f64()
                        .or_else(|| s[k].as_str().and_then(|v| v.parse().ok()))
                })
                .fold(0.0f64, f64::max)
        };
        let (rec_cpu, rec_mem) = recommend(max("cpu"), max("memory"));
        let (Ok(cur_cpu), Ok(cur_mem)) = (
            t.cpu.trim().parse::<i64>(),
            t.memory.trim().trim_end_matches(['G', 'M']).parse::<i64>(),
        ) else {
            tracing::info!(task = t.id, cpu = %t.cpu, memory = %t.memory, "resources are not plain numbers: not corrected");
            continue;
        };
        if rec_cpu == cur_cpu && rec_mem == cur_mem {
            continue;
        }
        let id = t.id;
        with_conn(&ctx.pool, move |conn| {
            Ok(diesel::sql_query(
                "UPDATE task SET resource_cpu = ?, resource_memory = ? WHERE id = ?",
            )
            .bind::<diesel::sql_types::Text, _>(rec_cpu.to_string())
            .bind::<diesel::sql_types::Text, _>(format!("{rec_mem}G"))
            .bind::<diesel::sql_types::Integer, _>(id)
            .execute(conn)?)
        })
        .await
        .map_err(|e| e.to_string())?;
        changed += 1;
        let to: Vec<String> = t
            .receivers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        ctx.notify(to, format!("pipeline({})根据近10次的任务训练资源使用情况，系统做如下调整: {} cpu {cur_cpu} -> {rec_cpu}, memory {cur_mem}G -> {rec_mem}G", t.describe, t.name), "schedule").await;
    }
    Ok(format!("corrected {changed} tasks"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_correction_formula() {
        assert_eq!(recommend(3.0, 10.0), (7, 16));
        assert_eq!(recommend(0.2, 0.5), (3, 3));
        assert_eq!(recommend(500.0, 900.0), (150, 350));
    }

    #[test]
    fn a_workflow_marked_deleted_in_a_pass_reads_deleted() {
        let row = |id, name: &str, status: &str| RunRow {
            id,
            name: Some(name.into()),
            namespace: Some("pipeline".into()),
            status: Some(status.into()),
        };
        let mut runs = RunStatuses(HashMap::from([
            ("r1".to_string(), row(3, "w1", "Error")),
            ("r2".to_string(), row(4, "w2", "Running")),
        ]));
        runs.mark_deleted("w1", "other");
        assert_eq!(runs.status("r1"), Some("Error"));
        runs.mark_deleted("w1", "pipeline");
        assert_eq!(runs.status("r1"), Some("Deleted"));
        assert_eq!(runs.status("r2"), Some("Running"));
        assert_eq!(runs.status("r3"), None);
    }

    #[test]
    fn reads_crd_status() {
        let wf = serde_json::json!({"status": {"phase": "Succeeded", "finishedAt": "2026-11-30T03:00:00Z"}});
        let (p, f) = crd_status("argoproj.io", &wf);
        assert_eq!(p, "Succeeded");
        assert!(f.is_some());
        let vc = serde_json::json!({"status": {"state": {"phase": "Completed", "lastTransitionTime": "2026-11-30T03:00:00Z"}}});
        assert_eq!(crd_status("batch.volcano.sh", &vc).0, "Completed");
        assert!(crd_status("batch.volcano.sh", &vc).1.is_some());
        let tf = serde_json::json!({"status": {"conditions": [{"type": "Created"}, {"type": "Running"}]}});
        assert_eq!(
            crd_status("kubeflow.org", &tf),
            ("Running".to_string(), None)
        );
    }
}

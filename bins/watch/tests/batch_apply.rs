//! A batch of events applied in one go (`apply_workflows`, a few statements for the
//! whole batch) leaves exactly the rows that applying them one by one
//! (`apply_workflow`, one transaction each) leaves, and reports the same old status and
//! rule for each event: random sequences of statuses over several workflows, on rows
//! that exist or not (`Deleted` ones too), with and without run rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use app_core::workflow_status::WorkflowSnapshot;
use app_core::workflow_store::{apply_workflow, apply_workflows};
use app_models::forms::{Audit, NewPipeline, NewProject, NewUser};
use app_models::queries::last_insert_id;
use app_models::schema::{ab_user, pipeline, project};
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use serde_json::json;
use testkit::TestDb;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
const NOW: &str = "2026-12-07 18:00:00";
const STATUSES: [&str; 6] = ["Pending", "Running", "Succeeded", "Failed", "Error", ""];

/// A small deterministic generator (no dependency for one test).
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn seed(conn: &mut MysqlConnection) -> i32 {
    diesel::insert_into(ab_user::table)
        .values(NewUser::new(
            "alice",
            "a@example.com",
            "x".into(),
            Audit::new(None),
        ))
        .execute(conn)
        .unwrap();
    let audit = Audit::new(Some(last_insert_id(conn).unwrap()));
    diesel::insert_into(project::table)
        .values(NewProject::new("public", "p", "org", "{}", audit))
        .execute(conn)
        .unwrap();
    let project_id = last_insert_id(conn).unwrap();
    diesel::insert_into(pipeline::table)
        .values(NewPipeline::new("pipe", "a pipeline", project_id, audit))
        .execute(conn)
        .unwrap();
    last_insert_id(conn).unwrap()
}

fn snapshot(name: &str, pid: i32, status: &str, step: usize) -> WorkflowSnapshot {
    let phase = if status.is_empty() {
        json!(null)
    } else {
        json!(status)
    };
    let obj = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": name, "namespace": "pipeline",
                     "creationTimestamp": "2026-12-07T09:00:00Z",
                     "labels": {"pipeline-id": pid.to_string(), "run-id": format!("run-{name}"),
                                "pipeline-username": "alice"}},
        "spec": {"entrypoint": "main"},
        "status": {"phase": phase, "startedAt": "2026-12-07T09:00:01Z",
                   "nodes": {format!("{name}-{step}"): {"id": format!("{name}-{step}"), "name": format!("{name}-{step}"),
                       "displayName": format!("t{step}"), "type": "Pod", "templateName": format!("t{step}"),
                       "phase": phase, "startedAt": "2026-12-07T09:00:02Z"}}}
    });
    WorkflowSnapshot::from_object(&obj, TZ).unwrap()
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Row {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    info_json: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    change_time: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    status_more: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    labels: Option<String>,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct RunRow {
    #[diesel(sql_type = Nullable<Text>)]
    run_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pipeline_argo_id: Option<String>,
}

fn rows(conn: &mut MysqlConnection) -> (Vec<Row>, Vec<RunRow>) {
    let w = diesel::sql_query(
        "SELECT name, status, info_json, CAST(change_time AS CHAR) AS change_time, status_more, labels \
         FROM workflow ORDER BY name",
    )
    .load(conn)
    .unwrap();
    let r = diesel::sql_query("SELECT run_id, status, pipeline_argo_id FROM run ORDER BY run_id")
        .load(conn)
        .unwrap();
    (w, r)
}

/// The same starting rows in a database: some workflows already there (Deleted among
/// them), some runs.
fn start(conn: &mut MysqlConnection, pid: i32, case: &[(String, Option<&str>, Option<&str>)]) {
    diesel::sql_query("DELETE FROM workflow")
        .execute(conn)
        .unwrap();
    diesel::sql_query("DELETE FROM run").execute(conn).unwrap();
    for (name, wf_status, run_status) in case {
        if let Some(s) = wf_status {
            diesel::sql_query(format!(
                "INSERT INTO workflow (name, namespace, status, info_json, change_time, create_time, foreign_key) \
                 VALUES ('{name}', 'pipeline', '{s}', '{{\"old\": 1}}', '2026-12-01 00:00:00', '2026-12-01 00:00:00', '{pid}')"
            ))
            .execute(conn)
            .unwrap();
        }
        if let Some(s) = run_status {
            let argo = if s == &"Pending" { "NULL" } else { "'earlier'" };
            diesel::sql_query(format!(
                "INSERT INTO run (pipeline_id, run_id, status, pipeline_argo_id, created_on, execution_date) \
                 VALUES ({pid}, 'run-{name}', '{s}', {argo}, NOW(), '{name}')"
            ))
            .execute(conn)
            .unwrap();
        }
    }
}

#[test]
fn a_batch_leaves_the_rows_one_by_one_leaves() {
    let (one, batch) = (TestDb::new(), TestDb::new());
    let (mut c1, mut c2) = (one.conn(), batch.conn());
    let pid = seed(&mut c1);
    assert_eq!(seed(&mut c2), pid);
    let mut rng = Rng(7);
    let before = ["Pending", "Running", "Succeeded", "Failed", "Deleted"];
    for round in 0..120 {
        let workflows = 1 + rng.next(3);
        let case: Vec<(String, Option<&str>, Option<&str>)> = (0..workflows)
            .map(|w| {
                let wf = (rng.next(3) > 0).then(|| before[rng.next(before.len())]);
                let run = (rng.next(2) > 0)
                    .then(|| ["Pending", "Running", "Succeeded", "Deleted"][rng.next(4)]);
                (format!("wf-{round}-{w}"), wf, run)
            })
            .collect();
        let events: Vec<Arc<WorkflowSnapshot>> = (0..1 + rng.next(8))
            .map(|step| {
                let w = rng.next(workflows);
                Arc::new(snapshot(
                    &case[w].0,
                    pid,
                    STATUSES[rng.next(STATUSES.len())],
                    step,
                ))
            })
            .collect();
        start(&mut c1, pid, &case);
        start(&mut c2, pid, &case);
        let sequential: Vec<_> = events
            .iter()
            .map(|e| apply_workflow(&mut c1, "dev", e, TZ, NOW).unwrap())
            .collect();
        let batched = apply_workflows(&mut c2, "dev", &events, TZ, NOW).unwrap();
        let statuses: Vec<&str> = events.iter().map(|e| e.status.as_str()).collect();
        assert_eq!(
            rows(&mut c1),
            rows(&mut c2),
            "round {round}: {case:?} then {statuses:?}"
        );
        let what = |a: &Option<app_core::workflow_store::Applied>| {
            a.as_ref().map(|a| (a.old_status.clone(), a.change))
        };
        assert_eq!(
            sequential.iter().map(what).collect::<Vec<_>>(),
            batched.iter().map(what).collect::<Vec<_>>(),
            "round {round}"
        );
    }
}

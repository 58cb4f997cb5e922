//! Sample compiler inputs: the worked example of orchestration.md §1.8 and a
//! synthetic pipeline of N chained tasks. Used by the tests and the benchmark.

use app_models::rows::{Image, JobTemplate, Pipeline, Project, Task};
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::json;

use super::input::{CompileConfig, CompileInput, TaskInput};

/// 2026-11-30 03:38:11, the clock of the samples.
pub fn sample_now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 30)
        .and_then(|d| d.and_hms_opt(3, 38, 11))
        .unwrap_or_default()
}

/// A pipeline row with the defaults of the add form.
pub fn pipeline_row(id: i32, name: &str, describe: &str, dag_json: &str) -> Pipeline {
    Pipeline {
        created_on: None,
        changed_on: None,
        id,
        name: name.into(),
        describe: describe.into(),
        project_id: 1,
        dag_json: dag_json.into(),
        namespace: Some("pipeline".into()),
        global_env: None,
        schedule_type: "once".into(),
        cron_time: None,
        cronjob_start_time: None,
        pipeline_file: None,
        pipeline_argo_id: None,
        version_id: None,
        run_id: None,
        node_selector: None,
        image_pull_policy: "Always".into(),
        parallelism: 1,
        alert_status: None,
        alert_user: None,
        expand: Some("[]".into()),
        depends_on_past: Some(false),
        max_active_runs: 1,
        expired_limit: 1,
        parameter: Some("{}".into()),
        priority: None,
        type_: None,
        created_by_fk: Some(1),
        changed_by_fk: Some(1),
    }
}

/// The `public` org project (`{"cluster":"dev","org":"public"}`).
pub fn project_row() -> Project {
    Project {
        created_on: None,
        changed_on: None,
        id: 1,
        name: "public".into(),
        describe: "public org".into(),
        type_: Some("org".into()),
        expand: Some(r#"{"cluster": "dev", "org": "public"}"#.into()),
        created_by_fk: Some(1),
        changed_by_fk: Some(1),
    }
}

/// A job template row.
pub fn template_row(id: i32, name: &str, images_id: i32) -> JobTemplate {
    JobTemplate {
        created_on: None,
        changed_on: None,
        id,
        project_id: Some(2),
        name: name.into(),
        version: "Release".into(),
        images_id: Some(images_id),
        host_aliases: None,
        describe: format!("{name} template"),
        workdir: None,
        entrypoint: None,
        args: Some("{}".into()),
        env: None,
        volume_mount: None,
        privileged: Some(false),
        accounts: None,
        demo: None,
        expand: Some("{}".into()),
        created_by_fk: Some(1),
        changed_by_fk: Some(1),
    }
}

/// An image row.
pub fn image_row(id: i32, name: &str) -> Image {
    Image {
        created_on: None,
        changed_on: None,
        id,
        project_id: None,
        name: name.into(),
        describe: name.into(),
        repository_id: Some(1),
        entrypoint: None,
        dockerfile: None,
        gitpath: None,
        created_by_fk: Some(1),
        changed_by_fk: Some(1),
    }
}

/// A task row with the defaults of the add form (2G, 2 cpu, no GPU).
pub fn task_row(id: i32, name: &str, template_id: i32, args: serde_json::Value) -> Task {
    Task {
        created_on: None,
        changed_on: None,
        id,
        name: name.into(),
        label: format!("{name} label"),
        job_template_id: Some(template_id),
        pipeline_id: Some(12),
        namespace: Some("pipeline".into()),
        working_dir: None,
        command: None,
        overwrite_entrypoint: None,
        args: Some(args.to_string()),
        volume_mount: Some("kubeflow-user-workspace(pvc):/mnt".into()),
        node_selector: None,
        resource_memory: Some("2G".into()),
        resource_cpu: Some("2".into()),
        resource_gpu: Some("0".into()),
        resource_rdma: None,
        timeout: 0,
        retry: 0,
        outputs: None,
        monitoring: None,
        expand: None,
        skip: Some(false),
        created_by_fk: Some(1),
        changed_by_fk: Some(1),
    }
}

/// The `pytorch-train` template of the samples: `python train.py` in `/app`, with
/// env and a host alias.
pub fn train_template() -> JobTemplate {
    let mut t = template_row(2, "pytorch-train", 2);
    t.entrypoint = Some("python train.py".into());
    t.workdir = Some("/app".into());
    t.env = Some("NO_RESOURCE_CHECK=true\nPYTHONUNBUFFERED=1".into());
    t.host_aliases = Some("10.0.0.5 data.internal".into());
    t
}

/// An input for the `public` project, created by alice with the default config.
fn sample_input(pipeline: Pipeline, tasks: Vec<TaskInput>) -> CompileInput {
    CompileInput::new(
        pipeline,
        project_row(),
        tasks,
        "alice",
        CompileConfig::default(),
        sample_now(),
    )
}

/// The input of orchestration.md §1.8: `prepare` → `train` → `report` (skipped),
/// creator alice, runner bob, run id `8993373a…`, suffix `b920`.
pub fn worked_example() -> CompileInput {
    let mut pipeline = pipeline_row(
        12,
        "demo-pipeline",
        "Demo 任务流",
        r#"{"prepare":{"upstream":[]},"train":{"upstream":["prepare"]},"report":{"upstream":["train"]}}"#,
    );
    pipeline.parallelism = 2;
    pipeline.global_env =
        Some("DATE={{ datetime.datetime.now().strftime('%Y%m%d') }}\nMODE=prod".into());

    let custom = template_row(1, "自定义镜像", 1);
    let custom_image = image_row(1, "ubuntu:18.04");
    let train_image = image_row(2, "ccr.ccs.tencentyun.com/cube-studio/pytorch:2.1-train");

    let mut prepare = task_row(
        101,
        "prepare",
        1,
        json!({"images": "ubuntu:20.04", "workdir": "/mnt/alice", "command": "echo {{DATE}} && ls"}),
    );
    prepare.volume_mount =
        Some("kubeflow-user-workspace(pvc):/mnt,kubeflow-archives(pvc):/archives".into());
    let mut train = task_row(
        102,
        "train",
        2,
        json!({"--epochs": 10, "--use_amp": true, "--debug": false, "--lr": "",
               "--conf": {"a": 1}, "--date": "{{DATE}}"}),
    );
    train.resource_gpu = Some("1(V100)".into());
    train.resource_memory = Some("8G~16G".into());
    train.resource_cpu = Some("4~8".into());
    train.volume_mount = Some(
        "kubeflow-user-workspace(pvc):/mnt,/data/models(hostpath):/models,4G(memory):/dev/shm"
            .into(),
    );
    train.retry = 2;
    train.timeout = 3600;
    let mut report = task_row(103, "report", 1, json!({}));
    report.skip = Some(true);
    report.volume_mount = None;

    let hubsecret = Some("hubsecret".to_string());
    let tasks = vec![
        TaskInput::new(
            prepare,
            Some(custom.clone()),
            Some(custom_image.clone()),
            hubsecret.clone(),
        ),
        TaskInput::new(
            train,
            Some(train_template()),
            Some(train_image),
            hubsecret.clone(),
        ),
        TaskInput::new(report, Some(custom), Some(custom_image), hubsecret),
    ];
    sample_input(pipeline, tasks)
        .with_runner("bob")
        .with_run_id("8993373a6f0e4d2c9b1a5e7f3c2d1b0a")
        .with_name_suffix("b920")
}

/// A pipeline of `n` tasks where task `i` waits for tasks `i-1` and `i-2`,
/// alternating a training template with a custom-image one.
pub fn chain_pipeline(n: usize) -> CompileInput {
    let names: Vec<String> = (0..n).map(|i| format!("task-{i}")).collect();
    let mut dag = serde_json::Map::new();
    for (i, name) in names.iter().enumerate() {
        let upstream: Vec<&String> = names[i.saturating_sub(2)..i].iter().collect();
        dag.insert(name.clone(), json!({ "upstream": upstream }));
    }
    let dag_json = serde_json::Value::Object(dag).to_string();
    let mut pipeline = pipeline_row(7, "big-pipeline", "many tasks", &dag_json);
    pipeline.global_env = Some("DAY={{ datetime.datetime.now().strftime('%Y%m%d') }}".into());
    let custom = template_row(1, "自定义镜像", 1);
    let train = train_template();
    let mut tasks = Vec::with_capacity(n);
    for (i, name) in names.iter().enumerate() {
        let id = 1000 + i as i32;
        let input = if i % 2 == 0 {
            let args = json!({"--epochs": i, "--day": "{{DAY}}", "--conf": {"k": [1, 2]}});
            let mut t = task_row(id, name, 2, args);
            t.resource_gpu = Some("1(V100)".into());
            t.resource_memory = Some("8G~16G".into());
            t.volume_mount =
                Some("kubeflow-user-workspace(pvc):/mnt,/data/models(hostpath):/models".into());
            let image = image_row(2, "pytorch:2.1");
            TaskInput::new(t, Some(train.clone()), Some(image), Some("hub-a".into()))
        } else {
            let command = "echo {{DAY}} {{ uuid.uuid4().hex }}";
            let t = task_row(
                id,
                name,
                1,
                json!({"images": "ubuntu:22.04", "command": command}),
            );
            let image = image_row(1, "ubuntu:20.04");
            TaskInput::new(t, Some(custom.clone()), Some(image), Some("hub-b".into()))
        };
        tasks.push(input);
    }
    sample_input(pipeline, tasks)
        .with_run_id("0123456789abcdef0123456789abcdef")
        .with_name_suffix("abcd")
}

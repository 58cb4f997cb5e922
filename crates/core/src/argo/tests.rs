//! Snapshot and behaviour tests of the workflow compiler.

use serde_json::{Value, json};

use super::sample::{chain_pipeline, image_row, task_row, template_row, worked_example};
use super::*;

/// The typed workflow as a JSON value, for indexing in assertions.
fn compile_workflow(input: &CompileInput) -> Result<Value, CompileError> {
    super::compile_workflow(input).map(|wf| wf.to_value())
}

fn template<'a>(wf: &'a Value, name: &str) -> &'a Value {
    wf["spec"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no template {name}"))
}

fn env_value<'a>(tpl: &'a Value, name: &str) -> Option<&'a Value> {
    tpl["container"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .map(|e| &e["value"])
}

fn env_names(tpl: &Value) -> Vec<&str> {
    tpl["container"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect()
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn worked_example_snapshot() {
    let wf = super::compile_workflow(&worked_example()).unwrap();
    insta::assert_yaml_snapshot!(wf);
}

#[test]
fn worked_example_matches_upstream_where_upstream_is_right() {
    let wf = compile_workflow(&worked_example()).unwrap();
    assert_eq!(wf["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(wf["kind"], "Workflow");
    assert_eq!(wf["metadata"]["name"], "demo-pipeline-b920");
    assert_eq!(wf["metadata"]["namespace"], "pipeline");
    assert_eq!(
        wf["metadata"]["annotations"]["description"],
        "Demo \\u4efb\\u52a1\\u6d41"
    );
    let labels = &wf["metadata"]["labels"];
    assert_eq!(
        keys(labels),
        [
            "schedule_type",
            "run-username",
            "pipeline-username",
            "save-time",
            "pipeline-id",
            "pipeline-name",
            "app",
            "run-id",
            "cluster",
            "workflow-name"
        ]
    );
    assert_eq!(labels["schedule_type"], "once");
    assert_eq!(labels["run-username"], "bob");
    assert_eq!(labels["pipeline-username"], "alice");
    assert_eq!(labels["save-time"], "2026-11-30T03-38-11");
    assert_eq!(labels["pipeline-id"], "12");
    assert_eq!(labels["app"], "demo-pipeline");
    assert_eq!(labels["cluster"], "dev");
    assert_eq!(labels["workflow-name"], "demo-pipeline-b920");

    let spec = &wf["spec"];
    assert_eq!(spec["parallelism"], 2);
    assert_eq!(spec["serviceAccountName"], "pipeline-runner");
    assert_eq!(spec["imagePullSecrets"], json!([{"name": "hubsecret"}]));
    assert_eq!(spec["entrypoint"], "demo-pipeline");
    assert_eq!(spec["archiveLogs"], true);
    assert_eq!(spec["arguments"], json!({"parameters": []}));
    assert_eq!(
        spec["templates"][0]["dag"]["tasks"],
        json!([
            {"name": "prepare", "template": "prepare", "dependencies": []},
            {"name": "train", "template": "train", "dependencies": ["prepare"]},
            {"name": "report", "template": "report", "dependencies": ["train"], "when": "false"},
        ])
    );

    let prepare = template(&wf, "prepare");
    let c = &prepare["container"];
    assert_eq!(c["command"], json!(["bash", "-c", "echo 20261130 && ls"]));
    assert_eq!(c["args"], json!([]));
    assert_eq!(c["image"], "ubuntu:20.04");
    assert_eq!(c["workingDir"], "/mnt/alice");
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(
        c["resources"],
        json!({"limits": {"memory": "2G", "cpu": "2"}, "requests": {"memory": "2G", "cpu": "2"}})
    );
    let mounts: Vec<(&str, &str, Option<&str>)> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap(),
                m["mountPath"].as_str().unwrap(),
                m["subPath"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            ("kubeflow-user-workspace", "/mnt/alice", Some("alice")),
            ("kubeflow-archives", "/archives/alice", Some("alice")),
            ("tz-config", "/etc/localtime", None),
            ("dshm", "/dev/shm", None),
        ]
    );
    assert_eq!(env_value(prepare, "DATE"), Some(&json!("20261130")));
    assert_eq!(env_value(prepare, "MODE"), Some(&json!("prod")));
    assert_eq!(
        env_value(prepare, "NVIDIA_VISIBLE_DEVICES"),
        Some(&json!("none"))
    );
    assert_eq!(
        env_names(prepare),
        [
            "KFJ_PIPELINE_ID",
            "KFJ_RUN_ID",
            "KFJ_CREATOR",
            "KFJ_RUNNER",
            "KFJ_MODEL_REPO_API_URL",
            "KFJ_ARCHIVE_BASE_PATH",
            "KFJ_PIPELINE_NAME",
            "KFJ_NAMESPACE",
            "KFJ_ENVIRONMENT",
            "DATE",
            "MODE",
            "KFJ_TASK_ID",
            "KFJ_TASK_NAME",
            "KFJ_TASK_NODE_SELECTOR",
            "KFJ_TASK_VOLUME_MOUNT",
            "KFJ_TASK_IMAGES",
            "KFJ_TASK_RESOURCE_CPU",
            "KFJ_TASK_RESOURCE_MEMORY",
            "KFJ_TASK_RESOURCE_GPU",
            "KFJ_TASK_PROJECT_NAME",
            "GPU_RESOURCE_NAME",
            "USERNAME",
            "IMAGE_PULL_POLICY",
            "HUBSECRET",
            "NVIDIA_VISIBLE_DEVICES",
            "K8S_NODE_NAME",
            "K8S_POD_IP",
            "K8S_HOST_IP",
            "K8S_POD_NAME"
        ]
    );
    assert_eq!(
        env_value(prepare, "KFJ_RUN_ID"),
        Some(&json!("8993373a6f0e4d2c9b1a5e7f3c2d1b0a"))
    );
    let mut selector = keys(&prepare["nodeSelector"]);
    selector.sort_unstable();
    assert_eq!(selector, ["cpu", "org", "train"]);
    assert_eq!(prepare["nodeSelector"]["org"], "public");
    assert_eq!(
        prepare["hostAliases"],
        json!([{"hostnames": ["localhost"], "ip": "127.0.0.1"}])
    );
    assert_eq!(prepare["retryStrategy"], Value::Null);
    assert_eq!(prepare["activeDeadlineSeconds"], Value::Null);
    assert_eq!(
        prepare["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
            [0]["weight"],
        80
    );

    let train = template(&wf, "train");
    let c = &train["container"];
    assert_eq!(c["command"], json!(["python", "train.py"]));
    assert_eq!(
        c["args"],
        json!([
            "--epochs",
            "10",
            "--use_amp",
            "--conf",
            "{\"a\": 1}",
            "--date",
            "20261130"
        ])
    );
    assert_eq!(c["workingDir"], "/app");
    assert_eq!(
        &env_names(train)[..2],
        ["NO_RESOURCE_CHECK", "PYTHONUNBUFFERED"]
    );
    assert_eq!(env_value(train, "NVIDIA_VISIBLE_DEVICES"), None);
    let volumes: Vec<&str> = train["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        volumes,
        [
            "kubeflow-user-workspace",
            "data-models",
            "memory-4",
            "tz-config"
        ]
    );
    assert_eq!(train["volumes"][1]["hostPath"]["path"], "/data/models");
    assert_eq!(
        train["volumes"][2]["emptyDir"],
        json!({"medium": "Memory", "sizeLimit": "4Gi"})
    );
    let mut selector = keys(&train["nodeSelector"]);
    selector.sort_unstable();
    assert_eq!(selector, ["gpu", "gpu-type", "org", "train"]);
    assert_eq!(train["nodeSelector"]["gpu-type"], "V100");
    assert_eq!(train["retryStrategy"], json!({"limit": 2}));
    assert_eq!(train["activeDeadlineSeconds"], 3600);

    let report = template(&wf, "report");
    assert_eq!(report["container"]["command"], json!(["echo", "skip"]));
    assert_eq!(report["container"]["args"], Value::Null);
    assert_eq!(
        report["container"]["resources"],
        json!({"limits": null, "requests": null})
    );
}

#[test]
fn worked_example_fixes_upstream_bugs() {
    let wf = compile_workflow(&worked_example()).unwrap();
    let train = template(&wf, "train");
    // bug 1: requests and limits are separate
    assert_eq!(
        train["container"]["resources"],
        json!({
            "limits": {"memory": "16G", "cpu": "8", "nvidia.com/gpu": "1"},
            "requests": {"memory": "8G", "cpu": "4", "nvidia.com/gpu": "1"},
        })
    );
    // bug 2: each task has its own template's host aliases
    assert_eq!(
        train["hostAliases"],
        json!([
            {"hostnames": ["localhost"], "ip": "127.0.0.1"},
            {"hostnames": ["data.internal"], "ip": "10.0.0.5"},
        ])
    );
    assert_eq!(
        template(&wf, "report")["hostAliases"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // bug 3: privileged sits on the container
    assert_eq!(
        train["container"]["securityContext"],
        json!({"privileged": false})
    );
    assert!(train.get("securityContext").is_none());
    // bug 15: only the real ttl field
    assert_eq!(
        wf["spec"]["ttlStrategy"],
        json!({"secondsAfterCompletion": 10800})
    );
    // deterministic output
    assert_eq!(compile_workflow(&worked_example()).unwrap(), wf);
}

#[test]
fn yaml_for_dry_run() {
    let yaml = workflow_to_yaml(&compile_workflow(&worked_example()).unwrap());
    assert!(
        yaml.starts_with("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n"),
        "{yaml}"
    );
    assert!(yaml.contains("- --use_amp"));
}

#[test]
fn cron_runs_are_labelled_crontab() {
    let input = worked_example().with_schedule_type(ScheduleType::Crontab);
    let wf = compile_workflow(&input).unwrap();
    assert_eq!(wf["metadata"]["labels"]["schedule_type"], "crontab");
}

#[test]
fn cron_run_inputs_keep_the_runs_id_and_name() {
    let input = worked_example().for_cron_run(
        "2026-11-30 09:00:00",
        Some("ab12cd34ef56ab12cd34ef56ab12cd34"),
    );
    assert_eq!(input.run_id, "ab12cd34ef56ab12cd34ef56ab12cd34");
    assert_eq!(input.name_suffix, "ab12");
    assert_eq!(input.execution_date, "2026-11-30 09:00:00");
    let wf = compile_workflow(&input).unwrap();
    assert_eq!(wf["metadata"]["labels"]["schedule_type"], "crontab");
    assert!(
        wf["metadata"]["name"].as_str().unwrap().ends_with("-ab12"),
        "{}",
        wf["metadata"]["name"]
    );
    // a run without a run id keeps the input's own
    let own = worked_example();
    let kept = own.clone().for_cron_run("2026-11-30 09:00:00", Some(""));
    assert_eq!(kept.run_id, own.run_id);
    assert_eq!(kept.name_suffix, own.name_suffix);
    assert_eq!(name_suffix_of("AB12cd34").as_deref(), Some("ab12"));
    assert_eq!(name_suffix_of("a-b"), None);
}

#[test]
fn hundred_task_pipeline_compiles() {
    let wf = compile_workflow(&chain_pipeline(100)).unwrap();
    let templates = wf["spec"]["templates"].as_array().unwrap();
    assert_eq!(templates.len(), 101);
    assert_eq!(
        templates[0]["dag"]["tasks"][99]["dependencies"],
        json!(["task-97", "task-98"])
    );
    assert_eq!(
        wf["spec"]["imagePullSecrets"],
        json!([{"name": "hubsecret"}, {"name": "hub-a"}, {"name": "hub-b"}])
    );
    // a fresh uuid per occurrence, still deterministic
    let cmd = |i: usize| {
        templates[i]["container"]["command"][2]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_ne!(cmd(2), cmd(4));
    assert_eq!(compile_workflow(&chain_pipeline(100)).unwrap(), wf);
}

fn with_task(
    mut input: CompileInput,
    name: &str,
    edit: impl FnOnce(&mut TaskInput),
) -> CompileInput {
    let t = input
        .tasks
        .iter_mut()
        .find(|t| t.task.name == name)
        .unwrap();
    edit(t);
    input
}

fn compile_err(input: &CompileInput) -> String {
    compile_workflow(input).unwrap_err().to_string()
}

#[test]
fn dag_errors() {
    let mut input = worked_example();
    input.pipeline.dag_json =
        r#"{"prepare":{"upstream":["report"]},"train":{"upstream":["prepare"]},"report":{"upstream":["train"]}}"#.into();
    assert_eq!(
        compile_err(&input),
        "cycle between tasks prepare, train, report"
    );

    let mut input = worked_example();
    input.pipeline.dag_json = r#"{"prepare":{},"train":{"upstream":["ghost"]}}"#.into();
    assert_eq!(
        compile_err(&input),
        "task train depends on missing task ghost"
    );

    let mut input = worked_example();
    input.pipeline.dag_json = r#"{"ghost":{}}"#.into();
    assert_eq!(
        compile_err(&input),
        "the dag names task ghost, which does not exist in the pipeline"
    );

    let mut input = worked_example();
    input.tasks[2].task.name = "train".into();
    assert_eq!(compile_err(&input), "two tasks are named train");

    let mut input = worked_example();
    input.tasks.clear();
    input.pipeline.dag_json = "{}".into();
    assert_eq!(compile_workflow(&input), Err(CompileError::EmptyPipeline));
}

#[test]
fn task_errors_name_the_task_and_value() {
    let input = with_task(worked_example(), "train", |t| t.job_template = None);
    assert_eq!(compile_err(&input), "task train has no job template");

    let input = with_task(worked_example(), "train", |t| {
        t.task.volume_mount = Some("ws(pvc):/mnt,oops(pvcc):/x".into())
    });
    assert_eq!(
        compile_err(&input),
        "task train: bad volume mount entry \"oops(pvcc):/x\": unknown type \"pvcc\" (pvc, pvc-share, nfs, storage, hostpath, configmap, secret, memory)"
    );

    let input = with_task(worked_example(), "train", |t| {
        t.task.resource_gpu = Some("abc".into())
    });
    let err = compile_err(&input);
    assert!(
        err.starts_with("task train: invalid gpu value \"abc\""),
        "{err}"
    );

    let input = with_task(worked_example(), "train", |t| {
        t.task.resource_gpu = Some("1(".into())
    });
    assert!(compile_err(&input).starts_with("task train: invalid gpu value \"1(\""));

    let input = with_task(worked_example(), "prepare", |t| {
        t.task.resource_memory = Some("lots".into())
    });
    assert!(compile_err(&input).starts_with("task prepare: invalid memory value \"lots\""));

    let input = with_task(worked_example(), "prepare", |t| {
        t.task.resource_cpu = Some("8~4".into())
    });
    assert_eq!(
        compile_err(&input),
        "task prepare: invalid cpu value \"8~4\": the request is larger than the limit"
    );

    let input = with_task(worked_example(), "prepare", |t| {
        t.task.args = Some("[1".into())
    });
    assert!(compile_err(&input).starts_with("task prepare: args must be a JSON object"));

    let input = with_task(worked_example(), "prepare", |t| {
        t.task.args = Some(r#"{"command": "echo {{ broken"}"#.into())
    });
    assert!(compile_err(&input).starts_with("cannot render task prepare: args:"));

    let input = with_task(worked_example(), "train", |t| {
        t.job_template.as_mut().unwrap().host_aliases = Some("data.internal 10.0.0.5".into())
    });
    assert!(
        compile_err(&input)
            .starts_with("task train: job template pytorch-train: bad host alias line")
    );

    let input = with_task(worked_example(), "train", |t| t.image = None);
    assert_eq!(
        compile_err(&input),
        "task train: job template pytorch-train has no image and the task sets none"
    );

    let mut input = worked_example();
    input.pipeline.global_env = Some("A={% if %}".into());
    assert!(compile_err(&input).starts_with("cannot render the pipeline global_env"));
}

#[test]
fn template_level_overrides() {
    let input = with_task(worked_example(), "train", |t| {
        let tpl = t.job_template.as_mut().unwrap();
        tpl.accounts = Some("kubeflow-pipeline".into());
        tpl.privileged = Some(true);
        tpl.env = Some("TASK_RESOURCE_MEMORY=1G~3G\nA=b=c".into());
    });
    let wf = compile_workflow(&input).unwrap();
    let train = template(&wf, "train");
    assert_eq!(train["serviceAccountName"], "kubeflow-pipeline");
    assert!(template(&wf, "prepare").get("serviceAccountName").is_none());
    assert_eq!(wf["spec"]["serviceAccountName"], "pipeline-runner");
    assert_eq!(train["container"]["securityContext"]["privileged"], true);
    assert_eq!(train["container"]["resources"]["requests"]["memory"], "1G");
    assert_eq!(train["container"]["resources"]["limits"]["memory"], "3G");
    assert_eq!(env_value(train, "A"), Some(&json!("b=c")));
    assert_eq!(
        env_value(train, "KFJ_TASK_RESOURCE_MEMORY"),
        Some(&json!("8G~16G"))
    );
}

#[test]
fn multi_org_projects_get_a_node_affinity() {
    let mut input = worked_example();
    input.project.expand = Some(r#"{"org": "a,b", "node_selector": "disk=ssd"}"#.into());
    let wf = compile_workflow(&input).unwrap();
    let prepare = template(&wf, "prepare");
    assert!(prepare["nodeSelector"].get("org").is_none());
    assert_eq!(prepare["nodeSelector"]["disk"], "ssd");
    assert_eq!(
        prepare["affinity"]["nodeAffinity"],
        json!({"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "org", "operator": "In", "values": ["a", "b"]}]}
        ]}})
    );
    assert_eq!(
        env_value(prepare, "KFJ_TASK_NODE_SELECTOR"),
        Some(&json!("disk=ssd;org=a,b;cpu=true;train=true"))
    );
}

#[test]
fn project_namespace_and_cluster_overrides() {
    let mut input = worked_example();
    input
        .config
        .clusters
        .insert("gpu1".into(), "gpu-one".into());
    input.project.expand =
        Some(r#"{"cluster": "gpu1", "namespace": "PIPELINE_NAMESPACE:team-a"}"#.into());
    let wf = compile_workflow(&input).unwrap();
    assert_eq!(wf["metadata"]["namespace"], "team-a");
    assert_eq!(wf["metadata"]["labels"]["cluster"], "gpu-one");
    let prepare = template(&wf, "prepare");
    assert_eq!(env_value(prepare, "KFJ_NAMESPACE"), Some(&json!("team-a")));
    assert_eq!(
        env_value(prepare, "KFJ_ENVIRONMENT"),
        Some(&json!("gpu-one"))
    );
}

#[test]
fn pull_secrets_are_ordered_and_deduplicated() {
    let mut input = worked_example().with_creator_hubsecrets(vec![
        "mine".into(),
        "hubsecret".into(),
        " ".into(),
        "mine".into(),
    ]);
    input.tasks[1].hubsecret = Some("train-repo".into());
    let wf = compile_workflow(&input).unwrap();
    assert_eq!(
        wf["spec"]["imagePullSecrets"],
        json!([{"name": "hubsecret"}, {"name": "mine"}, {"name": "train-repo"}])
    );
}

#[test]
fn python_template_and_task_command() {
    let mut input = worked_example();
    let python = template_row(9, "python", 9);
    let mut t = task_row(109, "calc", 9, json!({"code": "print({{ pipeline_id }})"}));
    t.resource_gpu = Some("0.5".into());
    input.tasks.push(TaskInput::new(
        t,
        Some(python),
        Some(image_row(9, "python:3.11")),
        None,
    ));
    input = with_task(input, "train", |t| {
        t.task.command =
            Some("pip install -r req.txt\n\n  python  run.py {{ execution_date }}".into())
    });
    let input = input.with_execution_date("2026-11-29 00:00:00");
    let wf = compile_workflow(&input).unwrap();
    let calc = template(&wf, "calc");
    assert_eq!(
        calc["container"]["command"],
        json!(["python3", "-c", "print(12)"])
    );
    assert_eq!(calc["container"]["args"], json!([]));
    assert_eq!(
        calc["container"]["resources"]["limits"],
        json!({"memory": "2G", "cpu": "2"})
    );
    assert_eq!(calc["nodeSelector"]["vgpu"], "true");
    assert_eq!(env_value(calc, "NVIDIA_VISIBLE_DEVICES"), None);
    assert_eq!(
        template(&wf, "train")["container"]["command"],
        json!([
            "pip",
            "install",
            "-r",
            "req.txt",
            "&&",
            "python",
            "run.py",
            "2026-11-29",
            "00:00:00"
        ])
    );
    // tasks missing from the dag run as roots, after the dag's tasks
    let tasks = wf["spec"]["templates"][0]["dag"]["tasks"]
        .as_array()
        .unwrap();
    assert_eq!(
        tasks[3],
        json!({"name": "calc", "template": "calc", "dependencies": []})
    );
}

#[test]
fn vgpu_strings_do_not_crash() {
    let input = with_task(worked_example(), "train", |t| {
        t.task.resource_gpu = Some("8G,0.5".into())
    });
    let wf = compile_workflow(&input).unwrap();
    let train = template(&wf, "train");
    assert!(
        train["container"]["resources"]["limits"]
            .get("nvidia.com/gpu")
            .is_none()
    );
    assert_eq!(train["nodeSelector"]["vgpu"], "true");
}

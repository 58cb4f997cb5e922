//! Golden hashes of the compiler's serialized output: compact JSON (what is sent to the
//! cluster), `pretty4` (what `run.pipeline_file` and `pipeline.pipeline_file` store)
//! and YAML (the dry run), for inputs that reach every branch of the compiler. Any
//! change to a byte or to the order of keys fails here; `GOLDEN_PRINT=1` prints the
//! current hashes.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::sample::{chain_pipeline, image_row, task_row, template_row, worked_example};
use super::*;
use crate::json_text::pretty4;

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

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Every volume kind, a duplicate source and path, and the time zone file named.
fn volumes() -> CompileInput {
    let input = with_task(worked_example(), "prepare", |t| {
        t.task.volume_mount = Some(
            "ws(pvc):/mnt/,shared(pvc-share):/share,10.0.0.9/exports/data.set(nfs):/nfs,\
             store(storage):/store,/data/x(hostpath):/x,cfg(configmap):/etc/cfg,\
             creds(secret):/etc/creds,512M(memory):/dev/shm,ws(pvc):/again,other(pvc):/share"
                .into(),
        );
    });
    with_task(input, "train", |t| {
        t.task.volume_mount =
            Some("/usr/share/zoneinfo/Asia/Shanghai(hostpath):/etc/localtime".into());
    })
}

/// Labels that need cleaning, a label overriding a built-in key, pipeline env that
/// overrides and extends the system env, several host aliases and GPU_NONE pairs.
fn labels_and_env() -> CompileInput {
    let mut input = worked_example()
        .with_runner("bob@example.com")
        .with_label("app", "custom-app")
        .with_label("team", "-ml-");
    input.creator = "Alice Smith".into();
    input.pipeline.global_env = Some(
        "KFJ_RUN_ID=mine-{{ run_id }}\nEXTRA={{ creator }}/{{ uuid.uuid4().hex }}\n=skip\nnoeq"
            .into(),
    );
    input.pipeline.describe = "tab\there \\ é 𝄞 \"q\"".into();
    input.pipeline.parallelism = 0;
    input.config.gpu_none = vec![
        ("NVIDIA_VISIBLE_DEVICES".into(), "none".into()),
        ("CUDA_VISIBLE_DEVICES".into(), "".into()),
    ];
    input.config.host_aliases = "127.0.0.1 localhost\n# note\n10.0.0.5 other a b\n".into();
    input.config.hubsecret = vec![];
    input.config.image_pull_policy = "IfNotPresent".into();
    input.config.ttl_seconds_after_completion = 60;
    input.config.service_account = "runner-sa".into();
    input
}

/// Retries and timeouts on every task, a skipped task first, a template without
/// workdir, entrypoint or env, blank resources and no args.
fn retries_and_timeouts() -> CompileInput {
    let mut input = worked_example();
    for (i, t) in input.tasks.iter_mut().enumerate() {
        t.task.retry = i as i32;
        t.task.timeout = 100 * i as i32;
    }
    input = with_task(input, "prepare", |t| t.task.skip = Some(true));
    input = with_task(input, "report", |t| t.task.skip = None);
    let bare = template_row(5, "bare", 5);
    let mut t = task_row(105, "bare-task", 5, json!({}));
    t.args = None;
    t.resource_cpu = Some(" ".into());
    t.resource_memory = None;
    t.resource_gpu = None;
    t.volume_mount = Some("".into());
    t.retry = 3;
    t.timeout = 7;
    input.tasks.push(TaskInput::new(
        t,
        Some(bare),
        Some(image_row(5, "bare:1")),
        None,
    ));
    input
}

/// The custom-image template: workdir and non-string args, and a task working dir.
fn custom_image_args() -> CompileInput {
    let input = with_task(worked_example(), "prepare", |t| {
        t.task.args = Some(
            json!({"images": " busybox ", "workdir": "/w/{{ creator }}", "command": ["a", {"b": 1}]})
                .to_string(),
        );
        t.task.working_dir = Some("/task/dir".into());
    });
    with_task(input, "train", |t| {
        t.task.working_dir = Some("/tw/{{ run_id }}".into());
        t.task.args = Some(
            json!({"--n": 1.5, "--flag": true, "--list": [1, "x"], "--s": "v", "--empty": {},
                   "{{ creator }}": "{{ runner }}", "images": "img:{{ pipeline_id }}"})
            .to_string(),
        );
    })
}

/// GPU strings: vendor maps, shared, fraction, model names, extra resource names.
fn gpus() -> CompileInput {
    let mut input = worked_example();
    input
        .config
        .gpu
        .resources
        .insert("amd".into(), "amd.com/gpu".into());
    let input = with_task(input, "prepare", |t| {
        t.task.resource_gpu = Some("2(amd,mi100)".into())
    });
    let input = with_task(input, "report", |t| {
        t.task.resource_gpu = Some("-1".into());
        t.task.skip = Some(false);
    });
    with_task(input, "train", |t| {
        t.task.resource_gpu = Some("1.7（a100）".into());
        t.job_template.as_mut().unwrap().env =
            Some("TASK_RESOURCE_GPU=3\nTASK_RESOURCE_CPU=1~2".into());
    })
}

/// A multi-value selector key that a later single value replaces, and back.
fn node_selectors() -> CompileInput {
    let mut input = worked_example();
    input.project.expand = Some(
        r#"{"org": "x,y", "node_selector": "zone=a,b;disk=ssd;zone=c;disk=hdd,nvme;pool=p"}"#
            .into(),
    );
    input
}

/// Python template, task command lines, tasks outside the dag, a dag in reverse.
fn python_and_dag() -> CompileInput {
    let mut input = worked_example();
    let python = template_row(9, "python", 9);
    let mut t = task_row(109, "calc", 9, json!({"code": "print({{ pipeline_id }})"}));
    t.resource_gpu = Some("0.5".into());
    input.tasks.insert(
        0,
        TaskInput::new(t, Some(python), Some(image_row(9, "python:3.11")), None),
    );
    input.pipeline.dag_json = r#"{"report":{"upstream":["train","prepare","train"]},"train":{"upstream":null},"prepare":{}}"#.into();
    with_task(input, "train", |t| {
        t.task.command = Some("pip install x\n\n  python  run.py {{ execution_date }}".into())
    })
    .with_execution_date("2026-11-29 00:00:00")
}

fn cases() -> Vec<(&'static str, CompileInput)> {
    let mut multi_org = worked_example();
    multi_org.project.expand = Some(r#"{"org": "a,b", "node_selector": "disk=ssd"}"#.into());
    let mut overrides = worked_example();
    overrides
        .config
        .clusters
        .insert("gpu1".into(), "gpu-one".into());
    overrides.project.expand =
        Some(r#"{"cluster": "gpu1", "namespace": "PIPELINE_NAMESPACE:team-a"}"#.into());
    let mut secrets = worked_example().with_creator_hubsecrets(vec![
        "mine".into(),
        "hubsecret".into(),
        " ".into(),
        "mine".into(),
    ]);
    secrets.tasks[1].hubsecret = Some(" train-repo ".into());
    let accounts = with_task(worked_example(), "train", |t| {
        let tpl = t.job_template.as_mut().unwrap();
        tpl.accounts = Some("kubeflow-pipeline".into());
        tpl.privileged = Some(true);
        tpl.env = Some("TASK_RESOURCE_MEMORY=1G~3G\nA=b=c\nB={{ runner }}".into());
        tpl.host_aliases = Some("10.0.0.5 data.internal\n10.0.0.6 more".into());
    });
    let vgpu = with_task(worked_example(), "train", |t| {
        t.task.resource_gpu = Some("8G,0.5".into())
    });
    vec![
        ("chain_100", chain_pipeline(100)),
        ("chain_7", chain_pipeline(7)),
        ("worked_example", worked_example()),
        (
            "cron_run",
            worked_example().for_cron_run(
                "2026-11-30 09:00:00",
                Some("ab12cd34ef56ab12cd34ef56ab12cd34"),
            ),
        ),
        ("accounts_privileged_env", accounts),
        ("multi_org", multi_org),
        ("namespace_cluster", overrides),
        ("pull_secrets", secrets),
        ("vgpu", vgpu),
        ("gpus", gpus()),
        ("volumes", volumes()),
        ("labels_and_env", labels_and_env()),
        ("retries_and_timeouts", retries_and_timeouts()),
        ("custom_image_args", custom_image_args()),
        ("node_selectors", node_selectors()),
        ("python_and_dag", python_and_dag()),
    ]
}

/// (case, sha256 of compact JSON, of pretty4, of YAML), recorded from the compiler as
/// it was before its output became typed.
const GOLDEN: &[(&str, &str, &str, &str)] = &[
    (
        "chain_100",
        "133272b29c4f5e04c7a6261ce62b1a116fc9d52e138760bfb927924deff4a095",
        "a9d6439d803d213eebd7e71e8b8bb7a81f916bc0a6d7e1fb4f86d4eecfaffd52",
        "bd78962678e5ccf06a3e777defa288fbf8888faaf212af25280c038c034caf3b",
    ),
    (
        "chain_7",
        "ade3b5fc7f13e25c55a279aa1a9b836ae76f031850d0b2f3e8768a332708b2c9",
        "dbc1a70735ac845584d0e2b3c377c0c3240c86822196aa89e69b99aa0ef157b5",
        "1aa072f7e24b27e26aa5d29c5cd3d30975ee8b2923d82cf65f86101a064fdcb2",
    ),
    (
        "worked_example",
        "678a8c404e82a92013d65634325b064a844341e1781356ba4d499b5a244ca42f",
        "2280a47753751fd8ad02698ad5b5cb9d38c4a95a0f29539f1a9cb5d34ddb9513",
        "dbfd7d455d3de81b06e48cc7f764e26f84712140d123976b990fdb808fca74c8",
    ),
    (
        "cron_run",
        "cfa064e7e512692eb0107bc92c7087c50d58856dda840249a83cb0c61278427c",
        "ce07491d0b227293aca05cbe464aa1298e6dcd4dd8810c950bf349c1262ff0fb",
        "47cda5ad025a5a369881aacd6d38d7cc13c919f6247d250d313566fa2044d95a",
    ),
    (
        "accounts_privileged_env",
        "d54b1263a03cf63515fb859d5f684fbf8c1516cc7ed11b1a56d7b7722521fccc",
        "a531c3e000269d1c3734bc6773a43569b82ad4046a1d620f68b6e0e35bbf9eed",
        "f66177f5f918bb7ca02545b9ee78c11e0fc70824a305a0b7a5990711b4cf61d2",
    ),
    (
        "multi_org",
        "f54bf15e14fe251240a4c773f3101ed4eb0a24d975cf57c3b8c81f9fb8fb9d28",
        "d373cdbfcccccbf74faf5292e09813dd8691a1a89b10054c1aacb52cd535364d",
        "7a02a35a6dd683e490e45fdf9251d740b283ed94544a1e03de5f3380b62366a1",
    ),
    (
        "namespace_cluster",
        "d4e1495b924c42240a302fed0c59ecbf6a8a3d04258efc4f1493a46665bc81e4",
        "66615a767b3ec53d55cd9482943af0be1b78139571786f729352a941afe90b24",
        "2c0eb2e193568a980caea00b48dc7d469bd395f8013a769c216111a7464f4929",
    ),
    (
        "pull_secrets",
        "5a7e4f80866501cbe04d38f2fa0dead479b33ffa72140314043afe8b1da1a2c0",
        "967e68102608575d1a44750e65cfe5e9e8c2cb24199f8bed12f7765eaedf27ae",
        "a5bbca38c5844a592a9a808479b1b3cbd18a38080ca661c891f84a1ba7e7fb90",
    ),
    (
        "vgpu",
        "d7b0ffd9fa30871e0c041752777fa854ccb8172548611eb8bd8b82a4959ebfda",
        "eb4c9bf0f4d8f6f369a0570b59baf2f7389732b4149fa6f1629d01858a2b1d30",
        "71cab838c41a10856176177a5cbb014f0cfbda729c0ae5d27d2437757cf75bdf",
    ),
    (
        "gpus",
        "2f80eb112562c8d7039215b39ab6159a6dd7146680f5bee5dc1a0c989cf5ce55",
        "79422bc82173d686dbcabfc1519ca1fdf6c8eca98ceefb63e4573f5078d531aa",
        "1d7f9abc1b3c97caf6993eb54c0a70dddc19ed0e48e726a376564e90c073788f",
    ),
    (
        "volumes",
        "b81c69e2dabe63b48a8cebb7d920c54065f219016ebbb37dc0137d5564396451",
        "091aa2ef4bc653489263f54528484b14060638584c00ed74f9e150b7bcd316e4",
        "8e9bd974a11ed87e27541c9ca1511147c0bc7bf339124f3f3701b27e42a593f2",
    ),
    (
        "labels_and_env",
        "1fd07b6c6a1c1fc32e7a2f8ee4f42dedad7cb7de02ee89e33d06752d5199ad8d",
        "9970368c3e2d2a4146de9c29c1344281cd4b7b2c7be5c95813312dbac36f2b07",
        "3b9297616454c4c10a28079c7cdedffe4b860f1e54a6a98ee13bb9345e126daa",
    ),
    (
        "retries_and_timeouts",
        "609c184583fcddd99ac7ae69c1ec57ae9e489e525a291dd892920a2802f3cd64",
        "ce404169ec2218b7c032e6f168a62840353c236efbf201dd87cfaaa83ec51392",
        "821d7325e86eaa3631ae2f586ca86b5302e47ad17c54bfcec26b882a07fe62b8",
    ),
    (
        "custom_image_args",
        "c8d1a70886ab8cbb9003890600c70c15f7132628fc6a8215ec65eb8b41578dc4",
        "d0c14672e4b686bb4560462610dfcb38d4bb4bb47c4a3e2d069be15219b6f130",
        "81d847b0ba1f8f0f7e4e905e26dd8d699282dbe98c809f33aa1a296e8c6fe75e",
    ),
    (
        "node_selectors",
        "9525475695470b65b3f5312a45181364b3dac86cf60d6961944cd3e71455ad6f",
        "683bd3ac3f90fe676345bc528ee9e1796f147e72de0a08a82f20df6e2d7eec5d",
        "80edd34950d526c1a95df88b6306ad4b1c0b3abe66ac07c9c3603679d3736f1e",
    ),
    (
        "python_and_dag",
        "7a8be58d7e38cb651dd26c1a98aae9bfea7027f28b190158b0d62483fa0b11fe",
        "086aa0c83a6ed42785b4d15a65a81ddcaa23cb3d96c86f23d02e6cb7f668d88f",
        "92a0fa8251d287bd8777591d627ac53e6e7b532c543ce6a7d96c430a4625b1c0",
    ),
];

#[test]
fn serialized_output_is_unchanged() {
    let mut got = Vec::new();
    for (name, input) in cases() {
        let wf = compile_workflow(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        let compact = serde_json::to_string(&wf).unwrap();
        got.push((
            name,
            sha(&compact),
            sha(&pretty4(&wf)),
            sha(&workflow_to_yaml(&wf)),
        ));
    }
    if std::env::var_os("GOLDEN_PRINT").is_some() {
        for (n, a, b, c) in &got {
            println!(
                "    (\n        {n:?},\n        {a:?},\n        {b:?},\n        {c:?},\n    ),"
            );
        }
    }
    let want: Vec<(&str, String, String, String)> = GOLDEN
        .iter()
        .map(|(n, a, b, c)| (*n, a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
}

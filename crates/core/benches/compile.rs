//! `cargo bench --workspace --bench compile`: mean time to compile a 100-task
//! pipeline into an Argo Workflow, and to compile and serialize it to JSON as a
//! submission does (plain `Instant` loop, no Criterion).

use std::hint::black_box;
use std::time::Instant;

use app_core::argo::compile_workflow;
use app_core::argo::sample::chain_pipeline;

fn time(label: &str, ops: u32, mut op: impl FnMut()) {
    let start = Instant::now();
    for _ in 0..ops {
        op();
    }
    let mean_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(ops.max(1));
    println!("{label}: {mean_us:.1} us/op over {ops} ops");
}

fn main() {
    let input = chain_pipeline(100);
    let ops: u32 = std::env::var("COMPILE_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    // warm up, and make sure the input compiles at all
    if let Err(e) = compile_workflow(&input) {
        eprintln!("compile_100_tasks: the sample pipeline does not compile: {e}");
        std::process::exit(1);
    }
    time("compile_100_tasks", ops, || {
        let _ = black_box(compile_workflow(black_box(&input)));
    });
    if std::env::var_os("COMPILE_BENCH_ONLY").is_some() {
        return;
    }
    time("compile_and_serialize_100_tasks", ops, || {
        let json = compile_workflow(black_box(&input)).map(|wf| serde_json::to_vec(&wf));
        let _ = black_box(json);
    });
}

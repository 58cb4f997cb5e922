//! `cargo bench --workspace --bench compile`: mean time to compile a 100-task
//! pipeline into an Argo Workflow (plain `Instant` loop, no Criterion).

use std::hint::black_box;
use std::time::Instant;

use app_core::argo::compile_workflow;
use app_core::argo::sample::chain_pipeline;

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
    let start = Instant::now();
    for _ in 0..ops {
        let _ = black_box(compile_workflow(black_box(&input)));
    }
    let mean_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(ops.max(1));
    println!("compile_100_tasks: {mean_us:.1} us/op over {ops} ops");
}

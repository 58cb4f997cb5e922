//! Simulated controllers, stepped every `step_interval` while switched on.

pub mod argo;
pub mod kubelet;

#[cfg(test)]
mod argo_tests;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Shared;

pub(crate) fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The controller loop (runs on the server thread's runtime until it stops).
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut kubelet = kubelet::Kubelet::default();
    loop {
        tokio::time::sleep(shared.step_interval).await;
        let argo_on = shared.argo.load(Ordering::SeqCst);
        let kubelet_on = shared.kubelet.load(Ordering::SeqCst);
        if !argo_on && !kubelet_on {
            continue;
        }
        let fails = shared.failed_tasks();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut store = shared.lock();
            if argo_on {
                argo::tick(&mut store, &fails, shared.argo_pods);
            }
            if kubelet_on {
                kubelet.tick(&mut store, shared.pod_run_duration);
            }
        }));
        if outcome.is_err() {
            tracing::error!("fake-kube: a controller step panicked");
        }
    }
}

//! Resource strings of tasks, notebooks and services (orchestration.md §1.6).
//!
//! * memory / cpu use `"request~limit"`; a bare `X` means `X~X`. Unlike upstream, the
//!   request and the limit stay separate (`8G~16G` → requests 8G, limits 16G).
//! * GPU strings: `N`, `N(TYPE)`, `N(vendor)`, `N(vendor,TYPE)` (ASCII or fullwidth
//!   brackets), `mem,ratio` for vGPU and `-1` for a shared card. Garbage is an error.

use std::collections::BTreeMap;
use std::fmt;

/// Which resource a value is about (used in error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Memory,
    Cpu,
    Gpu,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceKind::Memory => "memory",
            ResourceKind::Cpu => "cpu",
            ResourceKind::Gpu => "gpu",
        })
    }
}

/// Why a resource string was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResourceError {
    /// The text does not follow the resource syntax.
    #[error("invalid {kind} value {value:?}: {reason}")]
    Invalid {
        kind: ResourceKind,
        value: String,
        reason: String,
    },
    /// The value is above the cap for non-admin users.
    #[error("{kind} {value} exceeds the maximum of {max} allowed for non-admin users")]
    OverCap {
        kind: ResourceKind,
        value: String,
        max: String,
    },
}

fn invalid(kind: ResourceKind, value: &str, reason: impl Into<String>) -> ResourceError {
    ResourceError::Invalid {
        kind,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// A `request~limit` pair of Kubernetes quantities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLimit {
    pub request: String,
    pub limit: String,
}

/// Splits `"A~B"` into request A and limit B, and `"X"` into X and X. Blank parts are
/// `None`; no validation beyond that (see [`parse_memory`] and [`parse_cpu`]).
pub fn parse_request_limit(value: &str) -> Option<RequestLimit> {
    let value = value.trim();
    let (request, limit) = match value.split_once('~') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (value, value),
    };
    if request.is_empty() || limit.is_empty() {
        return None;
    }
    Some(RequestLimit {
        request: request.to_string(),
        limit: limit.to_string(),
    })
}

/// `digits[.digits]`, returning the value.
fn parse_decimal(s: &str) -> Option<f64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    s.parse().ok()
}

/// Bytes of one memory quantity matching `^[0-9]+(\.[0-9]+)?[GMK]i?$`.
fn memory_bytes(s: &str) -> Option<f64> {
    let (number, binary) = match s.strip_suffix('i') {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let unit = number.chars().last()?;
    let number = &number[..number.len() - unit.len_utf8()];
    let power = match unit {
        'K' => 1,
        'M' => 2,
        'G' => 3,
        _ => return None,
    };
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    Some(parse_decimal(number)? * base.powi(power))
}

/// Cores of one cpu quantity: `N`, `N.M` or `Nm` (millicores).
fn cpu_cores(s: &str) -> Option<f64> {
    match s.strip_suffix('m') {
        Some(milli) => Some(parse_decimal(milli)? / 1000.0),
        None => parse_decimal(s),
    }
}

/// Kubernetes spells the decimal kilo `k`; the task form allows `K`.
fn kubernetes_memory(s: &str) -> String {
    match s.strip_suffix('K') {
        Some(n) => format!("{n}k"),
        None => s.to_string(),
    }
}

fn parse_pair(
    kind: ResourceKind,
    value: &str,
    measure: fn(&str) -> Option<f64>,
    syntax: &str,
) -> Result<(RequestLimit, f64, f64), ResourceError> {
    let pair = parse_request_limit(value)
        .ok_or_else(|| invalid(kind, value, format!("expected {syntax} or request~limit")))?;
    let request = measure(&pair.request)
        .ok_or_else(|| invalid(kind, value, format!("expected {syntax} or request~limit")))?;
    let limit = measure(&pair.limit)
        .ok_or_else(|| invalid(kind, value, format!("expected {syntax} or request~limit")))?;
    if request > limit {
        return Err(invalid(kind, value, "the request is larger than the limit"));
    }
    Ok((pair, request, limit))
}

/// Validates a memory string (`2G`, `512Mi`, `1.5G`, `8G~16G`) and returns it as
/// Kubernetes quantities.
pub fn parse_memory(value: &str) -> Result<RequestLimit, ResourceError> {
    let (pair, _, _) = parse_pair(
        ResourceKind::Memory,
        value,
        memory_bytes,
        "a number with a unit G, M or K (optionally Gi, Mi, Ki)",
    )?;
    Ok(RequestLimit {
        request: kubernetes_memory(&pair.request),
        limit: kubernetes_memory(&pair.limit),
    })
}

/// Validates a cpu string (`2`, `0.5`, `500m`, `4~8`).
pub fn parse_cpu(value: &str) -> Result<RequestLimit, ResourceError> {
    parse_pair(
        ResourceKind::Cpu,
        value,
        cpu_cores,
        "a number of cores (or millicores like 500m)",
    )
    .map(|(pair, _, _)| pair)
}

/// The vendor map of `GPU_RESOURCE` and the default resource name.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuConfig {
    /// Lower-case vendor key → extended resource name, default `{"gpu": "nvidia.com/gpu"}`.
    pub resources: BTreeMap<String, String>,
    /// `DEFAULT_GPU_RESOURCE_NAME`, default `nvidia.com/gpu`.
    pub default_resource_name: String,
}

impl Default for GpuConfig {
    fn default() -> Self {
        GpuConfig {
            resources: BTreeMap::from([("gpu".to_string(), "nvidia.com/gpu".to_string())]),
            default_resource_name: "nvidia.com/gpu".to_string(),
        }
    }
}

/// How many GPUs a GPU string asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum GpuAmount {
    /// A number of cards: `0` none, `0 < n < 1` a fraction, `n >= 1` whole cards,
    /// `-1` a shared card.
    Count(f64),
    /// A `mem,ratio` vGPU string such as `8G,0.5`, kept as written.
    Virtual(String),
}

/// What kind of node a GPU request needs (drives the node selector).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuClass {
    /// No GPU (`0`).
    None,
    /// One or more whole cards.
    Whole,
    /// A fraction of a card (`0.5`).
    Fraction,
    /// `-1`: a shared card.
    Shared,
    /// A `mem,ratio` vGPU string.
    Virtual,
}

/// A parsed GPU string: the result of upstream `get_gpu`.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuRequest {
    pub amount: GpuAmount,
    /// Card model (`V100`), upper-cased; `None` when not named.
    pub gpu_type: Option<String>,
    /// Extended resource name, e.g. `nvidia.com/gpu`.
    pub resource_name: String,
}

impl GpuRequest {
    /// The class of the request.
    pub fn class(&self) -> GpuClass {
        match self.amount {
            GpuAmount::Virtual(_) => GpuClass::Virtual,
            GpuAmount::Count(0.0) => GpuClass::None,
            GpuAmount::Count(n) if n < 0.0 => GpuClass::Shared,
            GpuAmount::Count(n) if n < 1.0 => GpuClass::Fraction,
            GpuAmount::Count(_) => GpuClass::Whole,
        }
    }

    /// Whole cards to request as an extended resource (`int(n)` for `n >= 1`, as
    /// upstream); `None` for every other class.
    pub fn whole_cards(&self) -> Option<u32> {
        match self.amount {
            GpuAmount::Count(n) if n >= 1.0 => Some(n.trunc() as u32),
            _ => None,
        }
    }

    /// The numeric amount (`None` for a vGPU string).
    pub fn count(&self) -> Option<f64> {
        match self.amount {
            GpuAmount::Count(n) => Some(n),
            GpuAmount::Virtual(_) => None,
        }
    }
}

/// Parses a GPU string with the vendor map (orchestration.md §1.6). An empty string is
/// `0`; `1(` or `abc` are errors.
pub fn parse_gpu(value: &str, config: &GpuConfig) -> Result<GpuRequest, ResourceError> {
    let bad = |reason: &str| invalid(ResourceKind::Gpu, value, reason);
    let text = value.trim();
    let (number, inside) = match text.find(['(', '（']) {
        None => (text, None),
        Some(open) => {
            let rest = &text[open..];
            let open_len = rest.chars().next().map_or(1, char::len_utf8);
            let body = &rest[open_len..];
            let body = body
                .strip_suffix(')')
                .or_else(|| body.strip_suffix('）'))
                .ok_or_else(|| bad("the bracket is not closed at the end"))?;
            if body.contains(['(', ')', '（', '）']) {
                return Err(bad("nested brackets"));
            }
            (text[..open].trim(), Some(body.trim()))
        }
    };
    let mut resource_name = config.default_resource_name.clone();
    let mut gpu_type = None;
    if let Some(inside) = inside.filter(|s| !s.is_empty()) {
        let lower = inside.to_lowercase();
        if let Some(name) = config.resources.get(&lower) {
            resource_name = name.clone();
        } else if let Some((vendor, model)) = inside.split_once(',')
            && let Some(name) = config.resources.get(&vendor.trim().to_lowercase())
        {
            resource_name = name.clone();
            let model = model.trim().to_uppercase();
            gpu_type = (!model.is_empty()).then_some(model);
        } else {
            gpu_type = Some(inside.to_uppercase());
        }
    }
    let amount = if number.contains(',') {
        let (memory, ratio) = number.split_once(',').unwrap_or_default();
        let (memory, ratio) = (memory.trim(), ratio.trim());
        let memory_ok = memory_bytes(memory).is_some() || parse_decimal(memory).is_some();
        if !memory_ok || parse_decimal(ratio).is_none() {
            return Err(bad("a vGPU value is written memory,ratio like 8G,0.5"));
        }
        GpuAmount::Virtual(number.to_string())
    } else if number.is_empty() {
        GpuAmount::Count(0.0)
    } else {
        let n = match number.strip_prefix('-') {
            Some(rest) => parse_decimal(rest).map(|v| -v),
            None => parse_decimal(number),
        }
        .ok_or_else(|| bad("expected a number of GPUs such as 1, 0.5, 1(V100) or 8G,0.5"))?;
        if n < 0.0 && n != -1.0 {
            return Err(bad("the only negative value is -1 (shared card)"));
        }
        GpuAmount::Count(n)
    };
    Ok(GpuRequest {
        amount,
        gpu_type,
        resource_name,
    })
}

/// Non-admin caps (`MAX_TASK_CPU`, `MAX_TASK_MEM` in G, `MAX_TASK_GPU`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourceCaps {
    pub max_cpu: f64,
    pub max_memory_gb: f64,
    pub max_gpu: f64,
}

impl ResourceCaps {
    /// The caps of the configuration.
    pub fn from_config(config: &crate::Config) -> ResourceCaps {
        ResourceCaps {
            max_cpu: config.max_task_cpu,
            max_memory_gb: config.max_task_mem_gb,
            max_gpu: config.max_task_gpu,
        }
    }
}

fn over_cap(kind: ResourceKind, value: &str, max: String) -> ResourceError {
    ResourceError::OverCap {
        kind,
        value: value.to_string(),
        max,
    }
}

/// Checks non-admin caps of a task's resources. A value above the cap is still
/// accepted when it is not larger than the `previous` value (a user may always lower
/// a value). Call it only for non-admin users, after the syntax checks.
pub fn check_resource_caps(
    memory: &str,
    cpu: &str,
    gpu: &GpuRequest,
    previous: Option<(&str, &str, &GpuRequest)>,
    caps: &ResourceCaps,
) -> Result<(), ResourceError> {
    let limit_of = |v: &str, measure: fn(&str) -> Option<f64>| {
        parse_request_limit(v).and_then(|p| measure(&p.limit))
    };
    let gpus = |g: &GpuRequest| g.count().unwrap_or(0.0);
    if let Some(m) = limit_of(memory, memory_bytes)
        && m / 1e9 > caps.max_memory_gb
        && !previous.is_some_and(|(pm, _, _)| limit_of(pm, memory_bytes).is_some_and(|p| m <= p))
    {
        return Err(over_cap(
            ResourceKind::Memory,
            memory,
            format!("{}G", caps.max_memory_gb),
        ));
    }
    if let Some(c) = limit_of(cpu, cpu_cores)
        && c > caps.max_cpu
        && !previous.is_some_and(|(_, pc, _)| limit_of(pc, cpu_cores).is_some_and(|p| c <= p))
    {
        return Err(over_cap(ResourceKind::Cpu, cpu, caps.max_cpu.to_string()));
    }
    let g = gpus(gpu);
    if g > caps.max_gpu && !previous.is_some_and(|(_, _, pg)| g <= gpus(pg)) {
        return Err(over_cap(
            ResourceKind::Gpu,
            &g.to_string(),
            caps.max_gpu.to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(s: &str) -> (GpuAmount, Option<String>, String) {
        let r = parse_gpu(s, &GpuConfig::default()).unwrap();
        (r.amount, r.gpu_type, r.resource_name)
    }

    fn count(n: f64, t: Option<&str>) -> (GpuAmount, Option<String>, String) {
        (
            GpuAmount::Count(n),
            t.map(String::from),
            "nvidia.com/gpu".to_string(),
        )
    }

    #[test]
    fn parse_gpu_table_of_the_spec() {
        assert_eq!(gpu("0"), count(0.0, None));
        assert_eq!(gpu("1"), count(1.0, None));
        assert_eq!(gpu("0.5"), count(0.5, None));
        assert_eq!(gpu("1(nvidia)"), count(1.0, Some("NVIDIA")));
        assert_eq!(gpu("1(gpu)"), count(1.0, None));
        assert_eq!(gpu("1(V100)"), count(1.0, Some("V100")));
        assert_eq!(gpu("2(gpu,V100)"), count(2.0, Some("V100")));
        assert_eq!(gpu("2(nvidia,V100)"), count(2.0, Some("NVIDIA,V100")));
        assert_eq!(gpu("1（T4）"), count(1.0, Some("T4")));
        assert_eq!(
            gpu("8G,0.5"),
            (
                GpuAmount::Virtual("8G,0.5".into()),
                None,
                "nvidia.com/gpu".into()
            )
        );
        assert_eq!(gpu("-1"), count(-1.0, None));
    }

    #[test]
    fn parse_gpu_extras() {
        assert_eq!(gpu(""), count(0.0, None));
        assert_eq!(gpu(" 2 "), count(2.0, None));
        assert_eq!(gpu("1(GPU)"), count(1.0, None));
        assert_eq!(gpu("1(v100)"), count(1.0, Some("V100")));
        assert_eq!(gpu("(V100)"), count(0.0, Some("V100")));
        assert_eq!(gpu("1()"), count(1.0, None));
    }

    #[test]
    fn parse_gpu_vendor_keys() {
        let mut config = GpuConfig::default();
        config
            .resources
            .insert("nvidia".into(), "nvidia.com/gpu".into());
        config
            .resources
            .insert("npu".into(), "huawei.com/ascend-910".into());
        let r = parse_gpu("1(nvidia)", &config).unwrap();
        assert_eq!(
            (r.gpu_type, r.resource_name.as_str()),
            (None, "nvidia.com/gpu")
        );
        let r = parse_gpu("1(npu)", &config).unwrap();
        assert_eq!(r.resource_name, "huawei.com/ascend-910");
        let r = parse_gpu("2(npu,910b)", &config).unwrap();
        assert_eq!(r.gpu_type.as_deref(), Some("910B"));
        assert_eq!(r.resource_name, "huawei.com/ascend-910");
    }

    #[test]
    fn parse_gpu_rejects_garbage() {
        for bad in [
            "abc", "1(", "1(V100", "1)(", "-2", "1(a(b))", "1,", "x,0.5", "8G,y", "1.2.3",
            "1(V100)x",
        ] {
            let err = parse_gpu(bad, &GpuConfig::default()).unwrap_err();
            assert!(
                matches!(&err, ResourceError::Invalid { kind: ResourceKind::Gpu, value, .. } if value == bad),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn gpu_classes() {
        let class = |s: &str| parse_gpu(s, &GpuConfig::default()).unwrap().class();
        assert_eq!(class("0"), GpuClass::None);
        assert_eq!(class("2"), GpuClass::Whole);
        assert_eq!(class("0.25"), GpuClass::Fraction);
        assert_eq!(class("-1"), GpuClass::Shared);
        assert_eq!(class("8G,0.5"), GpuClass::Virtual);
        let whole = |s: &str| parse_gpu(s, &GpuConfig::default()).unwrap().whole_cards();
        assert_eq!(whole("1.5"), Some(1));
        assert_eq!(whole("0.5"), None);
        assert_eq!(whole("-1"), None);
    }

    #[test]
    fn request_limit_pairs_stay_separate() {
        let pair = |r: &str, l: &str| RequestLimit {
            request: r.into(),
            limit: l.into(),
        };
        assert_eq!(parse_request_limit("8G~16G"), Some(pair("8G", "16G")));
        assert_eq!(parse_request_limit(" 2 "), Some(pair("2", "2")));
        assert_eq!(parse_request_limit("~2"), None);
        assert_eq!(parse_request_limit(""), None);
        assert_eq!(parse_memory("8G~16G").unwrap(), pair("8G", "16G"));
        assert_eq!(parse_memory("512Mi").unwrap(), pair("512Mi", "512Mi"));
        assert_eq!(parse_memory("1.5G").unwrap(), pair("1.5G", "1.5G"));
        assert_eq!(parse_memory("100K").unwrap(), pair("100k", "100k"));
        assert_eq!(parse_memory("1Gi~2G").unwrap(), pair("1Gi", "2G"));
        assert_eq!(parse_cpu("4~8").unwrap(), pair("4", "8"));
        assert_eq!(parse_cpu("0.5").unwrap(), pair("0.5", "0.5"));
        assert_eq!(parse_cpu("500m~2").unwrap(), pair("500m", "2"));
    }

    #[test]
    fn memory_and_cpu_validation_errors() {
        for bad in [
            "2", "2g", "G", "2GB", "1.G", "-1G", "8G~", "abc", "16G~8G", "2T",
        ] {
            let err = parse_memory(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid memory value"),
                "{bad}: {err}"
            );
        }
        for bad in ["x", "1.2.3", "2G", "-1", "8~4", "m", "4~"] {
            let err = parse_cpu(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid cpu value"),
                "{bad}: {err}"
            );
        }
        assert_eq!(
            parse_memory("16G~8G").unwrap_err().to_string(),
            "invalid memory value \"16G~8G\": the request is larger than the limit"
        );
    }

    #[test]
    fn non_admin_caps() {
        let caps = ResourceCaps {
            max_cpu: 50.0,
            max_memory_gb: 100.0,
            max_gpu: 8.0,
        };
        let g = |s: &str| parse_gpu(s, &GpuConfig::default()).unwrap();
        assert!(check_resource_caps("100G", "50", &g("8"), None, &caps).is_ok());
        assert!(check_resource_caps("8G~100G", "4~50", &g("0"), None, &caps).is_ok());
        let err = check_resource_caps("101G", "2", &g("0"), None, &caps).unwrap_err();
        assert_eq!(
            err.to_string(),
            "memory 101G exceeds the maximum of 100G allowed for non-admin users"
        );
        let err = check_resource_caps("2G", "1~64", &g("0"), None, &caps).unwrap_err();
        assert!(matches!(
            err,
            ResourceError::OverCap {
                kind: ResourceKind::Cpu,
                ..
            }
        ));
        let err = check_resource_caps("2G", "1", &g("9(V100)"), None, &caps).unwrap_err();
        assert!(matches!(
            err,
            ResourceError::OverCap {
                kind: ResourceKind::Gpu,
                ..
            }
        ));
        // lowering a value that was already above the cap is allowed
        let prev_gpu = g("16");
        assert!(
            check_resource_caps(
                "150G",
                "60",
                &g("12"),
                Some(("200G", "64", &prev_gpu)),
                &caps
            )
            .is_ok()
        );
        assert!(
            check_resource_caps("250G", "2", &g("0"), Some(("200G", "64", &prev_gpu)), &caps)
                .is_err()
        );
    }
}

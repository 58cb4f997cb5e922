//! The page's chart (`echart_option`): three groups of three gauges (memory, CPU, GPU) —
//! the totals, the requested share and the used share (Prometheus). Written as JSON, a
//! JavaScript object literal the front end evaluates.

use serde_json::{Value, json};

use super::render::{ClusterLoad, py_round};

/// What the used-share gauges show.
pub enum Usage {
    /// Memory GiB, cores and GPU cards in use (the sums of the pods' peaks).
    Measured { mem: f64, cpu: f64, gpu: f64 },
    /// No gauges: why (no Prometheus configured, or it did not answer).
    Missing(String),
}

const POINTER: &str = "path://M-36.5,23.9L-41,4.4c-0.1-0.4-0.4-0.7-0.7-0.7c-0.5-0.1-1.1,0.2-1.2,0.7l-4.5,19.5c0,0.1,0,0.1,0,0.2v92.3c0,0.6,0.4,1,1,1h9c0.6,0,1-0.4,1-1V24.1C-36.5,24-36.5,23.9-36.5,23.9z M-39.5,114.6h-5v-85h5V114.6z";

fn title_style(offset: Value) -> Value {
    json!({"color": "#000", "fontSize": 15, "fontWeight": 200, "fontFamily": "Arial", "offsetCenter": offset})
}

fn detail(offset: Value, percent: bool) -> Value {
    let formatter = if percent {
        "{a|{value}%}"
    } else {
        "{a|{value}}"
    };
    json!({"offsetCenter": offset, "formatter": formatter,
           "rich": {"a": {"fontSize": 20, "color": "#000"}}})
}

/// A small side gauge (memory, GPU).
fn side(name: &str, max: i64, center_x: &str, value: i64, percent: bool) -> Value {
    json!({
        "name": name, "type": "gauge", "min": 0, "max": max,
        "startAngle": 210, "endAngle": -30, "splitNumber": 5, "radius": "36%",
        "center": [center_x, "55%"],
        "splitLine": {"distance": -4, "length": 4, "lineStyle": {"color": "#000"}},
        "axisTick": {"distance": -4, "length": 4, "lineStyle": {"color": "#000", "width": 1}},
        "axisLabel": {"show": false},
        "anchor": {},
        "pointer": {"icon": POINTER, "width": 2, "length": "40%", "offsetCenter": [0, "-58%"],
            "itemStyle": {"color": "#f00", "shadowColor": "rgba(255, 0, 0)", "shadowBlur": 2, "shadowOffsetY": 1}},
        "title": title_style(json!([0, "80%"])),
        "detail": detail(json!(["0%", "0%"]), percent),
        "data": [{"value": value, "name": name}]
    })
}

/// The large middle gauge (CPU).
fn middle(name: &str, max: i64, center_x: &str, value: i64, percent: bool) -> Value {
    json!({
        "name": name, "type": "gauge", "min": 0, "max": max, "z": 10,
        "startAngle": 210, "endAngle": -30, "splitNumber": 5, "radius": "60%",
        "center": [center_x, "50%"],
        "splitLine": {"distance": 5, "length": 5, "lineStyle": {"color": "#000"}},
        "axisLine": {"show": true, "lineStyle": {"width": 1, "color": [[1, "#000000"]]}},
        "axisTick": {"distance": 7, "length": 3},
        "axisLabel": {"distance": 2, "fontSize": 10, "color": "#000"},
        "anchor": {},
        "pointer": {"icon": POINTER, "width": 3, "length": "60%", "offsetCenter": [0, "-10%"],
            "itemStyle": {"color": "#f00", "shadowColor": "rgba(255, 0, 0)", "shadowBlur": 3, "shadowOffsetY": 1}},
        "title": title_style(json!(["0%", "70%"])),
        "data": [{"value": value, "name": name}],
        "detail": detail(json!(["0%", "25%"]), percent)
    })
}

/// `100 * part / total` rounded, as the original (`0.001` keeps an empty cluster at 0).
fn percent(part: f64, total: f64) -> i64 {
    py_round(100.0 * part / (0.001 + total))
}

/// The chart over the clusters' totals (of the nodes the caller sees) and the usage.
pub fn option(loads: &[ClusterLoad], usage: &Usage) -> String {
    let mem_all: i64 = loads.iter().map(|l| l.mem_all).sum();
    let cpu_all: i64 = loads.iter().map(|l| l.cpu_all).sum();
    let gpu_all: i64 = loads.iter().map(|l| l.gpu_all).sum();
    let mem_req: i64 = loads.iter().map(|l| l.mem_req).sum();
    let cpu_req: i64 = loads.iter().map(|l| l.cpu_req).sum();
    let gpu_req: i64 = loads.iter().map(|l| py_round(l.gpu_req)).sum();
    let (all_m, all_c, all_g) = (mem_all as f64, cpu_all as f64, gpu_all as f64);
    let mut series = vec![
        side("内存总量(G)", mem_all * 2, "7%", mem_all, false),
        middle("CPU总量(核)", cpu_all * 2, "17%", cpu_all, false),
        side("GPU总量(卡)", gpu_all * 2, "27%", gpu_all, false),
        side(
            "内存占用率",
            100,
            "40%",
            percent(mem_req as f64, all_m),
            true,
        ),
        middle(
            "CPU占用率",
            100,
            "50%",
            percent(cpu_req as f64, all_c),
            true,
        ),
        side(
            "GPU占用率",
            100,
            "60%",
            percent(gpu_req as f64, all_g),
            true,
        ),
    ];
    let used_title = match usage {
        Usage::Measured { mem, cpu, gpu } => {
            series.extend([
                side(
                    "内存利用率",
                    100,
                    "73%",
                    percent(*mem, all_m).min(100),
                    true,
                ),
                middle("CPU利用率", 100, "83%", percent(*cpu, all_c).min(100), true),
                side("GPU利用率", 100, "93%", percent(*gpu, all_g).min(100), true),
            ]);
            "资源利用率".to_string()
        }
        Usage::Missing(why) => format!("资源利用率: {why}"),
    };
    let title = |text: &str, left: &str| json!({"subtext": text, "left": left, "top": "75%", "textAlign": "center"});
    json!({
        "title": [title("集群信息", "17%"), title("资源占用率", "50%"), title(&used_title, "83%")],
        "series": series
    })
    .to_string()
}

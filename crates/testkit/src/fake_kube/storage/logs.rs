//! Pod logs: text set by the test handle, else one line naming what the pod ran.

use serde_json::Value;

use super::super::resources::Gvr;
use super::super::status::ApiError;
use super::Store;

impl Store {
    pub fn set_pod_log(&mut self, ns: &str, pod: &str, text: &str) {
        self.pod_logs
            .insert((ns.to_string(), pod.to_string()), text.to_string());
    }

    /// `pods/<name>/log`: the text set by the handle, else a line naming the container's
    /// image and command; `tail_lines` keeps the last lines.
    pub fn pod_log(
        &self,
        ns: &str,
        pod: &str,
        container: Option<&str>,
        tail_lines: Option<usize>,
    ) -> Result<String, ApiError> {
        let gvr = Gvr::new("", "v1", "pods");
        let obj = self.lookup(&gvr, ns, pod);
        let set = self.pod_logs.get(&(ns.to_string(), pod.to_string()));
        let text = match (obj, set) {
            (None, None) => return Err(Self::not_found(&gvr, pod)),
            (Some(obj), set) => {
                let containers = obj.pointer("/spec/containers").and_then(Value::as_array);
                let all = containers.map(|c| c.as_slice()).unwrap_or(&[]);
                let chosen = match container {
                    Some(c) => {
                        let found = all
                            .iter()
                            .find(|x| x.get("name").and_then(Value::as_str) == Some(c));
                        if found.is_none() && !all.is_empty() {
                            return Err(ApiError::bad_request(format!(
                                "container {c} is not valid for pod {pod}"
                            )));
                        }
                        found
                    }
                    None => all.first(),
                };
                match set {
                    Some(t) => t.clone(),
                    None => default_log(pod, chosen),
                }
            }
            (None, Some(t)) => t.clone(),
        };
        Ok(match tail_lines {
            Some(n) => {
                let lines: Vec<&str> = text.split_inclusive('\n').collect();
                lines[lines.len().saturating_sub(n)..].concat()
            }
            None => text,
        })
    }
}

fn default_log(pod: &str, container: Option<&Value>) -> String {
    let image = container
        .and_then(|c| c.get("image"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut words: Vec<String> = Vec::new();
    for field in ["command", "args"] {
        if let Some(a) = container
            .and_then(|c| c.get(field))
            .and_then(Value::as_array)
        {
            words.extend(a.iter().map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            }));
        }
    }
    format!("fake kubelet: {pod} ran {image}: {}\n", words.join(" "))
}

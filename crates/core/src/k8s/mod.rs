//! Kubernetes: the cluster registry and shared operations (`cluster`, `ops`), and the
//! pure manifest pieces: the volume-mount mini-language, resource and GPU strings, node
//! selectors, project settings, host aliases and single-task pods.

pub mod cluster;
pub mod host_aliases;
pub mod load;
pub mod node_selector;
pub mod ops;
pub mod pod_summary;
pub mod pods;
pub mod project;
pub mod resources;
pub mod volumes;

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// A valid label value: unchanged when already valid, else characters outside
/// `[A-Za-z0-9-_.]` become `-`, it is cut to 63 characters and non-alphanumerics
/// are trimmed from both ends.
pub fn label_value(value: &str) -> String {
    let valid = value.len() <= 63
        && value.chars().all(is_label_char)
        && value
            .chars()
            .next()
            .is_none_or(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .last()
            .is_none_or(|c| c.is_ascii_alphanumeric());
    if valid {
        return value.to_string();
    }
    let cleaned: String = value
        .chars()
        .map(|c| if is_label_char(c) { c } else { '-' })
        .take(63)
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// A resource name the upstream way: lower-case, `_`→`-`, the first `max`
/// characters, `-` trimmed from both ends.
pub fn resource_name(value: &str, max: usize) -> String {
    let cleaned: String = value
        .to_lowercase()
        .replace('_', "-")
        .chars()
        .take(max)
        .collect();
    cleaned.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values() {
        assert_eq!(label_value("alice"), "alice");
        assert_eq!(label_value(""), "");
        assert_eq!(label_value("a.b_c-d"), "a.b_c-d");
        assert_eq!(label_value("bob@example.com"), "bob-example.com");
        assert_eq!(label_value("-x-"), "x");
        assert_eq!(label_value(&"a".repeat(70)).len(), 63);
    }

    #[test]
    fn resource_names() {
        assert_eq!(
            resource_name("run-My_Pipe-task_1", 60),
            "run-my-pipe-task-1"
        );
        assert_eq!(
            resource_name(&format!("run-{}-", "x".repeat(70)), 60).len(),
            60
        );
        assert_eq!(resource_name("run-ab-", 60), "run-ab");
    }
}

//! `pipeline.dag_json` → an ordered, checked DAG.
//!
//! Like upstream `fix_dag_json`, tasks missing from the dag are added as roots and a
//! node without `upstream` has none. Unlike upstream, a dag key without a task, a
//! dependency on a task that does not exist, and a cycle are errors.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::CompileError;

/// One node: a task and the tasks it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagNode {
    pub name: String,
    pub upstream: Vec<String>,
}

/// The nodes in dag order (the order of `dag_json`, then tasks not in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dag {
    pub nodes: Vec<DagNode>,
}

fn bad(message: impl Into<String>) -> CompileError {
    CompileError::BadDag(message.into())
}

fn upstream_of(name: &str, node: &Value) -> Result<Vec<String>, CompileError> {
    let list = match node {
        Value::Null => return Ok(Vec::new()),
        Value::Object(map) => match map.get("upstream") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(bad(format!("upstream of {name} must be a list"))),
        },
        _ => return Err(bad(format!("node {name} must be an object"))),
    };
    let mut out: Vec<String> = Vec::new();
    for item in list {
        let up = item
            .as_str()
            .ok_or_else(|| bad(format!("upstream of {name} must list task names")))?;
        if !out.iter().any(|o| o == up) {
            out.push(up.to_string());
        }
    }
    Ok(out)
}

/// Parses and checks `dag_json` against the names of the pipeline's tasks.
pub fn parse_dag(dag_json: &str, task_names: &[&str]) -> Result<Dag, CompileError> {
    let text = dag_json.trim();
    let json: Value = if text.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_str(text).map_err(|e| bad(format!("dag_json is not JSON: {e}")))?
    };
    let map = json
        .as_object()
        .ok_or_else(|| bad("dag_json must be an object of task names"))?;
    let known: HashSet<&str> = task_names.iter().copied().collect();
    let mut nodes: Vec<DagNode> = Vec::with_capacity(map.len().max(task_names.len()));
    for (name, node) in map {
        if !known.contains(name.as_str()) {
            return Err(CompileError::UnknownTask { task: name.clone() });
        }
        nodes.push(DagNode {
            name: name.clone(),
            upstream: upstream_of(name, node)?,
        });
    }
    for name in task_names {
        if !map.contains_key(*name) {
            nodes.push(DagNode {
                name: (*name).to_string(),
                upstream: Vec::new(),
            });
        }
    }
    if nodes.is_empty() {
        return Err(CompileError::EmptyPipeline);
    }
    let dag = Dag { nodes };
    dag.check()?;
    Ok(dag)
}

impl Dag {
    /// Missing dependencies, then cycles.
    fn check(&self) -> Result<(), CompileError> {
        let index: HashMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut edges: Vec<Vec<usize>> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let mut out = Vec::with_capacity(node.upstream.len());
            for up in &node.upstream {
                let i = *index
                    .get(up.as_str())
                    .ok_or_else(|| CompileError::MissingDependency {
                        task: node.name.clone(),
                        dependency: up.clone(),
                    })?;
                out.push(i);
            }
            edges.push(out);
        }
        match find_cycle(&edges) {
            None => Ok(()),
            Some(cycle) => Err(CompileError::Cycle(
                cycle
                    .into_iter()
                    .map(|i| self.nodes[i].name.clone())
                    .collect(),
            )),
        }
    }
}

/// A cycle in `edges` (node → its dependencies), in run order starting from its
/// first node in dag order.
fn find_cycle(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; edges.len()];
    for start in 0..edges.len() {
        if state[start] != NEW {
            continue;
        }
        // (node, index of the next edge to follow)
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = ON_PATH;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&dep) = edges[node].get(*next) {
                *next += 1;
                match state[dep] {
                    NEW => {
                        state[dep] = ON_PATH;
                        stack.push((dep, 0));
                    }
                    ON_PATH => {
                        let from = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        // the path follows dependencies; reverse it into run order
                        let mut cycle: Vec<usize> =
                            stack[from..].iter().map(|(n, _)| *n).rev().collect();
                        let first = cycle
                            .iter()
                            .enumerate()
                            .min_by_key(|(_, n)| **n)
                            .map_or(0, |(i, _)| i);
                        cycle.rotate_left(first);
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                state[node] = DONE;
                stack.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dag: &Dag) -> Vec<(&str, Vec<&str>)> {
        dag.nodes
            .iter()
            .map(|n| {
                (
                    n.name.as_str(),
                    n.upstream.iter().map(String::as_str).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn keeps_dag_order_and_adds_missing_tasks() {
        let dag = parse_dag(
            r#"{"b":{"upstream":["a","a"]},"a":{},"c":{"upstream":null}}"#,
            &["a", "b", "c", "d"],
        )
        .unwrap();
        assert_eq!(
            names(&dag),
            vec![
                ("b", vec!["a"]),
                ("a", vec![]),
                ("c", vec![]),
                ("d", vec![])
            ]
        );
        let dag = parse_dag("", &["x", "y"]).unwrap();
        assert_eq!(names(&dag), vec![("x", vec![]), ("y", vec![])]);
    }

    #[test]
    fn errors() {
        let err = parse_dag(r#"{"a":{},"b":{"upstream":["x"]}}"#, &["a", "b"]).unwrap_err();
        assert_eq!(err.to_string(), "task b depends on missing task x");
        let err = parse_dag(r#"{"gone":{}}"#, &["a"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the dag names task gone, which does not exist in the pipeline"
        );
        assert_eq!(
            parse_dag("{}", &[]).unwrap_err(),
            CompileError::EmptyPipeline
        );
        assert!(matches!(
            parse_dag("[1]", &["a"]),
            Err(CompileError::BadDag(_))
        ));
        assert!(matches!(
            parse_dag("{", &["a"]),
            Err(CompileError::BadDag(_))
        ));
        assert!(matches!(
            parse_dag(r#"{"a":{"upstream":"b"}}"#, &["a", "b"]),
            Err(CompileError::BadDag(_))
        ));
    }

    #[test]
    fn cycles_name_their_tasks_in_run_order() {
        let err = parse_dag(
            r#"{"a":{"upstream":["c"]},"b":{"upstream":["a"]},"c":{"upstream":["b"]},"d":{"upstream":["a"]}}"#,
            &["a", "b", "c", "d"],
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "cycle between tasks a, b, c");
        let err = parse_dag(r#"{"z":{},"a":{"upstream":["a"]}}"#, &["a", "z"]).unwrap_err();
        assert_eq!(err.to_string(), "cycle between tasks a");
        let err = parse_dag(
            r#"{"r":{},"x":{"upstream":["r","y"]},"y":{"upstream":["x"]}}"#,
            &["r", "x", "y"],
        )
        .unwrap_err();
        assert_eq!(err, CompileError::Cycle(vec!["x".into(), "y".into()]));
    }

    #[test]
    fn long_chains_do_not_recurse() {
        let n = 20_000;
        let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        let mut dag = serde_json::Map::new();
        for i in 0..n {
            let up: Vec<String> = if i == 0 {
                vec![]
            } else {
                vec![names[i - 1].clone()]
            };
            dag.insert(names[i].clone(), serde_json::json!({ "upstream": up }));
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let text = serde_json::Value::Object(dag).to_string();
        assert_eq!(parse_dag(&text, &refs).unwrap().nodes.len(), n);
    }
}

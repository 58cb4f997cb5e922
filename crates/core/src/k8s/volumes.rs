//! The volume-mount mini-language (orchestration.md §1.5): entries `source(type):/path`
//! separated by `,` or `;`. Types: `pvc` (mounted at `<path>/<username>` with
//! `subPath=<username>`), `pvc-share`, `storage`, `nfs` (`ip/path`), `hostpath`,
//! `configmap`, `secret` and `memory` (`4G(memory)`); a bare `a:b` is a hostpath.
//!
//! Unlike upstream, a malformed entry is an error naming the entry instead of being
//! printed and ignored.

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EmptyDirVolumeSource, HostPathVolumeSource, NFSVolumeSource,
    PersistentVolumeClaimVolumeSource, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Host path of the time zone file mounted at `/etc/localtime`.
pub const TIMEZONE_FILE: &str = "/usr/share/zoneinfo/Asia/Shanghai";

/// The kind of a volume entry, written in brackets after the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeKind {
    Pvc,
    PvcShare,
    Nfs,
    Storage,
    HostPath,
    ConfigMap,
    Secret,
    Memory,
}

impl VolumeKind {
    fn parse(s: &str) -> Option<VolumeKind> {
        Some(match s.trim().to_lowercase().as_str() {
            "pvc" => VolumeKind::Pvc,
            "pvc-share" => VolumeKind::PvcShare,
            "nfs" => VolumeKind::Nfs,
            "storage" => VolumeKind::Storage,
            "hostpath" => VolumeKind::HostPath,
            "configmap" => VolumeKind::ConfigMap,
            "secret" => VolumeKind::Secret,
            "memory" => VolumeKind::Memory,
            _ => return None,
        })
    }
}

/// One parsed entry of a volume-mount string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeEntry {
    pub source: String,
    pub kind: VolumeKind,
    pub mount_path: String,
}

/// A malformed entry of a volume-mount string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad volume mount entry {entry:?}: {reason}")]
pub struct VolumeError {
    pub entry: String,
    pub reason: String,
}

fn entry_error(entry: &str, reason: impl Into<String>) -> VolumeError {
    VolumeError {
        entry: entry.to_string(),
        reason: reason.into(),
    }
}

/// The non-empty entries of a volume-mount string, trimmed.
pub fn split_entries(spec: &str) -> impl Iterator<Item = &str> {
    spec.split([',', ';'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
}

/// Parses one `source(type):/path` entry.
pub fn parse_entry(entry: &str) -> Result<VolumeEntry, VolumeError> {
    let (left, mount_path) = entry
        .split_once(':')
        .ok_or_else(|| entry_error(entry, "expected source(type):/mount/path"))?;
    let (source, kind) = match left.find('(') {
        None => (left.trim(), VolumeKind::HostPath),
        Some(open) => {
            let kind_text = left[open + 1..]
                .trim_end()
                .strip_suffix(')')
                .ok_or_else(|| entry_error(entry, "the (type) bracket is not closed"))?;
            let kind = VolumeKind::parse(kind_text).ok_or_else(|| {
                entry_error(
                    entry,
                    format!(
                        "unknown type {kind_text:?} (pvc, pvc-share, nfs, storage, hostpath, configmap, secret, memory)"
                    ),
                )
            })?;
            (left[..open].trim(), kind)
        }
    };
    let mount_path = mount_path.trim();
    if source.is_empty() {
        return Err(entry_error(entry, "the source is empty"));
    }
    if !mount_path.starts_with('/') {
        return Err(entry_error(entry, "the mount path must be absolute"));
    }
    if mount_path.contains(':') {
        return Err(entry_error(entry, "the mount path must not contain ':'"));
    }
    Ok(VolumeEntry {
        source: source.to_string(),
        kind,
        mount_path: mount_path.to_string(),
    })
}

/// Parses every entry of a volume-mount string.
pub fn parse_volume_mounts(spec: &str) -> Result<Vec<VolumeEntry>, VolumeError> {
    split_entries(spec).map(parse_entry).collect()
}

/// A volume name from a source: `_`→`-`, lower-case, characters outside `[a-z0-9-]`
/// → `-`, the last 60 characters, `-` stripped from both ends.
pub fn volume_name(source: &str) -> String {
    let cleaned: Vec<char> = source
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let tail: String = cleaned[cleaned.len().saturating_sub(60)..].iter().collect();
    tail.trim_matches('-').to_string()
}

/// `4G` → (`4`, `4Gi`), `512M` → (`512m`, `512Mi`).
fn memory_size(source: &str) -> Option<(String, String)> {
    let s = source.trim().trim_end_matches('i');
    let unit = s.chars().last()?;
    let number = &s[..s.len() - unit.len_utf8()];
    let unit = match unit {
        'G' | 'g' => "Gi",
        'M' | 'm' => "Mi",
        _ => return None,
    };
    let valid = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && number.parse::<f64>().is_ok();
    let suffix = if unit == "Gi" { "" } else { "m" };
    valid.then(|| (format!("{number}{suffix}"), format!("{number}{unit}")))
}

fn mount(name: &str, path: &str, sub_path: Option<&str>) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        sub_path: sub_path.map(String::from),
        ..Default::default()
    }
}

fn pvc(claim: &str) -> PersistentVolumeClaimVolumeSource {
    PersistentVolumeClaimVolumeSource {
        claim_name: claim.to_string(),
        read_only: None,
    }
}

/// Volumes and their mounts, in entry order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VolumeSet {
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
}

impl VolumeSet {
    fn has_name(&self, name: &str) -> bool {
        self.volumes.iter().any(|v| v.name == name)
    }

    fn push(&mut self, volume: Volume, mount: VolumeMount) {
        self.volumes.push(volume);
        self.mounts.push(mount);
    }
}

fn build_entry(
    e: &VolumeEntry,
    username: &str,
    raw: &str,
) -> Result<(Volume, VolumeMount), VolumeError> {
    let mut name = volume_name(&e.source);
    let mut volume = Volume::default();
    let mut mount_path = e.mount_path.clone();
    let mut sub_path = None;
    match e.kind {
        VolumeKind::Pvc => {
            volume.persistent_volume_claim = Some(pvc(&e.source));
            if !username.is_empty() {
                mount_path = format!("{}/{username}", e.mount_path.trim_end_matches('/'));
                sub_path = Some(username);
            }
        }
        VolumeKind::PvcShare | VolumeKind::Storage => {
            volume.persistent_volume_claim = Some(pvc(&e.source));
        }
        VolumeKind::Nfs => {
            let (server, path) = e
                .source
                .split_once('/')
                .ok_or_else(|| entry_error(raw, "an nfs source is written server/path"))?;
            if server.is_empty() {
                return Err(entry_error(raw, "an nfs source is written server/path"));
            }
            let path = format!("/{}", path.trim_start_matches('/'));
            name = volume_name(&path.replace('.', "-"));
            volume.nfs = Some(NFSVolumeSource {
                server: server.to_string(),
                path,
                read_only: None,
            });
        }
        VolumeKind::HostPath => {
            volume.host_path = Some(HostPathVolumeSource {
                path: e.source.clone(),
                type_: None,
            });
        }
        VolumeKind::ConfigMap => {
            volume.config_map = Some(ConfigMapVolumeSource {
                name: e.source.clone(),
                ..Default::default()
            });
        }
        VolumeKind::Secret => {
            volume.secret = Some(SecretVolumeSource {
                secret_name: Some(e.source.clone()),
                ..Default::default()
            });
        }
        VolumeKind::Memory => {
            let (label, size) = memory_size(&e.source)
                .ok_or_else(|| entry_error(raw, "a memory size is written like 4G or 512M"))?;
            name = volume_name(&format!("memory-{label}"));
            volume.empty_dir = Some(EmptyDirVolumeSource {
                medium: Some("Memory".to_string()),
                size_limit: Some(Quantity(size)),
            });
        }
    }
    if name.is_empty() {
        return Err(entry_error(
            raw,
            "no usable volume name can be derived from the source",
        ));
    }
    volume.name = name.clone();
    Ok((volume, mount(&name, &mount_path, sub_path)))
}

/// Expands a volume-mount string into volumes and mounts. `username` is the subPath of
/// `(pvc)` entries (the pipeline creator). An entry whose source or mount path was
/// already seen is skipped. When the string is non-empty, `tz-config`
/// (`/etc/localtime`) and `dshm` (`/dev/shm`) are added unless it already names the
/// time zone file or `/dev/shm`. Two different sources that sanitise to the same volume
/// name are an error.
pub fn build_volumes(spec: &str, username: &str) -> Result<VolumeSet, VolumeError> {
    let mut set = VolumeSet::default();
    let mut seen_sources: Vec<String> = Vec::new();
    let mut seen_paths: Vec<String> = Vec::new();
    for raw in split_entries(spec) {
        let entry = parse_entry(raw)?;
        let path_key = entry.mount_path.trim_end_matches('/').to_string();
        if seen_sources.contains(&entry.source) || seen_paths.contains(&path_key) {
            continue;
        }
        let (volume, mount) = build_entry(&entry, username, raw)?;
        if set.has_name(&volume.name) {
            return Err(entry_error(
                raw,
                format!(
                    "volume name {:?} is already used by another entry",
                    volume.name
                ),
            ));
        }
        seen_sources.push(entry.source);
        seen_paths.push(path_key);
        set.push(volume, mount);
    }
    if spec.trim().is_empty() || !spec.contains(':') {
        return Ok(set);
    }
    if !spec.contains(TIMEZONE_FILE) && !set.has_name("tz-config") {
        set.push(
            Volume {
                name: "tz-config".into(),
                host_path: Some(HostPathVolumeSource {
                    path: TIMEZONE_FILE.into(),
                    type_: None,
                }),
                ..Default::default()
            },
            mount("tz-config", "/etc/localtime", None),
        );
    }
    if !spec.contains("/dev/shm") && !set.has_name("dshm") {
        set.push(
            Volume {
                name: "dshm".into(),
                empty_dir: Some(EmptyDirVolumeSource {
                    medium: Some("Memory".into()),
                    size_limit: None,
                }),
                ..Default::default()
            },
            mount("dshm", "/dev/shm", None),
        );
    }
    Ok(set)
}

/// The mount path of an entry (after the first `:`), without a trailing `/`.
fn entry_mount_path(entry: &str) -> Option<&str> {
    entry
        .split_once(':')
        .map(|(_, p)| p.trim().trim_end_matches('/'))
}

/// Merges two volume-mount strings, entries of `a` first, dropping every entry whose
/// mount path was already used (upstream `core.merge_volume_mount`: project mounts +
/// template mounts for a task). Entries without `:` are kept once as written.
pub fn merge_volume_mounts(a: &str, b: &str) -> String {
    let mut seen: Vec<&str> = Vec::new();
    let mut out: Vec<&str> = Vec::new();
    for entry in split_entries(a).chain(split_entries(b)) {
        let key = entry_mount_path(entry).unwrap_or(entry);
        if !seen.contains(&key) {
            seen.push(key);
            out.push(entry);
        }
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_volume_type() {
        let spec = "kubeflow-user-workspace(pvc):/mnt,shared_data(pvc-share):/shared;\
                    10.0.0.1/data/nfs.v1(nfs):/nfs,archives(storage):/archives/,\
                    /data/models(hostpath):/models,my-config(configmap):/etc/conf,\
                    my-secret(secret):/etc/secret,4G(memory):/dev/shm,/var/log:/host-log";
        let set = build_volumes(spec, "alice").unwrap();
        insta::assert_yaml_snapshot!(set.volumes);
        insta::assert_yaml_snapshot!(set.mounts);
    }

    #[test]
    fn adds_timezone_and_shm_only_when_missing() {
        let set = build_volumes("ws(pvc):/mnt", "bob").unwrap();
        let names: Vec<_> = set.volumes.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["ws", "tz-config", "dshm"]);
        assert_eq!(set.mounts[0].mount_path, "/mnt/bob");
        assert_eq!(set.mounts[0].sub_path.as_deref(), Some("bob"));
        let set = build_volumes(
            "/usr/share/zoneinfo/Asia/Shanghai(hostpath):/etc/localtime,1G(memory):/dev/shm",
            "bob",
        )
        .unwrap();
        let names: Vec<_> = set.volumes.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["usr-share-zoneinfo-asia-shanghai", "memory-1"]);
        assert_eq!(build_volumes("", "bob").unwrap(), VolumeSet::default());
        assert_eq!(build_volumes(" ; , ", "bob").unwrap(), VolumeSet::default());
    }

    #[test]
    fn dedups_by_source_and_by_mount_path() {
        let set = build_volumes(
            "a(pvc):/mnt,a(pvc):/other,b(pvc):/mnt/,c(pvc-share):/c",
            "u",
        )
        .unwrap();
        let names: Vec<_> = set.volumes.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["a", "c", "tz-config", "dshm"]);
    }

    #[test]
    fn name_sanitising() {
        assert_eq!(
            volume_name("Kubeflow_User_Workspace"),
            "kubeflow-user-workspace"
        );
        assert_eq!(volume_name("/data/models"), "data-models");
        assert_eq!(volume_name("-x.y-"), "x-y");
        let long = format!("{}-tail", "a".repeat(80));
        assert_eq!(volume_name(&long).len(), 60);
        assert!(volume_name(&long).ends_with("-tail"));
    }

    #[test]
    fn pvc_without_username_has_no_sub_path() {
        let set = build_volumes("ws(pvc):/mnt/", "").unwrap();
        assert_eq!(set.mounts[0].mount_path, "/mnt/");
        assert_eq!(set.mounts[0].sub_path, None);
    }

    #[test]
    fn errors_name_the_bad_entry() {
        let cases = [
            ("ok(pvc):/mnt,broken", "broken"),
            ("x(pvcc):/mnt", "x(pvcc):/mnt"),
            ("x(pvc:/mnt", "x(pvc:/mnt"),
            ("(pvc):/mnt", "(pvc):/mnt"),
            ("x(pvc):relative", "x(pvc):relative"),
            ("x(pvc):/a:b", "x(pvc):/a:b"),
            ("lots(memory):/dev/shm", "lots(memory):/dev/shm"),
            ("nfs-without-server(nfs):/n", "nfs-without-server(nfs):/n"),
            ("---(configmap):/c", "---(configmap):/c"),
        ];
        for (spec, entry) in cases {
            let err = build_volumes(spec, "u").unwrap_err();
            assert_eq!(err.entry, entry, "{spec}: {err}");
        }
        let err = build_volumes("a_b(pvc):/x,a-b(pvc-share):/y", "u").unwrap_err();
        assert!(err.reason.contains("already used"), "{err}");
    }

    #[test]
    fn merge_dedups_by_mount_path() {
        assert_eq!(
            merge_volume_mounts(
                "kubeflow-user-workspace(pvc):/mnt,kubeflow-archives(pvc):/archives",
                "other(pvc):/mnt/;tpl(hostpath):/tpl"
            ),
            "kubeflow-user-workspace(pvc):/mnt,kubeflow-archives(pvc):/archives,tpl(hostpath):/tpl"
        );
        assert_eq!(merge_volume_mounts("", "a(pvc):/a"), "a(pvc):/a");
        assert_eq!(merge_volume_mounts("junk,junk", ""), "junk");
        // a later entry at a taken mount path (trailing `/` ignored) is dropped
        assert_eq!(
            merge_volume_mounts("x(pvc):/mnt/,y(pvc):/y", "w(pvc):/mnt"),
            "x(pvc):/mnt/,y(pvc):/y"
        );
        assert_eq!(
            merge_volume_mounts("x(pvc):/mnt2", "w(pvc):/mnt"),
            "x(pvc):/mnt2,w(pvc):/mnt"
        );
    }
}

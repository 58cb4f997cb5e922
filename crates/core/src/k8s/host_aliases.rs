//! `hostAliases` from `ip host1 host2` lines (config `HOSTALIASES`,
//! `job_template.host_aliases`). Unlike the upstream workflow builder, every hostname
//! of a line is mapped, not only the first.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::HostAlias;

/// A line that is not `ip host...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad host alias line {line:?}: {reason}")]
pub struct HostAliasError {
    pub line: String,
    pub reason: String,
}

/// Parses `ip host1 host2` lines into aliases, appending to `out`. Blank lines and
/// `#` comments are skipped; lines with the same IP are merged; a hostname is listed
/// once per IP.
pub fn add_host_aliases(out: &mut Vec<HostAlias>, text: &str) -> Result<(), HostAliasError> {
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let ip = words.next().unwrap_or_default();
        if ip.parse::<IpAddr>().is_err() {
            return Err(HostAliasError {
                line: line.to_string(),
                reason: format!("{ip:?} is not an IP address"),
            });
        }
        let hosts: Vec<String> = words.map(String::from).collect();
        if hosts.is_empty() {
            return Err(HostAliasError {
                line: line.to_string(),
                reason: "no hostname after the IP address".to_string(),
            });
        }
        let alias = match out.iter_mut().position(|a| a.ip == ip) {
            Some(i) => &mut out[i],
            None => {
                out.push(HostAlias {
                    ip: ip.to_string(),
                    hostnames: Some(Vec::new()),
                });
                let last = out.len() - 1;
                &mut out[last]
            }
        };
        let names = alias.hostnames.get_or_insert_with(Vec::new);
        for h in hosts {
            if !names.contains(&h) {
                names.push(h);
            }
        }
    }
    Ok(())
}

/// Parses `ip host...` lines into a new list.
pub fn parse_host_aliases(text: &str) -> Result<Vec<HostAlias>, HostAliasError> {
    let mut out = Vec::new();
    add_host_aliases(&mut out, text)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_hostname_and_merges_ips() {
        let mut out = parse_host_aliases("127.0.0.1 localhost\n# comment\n\n").unwrap();
        add_host_aliases(
            &mut out,
            "10.0.0.5 data.internal data\n127.0.0.1 localhost me\n::1 ip6",
        )
        .unwrap();
        insta::assert_yaml_snapshot!(out, @r#"
        - hostnames:
            - localhost
            - me
          ip: 127.0.0.1
        - hostnames:
            - data.internal
            - data
          ip: 10.0.0.5
        - hostnames:
            - ip6
          ip: "::1"
        "#);
    }

    #[test]
    fn rejects_bad_lines() {
        assert!(parse_host_aliases("localhost 127.0.0.1").is_err());
        let err = parse_host_aliases("10.0.0.1").unwrap_err();
        assert_eq!(err.line, "10.0.0.1");
    }
}

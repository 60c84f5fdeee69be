//! Pod security findings of a pod template: host namespaces and paths, security contexts,
//! privileges, capabilities, host ports and mutable image tags.

use crate::path::At as _;

use serde_json::Value;

use super::super::helpers::join;
use super::{Finding, f};
use crate::plan::Severity;

use Severity::{Critical, High, Low, Medium};

const DANGEROUS_CAPS: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "NET_ADMIN",
    "SYS_PTRACE",
    "SYS_MODULE",
    "DAC_READ_SEARCH",
    "BPF",
    "PERFMON",
    "NET_RAW",
];
const SENSITIVE_HOST_PATHS: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/var/lib/kubelet",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
];

fn mutable_image(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => true,
        Some((_, tag)) => tag == "latest",
    }
}

fn security_context(sc: &Value, path: &str, who: &str, out: &mut Vec<Finding>) {
    if sc["runAsUser"].as_i64() == Some(0) {
        out.push(f(
            "RUN_AS_ROOT",
            Medium,
            join(path, "runAsUser"),
            format!("{who}: runAsUser 0"),
            format!("{who} runs as root (runAsUser: 0)"),
        ));
    }
    if sc["runAsNonRoot"].as_bool() == Some(false) {
        out.push(f(
            "RUN_AS_ROOT",
            Medium,
            join(path, "runAsNonRoot"),
            format!("{who}: runAsNonRoot false"),
            format!("{who} may run as root (runAsNonRoot: false)"),
        ));
    }
    for field in ["seccompProfile", "appArmorProfile"] {
        if sc[field]["type"].as_str() == Some("Unconfined") {
            out.push(f(
                "SECCOMP_UNCONFINED",
                Medium,
                join(path, &format!("{field}.type")),
                format!("{who}: {field} Unconfined"),
                format!("{who} runs with {field} Unconfined"),
            ));
        }
    }
}

pub(super) fn pod_findings(tpl: &Value, prefix: &str, out: &mut Vec<Finding>) {
    let sp = join(prefix, "spec");
    let spec = &tpl["spec"];
    for hn in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec[hn].as_bool() == Some(true) {
            out.push(f(
                "HOST_NAMESPACE",
                High,
                join(&sp, hn),
                hn.to_owned(),
                format!("pods share the node's namespace ({hn}: true)"),
            ));
        }
    }
    for vol in spec["volumes"].as_array().into_iter().flatten() {
        if let Some(p) = vol["hostPath"]["path"].as_str() {
            let name = vol["name"].as_str().unwrap_or_default();
            let norm = if p.len() > 1 {
                p.trim_end_matches('/')
            } else {
                p
            };
            let sev = if SENSITIVE_HOST_PATHS.contains(&norm) {
                Critical
            } else {
                High
            };
            out.push(f(
                "HOST_PATH",
                sev,
                format!("{sp}.volumes[name={name}].hostPath.path"),
                format!("volume {name}: {norm}"),
                format!("volume {name} mounts the node's {norm}"),
            ));
        }
    }
    security_context(
        &spec["securityContext"],
        &join(&sp, "securityContext"),
        "pod",
        out,
    );
    if spec["automountServiceAccountToken"].as_bool() == Some(true) {
        out.push(f(
            "SA_TOKEN_AUTOMOUNT",
            Low,
            join(&sp, "automountServiceAccountToken"),
            "automount".into(),
            "the service account token is mounted into the pods".into(),
        ));
    }
    if let Some(ann) = tpl.at("/metadata/annotations").and_then(Value::as_object) {
        for (k, val) in ann {
            if k.starts_with("container.apparmor.security.beta.kubernetes.io/")
                && val.as_str() == Some("unconfined")
            {
                out.push(f(
                    "SECCOMP_UNCONFINED",
                    Medium,
                    join(prefix, &format!("metadata.annotations[\"{k}\"]")),
                    k.clone(),
                    format!("AppArmor unconfined ({k})"),
                ));
            }
        }
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            container_findings(c, &sp, list, out);
        }
    }
}

/// The findings of one container (`list` is `containers`, `initContainers`, ...).
fn container_findings(c: &Value, sp: &str, list: &str, out: &mut Vec<Finding>) {
    let name = c["name"].as_str().unwrap_or_default();
    let cp = format!("{sp}.{list}[name={name}]");
    let who = format!("container {name}");
    let sc = &c["securityContext"];
    let scp = format!("{cp}.securityContext");
    if sc["privileged"].as_bool() == Some(true) {
        out.push(f(
            "PRIVILEGED",
            Critical,
            format!("{scp}.privileged"),
            format!("{who}: privileged"),
            format!("{who} runs privileged (full access to the node)"),
        ));
    }
    if sc["allowPrivilegeEscalation"].as_bool() == Some(true) {
        out.push(f(
            "PRIV_ESCALATION",
            High,
            format!("{scp}.allowPrivilegeEscalation"),
            format!("{who}: allowPrivilegeEscalation"),
            format!("{who} allows privilege escalation"),
        ));
    }
    if sc["procMount"].as_str() == Some("Unmasked") {
        out.push(f(
            "PRIV_ESCALATION",
            High,
            format!("{scp}.procMount"),
            format!("{who}: procMount Unmasked"),
            format!("{who} mounts /proc unmasked"),
        ));
    }
    for cap in sc["capabilities"]["add"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let norm = cap.trim_start_matches("CAP_").to_ascii_uppercase();
        if DANGEROUS_CAPS.contains(&norm.as_str()) {
            let sev = if matches!(norm.as_str(), "ALL" | "SYS_ADMIN") {
                Critical
            } else {
                High
            };
            out.push(f(
                "CAP_ADD",
                sev,
                format!("{scp}.capabilities.add"),
                format!("{who}: {norm}"),
                format!("{who} adds capability {norm}"),
            ));
        }
    }
    security_context(sc, &scp, &who, out);
    for p in c["ports"].as_array().into_iter().flatten() {
        if let Some(hp) = p["hostPort"].as_i64().filter(|h| *h != 0) {
            out.push(f(
                "HOST_PORT",
                Medium,
                format!("{cp}.ports"),
                format!("{who}: hostPort {hp}"),
                format!("{who} binds port {hp} on the node"),
            ));
        }
    }
    if let Some(img) = c["image"].as_str()
        && mutable_image(img)
    {
        out.push(f(
            "IMAGE_MUTABLE",
            Low,
            format!("{cp}.image"),
            format!("{who}: mutable tag"),
            format!("{who} uses a mutable image tag ({img})"),
        ));
    }
}

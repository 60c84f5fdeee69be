//! Kustomize through `kubectl kustomize`: a base with two overlays, compared with what the
//! tool prints for the same input, and the flags thule passes.

use anyhow::Result;
use serde_json::json;
use thule_render::Renderer;

use crate::support::{
    engine, failure_reason, fixture_repo, keys, project, rendered, run_tool, values,
};

#[test]
fn overlays_equal_what_kubectl_kustomize_prints() -> Result<()> {
    let repo = fixture_repo();
    let engine = engine(&repo);
    for (name, dir) in [
        ("api-staging", "kustomize/overlays/staging"),
        ("api-prod", "kustomize/overlays/prod"),
    ] {
        let r = engine.render(&project(&repo, name)?);
        let ours = values(rendered(&r)?);
        let theirs = run_tool(&repo, "kubectl", &["kustomize", dir])?;
        assert!(!theirs.is_empty());
        assert_eq!(ours, theirs, "{name}");
    }
    Ok(())
}

#[test]
fn overlays_apply_prefix_namespace_patches_and_generators() -> Result<()> {
    let repo = fixture_repo();
    let engine = engine(&repo);
    let staging = engine.render(&project(&repo, "api-staging")?);
    let staging = rendered(&staging)?;
    let k = keys(staging);
    assert_eq!(k.len(), 3, "{k:?}");
    assert!(
        k[0].starts_with("ConfigMap staging/staging-api-config-"),
        "{k:?}"
    );
    assert_eq!(
        k[1..],
        [
            "Service staging/staging-api",
            "Deployment.apps staging/staging-api"
        ]
    );
    let cm = &staging.objects[0].object;
    assert_eq!(cm.pointer("/data/LOG_LEVEL"), Some(&json!("debug")));
    assert!(cm.pointer("/data/app.properties").is_some());
    let deploy = &staging.objects[2].object;
    assert_eq!(deploy.pointer("/spec/replicas"), Some(&json!(2)));
    // The generated name (with its content hash) is what the Deployment refers to.
    assert_eq!(
        deploy.pointer("/spec/template/spec/containers/0/envFrom/0/configMapRef/name"),
        cm.pointer("/metadata/name")
    );

    let prod = engine.render(&project(&repo, "api-prod")?);
    let prod = rendered(&prod)?;
    let deploy = prod
        .objects
        .iter()
        .find(|m| m.key.kind == "Deployment")
        .map(|m| &m.object)
        .ok_or_else(|| anyhow::anyhow!("no Deployment"))?;
    assert_eq!(deploy.pointer("/metadata/name"), Some(&json!("prod-api")));
    assert_eq!(deploy.pointer("/spec/replicas"), Some(&json!(5)));
    assert_eq!(
        deploy.pointer("/spec/template/spec/containers/0/image"),
        Some(&json!("registry.example.com/api:1.2.3"))
    );
    assert_eq!(
        deploy.pointer("/spec/template/spec/containers/0/resources/limits/memory"),
        Some(&json!("512Mi"))
    );
    assert!(keys(prod).contains(&"HorizontalPodAutoscaler.autoscaling prod/prod-api".to_owned()));
    Ok(())
}

#[test]
fn metadata_and_origins_name_the_tool_and_invocation() -> Result<()> {
    let repo = fixture_repo();
    let engine = engine(&repo);
    let r = engine.render(&project(&repo, "api-prod")?);
    let out = rendered(&r)?;
    let command =
        "kubectl kustomize kustomize/overlays/prod --load-restrictor LoadRestrictionsRootOnly";
    assert_eq!(out.meta.tool.name, "kustomize");
    assert_eq!(out.meta.tool.version, "v5.6.0 (kubectl v1.33.9)");
    assert_eq!(out.meta.command.as_deref(), Some(command));
    for (i, m) in out.objects.iter().enumerate() {
        assert_eq!(m.origin.project, "api-prod");
        assert_eq!(m.origin.source, command);
        assert_eq!(m.origin.document, i);
        assert!(m.origin.line > 0);
    }
    // One version query, one build; no plugin or helm flags.
    assert_eq!(
        engine.runner().calls(),
        ["kubectl version --client -o json", command]
    );
    Ok(())
}

#[test]
fn helm_inflation_is_off_unless_the_project_enables_it() -> Result<()> {
    let repo = fixture_repo();
    let engine = engine(&repo);
    let mut p = project(&repo, "inflate")?;
    p.render.kustomize_enable_helm = false;
    let reason = failure_reason(&engine.render(&p))?;
    assert!(
        reason.contains("kustomize/inflate/kustomization.yaml"),
        "{reason}"
    );
    assert!(
        reason.contains("render.kustomize.enableHelm: true"),
        "{reason}"
    );
    assert!(reason.contains("must specify --enable-helm"), "{reason}");
    assert!(
        !engine
            .runner()
            .calls()
            .iter()
            .any(|c| c.contains("--enable-helm")),
        "{:?}",
        engine.runner().calls()
    );
    Ok(())
}

/// With `enableHelm`, thule passes `--enable-helm`, the configured helm and the kube version.
/// The pinned kustomize v5.6.0 cannot drive helm v4 (it probes `helm version -c --short`, a
/// flag helm v4 removed, and then insists on v3), so with the pinned tools the render fails,
/// and says so explicitly instead of dropping the chart.
#[test]
fn enabled_helm_inflation_passes_the_helm_flags() -> Result<()> {
    let repo = fixture_repo();
    let engine = engine(&repo);
    let r = engine.render(&project(&repo, "inflate")?);
    let calls = engine.runner().calls();
    let build = calls
        .iter()
        .find(|c| c.starts_with("kubectl kustomize"))
        .ok_or_else(|| anyhow::anyhow!("no build in {calls:?}"))?;
    let helm = crate::support::tools_dir().join("helm");
    assert!(
        build.ends_with(&format!(
            "kustomize/inflate --load-restrictor LoadRestrictionsRootOnly --enable-helm \
             --helm-command {} --helm-kube-version 1.30.2",
            helm.display()
        )),
        "{build}"
    );
    let reason = failure_reason(&r)?;
    assert!(
        reason.contains("inflates Helm charts only with helm v3"),
        "{reason}"
    );
    assert!(reason.contains("helm version -c --short"), "{reason}");
    assert!(
        reason.contains("kustomize/inflate/kustomization.yaml"),
        "{reason}"
    );
    Ok(())
}

/// `KustomizeTool::Standalone` runs `kustomize build DIR` with the same flags. No standalone
/// kustomize is installed, so a two-line wrapper stands in for it, forwarding to
/// `kubectl kustomize`.
#[cfg(unix)]
#[test]
fn a_standalone_kustomize_runs_kustomize_build() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    use thule_render::{KustomizeTool, RenderEngine, RenderOptions, Toolchain};

    let bin = tempfile::tempdir()?;
    let kustomize = bin.path().join("kustomize");
    let kubectl = crate::support::tools_dir().join("kubectl");
    std::fs::write(
        &kustomize,
        format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then echo v5.6.0; exit 0; fi\n\
             [ \"$1\" = build ] || exit 64\nshift\nexec '{}' kustomize \"$@\"\n",
            kubectl.display()
        ),
    )?;
    std::fs::set_permissions(&kustomize, std::fs::Permissions::from_mode(0o755))?;
    let repo = fixture_repo();
    let toolchain = Toolchain {
        kustomize: KustomizeTool::Standalone(kustomize),
        ..Toolchain::from_dir(&crate::support::tools_dir())
    };
    let engine = RenderEngine::new(
        thule_render::CountingRunner::new(thule_render::ProcessRunner::new()),
        RenderOptions::new(&repo).toolchain(toolchain),
    );
    let r = engine.render(&project(&repo, "api-staging")?);
    let out = rendered(&r)?;
    assert_eq!(out.meta.tool.to_string(), "kustomize v5.6.0");
    assert_eq!(
        engine.runner().calls(),
        [
            "kustomize version",
            "kustomize build kustomize/overlays/staging --load-restrictor LoadRestrictionsRootOnly"
        ]
    );
    let theirs = run_tool(
        &repo,
        "kubectl",
        &["kustomize", "kustomize/overlays/staging"],
    )?;
    assert_eq!(values(out), theirs);
    Ok(())
}

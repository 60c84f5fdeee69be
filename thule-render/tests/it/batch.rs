//! Many projects at once: explicit partial failure, the cache, parallelism, missing tools.

use anyhow::Result;
use thule_core::config::RenderMode;
use thule_render::{
    CountingRunner, ProcessRunner, RenderEngine, RenderOptions, Renderer, Toolchain,
};

use crate::support::{
    engine, failure_reason, fixture_copy, fixture_repo, load, project, rendered, values,
};

const GOOD: &[&str] = &["api-prod", "api-staging", "plain", "web"];

#[test]
fn broken_projects_fail_with_the_file_to_fix_and_the_others_still_render() -> Result<()> {
    let repo = fixture_repo();
    let projects = load(&repo)?;
    let results = engine(&repo).render_all(&projects);
    assert_eq!(results.len(), projects.len());
    for (r, p) in results.iter().zip(&projects) {
        assert_eq!(r.project, p.name, "results keep input order");
    }
    let result = |name: &str| {
        results
            .iter()
            .find(|r| r.project == name)
            .ok_or_else(|| anyhow::anyhow!("no result for {name}"))
    };
    for name in GOOD {
        let out = rendered(result(name)?)?;
        assert!(!out.objects.is_empty(), "{name}");
    }

    let reason = failure_reason(result("broken-kustomize")?)?;
    assert!(
        reason.starts_with(
            "kustomize could not render `broken/kustomize/kustomization.yaml`; fix the \
             kustomization or the file named in kustomize's error: `"
        ),
        "{reason}"
    );
    assert!(
        reason.contains("broken/kustomize/deployment.yaml: no such file"),
        "{reason}"
    );
    // Checkout paths are made repository-relative.
    assert!(!reason.contains(&repo.display().to_string()), "{reason}");

    let reason = failure_reason(result("broken-escape")?)?;
    assert!(
        reason.contains("`broken/escape/kustomization.yaml`"),
        "{reason}"
    );
    assert!(reason.contains("load restrictions forbid"), "{reason}");
    assert!(
        reason.contains("file 'kustomize/base/app.properties' is not in or below 'broken/escape'"),
        "{reason}"
    );

    let reason = failure_reason(result("broken-helm")?)?;
    assert!(
        reason.starts_with("helm could not render `broken/helm`; fix the chart template"),
        "{reason}"
    );
    assert!(
        reason.contains(
            "(broken/templates/configmap.yaml:6:15): values.endpoint is required: set it in a values file"
        ),
        "{reason}"
    );

    let reason = failure_reason(result("broken-yaml")?)?;
    assert!(
        reason.starts_with(
            "malformed YAML; fix the syntax at the position shown: broken/yaml/bad.yaml:"
        ),
        "{reason}"
    );
    Ok(())
}

#[test]
fn an_unchanged_project_is_served_from_the_cache_without_running_the_tool() -> Result<()> {
    let repo = fixture_repo();
    let engine = engine(&repo);
    let projects: Vec<_> = GOOD
        .iter()
        .map(|n| project(&repo, n))
        .collect::<Result<_>>()?;
    let first = engine.render_all(&projects);
    let runs = engine.runner().count();
    // Versions of two tools, plus one build per tool-rendered project.
    assert_eq!(runs, 2 + 3, "{:?}", engine.runner().calls());

    let second = engine.render_all(&projects);
    assert_eq!(
        engine.runner().count(),
        runs,
        "the second render must not run any tool"
    );
    for (a, b) in first.iter().zip(&second) {
        let (a, b) = (rendered(a)?, rendered(b)?);
        assert!(!a.meta.cached);
        assert!(b.meta.cached, "{}", b.meta.tool);
        assert_eq!(a.objects, b.objects);
        assert_eq!(a.meta.key, b.meta.key);
    }
    Ok(())
}

#[test]
fn changing_any_input_misses_the_cache() -> Result<()> {
    let copy = fixture_copy()?;
    let repo = copy.path();
    let engine = engine(repo);
    let prod = project(repo, "api-prod")?;
    let web = project(repo, "web")?;
    let before_prod = engine.render(&prod);
    let before_web = engine.render(&web);
    let runs = engine.runner().count();

    // A file of the base that the overlay reaches through `../../base`.
    let base = repo.join("kustomize/base/deployment.yaml");
    let text = std::fs::read_to_string(&base)?.replace("memory: 128Mi", "memory: 100Mi");
    std::fs::write(&base, text)?;
    // The second values file, which lives outside the chart.
    let values_file = repo.join("helm/values/prod.yaml");
    let text = std::fs::read_to_string(&values_file)?.replace("replicaCount: 4", "replicaCount: 6");
    std::fs::write(&values_file, text)?;

    let after_prod = engine.render(&prod);
    let after_web = engine.render(&web);
    assert_eq!(
        engine.runner().count(),
        runs + 2,
        "{:?}",
        engine.runner().calls()
    );
    let (bp, ap) = (rendered(&before_prod)?, rendered(&after_prod)?);
    assert!(!ap.meta.cached);
    assert_ne!(bp.meta.key, ap.meta.key);
    // The overlay patches memory, so the output is the same although the input changed.
    assert_eq!(values(bp), values(ap));
    let (bw, aw) = (rendered(&before_web)?, rendered(&after_web)?);
    assert!(!aw.meta.cached);
    assert_ne!(values(bw), values(aw));

    // An unrelated file does not invalidate either project.
    std::fs::write(repo.join("plain/extra.yaml"), "a: 1\n")?;
    assert!(rendered(&engine.render(&prod))?.meta.cached);
    assert!(rendered(&engine.render(&web))?.meta.cached);
    assert_eq!(engine.runner().count(), runs + 2);
    Ok(())
}

#[test]
fn parallel_and_sequential_rendering_agree() -> Result<()> {
    let repo = fixture_repo();
    let projects = load(&repo)?;
    let options = |jobs| {
        RenderOptions::new(&repo)
            .toolchain(Toolchain::from_dir(&crate::support::tools_dir()))
            .jobs(jobs)
    };
    let seq = RenderEngine::new(ProcessRunner::new(), options(1)).render_all(&projects);
    let par = RenderEngine::new(ProcessRunner::new(), options(4)).render_all(&projects);
    assert_eq!(seq.len(), par.len());
    for (s, p) in seq.iter().zip(&par) {
        assert_eq!(s.project, p.project);
        match (s.output(), p.output()) {
            (Some(a), Some(b)) => assert_eq!(a.objects, b.objects),
            // Compare the top-level message: tool stderr may name temporary directories.
            (Some(_), None) | (None, Some(_)) => panic!("{} rendered in one mode only", s.project),
            (None, None) => assert_eq!(
                s.failure().map(|f| f.error.to_string()),
                p.failure().map(|f| f.error.to_string())
            ),
        }
    }
    Ok(())
}

#[test]
fn missing_tools_fail_tool_projects_with_install_instructions() -> Result<()> {
    let repo = fixture_repo();
    let engine = RenderEngine::new(
        CountingRunner::new(ProcessRunner::new()),
        RenderOptions::new(&repo)
            .toolchain(Toolchain::from_dir("/nonexistent/thule-tools".as_ref())),
    );
    let results = engine.render_all(&[project(&repo, "web")?, project(&repo, "plain")?]);
    let reason = failure_reason(&results[0])?;
    assert_eq!(
        reason,
        "`helm` is not available; install it (`scripts/install-tools.sh` installs the pinned \
         versions into `.tools/bin`) or configure its path: `/nonexistent/thule-tools/helm` \
         was not found (running `/nonexistent/thule-tools/helm version --template \
         '{{.Version}}'`)"
    );
    assert!(results[1].is_rendered());
    Ok(())
}

#[test]
fn unsupported_modes_and_missing_paths_fail_explicitly() -> Result<()> {
    let repo = fixture_repo();
    let engine = engine(&repo);
    let mut flux = project(&repo, "plain")?;
    flux.render.mode = RenderMode::Flux;
    assert_eq!(
        failure_reason(&engine.render(&flux))?,
        "render mode `flux` is not supported by thule-render yet; fix `render.mode` in `plain/thule.yaml`"
    );
    let mut missing = project(&repo, "plain")?;
    missing.render.path = "plain/gone".into();
    assert_eq!(
        failure_reason(&engine.render(&missing))?,
        "`plain/gone` does not exist; fix `render.path` in `plain/thule.yaml`"
    );
    let mut escape = project(&repo, "web")?;
    escape.render.helm.chart = "../outside".into();
    assert_eq!(
        failure_reason(&engine.render(&escape))?,
        "`../outside` is not a relative path inside the repository; fix `helm/thule.yaml`"
    );
    let mut not_chart = project(&repo, "web")?;
    not_chart.render.helm.chart = "helm/values".into();
    assert!(
        failure_reason(&engine.render(&not_chart))?
            .starts_with("`helm/values` is not a local Helm chart (no `Chart.yaml`)")
    );
    Ok(())
}

#[test]
fn a_directory_cache_serves_a_fresh_engine_without_running_the_template() -> Result<()> {
    let repo = fixture_repo();
    let dir = tempfile::tempdir()?;
    let cache = std::sync::Arc::new(thule_render::DirCache::new(dir.path()));
    let web = project(&repo, "web")?;
    let first = engine(&repo).with_cache(cache.clone());
    let a = first.render(&web);
    assert!(!rendered(&a)?.meta.cached);

    // A new engine (as in a new CLI run) only asks helm for its version, which is part of
    // the cache key, and does not run `helm template`.
    let second = engine(&repo).with_cache(cache);
    let b = second.render(&web);
    let b = rendered(&b)?;
    assert!(b.meta.cached);
    assert_eq!(
        second.runner().calls(),
        ["helm version --template '{{.Version}}'"]
    );
    assert_eq!(rendered(&a)?.objects, b.objects);
    assert_eq!(rendered(&a)?.meta.command, b.meta.command);
    Ok(())
}

#[test]
fn renders_have_no_network_and_say_what_to_vendor() -> Result<()> {
    // A remote kustomize base: the proxy thule sets for every tool refuses the connection.
    let repo = tempfile::tempdir()?;
    let dir = repo.path().join("remote");
    std::fs::create_dir(&dir)?;
    std::fs::write(
        dir.join("thule.yaml"),
        "version: v1\nproject: remote\nrender:\n  mode: kustomize\n",
    )?;
    std::fs::write(
        dir.join("kustomization.yaml"),
        "resources:\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.6.0\n",
    )?;
    let reason = failure_reason(&engine(repo.path()).render(&project(repo.path(), "remote")?))?;
    assert!(
        reason.starts_with(
            "kustomize could not render `remote/kustomization.yaml`; thule renders without \
             network access; vendor the remote base"
        ),
        "{reason}"
    );
    assert!(
        reason.contains("proxyconnect tcp: dial tcp 127.0.0.1:9"),
        "{reason}"
    );

    // A chart whose dependency is not vendored.
    let copy = fixture_copy()?;
    std::fs::remove_dir_all(copy.path().join("helm/web/charts"))?;
    let reason = failure_reason(&engine(copy.path()).render(&project(copy.path(), "web")?))?;
    assert!(
        reason.starts_with(
            "helm could not render `helm/web`; vendor the chart's dependencies into its \
             `charts/` directory"
        ),
        "{reason}"
    );
    assert!(
        reason.contains("missing in charts/ directory: cache"),
        "{reason}"
    );
    Ok(())
}

#[cfg(unix)]
#[test]
fn a_tool_that_hangs_is_killed_at_the_timeout_and_its_stderr_kept() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let tools = tempfile::tempdir()?;
    let kubectl = tools.path().join("kubectl");
    std::fs::write(
        &kubectl,
        "#!/bin/sh\nif [ \"$1\" = version ]; then echo '{}'; exit 0; fi\necho building >&2\nexec sleep 30\n",
    )?;
    std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755))?;
    let repo = fixture_repo();
    let engine = RenderEngine::new(
        ProcessRunner::new(),
        RenderOptions::new(&repo)
            .toolchain(Toolchain::from_dir(tools.path()))
            .timeout(std::time::Duration::from_millis(500)),
    );
    let reason = failure_reason(&engine.render(&project(&repo, "api-prod")?))?;
    assert_eq!(
        reason,
        format!(
            "kustomize could not render `kustomize/overlays/prod/kustomization.yaml`; fix the \
             kustomization or the file named in kustomize's error: `{} kustomize \
             kustomize/overlays/prod --load-restrictor LoadRestrictionsRootOnly` did not finish \
             within 500ms and was killed: building",
            kubectl.display()
        )
    );
    Ok(())
}

use std::path::{Path, PathBuf};

use thule_core::config::{
    Applier, ConfigError, ConfigLayers, MrOverride, RenderMode, Settings, apply_overrides,
    parse_project_file, parse_repo_file, resolve_project,
};
use thule_core::discovery::{DiscoveryError, load_projects};
use thule_core::repo::{DiskTree, MemoryTree};

const REPO: &str = "version: v1
clusters:
  prod-eu-1:
    context: prod-eu-1
  staging:
    snapshot: snapshots/staging
defaults:
  namespace: from-repo
  comment:
    maxResourceDetails: 40
  diff:
    prune: true
mrOverrides:
  allow:
    - diff.prune
    - comment.*
";

const ORG: &str = "version: v1
defaults:
  namespace: from-org
  render:
    kubeVersion: \"1.33.0\"
  policy:
    profile: strict
  diff:
    applier: argocd
";

/// The seed's example project file, verbatim apart from paths.
const PROJECT: &str = "version: v1
project: payments-app
clusterRef: prod-eu-1
namespace: payments
render:
  mode: helm
  path: .
  helm:
    releaseName: payments
    valuesFiles:
      - values-prod.yaml
diff:
  prune: false
  ignoreFields:
    - metadata.annotations[\"kubectl.kubernetes.io/last-applied-configuration\"]
policy:
  profile: baseline
comment:
  maxResourceDetails: 150
";

fn tree() -> MemoryTree {
    MemoryTree::new()
        .with(".thule/config.yaml", REPO)
        .with("apps/payments/thule.yaml", PROJECT)
        .with(
            "apps/payments/Chart.yaml",
            "apiVersion: v2\nname: p\nversion: 0.1.0\n",
        )
        .with("apps/payments/values-prod.yaml", "a: 1\n")
}

fn layers(tree: &MemoryTree, org: bool) -> ConfigLayers {
    let org = org.then(|| parse_repo_file(ORG.as_bytes(), "org.yaml").unwrap());
    ConfigLayers::load(tree, org).unwrap()
}

fn resolve(
    tree: &MemoryTree,
    file: &str,
    overrides: &[MrOverride],
) -> Result<thule_core::config::ProjectConfig, ConfigError> {
    let layers = layers(tree, true);
    let loaded = parse_project_file(&tree_bytes(tree, file), file)?;
    resolve_project(&layers, &loaded, Path::new(file), tree, overrides)
}

fn tree_bytes(tree: &MemoryTree, file: &str) -> Vec<u8> {
    use thule_core::repo::RepoTree;
    tree.read(Path::new(file)).unwrap()
}

#[test]
fn project_file_from_the_seed_parses() {
    let loaded = parse_project_file(PROJECT.as_bytes(), "thule.yaml").unwrap();
    let p = &loaded.value;
    assert_eq!(p.project.as_deref(), Some("payments-app"));
    assert_eq!(p.render.as_ref().unwrap().mode, Some(RenderMode::Helm));
    assert_eq!(
        p.render
            .as_ref()
            .unwrap()
            .helm
            .as_ref()
            .unwrap()
            .values_files,
        Some(vec!["values-prod.yaml".to_owned()])
    );
    assert_eq!(p.comment.as_ref().unwrap().max_resource_details, Some(150));
}

#[test]
fn repo_and_org_files_parse() {
    let repo = parse_repo_file(REPO.as_bytes(), ".thule/config.yaml").unwrap();
    assert_eq!(repo.value.clusters.as_ref().unwrap().len(), 2);
    assert_eq!(
        repo.value.mr_overrides.as_ref().unwrap().allow,
        vec!["diff.prune", "comment.*"]
    );
    let org = parse_repo_file(ORG.as_bytes(), "org.yaml").unwrap();
    assert_eq!(
        org.value.defaults.as_ref().unwrap().namespace.as_deref(),
        Some("from-org")
    );
}

#[test]
fn layering_is_org_then_repo_then_project_then_mr() {
    // A project that sets nothing but its version shows the defaults layers.
    let t = tree()
        .with("apps/bare/thule.yaml", "version: v1\n")
        .with("apps/bare/a.yaml", "");
    let bare = resolve(&t, "apps/bare/thule.yaml", &[]).unwrap();
    assert_eq!(
        bare.namespace.as_deref(),
        Some("from-repo"),
        "repo defaults beat org defaults"
    );
    assert_eq!(
        bare.render.kube_version.as_deref(),
        Some("1.33.0"),
        "org default kept when repo is silent"
    );
    assert_eq!(bare.policy.profile, "strict", "org default kept");
    assert_eq!(bare.diff.applier, Some(Applier::Argocd), "org default kept");
    assert_eq!(bare.comment.max_resource_details, 40, "repo default");
    assert_eq!(bare.name, "apps/bare", "name defaults to the directory");
    assert!(bare.diff.prune);

    let p = resolve(&t, "apps/payments/thule.yaml", &[]).unwrap();
    assert_eq!(
        p.namespace.as_deref(),
        Some("payments"),
        "project beats repo and org"
    );
    assert_eq!(p.policy.profile, "baseline");
    assert_eq!(p.comment.max_resource_details, 150);
    assert!(!p.diff.prune);
    assert_eq!(
        p.render.helm.values_files,
        vec![PathBuf::from("apps/payments/values-prod.yaml")]
    );
    assert_eq!(p.render.helm.chart, PathBuf::from("apps/payments"));
    assert_eq!(p.render.kube_version.as_deref(), Some("1.33.0"));

    let o = vec![
        MrOverride::parse("diff.prune=true", "label thule:diff.prune=true").unwrap(),
        MrOverride::parse("comment.maxResourceDetails=5", "comment flag").unwrap(),
    ];
    let p = resolve(&t, "apps/payments/thule.yaml", &o).unwrap();
    assert!(p.diff.prune, "MR override beats the project file");
    assert_eq!(
        p.comment.max_resource_details, 5,
        "wildcard allow-list entry"
    );
}

#[test]
fn mr_override_outside_the_allow_list_is_refused_with_the_reason() {
    let o = vec![MrOverride::parse("render.mode=yaml", "label thule:render.mode=yaml").unwrap()];
    let e = resolve(&tree(), "apps/payments/thule.yaml", &o).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("label thule:render.mode=yaml: MR override `render.mode` refused"),
        "{text}"
    );
    assert!(text.contains("allowed: diff.prune, comment.*"), "{text}");
}

#[test]
fn mr_override_with_a_wrong_type_is_an_error() {
    let o = vec![MrOverride::parse("comment.maxResourceDetails=lots", "comment flag").unwrap()];
    let e = resolve(&tree(), "apps/payments/thule.yaml", &o).unwrap_err();
    assert!(
        e.to_string().contains("invalid type: string \"lots\""),
        "{e}"
    );
    let e = MrOverride::parse("diff.prune", "label").unwrap_err();
    assert!(e.to_string().contains("not `key=value`"));
}

#[test]
fn overrides_keep_string_settings_that_look_like_numbers() {
    let s = apply_overrides(
        Settings::default(),
        &[MrOverride::parse("policy.profile=123", "x").unwrap()],
        &["policy.profile".to_owned()],
    )
    .unwrap();
    assert_eq!(s.policy.unwrap().profile.as_deref(), Some("123"));
}

/// Parse a project file in the fixture tree and return the error.
fn project_error(src: &[u8]) -> ConfigError {
    let t = tree().with("apps/x/thule.yaml", "version: v1\n");
    match parse_project_file(src, "apps/x/thule.yaml") {
        Err(e) => e,
        Ok(loaded) => {
            let layers = layers(&t, false);
            resolve_project(&layers, &loaded, Path::new("apps/x/thule.yaml"), &t, &[])
                .expect_err("expected an error")
        }
    }
}

fn assert_at(e: &ConfigError, line: usize, column: usize, needle: &str) {
    assert_eq!(e.file, "apps/x/thule.yaml", "{e}");
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert!(e.to_string().contains(needle), "`{needle}` not in: {e}");
    assert!(
        e.to_string()
            .starts_with(&format!("apps/x/thule.yaml:{line}:{column}: ")),
        "{e}"
    );
}

#[test]
fn malformed_01_tab_indentation() {
    let e = project_error(b"version: v1\nrender:\n\tmode: yaml\n");
    assert_at(&e, 3, 1, "tab");
}

#[test]
fn malformed_02_duplicate_key() {
    let e = project_error(b"version: v1\nnamespace: a\nnamespace: b\n");
    assert_at(&e, 3, 1, "duplicate key `namespace`");
}

#[test]
fn malformed_03_unknown_field_suggests_the_nearest_key() {
    let e =
        project_error(b"version: v1\nrender:\n  mode: helm\n  helm:\n    valueFiles: [a.yaml]\n");
    assert_at(&e, 5, 5, "unknown field `valueFiles`");
    assert_eq!(e.hint.as_deref(), Some("did you mean `valuesFiles`?"));
}

#[test]
fn malformed_04_wrong_type() {
    let e = project_error(b"version: v1\ncomment:\n  maxResourceDetails: many\n");
    assert_at(
        &e,
        3,
        23,
        "`comment.maxResourceDetails`: invalid type: string \"many\"",
    );
}

#[test]
fn malformed_05_unknown_render_mode() {
    let e = project_error(b"version: v1\nrender:\n  mode: kustomise\n");
    assert_at(&e, 3, 9, "unknown variant `kustomise`");
    assert_eq!(e.hint.as_deref(), Some("did you mean `kustomize`?"));
}

#[test]
fn malformed_06_cluster_ref_not_defined() {
    let t = tree().with("apps/x/a.yaml", "");
    let loaded =
        parse_project_file(b"version: v1\nclusterRef: prod-eu-2\n", "apps/x/thule.yaml").unwrap();
    let e = resolve_project(
        &layers(&t, false),
        &loaded,
        Path::new("apps/x/thule.yaml"),
        &t,
        &[],
    )
    .unwrap_err();
    assert_at(&e, 2, 1, "clusterRef `prod-eu-2` is not defined");
    assert_eq!(e.hint.as_deref(), Some("did you mean `prod-eu-1`?"));
}

#[test]
fn malformed_07_path_escaping_the_repo_with_dotdot() {
    let e = project_error(b"version: v1\nrender:\n  path: ../../../etc\n");
    assert_at(&e, 3, 3, "`../../../etc` leaves the repository");
}

#[test]
fn malformed_08_path_escaping_the_repo_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("apps/x")).unwrap();
    std::fs::write(
        dir.path().join("apps/x/thule.yaml"),
        "version: v1\nrender:\n  path: manifests\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("apps/x/manifests")).unwrap();
    let t = DiskTree::open(dir.path()).unwrap();
    let layers = ConfigLayers::load(&t, None).unwrap();
    let Err(DiscoveryError::Config(errors)) = load_projects(&t, &layers, &[]) else {
        panic!("expected a config error");
    };
    assert_eq!(errors.len(), 1);
    assert_at(&errors[0], 3, 3, "symbolic link that leaves the repository");
}

#[test]
fn malformed_09_empty_file() {
    let e = project_error(b"");
    assert_at(&e, 1, 1, "the file is empty");
    let e = project_error(b"# only a comment\n");
    assert_at(&e, 1, 1, "the file is empty");
}

#[test]
fn malformed_10_alias_bomb() {
    let mut src = String::from("version: v1\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut prev = 'a';
    for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'] {
        let refs = vec![format!("*{prev}"); 10].join(", ");
        src.push_str(&format!("{name}: &{name} [{refs}]\n"));
        prev = name;
    }
    let e = project_error(src.as_bytes());
    assert_eq!(e.file, "apps/x/thule.yaml");
    assert!(e.line >= 6 && e.column > 1, "{e}");
    assert!(e.message.contains("alias"), "{e}");
}

#[test]
fn malformed_11_non_utf8_bytes() {
    let e = project_error(b"version: v1\nnamespace: caf\xe9\n");
    assert_at(&e, 2, 15, "invalid UTF-8");
}

#[test]
fn malformed_12_unsupported_version_and_missing_version() {
    let e = project_error(b"version: v2\n");
    assert_at(&e, 1, 1, "unsupported version `v2`");
    let e = project_error(b"namespace: a\n");
    assert_at(&e, 1, 1, "missing field `version`");
}

#[test]
fn malformed_13_two_documents() {
    let e = project_error(b"version: v1\n---\nnamespace: a\n");
    assert_at(&e, 3, 1, "second one");
}

#[test]
fn malformed_14_values_file_missing_and_bad_severity() {
    let e = project_error(
        b"version: v1\nrender:\n  mode: helm\n  helm:\n    valuesFiles: [nope.yaml]\n",
    );
    assert_at(&e, 5, 19, "values file `nope.yaml` does not exist");
    let e = project_error(
        b"version: v1\npolicy:\n  rules:\n    RESTART_ROLLOUT:\n      severity: hgh\n",
    );
    assert_at(&e, 5, 7, "unknown severity `hgh`");
    assert_eq!(e.hint.as_deref(), Some("did you mean `high`?"));
}

#[test]
fn malformed_inputs_never_panic() {
    // Truncations of a valid file at every byte are either valid or located errors.
    let src = PROJECT.as_bytes();
    for end in 0..src.len() {
        match parse_project_file(&src[..end], "t.yaml") {
            Ok(_) => {}
            Err(e) => assert!(
                e.line >= 1 && e.column >= 1,
                "unlocated error at {end}: {e}"
            ),
        }
    }
}

#[test]
fn serve_file_reads_and_refuses_inline_secrets() {
    let loaded = thule_core::config::parse_serve_file(
        b"version: v1\nlisten: 127.0.0.1:8080\nrepoAllowlist: ['gitlab.example.com/platform/*']\nproviders:\n  gitlab:\n    url: https://gitlab.example.com\n    webhookSecretFile: /run/secrets/gitlab-webhook\n",
        "serve.yaml",
    )
    .unwrap();
    let gitlab = loaded.value.providers.unwrap().gitlab.unwrap();
    assert_eq!(
        gitlab.webhook_secret_file.as_deref(),
        Some("/run/secrets/gitlab-webhook")
    );
    // A secret written inline is refused, pointing at the file setting.
    let e = thule_core::config::parse_serve_file(
        b"version: v1\nproviders:\n  gitlab:\n    webhookSecret: hunter2\n",
        "serve.yaml",
    )
    .unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.line, e.column),
        ("serve.yaml", 4, 5),
        "{e}"
    );
    assert!(e.message.contains("unknown field `webhookSecret`"), "{e}");
    assert_eq!(e.hint.as_deref(), Some("did you mean `webhookSecretFile`?"));
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = thule_core::config::parse_serve_file(b"version: v2\n", "serve.yaml").unwrap_err();
    assert!(e.message.contains("unsupported version"), "{e}");
}

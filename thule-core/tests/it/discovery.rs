use std::path::{Path, PathBuf};

use proptest::prelude::*;
use thule_core::config::ConfigLayers;
use thule_core::discovery::{ChangedFile, Discovery, DiscoveryError, Why, discover};
use thule_core::repo::{DiskTree, MemoryTree};

fn fixture() -> DiskTree {
    DiskTree::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/discovery-repo"))
        .unwrap()
}

fn run(changed: &[ChangedFile]) -> Discovery {
    let tree = fixture();
    let layers = ConfigLayers::load(&tree, None).unwrap();
    discover(&tree, &layers, changed, &[]).unwrap()
}

fn names(d: &Discovery) -> Vec<&str> {
    d.projects.iter().map(|p| p.config.name.as_str()).collect()
}

fn whys<'a>(d: &'a Discovery, project: &str) -> Vec<(String, &'a Why)> {
    d.projects
        .iter()
        .find(|p| p.config.name == project)
        .unwrap()
        .reasons
        .iter()
        .map(|r| (r.changed.to_string_lossy().into_owned(), &r.why))
        .collect()
}

fn kust(path: &str) -> Why {
    Why::Kustomize {
        kustomization: PathBuf::from(path),
    }
}

#[test]
fn a_change_to_the_shared_base_plans_every_overlay_that_uses_it_and_nothing_else() {
    let d = run(&[ChangedFile::new("apps/shop/base/deployment.yaml")]);
    assert_eq!(names(&d), vec!["shop-prod", "shop-staging"]);
    let w = whys(&d, "shop-staging");
    assert!(
        w.contains(&(
            "apps/shop/base/deployment.yaml".into(),
            &kust("apps/shop/overlays/staging/kustomization.yaml")
        )),
        "{w:?}"
    );
    assert!(
        w.contains(&(
            "apps/shop/base/deployment.yaml".into(),
            &kust("apps/shop/base/kustomization.yaml")
        )),
        "{w:?}"
    );
    assert!(d.unmatched.is_empty());
}

#[test]
fn generator_files_of_the_base_count() {
    let d = run(&[ChangedFile::new("apps/shop/base/config/app.properties")]);
    assert_eq!(names(&d), vec!["shop-prod", "shop-staging"]);
}

#[test]
fn a_component_plans_only_the_overlay_that_includes_it() {
    let d = run(&[ChangedFile::new(
        "apps/shop/components/monitoring/servicemonitor.yaml",
    )]);
    assert_eq!(names(&d), vec!["shop-prod"]);
    assert_eq!(
        whys(&d, "shop-prod"),
        vec![
            (
                "apps/shop/components/monitoring/servicemonitor.yaml".into(),
                &kust("apps/shop/components/monitoring/kustomization.yaml")
            ),
            (
                "apps/shop/components/monitoring/servicemonitor.yaml".into(),
                &kust("apps/shop/overlays/prod/kustomization.yaml")
            ),
        ]
    );
}

#[test]
fn an_overlay_patch_plans_only_that_overlay() {
    let d = run(&[ChangedFile::new("apps/shop/overlays/staging/replicas.yaml")]);
    assert_eq!(names(&d), vec!["shop-staging"]);
    assert!(
        whys(&d, "shop-staging")
            .iter()
            .any(|(_, w)| **w == Why::InProjectDir)
    );
}

#[test]
fn helm_values_files_and_the_local_chart_plan_the_helm_project() {
    let d = run(&[ChangedFile::new("shared/values-common.yaml")]);
    assert_eq!(names(&d), vec!["web-prod"]);
    assert_eq!(
        whys(&d, "web-prod"),
        vec![("shared/values-common.yaml".into(), &Why::HelmValues)]
    );
    let d = run(&[ChangedFile::new("charts/web/templates/deployment.yaml")]);
    assert_eq!(
        whys(&d, "web-prod"),
        vec![(
            "charts/web/templates/deployment.yaml".into(),
            &Why::HelmChart
        )]
    );
}

#[test]
fn when_modified_globs_plan_their_project() {
    let d = run(&[ChangedFile::new("vendor/crds/widgets.yaml")]);
    assert_eq!(names(&d), vec!["crds"]);
    assert_eq!(
        whys(&d, "crds"),
        vec![(
            "vendor/crds/widgets.yaml".into(),
            &Why::WhenModified {
                glob: "vendor/crds/*.yaml".into()
            }
        )]
    );
    // `*` does not cross directories.
    let d = run(&[ChangedFile::new("vendor/crds/old/widgets.yaml")]);
    assert!(d.projects.is_empty());
}

#[test]
fn project_file_changes_plan_that_project() {
    let d = run(&[ChangedFile::new("apps/other/thule.yaml")]);
    assert_eq!(names(&d), vec!["other"]);
    assert!(
        whys(&d, "other")
            .iter()
            .any(|(_, w)| **w == Why::ProjectFile)
    );
}

#[test]
fn deleted_and_renamed_files_count() {
    // Deleted: no longer in the tree, still under the base directory.
    let d = run(&[ChangedFile::new("apps/shop/base/old-job.yaml")]);
    assert_eq!(names(&d), vec!["shop-prod", "shop-staging"]);
    // Renamed out of the project: the old side matches.
    let d = run(&[ChangedFile::renamed("apps/other/cm.yaml", "attic/cm.yaml")]);
    assert_eq!(names(&d), vec!["other"]);
    assert_eq!(d.unmatched, vec![PathBuf::from("attic/cm.yaml")]);
}

#[test]
fn the_repo_config_plans_every_project() {
    let d = run(&[ChangedFile::new(".thule/config.yaml")]);
    assert_eq!(
        names(&d),
        vec!["crds", "other", "shop-prod", "shop-staging", "web-prod"]
    );
    assert!(
        d.projects
            .iter()
            .all(|p| p.reasons.iter().any(|r| r.why == Why::RepoConfig))
    );
}

#[test]
fn unrelated_paths_plan_nothing_and_are_listed() {
    let d = run(&[ChangedFile::new("docs/README.md")]);
    assert!(d.projects.is_empty());
    assert_eq!(d.unmatched, vec![PathBuf::from("docs/README.md")]);
}

#[test]
fn a_deleted_project_file_is_reported() {
    let d = run(&[ChangedFile::new("apps/gone/thule.yaml")]);
    assert_eq!(
        d.removed_projects,
        vec![PathBuf::from("apps/gone/thule.yaml")]
    );
}

#[test]
fn broken_configuration_is_the_result_not_an_empty_plan() {
    let tree = MemoryTree::new()
        .with("a/thule.yaml", "version: v1\nrender: {mode: yaml}\n")
        .with("a/x.yaml", "")
        .with("b/thule.yaml", "version: v1\nrendr: {}\n")
        .with("c/thule.yaml", "version: v1\nproject: a\n")
        .with("c/y.yaml", "");
    let layers = ConfigLayers::load(&tree, None).unwrap();
    let err = discover(&tree, &layers, &[ChangedFile::new("docs/x.md")], &[]).unwrap_err();
    let DiscoveryError::Config(errors) = &err else {
        panic!("{err}")
    };
    assert_eq!(errors.len(), 2, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("b/thule.yaml:2:1: `rendr`: unknown field `rendr`"),
        "{text}"
    );
    assert!(text.contains("(did you mean `render`?)"), "{text}");
    assert!(
        text.contains("c/thule.yaml:2:1: project name `a` is already used by a/thule.yaml")
            || text.contains("project name"),
        "{text}"
    );
}

const PATHS: &[&str] = &[
    "apps/shop/base/deployment.yaml",
    "apps/shop/components/monitoring/servicemonitor.yaml",
    "apps/shop/overlays/staging/replicas.yaml",
    "shared/values-common.yaml",
    "charts/web/values.yaml",
    "vendor/crds/widgets.yaml",
    "docs/README.md",
    "apps/other/cm.yaml",
    "apps/gone/thule.yaml",
    "elsewhere/file.txt",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Discovery does not depend on the order (or repetition) of the changed paths.
    #[test]
    fn discovery_is_order_independent(
        picked in proptest::sample::subsequence(PATHS.to_vec(), 0..=PATHS.len()),
        seed in any::<u64>(),
        dupes in 0usize..3,
    ) {
        let changed: Vec<ChangedFile> = picked.iter().map(|p| ChangedFile::new(*p)).collect();
        let mut shuffled = changed.clone();
        // Deterministic shuffle from the seed, plus some duplicates.
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = usize::try_from(s >> 33).unwrap() % (i + 1);
            shuffled.swap(i, j);
        }
        shuffled.extend(changed.iter().take(dupes).cloned());
        prop_assert_eq!(run(&changed), run(&shuffled));
    }
}

#[test]
fn a_refused_override_is_reported_once_not_per_project() {
    let tree = fixture();
    let layers = ConfigLayers::load(&tree, None).unwrap();
    let o = [
        thule_core::config::MrOverride::parse("render.mode=yaml", "--set render.mode=yaml")
            .unwrap(),
    ];
    let Err(DiscoveryError::Config(errors)) = discover(&tree, &layers, &[], &o) else {
        panic!("expected the override to be refused");
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .to_string()
            .contains("MR override `render.mode` refused")
    );
}

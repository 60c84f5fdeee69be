//! Appliers: which one decides an object (configured, else inferred from the live object,
//! else Flux), and what appliers stamp on objects (never a change unless git sets it too).

mod common;

use common::*;
use serde_json::{Value, json};
use thule_core::config::Applier;
use thule_diff::{Action, ApplierSource, DiffOptions, Plan};

/// Options as `thule diff --live` uses them without `--applier`: nothing configured.
fn inferring() -> DiffOptions {
    DiffOptions {
        applier: None,
        default_namespace: Some("shop".into()),
        include_noop: true,
        ..DiffOptions::default()
    }
}

/// `v` with these labels and annotations added.
fn stamped(mut v: Value, labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Value {
    for (k, val) in labels {
        v["metadata"]["labels"][*k] = json!(val);
    }
    for (k, val) in annotations {
        v["metadata"]["annotations"][*k] = json!(val);
    }
    v
}

/// A live copy of `applied` written by `manager` with `operation`, owning all of it.
fn applied_by(applied: &Value, manager: &str, operation: &str) -> Value {
    let mut live = server_like(applied, Some((manager, fields_v1_of(applied))));
    live["metadata"]["managedFields"][0]["operation"] = json!(operation);
    live
}

fn noop_plan(plan: &Plan) {
    let o = only(plan);
    assert_eq!(o.action, Action::Noop, "{}", all_outputs(plan));
    assert!(o.changes.is_empty(), "{}", all_outputs(plan));
}

const FLUX: &[(&str, &str)] = &[
    ("kustomize.toolkit.fluxcd.io/name", "apps"),
    ("kustomize.toolkit.fluxcd.io/namespace", "flux-system"),
];

#[test]
fn flux_stamped_labels_on_an_unchanged_object_are_a_noop() {
    let git = deployment(web("registry/web:1.4.2"));
    let live = applied_by(
        &stamped(git.clone(), FLUX, &[]),
        "kustomize-controller",
        "Apply",
    );
    // Inferred (no applier anywhere, no owner labels configured) and configured alike.
    let configured = DiffOptions {
        applier: Some(Applier::Flux),
        ..inferring()
    };
    for opts in [inferring(), configured] {
        let plan = run(
            &opts,
            Some(git.clone()),
            Some(git.clone()),
            Live::Found(live.clone()),
        );
        noop_plan(&plan);
    }
    let plan = run(&inferring(), None, Some(git), Live::Found(live));
    let o = only(&plan);
    assert_eq!(
        (o.applier, o.applier_source),
        (Applier::Flux, ApplierSource::Inferred)
    );
}

#[test]
fn a_stamped_label_git_also_sets_shows_its_real_change() {
    let git = stamped(
        deployment(web("registry/web:1.4.2")),
        &[("kustomize.toolkit.fluxcd.io/namespace", "team-b")],
        &[],
    );
    let live = applied_by(
        &stamped(deployment(web("registry/web:1.4.2")), FLUX, &[]),
        "kustomize-controller",
        "Apply",
    );
    let plan = run(
        &inferring(),
        Some(git.clone()),
        Some(git),
        Live::Found(live),
    );
    let o = only(&plan);
    assert_eq!(o.action, Action::Patch);
    assert_eq!(
        paths(o),
        [(
            r#"metadata.labels["kustomize.toolkit.fluxcd.io/namespace"]"#.to_owned(),
            "replace"
        )],
        "{}",
        all_outputs(&plan)
    );
}

#[test]
fn helm_stamped_metadata_is_a_noop_and_a_git_set_stamp_still_shows() {
    let helm_labels: &[(&str, &str)] = &[
        ("helm.toolkit.fluxcd.io/name", "web"),
        ("helm.toolkit.fluxcd.io/namespace", "flux-system"),
        ("app.kubernetes.io/managed-by", "Helm"),
    ];
    let helm_annotations: &[(&str, &str)] = &[
        ("meta.helm.sh/release-name", "web"),
        ("meta.helm.sh/release-namespace", "shop"),
    ];
    let git = deployment(web("registry/web:1.4.2"));
    let live = applied_by(
        &stamped(git.clone(), helm_labels, helm_annotations),
        "helm-controller",
        "Update",
    );
    let plan = run(
        &inferring(),
        Some(git.clone()),
        Some(git.clone()),
        Live::Found(live.clone()),
    );
    noop_plan(&plan);
    assert_eq!(only(&plan).applier, Applier::Helm);
    // Helm CLI 4 (server-side apply, manager `helm`): the same.
    let helm4 = applied_by(
        &stamped(git.clone(), &helm_labels[2..], helm_annotations),
        "helm",
        "Apply",
    );
    let plan = run(
        &inferring(),
        Some(git.clone()),
        Some(git.clone()),
        Live::Found(helm4),
    );
    noop_plan(&plan);
    assert_eq!(only(&plan).applier, Applier::HelmSsa);
    // A chart that renders the release annotation itself, with another value: that shows.
    let renamed = stamped(git, &[], &[("meta.helm.sh/release-name", "web-v2")]);
    let plan = run(
        &inferring(),
        Some(renamed.clone()),
        Some(renamed),
        Live::Found(live),
    );
    assert_eq!(
        paths(only(&plan)),
        [(
            r#"metadata.annotations["meta.helm.sh/release-name"]"#.to_owned(),
            "replace"
        )]
    );
}

#[test]
fn argo_cd_stamped_metadata_is_a_noop_and_a_git_set_stamp_still_shows() {
    let tracking: &[(&str, &str)] = &[(
        "argocd.argoproj.io/tracking-id",
        "shop:apps/Deployment:shop/web",
    )];
    let instance: &[(&str, &str)] = &[("app.kubernetes.io/instance", "shop")];
    let git = deployment(web("registry/web:1.4.2"));
    let applied = stamped(git.clone(), instance, tracking);
    // Server-side apply: argocd-controller's Apply entry owns the stamps.
    let ssa = applied_by(&applied, "argocd-controller", "Apply");
    let plan = run(
        &inferring(),
        Some(git.clone()),
        Some(git.clone()),
        Live::Found(ssa.clone()),
    );
    noop_plan(&plan);
    assert_eq!(only(&plan).applier, Applier::ArgocdSsa);
    // Client-side apply: the stamps are in last-applied-configuration, which would remove
    // them if they were not re-stamped.
    let mut csa = last_applied(
        applied_by(&applied, "argocd-controller", "Update"),
        &applied,
    );
    csa["metadata"]["managedFields"][0]["fieldsV1"] = json!({});
    let plan = run(
        &inferring(),
        Some(git.clone()),
        Some(git.clone()),
        Live::Found(csa),
    );
    noop_plan(&plan);
    assert_eq!(only(&plan).applier, Applier::Argocd);
    // A chart rendering `app.kubernetes.io/instance` with another value: that shows.
    let relabelled = stamped(git, &[("app.kubernetes.io/instance", "shop-v2")], &[]);
    let plan = run(
        &inferring(),
        Some(relabelled.clone()),
        Some(relabelled),
        Live::Found(ssa),
    );
    assert_eq!(
        paths(only(&plan)),
        [(
            r#"metadata.labels["app.kubernetes.io/instance"]"#.to_owned(),
            "replace"
        )]
    );
}

#[test]
fn an_explicit_applier_wins_over_what_live_says() {
    let git = env_deploy(&["A"]);
    let applied = env_deploy(&["A", "B"]);
    // argocd-controller applied B server-side; git no longer has it.
    let live = applied_by(&applied, "argocd-controller", "Apply");
    let inferred = run(
        &inferring(),
        None,
        Some(git.clone()),
        Live::Found(live.clone()),
    );
    let o = only(&inferred);
    assert_eq!(
        (o.applier, o.applier_source),
        (Applier::ArgocdSsa, ApplierSource::Inferred)
    );
    assert_eq!(
        paths(o),
        [(
            "spec.template.spec.containers[name=web].env[name=B]".to_owned(),
            "remove"
        )]
    );
    // Configured Flux: kustomize-controller owns nothing here, so nothing is removed.
    let flux = DiffOptions {
        applier: Some(Applier::Flux),
        ..inferring()
    };
    let configured = run(&flux, None, Some(git), Live::Found(live));
    let o = only(&configured);
    assert_eq!(
        (o.applier, o.applier_source),
        (Applier::Flux, ApplierSource::Configured)
    );
    assert_eq!(o.action, Action::Noop, "{}", all_outputs(&configured));
}

#[test]
fn without_live_state_the_applier_is_flux_by_default() {
    let git = deployment(web("registry/web:1.4.2"));
    let plan = run(&inferring(), None, Some(git.clone()), Live::Absent);
    let o = only(&plan);
    assert_eq!(
        (o.action, o.applier, o.applier_source),
        (Action::Create, Applier::Flux, ApplierSource::Default)
    );
    let plan = run(&inferring(), None, Some(git), Live::NoCluster);
    assert_eq!(only(&plan).applier_source, ApplierSource::Default);
}

#[test]
fn the_json_names_each_objects_applier_and_the_text_says_it_once_or_per_object() {
    let git = deployment(web("registry/web:1.5.0"));
    let live = applied_by(
        &deployment(web("registry/web:1.4.2")),
        "argocd-controller",
        "Apply",
    );
    let plan = run(
        &inferring(),
        None,
        Some(git.clone()),
        Live::Found(live.clone()),
    );
    let json: Value = serde_json::from_str(&thule_diff::render::to_json(&plan)).unwrap();
    assert_eq!(json["objects"][0]["applier"], "argocd-ssa");
    assert_eq!(json["objects"][0]["applierInferred"], true);
    let text = thule_diff::render::to_text(&plan);
    assert_eq!(
        text.matches("argocd-ssa").count(),
        1,
        "said once for a plan with one applier:\n{text}"
    );
    assert!(
        text.contains(
            "Applier: argocd-ssa (inferred from the live object's managedFields and annotations)"
        ),
        "{text}"
    );

    // Two objects with different appliers: each object names its own.
    let mut svc = service(json!([{"port": 80}]));
    svc["metadata"]["labels"] = json!({"app": "web"});
    let plan = run_many(
        &inferring(),
        Vec::new(),
        vec![git, svc],
        Some(vec![(live, true)]),
    );
    assert!(plan.mixed_appliers());
    let text = thule_diff::render::to_text(&plan);
    assert!(text.contains("  applier: argocd-ssa (inferred)"), "{text}");
    assert!(text.contains("  applier: flux (default)"), "{text}");
    let md = thule_diff::render::to_markdown(&plan);
    assert!(md.contains("- applier: argocd-ssa (inferred)"), "{md}");
}

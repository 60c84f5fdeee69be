//! Property tests P1–P5 of spec §9 over generated Deployments, Services and Secrets.

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};
use thule_core::config::Applier;
use thule_diff::normalize::{NormalizeContext, Side, normalize};
use thule_diff::schema::Kind;
use thule_diff::{Action, ChangeOrigin, DiffOptions};

fn cpu() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("100m")),
        Just(json!("0.5")),
        Just(json!(1)),
        Just(json!("1000m")),
        Just(json!("250m")),
    ]
}

fn memory() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("128Mi")),
        Just(json!("1Gi")),
        Just(json!("1024Mi")),
        Just(json!("512M"))
    ]
}

fn env_list() -> impl Strategy<Value = Vec<Value>> {
    proptest::collection::btree_map("[A-Z]{1,6}", "[a-z0-9]{0,8}", 0..6).prop_map(|m| {
        m.into_iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect()
    })
}

fn container(name: String) -> impl Strategy<Value = Value> {
    (
        "[a-z]{2,8}",
        "[0-9]\\.[0-9]{1,2}",
        env_list(),
        proptest::collection::btree_set(1000u16..9000, 0..3),
        cpu(),
        memory(),
        proptest::option::of(proptest::collection::vec("--[a-z]{1,5}", 1..4)),
    )
        .prop_map(move |(repo, tag, env, ports, cpu, mem, args)| {
            let mut c = json!({"name": name, "image": format!("registry.example/{repo}:{tag}"),
                "resources": {"requests": {"cpu": cpu, "memory": mem}}});
            if !env.is_empty() {
                c["env"] = Value::Array(env);
            }
            if !ports.is_empty() {
                c["ports"] = Value::Array(
                    ports
                        .into_iter()
                        .map(|p| json!({"containerPort": p}))
                        .collect(),
                );
            }
            if let Some(a) = args {
                c["args"] = json!(a);
            }
            c
        })
}

prop_compose! {
    fn arb_deployment()(
        name in "[a-z]{3,10}",
        replicas in 0u8..6,
        labels in proptest::collection::btree_map("[a-z]{1,6}", "[a-z0-9]{1,6}", 0..4),
        containers in proptest::collection::btree_set("[a-z]{2,6}", 1..3)
            .prop_flat_map(|names| names.into_iter().map(container).collect::<Vec<_>>()),
    ) -> Value {
        let mut d = deployment(Value::Array(containers));
        d["metadata"]["name"] = json!(name);
        d["spec"]["replicas"] = json!(replicas);
        for (k, v) in labels {
            d["metadata"]["labels"][k] = json!(v);
        }
        d
    }
}

fn kind_of(v: &Value) -> (String, String) {
    let group = v["apiVersion"]
        .as_str()
        .and_then(|a| a.rsplit_once('/').map(|(g, _)| g.to_owned()))
        .unwrap_or_default();
    (group, v["kind"].as_str().unwrap_or_default().to_owned())
}

fn owned_live(d: &Value) -> Value {
    server_like(d, Some(("kustomize-controller", fields_v1_of(d))))
}

fn shuffle_lists(v: &mut Value, seed: u64) {
    // Rotate every env and ports list and the containers list by a seed-dependent amount.
    fn rot(a: &mut [Value], seed: u64) {
        if !a.is_empty() {
            let n = usize::try_from(seed % a.len() as u64).unwrap_or(0);
            a.rotate_left(n);
        }
    }
    if let Some(cs) = v
        .pointer_mut("/spec/template/spec/containers")
        .and_then(Value::as_array_mut)
    {
        for c in cs.iter_mut() {
            for f in ["env", "ports"] {
                if let Some(a) = c.get_mut(f).and_then(Value::as_array_mut) {
                    rot(a, seed);
                }
            }
        }
        rot(cs, seed / 7);
    }
}

fn mutate(mut d: Value, which: u8) -> Value {
    match which % 4 {
        0 => d["spec"]["replicas"] = json!(9),
        1 => {
            d["spec"]["template"]["spec"]["containers"][0]["image"] =
                json!("registry.example/other:9.9")
        }
        2 => {
            let env = d["spec"]["template"]["spec"]["containers"][0]
                .as_object_mut()
                .and_then(|c| {
                    c.entry("env")
                        .or_insert_with(|| json!([]))
                        .as_array_mut()
                        .map(|a| {
                            a.push(json!({"name": "ADDED_BY_HAND", "value": "x"}));
                        })
                });
            let _ = env;
        }
        _ => d["metadata"]["labels"]["drifted"] = json!("yes-really"),
    }
    d
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// P1: normalize(normalize(x)) == normalize(x), for desired and live sides.
    #[test]
    fn p1_normalization_is_idempotent(d in arb_deployment()) {
        let (g, k) = kind_of(&d);
        let kind = Kind::new(&g, &k);
        let ctx = NormalizeContext { namespace: "shop".into(), ..NormalizeContext::default() };
        for (side, obj) in [(Side::Desired, d.clone()), (Side::Live, owned_live(&d))] {
            let once = normalize(&obj, kind, side, &ctx).value;
            let mut again_in = once.clone();
            again_in["apiVersion"] = d["apiVersion"].clone();
            let twice = normalize(&again_in, kind, side, &ctx).value;
            prop_assert_eq!(twice, once);
        }
    }

    /// P2: diffing a server-like defaulted copy (defaults, allocated fields, status,
    /// managedFields for the manager) against the object itself is a no-op.
    #[test]
    fn p2_self_diff_is_noop(d in arb_deployment(), with_base in any::<bool>()) {
        let live = owned_live(&d);
        let base = with_base.then(|| d.clone());
        let plan = run(&ctx(Applier::Flux), base, Some(d), Live::Found(live));
        prop_assert_eq!(plan.summary.noop, 1);
        prop_assert!(plan.objects.iter().all(|o| o.changes.is_empty()), "{}", thule_diff::render::to_text(&plan));
    }

    /// P3: permuting desired documents and map-list items never changes the output bytes.
    #[test]
    fn p3_output_is_order_invariant(
        ds in proptest::collection::btree_map("[a-z]{3,8}", arb_deployment(), 1..4),
        which in any::<u8>(),
        seed in any::<u64>(),
    ) {
        let ds: Vec<Value> = ds.into_iter().map(|(n, mut d)| { d["metadata"]["name"] = json!(n); d }).collect();
        let live: Vec<(Value, bool)> = ds.iter().map(|d| (owned_live(d), true)).collect();
        let desired: Vec<Value> = ds.iter().map(|d| mutate(d.clone(), which)).collect();
        let mut permuted = desired.clone();
        permuted.reverse();
        for d in &mut permuted {
            shuffle_lists(d, seed);
        }
        let opts = ctx(Applier::Flux);
        let a = run_many(&opts, ds.clone(), desired, Some(live.clone()));
        let b = run_many(&opts, ds, permuted, Some(live));
        prop_assert!(a.has_changes());
        prop_assert_eq!(thule_diff::render::to_json(&a), thule_diff::render::to_json(&b));
        prop_assert_eq!(thule_diff::render::to_markdown(&a), thule_diff::render::to_markdown(&b));
        prop_assert_eq!(thule_diff::render::to_text(&a), thule_diff::render::to_text(&b));
    }

    /// P4: random secret values never appear in any output, nor their base64, nor a length.
    #[test]
    fn p4_secret_values_are_redacted_everywhere(
        v in "[A-Za-z0-9]{6,24}",
        w in "[A-Za-z0-9]{6,24}",
        u in "[A-Za-z0-9]{6,24}",
        d in arb_deployment(),
    ) {
        prop_assume!(v != w && v != u && w != u);
        let sec = |s: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
            "stringData": {"password": s, "token": s}});
        let live_sec = |s: &str| {
            let b = thule_diff::normalize::encode_base64(s.as_bytes());
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
                "type": "Opaque", "data": {"password": b, "token": b}})
        };
        let with_pw = |d: &Value, s: &str| {
            let mut d = d.clone();
            d["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "DB_PASSWORD", "value": s}]);
            d
        };
        let plan = run_many(
            &ctx(Applier::Flux),
            vec![sec(&w), with_pw(&d, &w)],
            vec![sec(&v), with_pw(&d, &v)],
            Some(vec![(live_sec(&u), true), (server_like(&with_pw(&d, &u), None), true)]),
        );
        prop_assert!(plan.summary.patch >= 1);
        let out = all_outputs(&plan);
        for secret in [&v, &w, &u] {
            let b64 = thule_diff::normalize::encode_base64(secret.as_bytes());
            prop_assert!(!out.contains(secret.as_str()), "value leaked");
            prop_assert!(!out.contains(&b64), "base64 leaked");
            let n = format!("{} bytes", secret.len());
            prop_assert!(!out.contains(&n), "length leaked");
        }
        // Creation and deletion paths too.
        let plan = run_many(&ctx(Applier::Flux), vec![], vec![sec(&v)], Some(vec![]));
        prop_assert!(!all_outputs(&plan).contains(v.as_str()));
        let plan = run_many(&ctx(Applier::Flux), vec![sec(&w)], vec![], None);
        prop_assert!(!all_outputs(&plan).contains(w.as_str()));
    }

    /// Equal renders (no cluster) take a shortcut: one normalization, no comparison. The
    /// plan must be the one the full comparison gives for the same object written
    /// differently (lists permuted), state included.
    #[test]
    fn equal_renders_shortcut_matches_the_full_comparison(d in arb_deployment(), seed in any::<u64>()) {
        let mut shuffled = d.clone();
        shuffle_lists(&mut shuffled, seed);
        let opts = DiffOptions { include_noop: true, ..ctx(Applier::Flux) };
        let same = run(&opts, Some(d.clone()), Some(d.clone()), Live::NoCluster);
        let full = run(&opts, Some(d.clone()), Some(shuffled), Live::NoCluster);
        prop_assert_eq!(same.summary.noop, 1);
        prop_assert_eq!(thule_diff::render::to_json(&same), thule_diff::render::to_json(&full));
        let (a, b) = (only(&same), only(&full));
        let (sa, sb) = (a.state.as_deref().expect("state"), b.state.as_deref().expect("state"));
        // The normalized sides keep desired list order, so only the base sides compare.
        prop_assert_eq!(&sa.base, &sb.base);
        prop_assert!(sa.base.is_some() && sa.base == sa.desired);
    }

    /// P5: when base and desired are equal, every change is drift.
    #[test]
    fn p5_equal_base_and_desired_means_drift(d in arb_deployment(), which in any::<u8>()) {
        let live_obj = mutate(d.clone(), which);
        let live = server_like(&live_obj, Some(("kustomize-controller", fields_v1_of(&live_obj))));
        let plan = run(&ctx(Applier::Flux), Some(d.clone()), Some(d), Live::Found(live));
        for o in &plan.objects {
            for c in &o.changes {
                prop_assert_eq!(c.origin, ChangeOrigin::Drift, "{}", c.path);
            }
            if o.action == Action::Patch {
                prop_assert_eq!(o.origin, ChangeOrigin::Drift);
            }
        }
    }
}

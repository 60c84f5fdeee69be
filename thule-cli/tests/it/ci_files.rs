//! The ready-made CI integrations parse and run `thule plan --publish` the way the README
//! says: the GitHub composite action (`action.yml`) and the GitLab CI template.

use serde_json::Value;
use thule_core::yaml::{ParseOptions, parse_str};

use crate::support::root;

fn read(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let docs = parse_str(&text, path, &ParseOptions::default()).unwrap();
    assert_eq!(docs.len(), 1, "{path}: one document");
    docs.into_iter().next().unwrap().value
}

fn runs(steps: &Value) -> Vec<String> {
    steps
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["run"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_github_action_is_a_composite_action_that_publishes() {
    let action = read("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    for input in ["version", "args", "token"] {
        assert!(
            action["inputs"][input]["description"].is_string(),
            "input {input}"
        );
    }
    assert_eq!(action["inputs"]["token"]["default"], "${{ github.token }}");
    let steps = &action["runs"]["steps"];
    let publish = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("thule plan --publish"))
        })
        .expect("a step runs thule plan --publish");
    assert_eq!(publish["env"]["GITHUB_TOKEN"], "${{ inputs.token }}");
    // Every run step of a composite action must name its shell.
    for step in steps.as_array().unwrap() {
        if step["run"].is_string() {
            assert_eq!(step["shell"], "bash", "{step}");
        }
    }
    assert!(runs(steps).iter().any(|r| r.contains("install-tools.sh")));
}

#[test]
fn the_gitlab_template_runs_on_merge_requests_with_a_real_token() {
    let ci = read("ci/gitlab/thule.gitlab-ci.yml");
    let job = &ci["thule-plan"];
    let rule = job["rules"][0]["if"].as_str().unwrap();
    assert!(rule.contains("merge_request_event"), "{rule}");
    let script = job["script"].as_array().unwrap();
    assert!(script.iter().any(|l| {
        l.as_str()
            .is_some_and(|l| l.contains("thule plan --publish"))
    }));
    // The job token cannot post notes: nothing in the job uses it.
    assert!(!job.to_string().contains("CI_JOB_TOKEN"));
    assert_eq!(ci["variables"]["GIT_DEPTH"], "0");
}

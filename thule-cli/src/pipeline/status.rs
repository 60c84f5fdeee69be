//! The commit status of a plan: pure, so the CLI's `--publish` and the service agree.

use thule_core::config::StatusOn;
use thule_diff::Severity;
use thule_vcs::StatusState;

use super::report::{MrPlan, Status};

/// The status context thule uses unless told otherwise.
pub const DEFAULT_CONTEXT: &str = "thule/plan";

/// Whether `severity` reaches the `status_on` threshold.
fn fails(status_on: StatusOn, severity: Severity) -> bool {
    let threshold = match status_on {
        StatusOn::Info => Severity::Info,
        StatusOn::Low => Severity::Low,
        StatusOn::Medium => Severity::Medium,
        StatusOn::High => Severity::High,
        StatusOn::Critical => Severity::Critical,
        StatusOn::Blocker => Severity::Blocker,
        StatusOn::Never => return false,
    };
    severity >= threshold
}

/// The state and one-line description of a finished plan:
/// - `Error` when a project failed to render or read (the plan is incomplete);
/// - `Failure` when a project has a risk at or above its `comment.statusOn` (default
///   `blocker`);
/// - `Success` otherwise.
pub fn plan_status(plan: &MrPlan) -> (StatusState, String) {
    let total = plan.summary();
    let counts = format!(
        "{} create, {} patch, {} delete, {} replace",
        total.create, total.patch, total.delete, total.replace
    );
    let failed: Vec<&str> = plan
        .projects
        .iter()
        .filter(|p| p.status != Status::Planned)
        .map(|p| p.name.as_str())
        .collect();
    if !failed.is_empty() {
        return (
            StatusState::Error,
            format!(
                "{} of {} project(s) could not be planned: {}",
                failed.len(),
                plan.projects.len(),
                failed.join(", ")
            ),
        );
    }
    let blocking: Vec<(&str, Severity)> = plan
        .projects
        .iter()
        .filter_map(|p| Some((p.name.as_str(), p.highest_risk()?, p.status_on)))
        .filter(|(_, severity, on)| fails(*on, *severity))
        .map(|(name, severity, _)| (name, severity))
        .collect();
    let highest = plan.projects.iter().filter_map(|p| p.highest_risk()).max();
    if let Some(worst) = blocking.iter().map(|(_, s)| *s).max() {
        let names: Vec<&str> = blocking.iter().map(|(n, _)| *n).collect();
        return (
            StatusState::Failure,
            format!("{counts}; {} risk in {}", worst.name(), names.join(", ")),
        );
    }
    let risk = highest.map_or_else(
        || "no risks".to_owned(),
        |s| format!("highest risk {}", s.name()),
    );
    (StatusState::Success, format!("{counts}; {risk}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_order_like_severities() {
        assert!(fails(StatusOn::Blocker, Severity::Blocker));
        assert!(!fails(StatusOn::Blocker, Severity::Critical));
        assert!(fails(StatusOn::High, Severity::Critical));
        assert!(!fails(StatusOn::High, Severity::Medium));
        assert!(!fails(StatusOn::Never, Severity::Blocker));
        assert!(fails(StatusOn::Info, Severity::Info));
    }
}

//! Publishing a plan on its merge request: the comment parts, the superseding of older plans
//! and the commit status, over any [`Provider`]. The CLI's `--publish` and the service share
//! it.

use thule_vcs::{CommitStatus, MrRef, Provider, Published, Publisher, StatusState, VcsError};

use super::report::{self, MrPlan};
use super::status::plan_status;

/// Set the `pending` status while the plan runs.
///
/// # Errors
/// When the forge refuses the status.
pub async fn announce<P: Provider>(
    publisher: &Publisher<P>,
    mr: &MrRef,
    head_sha: &str,
    context: &str,
) -> Result<(), VcsError> {
    let status = CommitStatus {
        context: context.to_owned(),
        state: StatusState::Pending,
        description: "thule is planning this merge request".to_owned(),
        target_url: None,
    };
    publisher.set_status(&mr.repo, head_sha, &status).await
}

/// Post `plan` as the merge request's one current plan (older plans superseded) and set the
/// final commit status, linking to the plan's first part.
///
/// # Errors
/// The first forge call that failed; a repeated call finishes what a failed one left.
pub async fn publish_plan<P: Provider>(
    publisher: &Publisher<P>,
    mr: &MrRef,
    head_sha: &str,
    context: &str,
    plan: &MrPlan,
) -> Result<Published, VcsError> {
    let parts = report::markdown_parts(plan, publisher.part_limit());
    let published = publisher.publish(mr, head_sha, &parts).await?;
    let (state, description) = plan_status(plan);
    let status = CommitStatus {
        context: context.to_owned(),
        state,
        description,
        target_url: published.url.clone(),
    };
    publisher.set_status(&mr.repo, head_sha, &status).await?;
    Ok(published)
}

/// Set the `error` status after a run that could not produce a plan, so the status never
/// stays pending.
///
/// # Errors
/// When the forge refuses the status.
pub async fn report_failure<P: Provider>(
    publisher: &Publisher<P>,
    mr: &MrRef,
    head_sha: &str,
    context: &str,
    message: &str,
) -> Result<(), VcsError> {
    let status = CommitStatus {
        context: context.to_owned(),
        state: StatusState::Error,
        description: format!("thule could not plan: {message}"),
        target_url: None,
    };
    publisher.set_status(&mr.repo, head_sha, &status).await
}

-- thule serve: the durable queue. Times are Unix milliseconds.

-- Every authenticated delivery, to drop the forge's retries and redeliveries by id.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    provider    TEXT    NOT NULL,
    delivery_id TEXT,                -- NULL when the forge sent none (never deduped by id)
    event       TEXT    NOT NULL,
    result      TEXT    NOT NULL,    -- queued | duplicate | ignored
    reason      TEXT,
    repo        TEXT,
    mr          INTEGER,
    head_sha    TEXT,
    job_id      INTEGER,
    received_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX deliveries_by_id ON deliveries (provider, delivery_id);
CREATE INDEX deliveries_by_time ON deliveries (received_at);

-- Work for the workers.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    provider         TEXT    NOT NULL,
    repo             TEXT    NOT NULL,
    mr               INTEGER NOT NULL,
    head_sha         TEXT,
    trigger          TEXT    NOT NULL,
    kind             TEXT    NOT NULL,   -- plan | command
    actor            TEXT,
    command          TEXT,               -- JSON (JobCommand) for command jobs
    details          TEXT    NOT NULL,   -- JSON (JobDetails)
    dedupe_key       TEXT,               -- provider|repo|mr|head|trigger, or …|comment:ID
    delivery_id      TEXT,
    state            TEXT    NOT NULL,   -- queued | running | done | failed | superseded | cancelled
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    attempts         INTEGER NOT NULL DEFAULT 0,
    message          TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER
);
CREATE UNIQUE INDEX jobs_by_dedupe_key ON jobs (dedupe_key);
CREATE INDEX jobs_by_state ON jobs (state, id);
CREATE INDEX jobs_by_mr ON jobs (provider, repo, mr, state);

-- History: one row per finished run of a job.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL,
    provider    TEXT    NOT NULL,
    repo        TEXT    NOT NULL,
    mr          INTEGER NOT NULL,
    head_sha    TEXT,
    trigger     TEXT    NOT NULL,
    actor       TEXT,
    projects    TEXT    NOT NULL DEFAULT '[]',  -- JSON array
    result      TEXT    NOT NULL,
    message     TEXT,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    comment_url TEXT,
    comment_ids TEXT    NOT NULL DEFAULT '[]'   -- JSON array
);
CREATE INDEX runs_by_time ON runs (finished_at);
CREATE INDEX runs_by_mr ON runs (repo, mr);

-- The last head seen per merge request (Bitbucket Cloud's updates do not say whether
-- commits were pushed: an update whose head did not move is an edit).
CREATE TABLE mr_heads (
    provider TEXT    NOT NULL,
    repo     TEXT    NOT NULL,
    mr       INTEGER NOT NULL,
    head_sha TEXT    NOT NULL,
    seen_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, repo, mr)
);

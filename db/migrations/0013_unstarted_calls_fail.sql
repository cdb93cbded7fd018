-- A call whose workflow never started is failed from 'created', before any
-- terms were locked onto it: by POST /calls when Temporal did not answer
-- (AbandonUnstartedCall) and by the web role's unstarted-calls job
-- (FailStaleCreatedCalls). The check below refused both, so the caller's
-- one call slot stayed held (a 409 on every later call, since a 'created'
-- holder is not judged by its workflow) and the job failed every pass.
ALTER TABLE calls DROP CONSTRAINT calls_authorized_has_terms;
ALTER TABLE calls ADD CONSTRAINT calls_authorized_has_terms CHECK (
    status IN ('created', 'refused')
    OR (status = 'failed' AND authorized_until IS NULL)
    OR (per_minute_micros IS NOT NULL AND max_seconds IS NOT NULL AND authorized_until IS NOT NULL)
);

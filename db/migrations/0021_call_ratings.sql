-- How the call sounded (issue 20, item 3): the caller's 1-5 score and the
-- issues they ticked, one row per call (a second rating replaces the
-- first). Only a completed call of at least 5 seconds is rated; the web
-- layer checks that against the call row before it writes here.
CREATE TABLE call_ratings (
    call_id    uuid PRIMARY KEY REFERENCES calls (id),
    user_id    uuid NOT NULL REFERENCES users (id),
    score      smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    issues     text[] NOT NULL DEFAULT '{}'
               CHECK (issues <@ ARRAY['echo', 'choppy', 'dropped', 'could_not_hear']::text[]),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The dashboard's quality table reads the last 7 days by rating time.
CREATE INDEX call_ratings_updated_at_idx ON call_ratings (updated_at);

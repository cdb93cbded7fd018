-- A top-up during a call extends it (issue 21, item 3). Twilio fixes
-- <Dial timeLimit> when the Dial starts, so authorization gives the carrier
-- a ceiling above what the balance covers (max_seconds) and the call
-- workflow ends the call itself at what the balance pays for; a credit
-- during the call raises that up to the ceiling. time_limit_seconds is that
-- ceiling, the voice webhook's timeLimit; NULL for calls authorized before
-- it (their timeLimit is max_seconds).
ALTER TABLE calls ADD COLUMN time_limit_seconds integer
    CHECK (time_limit_seconds > 0 AND time_limit_seconds <= 14400 AND time_limit_seconds >= max_seconds);

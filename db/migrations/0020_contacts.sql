-- A person's saved contacts (issue 20): a name and a number, per user. The
-- number is stored E.164, as rating.ParseNumber gives it (the user's home
-- country reads a national number), so History and the dialer find a
-- contact by equality with calls.phone_number. A number is priced when it
-- is shown, never stored with a price: the deck changes.
CREATE TABLE contacts (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    phone_number text NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{1,14}$'),
    favourite    boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, phone_number)
);

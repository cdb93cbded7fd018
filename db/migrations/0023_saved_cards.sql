-- Saved cards (issue 21, item 1). Each user has at most one Stripe
-- Customer, created at the first top-up that needs one (saving a card);
-- its cards live at Stripe and are listed from there. A table of its own
-- rather than columns on users: the payments side owns every write to it,
-- and the users rows every page reads stay as they are.
-- default_payment_method_id is the card a one-tap or automatic top-up
-- uses unless told another: the card last saved or paid with in one tap,
-- cleared when that card is removed.
CREATE TABLE payment_customers (
    user_id                   uuid PRIMARY KEY REFERENCES users (id),
    customer_id               text NOT NULL CHECK (customer_id LIKE 'cus\_%'),
    default_payment_method_id text CHECK (default_payment_method_id LIKE 'pm\_%'),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payment_customers_customer_id_key UNIQUE (customer_id)
);

-- How a top-up pays: save_card asks Stripe to keep the card that pays
-- (setup_future_usage=off_session); payment_method_id pays with a saved
-- card, confirmed by the server (one tap); off_session is a payment
-- without the person (automatic top-up), only ever with a saved card.
ALTER TABLE topups
    ADD COLUMN save_card         boolean NOT NULL DEFAULT false,
    ADD COLUMN payment_method_id text CHECK (payment_method_id LIKE 'pm\_%'),
    ADD COLUMN off_session       boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT topups_off_session_saved_card CHECK (NOT off_session OR payment_method_id IS NOT NULL);

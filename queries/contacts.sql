-- Every query here names the user: a contact id alone never reads or
-- changes a row (another user's id is no row, a 404).

-- name: ListContacts :many
-- A user's contacts, favourites first, then by name.
SELECT * FROM contacts
WHERE user_id = $1
ORDER BY favourite DESC, lower(name), phone_number;

-- name: ListFavouriteContacts :many
SELECT * FROM contacts
WHERE user_id = $1 AND favourite
ORDER BY lower(name), phone_number
LIMIT 5;

-- name: GetContact :one
SELECT * FROM contacts WHERE id = $1 AND user_id = $2;

-- name: GetContactByNumber :one
SELECT * FROM contacts WHERE user_id = $1 AND phone_number = $2;

-- name: CreateContact :one
INSERT INTO contacts (user_id, name, phone_number, favourite)
VALUES ($1, $2, $3, $4)
RETURNING *;

-- name: UpdateContact :one
UPDATE contacts SET name = $3, phone_number = $4, updated_at = now()
WHERE id = $1 AND user_id = $2
RETURNING *;

-- name: DeleteContact :one
DELETE FROM contacts WHERE id = $1 AND user_id = $2
RETURNING *;

-- name: ToggleFavouriteContact :one
UPDATE contacts SET favourite = NOT favourite, updated_at = now()
WHERE id = $1 AND user_id = $2
RETURNING *;

-- name: ListNamedCallsPage :many
-- History's page (ListCallsPage) with each call's contact name, when the
-- number is saved: one query, joined by user and number.
SELECT sqlc.embed(calls), ct.name AS contact_name
FROM calls
LEFT JOIN contacts ct ON ct.user_id = calls.user_id AND ct.phone_number = calls.phone_number
WHERE calls.user_id = sqlc.arg(user_id)
  AND calls.status <> 'created'
  AND (sqlc.narg(before_at)::timestamptz IS NULL
       OR (calls.created_at, calls.id) < (sqlc.narg(before_at)::timestamptz, sqlc.narg(before_id)::uuid))
ORDER BY calls.created_at DESC, calls.id DESC
LIMIT sqlc.arg(page_size);

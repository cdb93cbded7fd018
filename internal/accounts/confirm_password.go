package accounts

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
)

// ConfirmPassword checks a signed-in user's password before an action that
// cannot be undone (deleting the account), counted and throttled as the
// other settings' checks are: a FieldErrors for field on a wrong password,
// a *ThrottledError past the limits.
func (s *Service) ConfirmPassword(ctx context.Context, userID uuid.UUID, password, clientIP, field string) error {
	q := db.New(s.pool)
	user, err := q.GetUserByID(ctx, userID)
	if err != nil {
		return fmt.Errorf("accounts: confirm password: %w", err)
	}
	return s.checkCurrentPassword(ctx, q, user, password, clientIP, field)
}

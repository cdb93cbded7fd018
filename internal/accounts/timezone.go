package accounts

import (
	"context"
	"fmt"
	"strings"
	"time"
	// The zone database in the binary, so a zone name checks and converts
	// the same on every host, whatever its /usr/share/zoneinfo holds.
	_ "time/tzdata"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
)

// IsTimeZone reports whether name is an IANA time zone a person may keep
// (Africa/Lagos, UTC): not empty, not "Local" (the server's own zone), and
// known to the zone database.
func IsTimeZone(name string) bool {
	if name == "" || name == "Local" || len(name) > 64 || strings.ContainsAny(name, " \\") {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}

// Location is the user's time zone; an unknown name (a zone the database
// dropped) is UTC.
func Location(u db.User) *time.Location {
	if loc, err := time.LoadLocation(u.TimeZone); err == nil && IsTimeZone(u.TimeZone) {
		return loc
	}
	return time.UTC
}

// SetTimeZone changes the zone the user's times are shown in.
func (s *Service) SetTimeZone(ctx context.Context, userID uuid.UUID, name string) (db.User, error) {
	name = strings.TrimSpace(name)
	if !IsTimeZone(name) {
		return db.User{}, FieldErrors{"time_zone": "Choose a time zone from the list, such as Africa/Lagos or Europe/London."}
	}
	u, err := db.New(s.pool).SetUserTimeZone(ctx, db.SetUserTimeZoneParams{ID: userID, TimeZone: name})
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: set time zone: %w", err)
	}
	return u, nil
}

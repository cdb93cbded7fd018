// Package accounts holds what a person does with their account: sign up
// (with a wallet, and an optional bonus through the ledger), sign in (with
// throttling per email and per client address), reset a forgotten password
// with a single-use link, and change their password or email.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/ledger"
)

// Limits on sign-in attempts. The tenth failure in a row for one email, or
// the hundredth from one client address, is refused until the window has
// passed since the last failure.
const (
	MaxFailuresPerEmail = 10
	MaxFailuresPerIP    = 100
	FailureWindow       = 15 * time.Minute
	ResetLifetime       = time.Hour
	MinPasswordLength   = 8
	MaxPasswordLength   = 128
)

// hashParams follow OWASP's argon2id recommendation (19 MiB, 2 passes, 1
// lane): strong, and affordable on a 2-core server.
var hashParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

var (
	ErrBadCredentials = errors.New("accounts: wrong email or password")
	ErrDisabled       = errors.New("accounts: account disabled")
	ErrResetInvalid   = errors.New("accounts: reset link invalid, used or expired")
)

// ThrottledError says sign-in is refused for now.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("accounts: too many failed sign-ins; retry in %s", e.RetryAfter.Round(time.Minute))
}

// FieldErrors maps a form field to what is wrong with it, in words a person
// understands.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	parts := make([]string, 0, len(f))
	for k, v := range f {
		parts = append(parts, k+": "+v)
	}
	return "accounts: invalid input: " + strings.Join(parts, "; ")
}

// Service is the accounts domain over Postgres.
type Service struct {
	pool             *pgxpool.Pool
	signupBonusCents int64
	dummyHash        string // compared against when the email is unknown, so timing says nothing
}

// New returns the service. signupBonusCents > 0 credits each new wallet
// through the ledger (key bonus:signup:<user>).
func New(pool *pgxpool.Pool, signupBonusCents int64) (*Service, error) {
	dummy, err := argon2id.CreateHash("not a real password", hashParams)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	return &Service{pool: pool, signupBonusCents: signupBonusCents, dummyHash: dummy}, nil
}

// SignUpInput is the sign-up form.
type SignUpInput struct {
	Email, Password, DisplayName, HomeCountry string
}

// SignUp creates the user and their wallet (and posts the bonus) in one
// transaction.
func (s *Service) SignUp(ctx context.Context, in SignUpInput) (db.User, error) {
	in.Email = normalizeEmail(in.Email)
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	in.HomeCountry = strings.ToUpper(strings.TrimSpace(in.HomeCountry))
	errs := FieldErrors{}
	checkEmail(errs, "email", in.Email)
	checkPassword(errs, "password", in.Password)
	if n := utf8.RuneCountInString(in.DisplayName); n == 0 || n > 100 {
		errs["display_name"] = "Enter your name (up to 100 characters)."
	}
	if !IsCountry(in.HomeCountry) {
		errs["home_country"] = "Choose your country."
	}
	if len(errs) > 0 {
		return db.User{}, errs
	}
	hash, err := createHash(in.Password)
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: hash password: %w", err)
	}

	var user db.User
	err = db.InTx(ctx, s.pool, func(q *db.Queries) error {
		user, err = q.CreateUser(ctx, db.CreateUserParams{
			Email: in.Email, DisplayName: in.DisplayName, PasswordHash: hash, HomeCountry: in.HomeCountry,
		})
		if err != nil {
			return err
		}
		wallet, err := q.CreateWallet(ctx, &user.ID)
		if err != nil {
			return err
		}
		if s.signupBonusCents <= 0 {
			return nil
		}
		_, err = ledger.New(q.DB()).Post(ctx, ledger.Entry{
			Key: "bonus:signup:" + user.ID.String(), AccountID: wallet.ID, Kind: ledger.Bonus,
			AmountCents: s.signupBonusCents, Memo: "Welcome bonus",
		})
		return err
	})
	if isUniqueViolation(err, "users_email_key") {
		return db.User{}, FieldErrors{"email": "An account with this email already exists. Sign in instead?"}
	}
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: sign up: %w", err)
	}
	return user, nil
}

// SignIn checks the password, throttling failures per email and per client
// address. Each attempt is counted before its password is checked (one
// atomic statement per key), so concurrent guesses cannot outrun the limit:
// past it, no hash is computed at all. A success clears the email's count.
// An unknown email and a wrong password are the same error, and take the
// same time.
func (s *Service) SignIn(ctx context.Context, email, password, clientIP string) (db.User, error) {
	email = normalizeEmail(email)
	if len(email) > maxEmailLength {
		// No account has one (sign-up refuses it), and so long a key cannot
		// be counted: refused before anything is.
		return db.User{}, ErrBadCredentials
	}
	q := db.New(s.pool)
	window := int32(FailureWindow / time.Second)
	byEmail, err := q.RecordSignInFailure(ctx, db.RecordSignInFailureParams{Scope: "email", Key: email, WindowSeconds: window})
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: sign in: %w", err)
	}
	byIP, err := q.RecordSignInFailure(ctx, db.RecordSignInFailureParams{Scope: "ip", Key: clientIP, WindowSeconds: window})
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: sign in: %w", err)
	}
	if byEmail > MaxFailuresPerEmail || byIP > MaxFailuresPerIP {
		return db.User{}, &ThrottledError{RetryAfter: FailureWindow}
	}

	user, err := q.GetUserByEmail(ctx, email)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return db.User{}, fmt.Errorf("accounts: sign in: %w", err)
	}
	hash := s.dummyHash
	if found {
		hash = user.PasswordHash
	}
	match, err := compareHash(password, hash)
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: sign in: %w", err)
	}
	if !found || !match {
		if byEmail >= MaxFailuresPerEmail || byIP >= MaxFailuresPerIP {
			return db.User{}, &ThrottledError{RetryAfter: FailureWindow}
		}
		return db.User{}, ErrBadCredentials
	}
	if err := q.ClearSignInFailures(ctx, db.ClearSignInFailuresParams{Scope: "email", Key: email}); err != nil {
		return db.User{}, fmt.Errorf("accounts: sign in: %w", err)
	}
	if err := q.ReleaseSignInAttempt(ctx, db.ReleaseSignInAttemptParams{Scope: "ip", Key: clientIP}); err != nil {
		return db.User{}, fmt.Errorf("accounts: sign in: %w", err)
	}
	if user.DisabledAt != nil {
		return db.User{}, ErrDisabled
	}
	return user, nil
}

// StartPasswordReset creates a single-use reset token for the account with
// that email. ok is false when there is none: the caller says the same to
// the person either way.
func (s *Service) StartPasswordReset(ctx context.Context, email string) (token string, user db.User, ok bool, err error) {
	q := db.New(s.pool)
	user, err = q.GetUserByEmail(ctx, normalizeEmail(email))
	if errors.Is(err, pgx.ErrNoRows) {
		return "", db.User{}, false, nil
	}
	if err != nil {
		return "", db.User{}, false, fmt.Errorf("accounts: reset: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", db.User{}, false, fmt.Errorf("accounts: reset: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	err = q.CreatePasswordReset(ctx, db.CreatePasswordResetParams{
		TokenHash: sum[:], UserID: user.ID, ExpiresAt: time.Now().Add(ResetLifetime),
	})
	if err != nil {
		return "", db.User{}, false, fmt.Errorf("accounts: reset: %w", err)
	}
	return token, user, true, nil
}

// CheckResetToken reports whether token can still be used.
func (s *Service) CheckResetToken(ctx context.Context, token string) error {
	sum := sha256.Sum256([]byte(token))
	_, err := db.New(s.pool).PeekPasswordReset(ctx, sum[:])
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrResetInvalid
	}
	return err
}

// ResetPassword uses token, once, to set a new password. Every session
// signed in before it is signed out (see SessionValid).
func (s *Service) ResetPassword(ctx context.Context, token, password string) (db.User, error) {
	errs := FieldErrors{}
	checkPassword(errs, "password", password)
	if len(errs) > 0 {
		return db.User{}, errs
	}
	hash, err := createHash(password)
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: reset: %w", err)
	}
	sum := sha256.Sum256([]byte(token))
	var user db.User
	err = db.InTx(ctx, s.pool, func(q *db.Queries) error {
		userID, err := q.UsePasswordReset(ctx, sum[:])
		if err != nil {
			return err
		}
		if err := q.UpdatePassword(ctx, db.UpdatePasswordParams{ID: userID, PasswordHash: hash}); err != nil {
			return err
		}
		if err := q.InvalidatePasswordResets(ctx, userID); err != nil {
			return err
		}
		user, err = q.GetUserByID(ctx, userID)
		if err != nil {
			return err
		}
		// Whoever proved they own the inbox gets in again at once.
		return q.ClearSignInFailures(ctx, db.ClearSignInFailuresParams{Scope: "email", Key: user.Email})
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return db.User{}, ErrResetInvalid
	}
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: reset: %w", err)
	}
	return user, nil
}

// ChangePassword sets a new password after checking the current one.
func (s *Service) ChangePassword(ctx context.Context, userID uuid.UUID, current, next string) (db.User, error) {
	q := db.New(s.pool)
	user, err := q.GetUserByID(ctx, userID)
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: change password: %w", err)
	}
	errs := FieldErrors{}
	if ok, err := compareHash(current, user.PasswordHash); err != nil || !ok {
		errs["current_password"] = "That is not your current password."
	}
	checkPassword(errs, "new_password", next)
	if len(errs) > 0 {
		return db.User{}, errs
	}
	hash, err := createHash(next)
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: change password: %w", err)
	}
	err = db.InTx(ctx, s.pool, func(q *db.Queries) error {
		if err := q.UpdatePassword(ctx, db.UpdatePasswordParams{ID: userID, PasswordHash: hash}); err != nil {
			return err
		}
		if err := q.InvalidatePasswordResets(ctx, userID); err != nil {
			return err
		}
		return q.ClearSignInFailures(ctx, db.ClearSignInFailuresParams{Scope: "email", Key: user.Email})
	})
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: change password: %w", err)
	}
	return q.GetUserByID(ctx, userID)
}

// ChangeEmail sets a new email after checking the password.
func (s *Service) ChangeEmail(ctx context.Context, userID uuid.UUID, password, email string) (db.User, error) {
	q := db.New(s.pool)
	user, err := q.GetUserByID(ctx, userID)
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: change email: %w", err)
	}
	email = normalizeEmail(email)
	errs := FieldErrors{}
	if ok, err := compareHash(password, user.PasswordHash); err != nil || !ok {
		errs["password"] = "That is not your current password."
	}
	checkEmail(errs, "email", email)
	if len(errs) > 0 {
		return db.User{}, errs
	}
	err = db.InTx(ctx, s.pool, func(q *db.Queries) error {
		var err error
		if user, err = q.UpdateEmail(ctx, db.UpdateEmailParams{ID: userID, Email: email}); err != nil {
			return err
		}
		// A link sent to the old address must not take the account back.
		return q.InvalidatePasswordResets(ctx, userID)
	})
	if isUniqueViolation(err, "users_email_key") {
		return db.User{}, FieldErrors{"email": "Another account uses this email."}
	}
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: change email: %w", err)
	}
	return user, nil
}

// GrantAdmin gives the account with that email the admin role.
func (s *Service) GrantAdmin(ctx context.Context, email string) (db.User, error) {
	u, err := db.New(s.pool).SetUserRole(ctx, db.SetUserRoleParams{Email: normalizeEmail(email), Role: "admin"})
	if errors.Is(err, pgx.ErrNoRows) {
		return db.User{}, fmt.Errorf("accounts: no account has the email %q", email)
	}
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: grant admin: %w", err)
	}
	return u, nil
}

// SessionValid reports whether a session may still act for user: the
// account is enabled and its password is the one the session signed in with
// (passwordChangedAt as it was at sign-in). A password change or reset thus
// signs out every other session, with no clock compared.
func SessionValid(user db.User, passwordChangedAt time.Time) bool {
	return user.DisabledAt == nil && user.PasswordChangedAt.Equal(passwordChangedAt)
}

// hashSlots bounds the argon2id work running at once (19 MiB each), so a
// burst of sign-ins queues instead of exhausting memory.
var hashSlots = make(chan struct{}, 2*runtime.NumCPU())

func createHash(password string) (string, error) {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2id.CreateHash(password, hashParams)
}

func compareHash(password, hash string) (bool, error) {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2id.ComparePasswordAndHash(password, hash)
}

// maxEmailLength is the longest email address (RFC 5321's path limit).
const maxEmailLength = 254

func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkEmail(errs FieldErrors, field, email string) {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > maxEmailLength || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		errs[field] = "Enter an email address like name@example.com."
	}
}

func checkPassword(errs FieldErrors, field, password string) {
	switch n := utf8.RuneCountInString(password); {
	case n < MinPasswordLength:
		errs[field] = fmt.Sprintf("Use at least %d characters.", MinPasswordLength)
	case n > MaxPasswordLength:
		errs[field] = fmt.Sprintf("Use at most %d characters.", MaxPasswordLength)
	}
}

func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

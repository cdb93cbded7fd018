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
	"net/netip"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/ledger"
)

// Limits on sign-in attempts. The tenth failure in a row for one email, or
// the hundredth from one client address (by default; see Limits), is
// refused until the window has passed since the last failure.
const (
	MaxFailuresPerEmail = 10
	MaxFailuresPerIP    = 100
	FailureWindow       = 15 * time.Minute
	ResetLifetime       = time.Hour
	ConfirmLifetime     = 7 * 24 * time.Hour
	// MaxEmailLength is the longest address SMTP allows. A longer one is
	// refused before anything is looked up or counted.
	MaxEmailLength = 254
	// LimitWindow is the fixed window of the per-hour limits.
	LimitWindow       = time.Hour
	MinPasswordLength = 8
	MaxPasswordLength = 128
)

// hashParams follow OWASP's argon2id recommendation (19 MiB, 2 passes, 1
// lane): strong, and affordable on a 2-core server.
var hashParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

var (
	ErrBadCredentials = errors.New("accounts: wrong email or password")
	ErrDisabled       = errors.New("accounts: account disabled")
	ErrResetInvalid   = errors.New("accounts: reset link invalid, used or expired")
	ErrConfirmInvalid = errors.New("accounts: confirmation link invalid, used or expired")
)

// ThrottledError says an attempt is refused for now: too many failed
// password checks, sign-ups, reset requests or top-ups.
type ThrottledError struct {
	RetryAfter time.Duration
	// Limit is how many attempts the window allows (0 for password checks,
	// whose limits are per email and per address at once).
	Limit int
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("accounts: too many attempts; retry in %s", e.RetryAfter.Round(time.Minute))
}

// RetryMinutes is RetryAfter in whole minutes, at least one, for a person.
func (e *ThrottledError) RetryMinutes() int {
	return max(1, int((e.RetryAfter+time.Minute-1)/time.Minute))
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
	limits           Limits
}

// Limits bound what one person, address or account can attempt. Zero
// fields take the defaults (DefaultLimits).
type Limits struct {
	// SignInFailuresPerAddress: failed password checks (sign-in and the
	// current password in settings) from one address (an IPv6 /64)
	// within FailureWindow; the per-email limit is MaxFailuresPerEmail.
	SignInFailuresPerAddress int
	// Per LimitWindow (an hour): sign-ups from one address, password-reset
	// requests for one email and from one address, and top-ups one user
	// starts.
	SignUpsPerAddress int
	ResetsPerEmail    int
	ResetsPerAddress  int
	TopUpsPerUser     int
}

// DefaultLimits are the limits of a service built by New.
func DefaultLimits() Limits {
	return Limits{SignInFailuresPerAddress: MaxFailuresPerIP, SignUpsPerAddress: 10,
		ResetsPerEmail: 3, ResetsPerAddress: 20, TopUpsPerUser: 10}
}

// WithLimits sets the limits (zero fields keep their defaults) and returns
// s. Call it before the service is used.
func (s *Service) WithLimits(l Limits) *Service {
	d := DefaultLimits()
	for _, f := range []struct{ v, def *int }{
		{&l.SignInFailuresPerAddress, &d.SignInFailuresPerAddress}, {&l.SignUpsPerAddress, &d.SignUpsPerAddress},
		{&l.ResetsPerEmail, &d.ResetsPerEmail}, {&l.ResetsPerAddress, &d.ResetsPerAddress}, {&l.TopUpsPerUser, &d.TopUpsPerUser},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	s.limits = l
	return s
}

// take counts one attempt against key in scope, in a fixed window of
// LimitWindow, and refuses it past limit. The count is one atomic
// statement, so concurrent attempts cannot outrun it.
func (s *Service) take(ctx context.Context, q *db.Queries, scope, key string, limit int) error {
	row, err := q.RecordAttempt(ctx, db.RecordAttemptParams{Scope: scope, Key: key, WindowSeconds: int32(LimitWindow / time.Second)})
	if err != nil {
		return fmt.Errorf("accounts: count %s attempt: %w", scope, err)
	}
	if int(row.Failures) > limit {
		return &ThrottledError{RetryAfter: time.Duration(max(row.RetryAfterSeconds, 1)) * time.Second, Limit: limit}
	}
	return nil
}

// AllowTopUp counts a top-up the user is about to start and refuses it
// past TopUpsPerUser an hour: each creates a PaymentIntent a card tester
// could try cards on.
func (s *Service) AllowTopUp(ctx context.Context, userID uuid.UUID) error {
	return s.take(ctx, db.New(s.pool), "topup_user", userID.String(), s.limits.TopUpsPerUser)
}

// New returns the service. signupBonusCents > 0 credits each new wallet
// through the ledger (key bonus:signup:<user>).
func New(pool *pgxpool.Pool, signupBonusCents int64) (*Service, error) {
	dummy, err := argon2id.CreateHash("not a real password", hashParams)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	return &Service{pool: pool, signupBonusCents: signupBonusCents, dummyHash: dummy, limits: DefaultLimits()}, nil
}

// SignUpInput is the sign-up form.
type SignUpInput struct {
	Email, Password, DisplayName, HomeCountry string
	// TimeZone is the IANA name the browser reports; one that is not a
	// known zone (or none) is UTC, changeable in Settings.
	TimeZone string
	// ClientIP is where the form came from: valid sign-ups count against
	// it (SignUpsPerAddress an hour). Empty (the command line) counts
	// nothing.
	ClientIP string
}

// SignUp creates the user and their wallet in one transaction. A sign-up
// bonus waits for the email to be confirmed (StartEmailConfirmation,
// ConfirmEmail), so a bonus needs a real inbox.
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
	// Counted once the form is valid, before the hash and before "this
	// email has an account" could answer: it bounds both the accounts one
	// address makes and the emails it can probe.
	if in.ClientIP != "" {
		if err := s.take(ctx, db.New(s.pool), "signup_ip", AddressKey(in.ClientIP), s.limits.SignUpsPerAddress); err != nil {
			return db.User{}, err
		}
	}
	hash, err := createHash(in.Password)
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: hash password: %w", err)
	}

	var user db.User
	err = db.InTx(ctx, s.pool, func(q *db.Queries) error {
		var zone *string
		if IsTimeZone(in.TimeZone) {
			zone = &in.TimeZone
		}
		user, err = q.CreateUser(ctx, db.CreateUserParams{
			Email: in.Email, DisplayName: in.DisplayName, PasswordHash: hash, HomeCountry: in.HomeCountry, TimeZone: zone,
		})
		if err != nil {
			return err
		}
		_, err = q.CreateWallet(ctx, &user.ID)
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
	if len(email) > MaxEmailLength {
		// No account has one (sign-up refuses it), and so long a key cannot
		// be counted: refused before anything is.
		return db.User{}, ErrBadCredentials
	}
	q := db.New(s.pool)
	check, err := s.countPasswordCheck(ctx, q, email, clientIP)
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: sign in: %w", err)
	}
	if check.over() {
		return db.User{}, &ThrottledError{RetryAfter: FailureWindow}
	}

	user, err := q.GetUserByEmail(ctx, email)
	found := err == nil
	if err != nil && !errors.Is(err, db.ErrNotFound) {
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
		if check.atLimit() {
			return db.User{}, &ThrottledError{RetryAfter: FailureWindow}
		}
		return db.User{}, ErrBadCredentials
	}
	if err := check.passed(ctx, q); err != nil {
		return db.User{}, fmt.Errorf("accounts: sign in: %w", err)
	}
	if user.DisabledAt != nil {
		return db.User{}, ErrDisabled
	}
	return user, nil
}

// passwordCheck is one password check counted, before it is made, against
// its email and its client address: sign-in and the current-password
// checks of settings share the counts, so guesses made through one are
// counted by the other.
type passwordCheck struct {
	s                  *Service
	email, address     string
	byEmail, byAddress int32
}

func (s *Service) countPasswordCheck(ctx context.Context, q *db.Queries, email, clientIP string) (passwordCheck, error) {
	c := passwordCheck{s: s, email: email, address: AddressKey(clientIP)}
	window := int32(FailureWindow / time.Second)
	var err error
	if email != "" {
		if c.byEmail, err = q.RecordSignInFailure(ctx, db.RecordSignInFailureParams{Scope: "email", Key: email, WindowSeconds: window}); err != nil {
			return c, err
		}
	}
	if c.address != "" {
		if c.byAddress, err = q.RecordSignInFailure(ctx, db.RecordSignInFailureParams{Scope: "ip", Key: c.address, WindowSeconds: window}); err != nil {
			return c, err
		}
	}
	return c, nil
}

// over: this check is past a limit and must not be made at all.
func (c passwordCheck) over() bool {
	return c.byEmail > MaxFailuresPerEmail || c.byAddress > int32(c.s.limits.SignInFailuresPerAddress)
}

// atLimit: this check failed and used the last attempt.
func (c passwordCheck) atLimit() bool {
	return c.byEmail >= MaxFailuresPerEmail || c.byAddress >= int32(c.s.limits.SignInFailuresPerAddress)
}

// passed clears the email's run and takes back the address's attempt.
func (c passwordCheck) passed(ctx context.Context, q *db.Queries) error {
	if c.email != "" {
		if err := q.ClearSignInFailures(ctx, db.ClearSignInFailuresParams{Scope: "email", Key: c.email}); err != nil {
			return err
		}
	}
	if c.address != "" {
		return q.ReleaseSignInAttempt(ctx, db.ReleaseSignInAttemptParams{Scope: "ip", Key: c.address})
	}
	return nil
}

// checkCurrentPassword checks a signed-in user's password (settings),
// throttled as sign-in is. It returns a FieldErrors for field on a wrong
// password and a *ThrottledError past the limits.
func (s *Service) checkCurrentPassword(ctx context.Context, q *db.Queries, user db.User, password, clientIP, field string) error {
	check, err := s.countPasswordCheck(ctx, q, user.Email, clientIP)
	if err != nil {
		return err
	}
	if check.over() {
		return &ThrottledError{RetryAfter: FailureWindow}
	}
	if ok, err := compareHash(password, user.PasswordHash); err != nil || !ok {
		if check.atLimit() {
			return &ThrottledError{RetryAfter: FailureWindow}
		}
		return FieldErrors{field: "That is not your current password."}
	}
	return check.passed(ctx, q)
}

// StartPasswordReset creates a single-use reset token for the account with
// that email. ok is false when there is none: the caller says the same to
// the person either way.
//
// Requests are counted per email (ResetsPerEmail an hour, so no one is
// mail-bombed through us) and per address (ResetsPerAddress), whether or
// not the email has an account, so a refusal tells nothing either.
func (s *Service) StartPasswordReset(ctx context.Context, email, clientIP string) (token string, user db.User, ok bool, err error) {
	q := db.New(s.pool)
	email = normalizeEmail(email)
	if clientIP != "" {
		if err := s.take(ctx, q, "reset_ip", AddressKey(clientIP), s.limits.ResetsPerAddress); err != nil {
			return "", db.User{}, false, err
		}
	}
	if len(email) > MaxEmailLength {
		return "", db.User{}, false, nil
	}
	if err := s.take(ctx, q, "reset_email", email, s.limits.ResetsPerEmail); err != nil {
		return "", db.User{}, false, err
	}
	user, err = q.GetUserByEmail(ctx, email)
	if errors.Is(err, db.ErrNotFound) {
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
	if errors.Is(err, db.ErrNotFound) {
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
	if errors.Is(err, db.ErrNotFound) {
		return db.User{}, ErrResetInvalid
	}
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: reset: %w", err)
	}
	return user, nil
}

// ChangePassword sets a new password after checking the current one.
// The current password is checked as sign-in checks one: counted against
// the email and clientIP first, refused with a *ThrottledError past the
// limits.
func (s *Service) ChangePassword(ctx context.Context, userID uuid.UUID, current, next, clientIP string) (db.User, error) {
	q := db.New(s.pool)
	user, err := q.GetUserByID(ctx, userID)
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: change password: %w", err)
	}
	errs := FieldErrors{}
	checkPassword(errs, "new_password", next)
	if len(errs) > 0 {
		return db.User{}, errs
	}
	if err := s.checkCurrentPassword(ctx, q, user, current, clientIP, "current_password"); err != nil {
		return db.User{}, err
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
// The password is checked as in ChangePassword.
func (s *Service) ChangeEmail(ctx context.Context, userID uuid.UUID, password, email, clientIP string) (db.User, error) {
	q := db.New(s.pool)
	user, err := q.GetUserByID(ctx, userID)
	if err != nil {
		return db.User{}, fmt.Errorf("accounts: change email: %w", err)
	}
	email = normalizeEmail(email)
	errs := FieldErrors{}
	checkEmail(errs, "email", email)
	if len(errs) > 0 {
		return db.User{}, errs
	}
	if err := s.checkCurrentPassword(ctx, q, user, password, clientIP, "password"); err != nil {
		return db.User{}, err
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

// StartEmailConfirmation creates the single-use link token that credits
// the sign-up bonus to userID's wallet, bound to their email of now. ok is
// false when there is no bonus to confirm (SIGNUP_BONUS_CENTS is 0).
func (s *Service) StartEmailConfirmation(ctx context.Context, user db.User) (token string, ok bool, err error) {
	if s.signupBonusCents <= 0 {
		return "", false, nil
	}
	token, sum, err := newToken()
	if err != nil {
		return "", false, fmt.Errorf("accounts: confirmation: %w", err)
	}
	err = db.New(s.pool).CreateEmailConfirmation(ctx, db.CreateEmailConfirmationParams{
		TokenHash: sum, UserID: user.ID, Email: user.Email, BonusCents: s.signupBonusCents,
		ExpiresAt: time.Now().Add(ConfirmLifetime),
	})
	if err != nil {
		return "", false, fmt.Errorf("accounts: confirmation: %w", err)
	}
	return token, true, nil
}

// CheckConfirmToken reports whether token can still be used.
func (s *Service) CheckConfirmToken(ctx context.Context, token string) error {
	sum := sha256.Sum256([]byte(token))
	_, err := db.New(s.pool).PeekEmailConfirmation(ctx, sum[:])
	if errors.Is(err, db.ErrNotFound) {
		return ErrConfirmInvalid
	}
	return err
}

// ConfirmEmail uses token, once, and credits the sign-up bonus it carries
// with the ledger key bonus:signup:<user>: a second confirmation, or a
// second link, credits nothing more. A link sent to an address the
// account no longer has does not count.
func (s *Service) ConfirmEmail(ctx context.Context, token string) (db.User, int64, error) {
	sum := sha256.Sum256([]byte(token))
	var user db.User
	var bonus int64
	err := db.InTx(ctx, s.pool, func(q *db.Queries) error {
		c, err := q.UseEmailConfirmation(ctx, sum[:])
		if err != nil {
			return err
		}
		if user, err = q.GetUserByID(ctx, c.UserID); err != nil {
			return err
		}
		if user.Email != c.Email {
			return db.ErrNotFound
		}
		wallet, err := q.GetWalletByUserID(ctx, &user.ID)
		if err != nil {
			return err
		}
		bonus = c.BonusCents
		_, err = ledger.New(q.DB()).Post(ctx, ledger.Entry{
			Key: "bonus:signup:" + user.ID.String(), AccountID: wallet.ID, Kind: ledger.Bonus,
			AmountCents: c.BonusCents, Memo: "Welcome bonus",
		})
		return err
	})
	if errors.Is(err, db.ErrNotFound) {
		return db.User{}, 0, ErrConfirmInvalid
	}
	if err != nil {
		return db.User{}, 0, fmt.Errorf("accounts: confirm email: %w", err)
	}
	return user, bonus, nil
}

// newToken is a random URL-safe token and its SHA-256, which is all we
// store.
func newToken() (string, []byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	return token, sum[:], nil
}

// GrantAdmin gives the account with that email the admin role.
func (s *Service) GrantAdmin(ctx context.Context, email string) (db.User, error) {
	u, err := db.New(s.pool).SetUserRole(ctx, db.SetUserRoleParams{Email: normalizeEmail(email), Role: "admin"})
	if errors.Is(err, db.ErrNotFound) {
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

// AddressKey is the bucket a client address is counted in: an IPv4
// address is its own, an IPv6 address counts with its /64 (the block one
// subscriber gets, and can hop around in at will).
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
}

func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkEmail(errs FieldErrors, field, email string) {
	if len(email) > MaxEmailLength {
		errs[field] = "Enter an email address like name@example.com."
		return
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
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

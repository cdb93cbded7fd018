package accounts_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/ledger"
	"github.com/mobayilo/mobayilo/internal/testdb"
)

func signUp(t *testing.T, s *accounts.Service, email string) db.User {
	t.Helper()
	u, err := s.SignUp(context.Background(), accounts.SignUpInput{Email: email, Password: "correct horse", DisplayName: "Ada", HomeCountry: "ng"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSignUpBonusWaitsForTheConfirmedEmailAndIsCreditedOnce(t *testing.T) {
	pool := testdb.New(t)
	s, err := accounts.New(pool, 50)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u := signUp(t, s, "  Ada@Example.COM ")
	if u.Email != "ada@example.com" || u.HomeCountry != "NG" || u.Role != "user" {
		t.Fatalf("user %+v", u)
	}
	row, err := db.New(pool).GetUserWithBalance(ctx, u.ID)
	if err != nil || row.CachedBalanceCents != 0 {
		t.Fatalf("wallet balance %d, %v before the email is confirmed; want 0", row.CachedBalanceCents, err)
	}
	token, ok, err := s.StartEmailConfirmation(ctx, u)
	if err != nil || !ok || token == "" {
		t.Fatalf("start confirmation: %q %v %v", token, ok, err)
	}
	if _, bonus, err := s.ConfirmEmail(ctx, token); err != nil || bonus != 50 {
		t.Fatalf("confirm: %d %v", bonus, err)
	}
	if _, _, err := s.ConfirmEmail(ctx, token); !errors.Is(err, accounts.ErrConfirmInvalid) {
		t.Fatalf("second confirmation: %v", err)
	}
	// A second link, however it came about, credits nothing more.
	again, _, _ := s.StartEmailConfirmation(ctx, u)
	if _, _, err := s.ConfirmEmail(ctx, again); err != nil {
		t.Fatalf("second link: %v", err)
	}
	row, _ = db.New(pool).GetUserWithBalance(ctx, u.ID)
	if row.CachedBalanceCents != 50 {
		t.Fatalf("wallet balance %d after confirming; want the 50 cent bonus once", row.CachedBalanceCents)
	}
	var key string
	if err := pool.QueryRow(ctx, `SELECT idempotency_key FROM transactions WHERE account_id = $1`, row.AccountID).Scan(&key); err != nil || key != "bonus:signup:"+u.ID.String() {
		t.Fatalf("bonus entry key %q, %v", key, err)
	}
	r, err := ledger.New(pool).Verify(ctx)
	if err != nil || !r.OK() {
		t.Fatalf("ledger: %v %v", r.Problems, err)
	}

	_, err = s.SignUp(ctx, accounts.SignUpInput{Email: "ADA@example.com", Password: "another one", DisplayName: "Imposter", HomeCountry: "US"})
	var fe accounts.FieldErrors
	if !errors.As(err, &fe) || fe["email"] == "" {
		t.Fatalf("duplicate email: %v", err)
	}
}

func TestConfirmationLinkForAnOldEmailCreditsNothing(t *testing.T) {
	pool := testdb.New(t)
	s, _ := accounts.New(pool, 50)
	ctx := context.Background()
	u := signUp(t, s, "old.addr@example.com")
	token, _, _ := s.StartEmailConfirmation(ctx, u)
	if _, err := s.ChangeEmail(ctx, u.ID, "correct horse", "new.addr@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ConfirmEmail(ctx, token); !errors.Is(err, accounts.ErrConfirmInvalid) {
		t.Fatalf("a link to the old address: %v", err)
	}
	if row, _ := db.New(pool).GetUserWithBalance(ctx, u.ID); row.CachedBalanceCents != 0 {
		t.Fatalf("balance %d", row.CachedBalanceCents)
	}
}

func TestSignUpWithoutBonusStartsAtZero(t *testing.T) {
	pool := testdb.New(t)
	s, _ := accounts.New(pool, 0)
	u := signUp(t, s, "zero@example.com")
	row, err := db.New(pool).GetUserWithBalance(context.Background(), u.ID)
	if err != nil || row.CachedBalanceCents != 0 {
		t.Fatalf("balance %d, %v", row.CachedBalanceCents, err)
	}
}

func TestSignUpValidation(t *testing.T) {
	pool := testdb.New(t)
	s, _ := accounts.New(pool, 0)
	_, err := s.SignUp(context.Background(), accounts.SignUpInput{Email: "not-an-email", Password: "short", DisplayName: " ", HomeCountry: "XX"})
	var fe accounts.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("want FieldErrors, got %v", err)
	}
	for _, f := range []string{"email", "password", "display_name", "home_country"} {
		if fe[f] == "" {
			t.Errorf("no error for %s: %v", f, fe)
		}
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM users`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d users after a refused sign-up", n)
	}
}

func TestSignInAndThrottle(t *testing.T) {
	pool := testdb.New(t)
	s, _ := accounts.New(pool, 0)
	ctx := context.Background()
	u := signUp(t, s, "bo@example.com")

	if got, err := s.SignIn(ctx, "BO@example.com", "correct horse", "192.0.2.1"); err != nil || got.ID != u.ID {
		t.Fatalf("sign in: %v", err)
	}
	if _, err := s.SignIn(ctx, "nobody@example.com", "correct horse", "192.0.2.1"); !errors.Is(err, accounts.ErrBadCredentials) {
		t.Fatalf("unknown email: %v", err)
	}
	// Nine wrong passwords are plain refusals; the tenth in a row throttles.
	for i := 1; i <= 9; i++ {
		if _, err := s.SignIn(ctx, "bo@example.com", "wrong", "192.0.2.2"); !errors.Is(err, accounts.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	var throttled *accounts.ThrottledError
	if _, err := s.SignIn(ctx, "bo@example.com", "wrong", "192.0.2.2"); !errors.As(err, &throttled) {
		t.Fatalf("tenth failure: want ThrottledError, got %v", err)
	}
	// Now even the right password waits.
	if _, err := s.SignIn(ctx, "bo@example.com", "correct horse", "192.0.2.3"); !errors.As(err, &throttled) {
		t.Fatalf("right password while throttled: %v", err)
	}
	// Once the window has passed, it works again and the count is cleared.
	if _, err := pool.Exec(ctx, `UPDATE sign_in_failures SET last_failed_at = now() - interval '16 minutes'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignIn(ctx, "bo@example.com", "correct horse", "192.0.2.3"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestSuccessResetsTheRun(t *testing.T) {
	pool := testdb.New(t)
	s, _ := accounts.New(pool, 0)
	ctx := context.Background()
	signUp(t, s, "cy@example.com")
	for range 9 {
		_, _ = s.SignIn(ctx, "cy@example.com", "wrong", "192.0.2.9")
	}
	if _, err := s.SignIn(ctx, "cy@example.com", "correct horse", "192.0.2.9"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignIn(ctx, "cy@example.com", "wrong", "192.0.2.9"); !errors.Is(err, accounts.ErrBadCredentials) {
		t.Fatalf("a failure after a success should not throttle: %v", err)
	}
}

func TestPasswordResetWorksOnceAndExpires(t *testing.T) {
	pool := testdb.New(t)
	s, _ := accounts.New(pool, 0)
	ctx := context.Background()
	u := signUp(t, s, "di@example.com")

	if _, _, ok, err := s.StartPasswordReset(ctx, "nobody@example.com", ""); ok || err != nil {
		t.Fatalf("unknown email: ok=%v err=%v", ok, err)
	}
	token, _, ok, err := s.StartPasswordReset(ctx, "DI@example.com", "")
	if !ok || err != nil || len(token) < 40 {
		t.Fatalf("start: %q %v %v", token, ok, err)
	}
	if err := s.CheckResetToken(ctx, token); err != nil {
		t.Fatal(err)
	}
	before := u.PasswordChangedAt
	got, err := s.ResetPassword(ctx, token, "brand new secret")
	if err != nil {
		t.Fatal(err)
	}
	if accounts.SessionValid(got, before) {
		t.Fatal("a session from before the reset is still valid")
	}
	if _, err := s.SignIn(ctx, "di@example.com", "brand new secret", "192.0.2.4"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if _, err := s.ResetPassword(ctx, token, "third secret!"); !errors.Is(err, accounts.ErrResetInvalid) {
		t.Fatalf("second use: %v", err)
	}

	expired, _, _, _ := s.StartPasswordReset(ctx, "di@example.com", "")
	if _, err := pool.Exec(ctx, `UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckResetToken(ctx, expired); !errors.Is(err, accounts.ErrResetInvalid) {
		t.Fatalf("expired check: %v", err)
	}
	if _, err := s.ResetPassword(ctx, expired, "fourth secret"); !errors.Is(err, accounts.ErrResetInvalid) {
		t.Fatalf("expired use: %v", err)
	}
	if _, err := s.ResetPassword(ctx, "made-up-token", "fifth secret"); !errors.Is(err, accounts.ErrResetInvalid) {
		t.Fatalf("made-up token: %v", err)
	}
}

func TestChangePasswordAndEmail(t *testing.T) {
	pool := testdb.New(t)
	s, _ := accounts.New(pool, 0)
	ctx := context.Background()
	u := signUp(t, s, "ed@example.com")
	signUp(t, s, "taken@example.com")

	var fe accounts.FieldErrors
	if _, err := s.ChangePassword(ctx, u.ID, "wrong", "new password 1", ""); !errors.As(err, &fe) || fe["current_password"] == "" {
		t.Fatalf("wrong current password: %v", err)
	}
	got, err := s.ChangePassword(ctx, u.ID, "correct horse", "new password 1", "")
	if err != nil {
		t.Fatal(err)
	}
	if accounts.SessionValid(got, u.PasswordChangedAt) || !accounts.SessionValid(got, got.PasswordChangedAt) {
		t.Fatal("password change must end old sessions and keep the new one")
	}
	if _, err := s.ChangeEmail(ctx, u.ID, "new password 1", "TAKEN@example.com", ""); !errors.As(err, &fe) || fe["email"] == "" {
		t.Fatalf("taken email: %v", err)
	}
	got, err = s.ChangeEmail(ctx, u.ID, "new password 1", "Ed.New@example.com", "")
	if err != nil || got.Email != "ed.new@example.com" {
		t.Fatalf("change email: %+v %v", got, err)
	}
	if _, err := s.GrantAdmin(ctx, "ED.NEW@example.com"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.New(pool).GetUserByID(ctx, u.ID); got.Role != "admin" {
		t.Fatalf("role %s", got.Role)
	}
	if _, err := s.GrantAdmin(ctx, "nobody@example.com"); err == nil {
		t.Fatal("granted admin to nobody")
	}
}

func TestConcurrentGuessesCannotOutrunTheThrottle(t *testing.T) {
	pool := testdb.New(t)
	s, _ := accounts.New(pool, 0)
	signUp(t, s, "race@example.com")
	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad, throttled := 0, 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.SignIn(context.Background(), "race@example.com", "wrong", "192.0.2.50")
			var th *accounts.ThrottledError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, accounts.ErrBadCredentials):
				bad++
			case errors.As(err, &th):
				throttled++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// At most nine guesses are answered "wrong"; everything past the limit
	// is refused, whatever the timing.
	if bad > accounts.MaxFailuresPerEmail-1 || bad+throttled != n {
		t.Fatalf("%d wrong, %d throttled", bad, throttled)
	}
}

func TestResetLiftsTheLockoutAndVoidsOtherLinks(t *testing.T) {
	pool := testdb.New(t)
	s, _ := accounts.New(pool, 0)
	ctx := context.Background()
	u := signUp(t, s, "lock@example.com")
	for range accounts.MaxFailuresPerEmail {
		_, _ = s.SignIn(ctx, "lock@example.com", "wrong", "192.0.2.60")
	}
	var th *accounts.ThrottledError
	if _, err := s.SignIn(ctx, "lock@example.com", "correct horse", "192.0.2.61"); !errors.As(err, &th) {
		t.Fatalf("not locked: %v", err)
	}
	first, _, _, _ := s.StartPasswordReset(ctx, "lock@example.com", "")
	second, _, _, _ := s.StartPasswordReset(ctx, "lock@example.com", "")
	if _, err := s.ResetPassword(ctx, first, "fresh password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignIn(ctx, "lock@example.com", "fresh password", "192.0.2.61"); err != nil {
		t.Fatalf("still locked after a reset: %v", err)
	}
	if _, err := s.ResetPassword(ctx, second, "attacker password"); !errors.Is(err, accounts.ErrResetInvalid) {
		t.Fatalf("an older link still works: %v", err)
	}
	// An email change voids links sent to the old address.
	third, _, _, _ := s.StartPasswordReset(ctx, "lock@example.com", "")
	if _, err := s.ChangeEmail(ctx, u.ID, "fresh password", "new.lock@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResetPassword(ctx, third, "attacker password"); !errors.Is(err, accounts.ErrResetInvalid) {
		t.Fatalf("a link to the old address still works: %v", err)
	}
}

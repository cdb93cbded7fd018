package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
)

type ctxKey int

const (
	ctxUser ctxKey = iota
	ctxSession
)

// Session keys.
const (
	sessUserID            = "user_id"
	sessPasswordChangedAt = "password_changed_at"
	sessFlash             = "flash"
	sessFlashError        = "flash_error"
	// When the password was last entered (sign-in, sign-up, reset, change,
	// or an admin's re-entry), and an admin's last request (unix nanos).
	sessPasswordAt = "password_entered_at"
	sessLastSeen   = "last_seen_at"
)

// sessionUser is the signed-in user of a request, with their wallet.
type sessionUser struct {
	db.User
	AccountID    uuid.UUID
	BalanceCents int64
	// AutoTopUpNotice: why we turned their automatic top-up off, for the
	// banner ("" none), read with the user.
	AutoTopUpNotice string
}

func contextWithUser(ctx context.Context, u *sessionUser) context.Context {
	return context.WithValue(ctx, ctxUser, u)
}

// currentUser is the request's signed-in user, or nil.
func currentUser(r *http.Request) *sessionUser {
	u, _ := r.Context().Value(ctxUser).(*sessionUser)
	return u
}

// withSession loads the server-side session (scs, in Postgres) and the
// signed-in user, if any. A session whose user was disabled or whose
// password changed since it signed in is signed out here.
func (s *Server) withSession(next http.Handler) http.Handler {
	return s.sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), ctxSession, true)
		if id, err := uuid.Parse(s.sessions.GetString(ctx, sessUserID)); err == nil {
			row, err := db.New(s.pool).GetUserWithBalance(ctx, id)
			switch {
			case err == nil && accounts.SessionValid(row.User, time.Unix(0, s.sessions.GetInt64(ctx, sessPasswordChangedAt))):
				if row.User.Role == "admin" && !s.adminActive(ctx) {
					s.endIdleAdminSession(w, r.WithContext(ctx))
					return
				}
				if row.User.Role != "admin" && !s.sessionActive(ctx) {
					if err := s.endSession(ctx); err != nil {
						s.serverError(w, r, err)
						return
					}
					break
				}
				ctx = contextWithUser(ctx, &sessionUser{User: row.User, AccountID: row.AccountID, BalanceCents: row.CachedBalanceCents,
					AutoTopUpNotice: row.AutoTopupNotice})
			case err == nil || errors.Is(err, db.ErrNotFound):
				if err := s.endSession(ctx); err != nil {
					s.serverError(w, r, err)
					return
				}
			default:
				s.serverError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	}))
}

// A session unused for sessionIdleTimeout is signed out; its use is
// recorded at most every sessionTouchEvery, so that an ordinary request
// writes no session row.
const (
	sessionIdleTimeout = 14 * 24 * time.Hour
	sessionTouchEvery  = time.Hour
)

// sessionActive records the session's use (at most every
// sessionTouchEvery) and reports whether it sat idle no longer than
// sessionIdleTimeout.
func (s *Server) sessionActive(ctx context.Context) bool {
	return s.touchSession(ctx, sessionIdleTimeout, sessionTouchEvery)
}

// touchSession records now as the session's last use when the last record
// is older than every, and reports whether the session was idle no longer
// than idle.
func (s *Server) touchSession(ctx context.Context, idle, every time.Duration) bool {
	now := s.now()
	last := s.sessions.GetInt64(ctx, sessLastSeen)
	if last != 0 && now.Sub(time.Unix(0, last)) > idle {
		return false
	}
	if last == 0 || now.Sub(time.Unix(0, last)) >= every {
		s.sessions.Put(ctx, sessLastSeen, now.UnixNano())
	}
	return true
}

// requireUser sends a signed-out visitor to sign in, then back.
func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r) == nil {
			target := "/signin"
			if r.Method == http.MethodGet && r.URL.Path != "/" {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// startSession signs user in on a fresh session token.
func (s *Server) startSession(ctx context.Context, user db.User) error {
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Put(ctx, sessUserID, user.ID.String())
	s.sessions.Put(ctx, sessPasswordChangedAt, user.PasswordChangedAt.UnixNano())
	// Every way in (sign-in, sign-up, reset, password change) entered the
	// password just now.
	s.sessions.Put(ctx, sessPasswordAt, s.now().UnixNano())
	s.sessions.Put(ctx, sessLastSeen, s.now().UnixNano())
	return nil
}

// signInAs starts user's session, answering a server error (and returning
// false) if it cannot.
func (s *Server) signInAs(w http.ResponseWriter, r *http.Request, user db.User) bool {
	if err := s.startSession(r.Context(), user); err != nil {
		s.serverError(w, r, err)
		return false
	}
	return true
}

// endSession signs out on a fresh session token (the flash survives).
func (s *Server) endSession(ctx context.Context) error {
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Remove(ctx, sessUserID)
	s.sessions.Remove(ctx, sessPasswordChangedAt)
	s.sessions.Remove(ctx, sessPasswordAt)
	s.sessions.Remove(ctx, sessLastSeen)
	return nil
}

// setFlash shows the catalogue message key (with its name, value args) on
// the next page, translated when that page renders.
func (s *Server) setFlash(r *http.Request, key string, args ...any) {
	s.sessions.Put(r.Context(), sessFlash, encodeFlash(key, args))
	s.sessions.Remove(r.Context(), sessFlashError)
}

// setFlashError is setFlash for a failure: the next page shows it as one
// (red, role="alert"), never in the success banner.
func (s *Server) setFlashError(r *http.Request, key string, args ...any) {
	s.sessions.Put(r.Context(), sessFlash, encodeFlash(key, args))
	s.sessions.Put(r.Context(), sessFlashError, true)
}

// popFlash returns and clears the flash and whether it tells a failure;
// "" outside a session.
func (s *Server) popFlash(r *http.Request) (string, bool) {
	if r.Context().Value(ctxSession) == nil {
		return "", false
	}
	failed := s.sessions.PopBool(r.Context(), sessFlashError)
	return s.sessions.PopString(r.Context(), sessFlash), failed
}

// localPath accepts only a path on this site, so ?next= cannot redirect
// elsewhere: one leading slash, no scheme or host, and no backslash or
// control character anywhere (browsers drop tabs and newlines, so "/\t/x"
// would become "//x").
func localPath(p, fallback string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') {
		return fallback
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fallback
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return fallback
	}
	return p
}

package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/i18n"
)

// writeJSON answers v as JSON with status.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

type errorData struct {
	Status         int
	Title, Message string
}

// errorPage renders the error page in the app's style. title and message
// are catalogue keys, shown in the page's language (the console's plain
// English shows as it is).
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	lang := langOf(r)
	s.render(w, r, status, "error", pageData{Data: errorData{Status: status, Title: i18n.T(lang, title), Message: i18n.T(lang, message)}})
}

// serverError logs the cause once and shows the user a safe message.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	zerolog.Ctx(r.Context()).Error().Err(err).Str("path", r.URL.Path).Msg("server error")
	s.errorPage(w, r, http.StatusInternalServerError, "error.server.title", "error.server.message")
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, "error.not_found.title", "error.not_found.message")
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusMethodNotAllowed, "error.method.title", "error.method.message")
}

// parseForm reads a form POST; a body that cannot be read is answered 400
// and false is returned.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || !storableValues(r.Form) {
		s.errorPage(w, r, http.StatusBadRequest, "error.bad_form.title", "error.bad_form.message")
		return false
	}
	return true
}

// found answers a load's error: nil is true; no row is the 404 page and
// any other error the 500 page, and false says the answer is written.
func (s *Server) found(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, db.ErrNotFound):
		s.notFound(w, r)
	default:
		s.serverError(w, r, err)
	}
	return false
}

// loadByID parses the URL's {id} and loads what it names: a malformed id
// or no row is the 404 page, any other error the 500 page (false: the
// answer is written). load is a query method ((*db.Queries).GetCall) or a
// closure that scopes it to the signed-in user, whose other rows are 404s.
func loadByID[T any](s *Server, w http.ResponseWriter, r *http.Request, load func(*db.Queries, context.Context, uuid.UUID) (T, error)) (T, bool) {
	var v T
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		s.notFound(w, r)
		return v, false
	}
	v, err = load(db.New(s.pool), r.Context(), id)
	return v, s.found(w, r, err)
}

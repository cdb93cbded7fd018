package web

import (
	"net/http"
	"net/url"
)

func (s *Server) showSettings(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "settings", pageData{Tab: "settings", Form: url.Values{}})
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	user, err := s.accounts.ChangePassword(r.Context(), currentUser(r).ID, r.PostForm.Get("current_password"), r.PostForm.Get("new_password"))
	if fe := formErrors(err); fe != nil {
		s.render(w, r, http.StatusUnprocessableEntity, "settings", pageData{Tab: "settings", Form: url.Values{}, Errors: fe})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// This device stays signed in, on a fresh token; every other is signed out.
	if !s.signInAs(w, r, user) {
		return
	}
	s.setFlash(r, "Your password is changed. Other devices are signed out.")
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}

func (s *Server) changeEmail(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, err := s.accounts.ChangeEmail(r.Context(), currentUser(r).ID, r.PostForm.Get("password"), r.PostForm.Get("email"))
	if fe := formErrors(err); fe != nil {
		s.render(w, r, http.StatusUnprocessableEntity, "settings", pageData{Tab: "settings", Form: url.Values{"email": {r.PostForm.Get("email")}}, Errors: fe})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setFlash(r, "Your email is changed.")
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}

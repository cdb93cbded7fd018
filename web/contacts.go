package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/internal/rating"
)

// Contacts (GET /contacts and its forms): names and numbers a person saves,
// on the server, per user. A number is read as POST /calls reads it
// (rating.ParseNumber, national numbers in the user's home country) and
// stored E.164, so the dialer and History find it by equality.
//
// A number that parses but that we do not call (no rate, a blocked range,
// a disabled destination) is still saved, and listed as "Cannot be called"
// with the reason: the deck and the rules change (a country may be opened
// next month) and an address book is not a call; POST /calls refuses it
// as ever. A number that is not a phone number (too short, an emergency
// number) is refused at 422, as the dialer refuses it.

// contactRow is one contact as the page shows it.
type contactRow struct {
	ID, Name, Number, Country string
	Favourite                 bool
	// PerMinute is its price ("$0.14/min"), "" when it cannot be called;
	// Refusal says why then.
	PerMinute, Refusal string
}

type contactsData struct {
	Contacts []contactRow
	// EditID is the contact whose edit form is shown again with errors.
	EditID string
}

// contactForm is POST /contacts' and POST /contacts/{id}'s input, read
// and checked: the name trimmed, the number E.164.
type contactForm struct {
	Name, Number string
	Errors       map[string]string
}

func readContactForm(form url.Values, homeCountry string) contactForm {
	f := contactForm{Name: strings.TrimSpace(form.Get("name")), Errors: map[string]string{}}
	switch n := utf8.RuneCountInString(f.Name); {
	case n == 0:
		f.Errors["name"] = "Enter a name."
	case n > 80:
		f.Errors["name"] = "Keep the name to 80 characters."
	}
	n, err := rating.ParseNumber(form.Get("phone_number"), homeCountry)
	var ne *rating.NumberError
	var ee *rating.EmergencyError
	switch {
	case err == nil:
		f.Number = n.E164
	case errors.As(err, &ee):
		f.Errors["phone_number"] = ee.Message
	case errors.As(err, &ne):
		f.Errors["phone_number"] = ne.Message
	default:
		f.Errors["phone_number"] = "Enter a phone number."
	}
	return f
}

// contactRowOf prices c as the rates page and the dialer do.
func (s *Server) contactRowOf(c db.Contact) contactRow {
	row := contactRow{ID: c.ID.String(), Name: c.Name, Number: c.PhoneNumber, Favourite: c.Favourite}
	n, err := rating.ParseNumber(c.PhoneNumber, "")
	if err == nil {
		row.Country = accounts.CountryName(n.Country)
		var rate rating.Rate
		rate, err = s.rules.Price(n, s.rates.Deck(), row.Country)
		if err == nil {
			row.PerMinute = rating.FormatPerMinute(rate.PerMinuteMicros)
			return row
		}
	}
	var refusal *rating.Refusal
	var ne *rating.NumberError
	var ee *rating.EmergencyError
	switch {
	case errors.As(err, &refusal):
		row.Refusal = refusal.Message
	case errors.As(err, &ee):
		row.Refusal = ee.Message
	case errors.As(err, &ne):
		row.Refusal = ne.Message
	default:
		row.Refusal = "This number cannot be called."
	}
	return row
}

func (s *Server) showContacts(w http.ResponseWriter, r *http.Request) {
	s.renderContacts(w, r, http.StatusOK, pageData{Form: url.Values{}}, "")
}

// renderContacts renders the page with the user's contacts; data carries
// a form's values and errors, editID the contact whose form they are.
func (s *Server) renderContacts(w http.ResponseWriter, r *http.Request, status int, data pageData, editID string) {
	list, err := db.New(s.pool).ListContacts(r.Context(), currentUser(r).ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d := contactsData{EditID: editID}
	for _, c := range list {
		d.Contacts = append(d.Contacts, s.contactRowOf(c))
	}
	data.Tab, data.Data = "dial", d
	s.render(w, r, status, "contacts", data)
}

// saveContact runs save with the checked form: a form error or the number
// already saved is the page again at 422, with the form's values.
func (s *Server) saveContact(w http.ResponseWriter, r *http.Request, editID string, save func(q *db.Queries, ctx context.Context, f contactForm) (db.Contact, error)) {
	if !s.parseForm(w, r) {
		return
	}
	u := currentUser(r)
	f := readContactForm(r.PostForm, u.HomeCountry)
	values := url.Values{"name": {r.PostForm.Get("name")}, "phone_number": {r.PostForm.Get("phone_number")}}
	if len(f.Errors) > 0 {
		s.renderContacts(w, r, http.StatusUnprocessableEntity, pageData{Form: values, Errors: f.Errors}, editID)
		return
	}
	q := db.New(s.pool)
	c, err := save(q, r.Context(), f)
	if _, dup := db.UniqueViolation(err); dup {
		msg := "You have already saved " + f.Number + "."
		if other, err := q.GetContactByNumber(r.Context(), db.GetContactByNumberParams{UserID: u.ID, PhoneNumber: f.Number}); err == nil {
			msg = "You have already saved " + f.Number + " as " + other.Name + "."
		}
		s.renderContacts(w, r, http.StatusUnprocessableEntity, pageData{Form: values, Errors: map[string]string{"phone_number": msg}}, editID)
		return
	}
	if !s.found(w, r, err) {
		return
	}
	s.setFlash(r, "flash.contact_saved", "Name", c.Name)
	http.Redirect(w, r, "/contacts", http.StatusSeeOther)
}

func (s *Server) createContact(w http.ResponseWriter, r *http.Request) {
	s.saveContact(w, r, "", func(q *db.Queries, ctx context.Context, f contactForm) (db.Contact, error) {
		return q.CreateContact(ctx, db.CreateContactParams{UserID: currentUser(r).ID, Name: f.Name, PhoneNumber: f.Number})
	})
}

func (s *Server) updateContact(w http.ResponseWriter, r *http.Request) {
	id, ok := s.contactID(w, r)
	if !ok {
		return
	}
	// Another user's contact is a 404 whatever the form holds.
	if _, err := db.New(s.pool).GetContact(r.Context(), db.GetContactParams{ID: id, UserID: currentUser(r).ID}); !s.found(w, r, err) {
		return
	}
	s.saveContact(w, r, id.String(), func(q *db.Queries, ctx context.Context, f contactForm) (db.Contact, error) {
		return q.UpdateContact(ctx, db.UpdateContactParams{ID: id, UserID: currentUser(r).ID, Name: f.Name, PhoneNumber: f.Number})
	})
}

func (s *Server) deleteContact(w http.ResponseWriter, r *http.Request) {
	id, ok := s.contactID(w, r)
	if !ok {
		return
	}
	c, err := db.New(s.pool).DeleteContact(r.Context(), db.DeleteContactParams{ID: id, UserID: currentUser(r).ID})
	if !s.found(w, r, err) {
		return
	}
	s.setFlash(r, "flash.contact_deleted", "Name", c.Name)
	http.Redirect(w, r, "/contacts", http.StatusSeeOther)
}

func (s *Server) toggleFavourite(w http.ResponseWriter, r *http.Request) {
	id, ok := s.contactID(w, r)
	if !ok {
		return
	}
	_, err := db.New(s.pool).ToggleFavouriteContact(r.Context(), db.ToggleFavouriteContactParams{ID: id, UserID: currentUser(r).ID})
	if !s.found(w, r, err) {
		return
	}
	http.Redirect(w, r, "/contacts", http.StatusSeeOther)
}

// contactID is the URL's {id}; a malformed one is the 404 page (as another
// user's id is: every query names the user).
func (s *Server) contactID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		s.notFound(w, r)
		return uuid.UUID{}, false
	}
	return id, true
}

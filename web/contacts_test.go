package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var contactIDPattern = regexp.MustCompile(`id="contact-([0-9a-f-]{36})"`)

// addContact saves a contact through the form and returns its id.
func addContact(t testing.TB, b *browser, name, number string) string {
	t.Helper()
	r := b.post("/contacts", url.Values{"name": {name}, "phone_number": {number}})
	if r.status != http.StatusSeeOther || r.location != "/contacts" {
		t.Fatalf("add %s: %d %s\n%s", name, r.status, r.location, r.body)
	}
	page := b.get("/contacts").body
	for _, m := range contactIDPattern.FindAllStringSubmatch(page, -1) {
		li := page[strings.Index(page, m[0]):]
		li = li[:strings.Index(li, "</li>")]
		if n := html.EscapeString(name); strings.Contains(li, ">"+n+"<") || strings.Contains(li, "</span> "+n+"<") {
			return m[1]
		}
	}
	t.Fatalf("%s is not listed:\n%s", name, page)
	return ""
}

// contactItem is the list item of contact id on the page body.
func contactItem(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="contact-`+id+`"`)
	if i < 0 {
		return ""
	}
	li := body[i:]
	return li[:strings.Index(li, "</li>")]
}

func TestContactsAreSavedNormalisedAndPriced(t *testing.T) {
	a := newApp(t, nil)
	b := a.browser()
	b.signUp("contacts@example.com", "correct horse", "C") // home country NG

	// A national number is read in the user's home country, as POST /calls reads it.
	id := addContact(t, b, "Ada Obi", "0803 123 4567")
	var stored string
	if err := a.pool.QueryRow(context.Background(), `SELECT phone_number FROM contacts WHERE id = $1`, id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != "+2348031234567" {
		t.Fatalf("stored %q, want +2348031234567", stored)
	}
	li := contactItem(t, b.get("/contacts").body, id)
	if !strings.Contains(li, "&#43;2348031234567") || !strings.Contains(li, "$0.14/min") || !strings.Contains(li, `href="/call?number=%2b2348031234567"`) {
		t.Fatalf("the contact lacks its number, price or Call link:\n%s", li)
	}

	// The same number again, however written, is refused, naming who has it.
	r := b.post("/contacts", url.Values{"name": {"Ada again"}, "phone_number": {"+234 803 123 4567"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "You have already saved &#43;2348031234567 as Ada Obi.") {
		t.Fatalf("duplicate: %d\n%s", r.status, r.body)
	}
	// No name, or a number that is no number: 422 with the field's message.
	r = b.post("/contacts", url.Values{"name": {"  "}, "phone_number": {"12"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Enter a name.") || !strings.Contains(r.body, `id="phone_number-error"`) {
		t.Fatalf("bad form: %d\n%s", r.status, r.body)
	}

	// A number we do not call is kept, and says so, with no Call link.
	prem := addContact(t, b, "Premium", "+1 900 234 5678")
	li = contactItem(t, b.get("/contacts").body, prem)
	if !strings.Contains(li, "Cannot be called") || strings.Contains(li, "/call?number=") {
		t.Fatalf("a blocked number's contact:\n%s", li)
	}

	// Update: a new name and number; the old number is free again.
	r = b.post("/contacts/"+id, url.Values{"name": {"Ada O."}, "phone_number": {"08031234568"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("update: %d\n%s", r.status, r.body)
	}
	li = contactItem(t, b.get("/contacts").body, id)
	if !strings.Contains(li, "Ada O.") || !strings.Contains(li, "&#43;2348031234568") {
		t.Fatalf("updated contact:\n%s", li)
	}
	// Updating onto another contact's number is the duplicate refusal, with the edit form open.
	r = b.post("/contacts/"+prem, url.Values{"name": {"Premium"}, "phone_number": {"08031234568"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "as Ada O.") || !strings.Contains(r.body, `id="phone_number-`+prem+`-error"`) {
		t.Fatalf("update onto a saved number: %d\n%s", r.status, r.body)
	}

	// Favourite: listed first, and on the dialer.
	if r := b.post("/contacts/"+prem+"/favourite", nil); r.status != http.StatusSeeOther {
		t.Fatalf("favourite: %d", r.status)
	}
	page := b.get("/contacts").body
	if strings.Index(page, `id="contact-`+prem+`"`) > strings.Index(page, `id="contact-`+id+`"`) {
		t.Fatal("the favourite is not listed first")
	}
	if !strings.Contains(contactItem(t, page, prem), `aria-pressed="true"`) {
		t.Fatal("the favourite is not marked")
	}
	dial := b.get("/call").body
	if !strings.Contains(dial, `id="favourites"`) || !strings.Contains(dial, `data-number="&#43;19002345678"`) {
		t.Fatalf("the dialer lacks the favourite:\n%s", dial)
	}
	if r := b.post("/contacts/"+prem+"/favourite", nil); r.status != http.StatusSeeOther {
		t.Fatalf("unfavourite: %d", r.status)
	}
	if strings.Contains(b.get("/call").body, `id="favourites"`) {
		t.Fatal("an unfavourited contact stays on the dialer")
	}

	// Delete.
	if r := b.post("/contacts/"+prem+"/delete", nil); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.status)
	}
	if page := b.get("/contacts").body; contactItem(t, page, prem) != "" || contactItem(t, page, id) == "" {
		t.Fatal("delete removed the wrong contact")
	}
}

// IDOR: a contact id of another user is a 404 for every action, and
// changes nothing; nobody's list shows another's contacts.
func TestContactsAreOnlyTheirUsers(t *testing.T) {
	a := newApp(t, nil)
	ann, ben := a.browser(), a.browser()
	ann.signUp("ann.contacts@example.com", "correct horse", "Ann")
	ben.signUp("ben.contacts@example.com", "correct horse", "Ben")
	annID := addContact(t, ann, "Ann's mum", "08031234567")
	addContact(t, ben, "Ben's dad", "08031234569")

	for _, path := range []string{"/contacts/" + annID, "/contacts/" + annID + "/delete", "/contacts/" + annID + "/favourite"} {
		r := ben.post(path, url.Values{"name": {"Stolen"}, "phone_number": {"08031234560"}})
		if r.status != http.StatusNotFound || strings.Contains(r.body, "Ann&#39;s mum") || strings.Contains(r.body, "2348031234567") {
			t.Fatalf("ben POST %s: %d", path, r.status)
		}
	}
	// An invalid form to another user's contact is a 404 too, not the form again.
	if r := ben.post("/contacts/"+annID, url.Values{"name": {""}, "phone_number": {"1"}}); r.status != http.StatusNotFound {
		t.Fatalf("ben's invalid update of ann's contact: %d", r.status)
	}
	if r := ben.post("/contacts/not-a-uuid/delete", nil); r.status != http.StatusNotFound {
		t.Fatalf("malformed id: %d", r.status)
	}
	var name, number string
	var fav bool
	if err := a.pool.QueryRow(context.Background(), `SELECT name, phone_number, favourite FROM contacts WHERE id = $1`, annID).Scan(&name, &number, &fav); err != nil {
		t.Fatal(err) // deleted
	}
	if name != "Ann's mum" || number != "+2348031234567" || fav {
		t.Fatalf("ben changed ann's contact: %q %q %v", name, number, fav)
	}
	benPage := ben.get("/contacts").body
	if strings.Contains(benPage, "Ann&#39;s mum") || strings.Contains(benPage, annID) || !strings.Contains(benPage, "Ben&#39;s dad") {
		t.Fatal("ben's list is not only ben's")
	}
	annPage := ann.get("/contacts").body
	if strings.Contains(annPage, "Ben&#39;s dad") || !strings.Contains(annPage, "Ann&#39;s mum") {
		t.Fatal("ann's list is not only ann's")
	}
	// Ben may save the same number as Ann: contacts are per user.
	addContact(t, ben, "Also Ann's mum", "+2348031234567")
}

// History and the dialer's Recent list name a saved number's contact.
func TestHistoryAndRecentShowTheContactsName(t *testing.T) {
	a := newApp(t, nil)
	b, other := a.browser(), a.browser()
	b.signUp("named@example.com", "correct horse", "N")
	other.signUp("other.named@example.com", "correct horse", "O")
	insertCalls(t, a, "named@example.com", 2) // +2348031200000 and +2348031200001
	addContact(t, b, "Chidi", "+2348031200001")
	// Another user's contact of the same number must not name b's call.
	addContact(t, other, "Not yours", "+2348031200000")

	page := b.get("/history").body
	if !strings.Contains(page, "Chidi") || !strings.Contains(page, "&#43;2348031200001 · Nigeria") {
		t.Fatalf("History lacks the contact's name with the number:\n%s", page)
	}
	if strings.Contains(page, "Not yours") {
		t.Fatal("History names a call after another user's contact")
	}
	dial := b.get("/call").body
	if !strings.Contains(dial, `<span class="font-semibold">Chidi</span>`) || strings.Contains(dial, "Not yours") {
		t.Fatalf("Recent does not name the contact:\n%s", dial)
	}
}

// Contacts are behind sign-in, and a form from another site saves nothing.
func TestContactsNeedASignedInSameOriginUser(t *testing.T) {
	a := newApp(t, nil)
	out := a.browser()
	if r := out.get("/contacts"); r.status != http.StatusSeeOther || r.location != "/signin?next=%2Fcontacts" {
		t.Errorf("GET /contacts signed out: %d %s", r.status, r.location)
	}
	b := a.browser()
	b.signUp("csrf.contacts@example.com", "correct horse", "X")
	form := url.Values{"name": {"Evil"}, "phone_number": {"08031234567"}}
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/contacts", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if r := b.do(req); r.status != http.StatusForbidden {
		t.Errorf("cross-origin POST /contacts: %d, want 403", r.status)
	}
	var n int
	if err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM contacts`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d contacts saved (%v)", n, err)
	}
}

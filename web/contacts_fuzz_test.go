package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// FuzzContacts sends the contact form of a signed-in user, new and as an
// update of a saved contact, with random, missing, repeated and huge
// fields: never a 5xx, and a refusal changes no contact. A contact that is
// saved is taken away again, so every input meets the same list.
func FuzzContacts(f *testing.F) {
	fa := newFuzzApp(f, nil, nil, nil)
	fa.digests = []string{digestSQL("contacts")}
	b := fa.browser()
	b.signUp("fuzz.contacts@example.com", "correct horse", "F")
	cookie := b.sessionCookie()
	saved := addContact(f, b, "Saved", "08031234567")

	for _, body := range formSeeds(url.Values{"name": {"Ada"}, "phone_number": {"0803 123 4568"}}) {
		f.Add(false, body)
		f.Add(true, body)
	}
	f.Add(false, url.Values{"name": {"Dup"}, "phone_number": {"+2348031234567"}}.Encode())
	f.Add(false, url.Values{"name": {"Sos"}, "phone_number": {"112"}}.Encode())
	f.Add(true, url.Values{"name": {"Premium"}, "phone_number": {"+1 900 234 5678"}}.Encode())

	f.Fuzz(func(t *testing.T, update bool, body string) {
		path := "/contacts"
		if update {
			path = "/contacts/" + saved
		}
		before := fa.snapshot(t)
		req := fa.formRequest(path, body, cookie)
		req.RemoteAddr = fuzzRemoteAddr()
		rec := fa.serve(req)
		what := fmt.Sprintf("%s %q", path, truncate(body, 300))
		fa.check(t, what, rec, before)
		if rec.Code != http.StatusSeeOther {
			return
		}
		// It worked: put the list back as it was.
		ctx := context.Background()
		if update {
			_, err := fa.pool.Exec(ctx, `UPDATE contacts SET name = 'Saved', phone_number = '+2348031234567' WHERE id = $1`, saved)
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		if _, err := fa.pool.Exec(ctx, `DELETE FROM contacts WHERE id <> $1`, saved); err != nil {
			t.Fatal(err)
		}
	})
}

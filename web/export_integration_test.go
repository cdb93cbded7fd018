package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/mobayilo/mobayilo/activities"
	"github.com/mobayilo/mobayilo/internal/devserver"
	"github.com/mobayilo/mobayilo/internal/i18n"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/internal/temporalx"
	"github.com/mobayilo/mobayilo/internal/testdb"
	"github.com/mobayilo/mobayilo/workflows"
)

// "Download my data" end to end: the web server, a worker, the Temporal
// dev server and Postgres; the worker mails through the same development
// mailbox the web server lists at /dev/mail.

type exportEnv struct {
	*app
	tc    client.Client
	queue string
	acts  *activities.Activities
}

func newExportEnv(t *testing.T) *exportEnv {
	t.Helper()
	pool := testdb.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := devserver.Start(ctx, devserver.Options{UIPort: -1, Output: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	tc, err := temporalx.Dial(ctx, temporalx.Options{Address: srv.Address, Namespace: "default", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	e := &exportEnv{tc: tc, queue: "export-" + uuid.NewString()}
	box := mail.NewMailbox(zerolog.Nop())
	e.app = startAppWith(t, map[string]string{"TEMPORAL_TASK_QUEUE": e.queue}, box, pool, tc)
	e.acts = activities.New(pool)
	e.acts.Mailer = box
	w := temporalx.NewWorker(tc, e.queue, e.acts, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return e
}

var exportLinkPattern = regexp.MustCompile(`http://[^\s]+/settings/export/download\?token=[A-Za-z0-9_-]+`)

// exportLink waits for the newest export email to addr and returns its
// link as a path on the test server.
func (e *exportEnv) exportLink(addr string) string {
	e.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, m := range e.mailbox.Messages() {
			if link := exportLinkPattern.FindString(m.Text); m.To == addr && link != "" {
				if !strings.HasPrefix(link, e.srv.URL+"/") {
					e.t.Fatalf("link %q is not on PUBLIC_BASE_URL %s", link, e.srv.URL)
				}
				return strings.TrimPrefix(link, e.srv.URL)
			}
		}
	}
	e.t.Fatalf("no export email to %s", addr)
	return ""
}

func (e *exportEnv) userID(email string) string {
	e.t.Helper()
	var id string
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM users WHERE email = $1`, email).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// The owner asks, the email's link downloads the ZIP of their data (and no
// one else's); another user's session gets a 404 for it, a token we never
// issued a 404, one past its time a 410; a second request while one is
// prepared is refused; the workflow deletes the ZIP when the link expires.
func TestDataExportDownloadedByItsOwnerOnly(t *testing.T) {
	e := newExportEnv(t)
	ada := e.browser()
	ada.signUp("ada@example.com", "correct horse", "Ada")
	bob := e.browser()
	bob.signUp("bob@example.com", "correct horse", "Bob")
	ctx := context.Background()
	adaID, bobID := e.userID("ada@example.com"), e.userID("bob@example.com")
	if _, err := e.pool.Exec(ctx, `INSERT INTO contacts (user_id, name, phone_number) VALUES ($1, 'Mum', '+2348031110001'), ($2, 'Bob''s mum', '+2348032220002')`,
		adaID, bobID); err != nil {
		t.Fatal(err)
	}

	if r := ada.post("/settings/export", url.Values{}); r.status != http.StatusSeeOther || r.location != "/settings#data-export" {
		t.Fatalf("request: %d %s %s", r.status, r.location, r.body)
	}
	path := e.exportLink("ada@example.com")

	r := ada.get(path)
	if r.status != http.StatusOK {
		t.Fatalf("owner: %d %s", r.status, r.body)
	}
	if ct, cd, cc := r.header.Get("Content-Type"), r.header.Get("Content-Disposition"), r.header.Get("Cache-Control"); ct != "application/zip" ||
		!strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".zip") || cc != "no-store" {
		t.Fatalf("headers: %q %q %q", ct, cd, cc)
	}
	zr, err := zip.NewReader(strings.NewReader(r.body), int64(len(r.body)))
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	var profile, contacts []byte
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		all.Write(b)
		switch f.Name {
		case "profile.json":
			profile = b
		case "contacts.json":
			contacts = b
		}
	}
	var p struct {
		ID, Email string
	}
	if err := json.Unmarshal(profile, &p); err != nil || p.ID != adaID || p.Email != "ada@example.com" {
		t.Fatalf("profile %s: %v", profile, err)
	}
	if !strings.Contains(string(contacts), "+2348031110001") {
		t.Fatalf("contacts %s", contacts)
	}
	for _, s := range []string{bobID, "bob@example.com", "+2348032220002"} {
		if strings.Contains(all.String(), s) {
			t.Fatalf("ada's export holds bob's %q", s)
		}
	}
	if page := ada.get("/settings").body; !strings.Contains(page, `data-status="ready"`) || !strings.Contains(page, "we emailed you the link") {
		t.Fatalf("settings does not say ready:\n%s", page)
	}

	// Another user's session: no such page.
	if r := bob.get(path); r.status != http.StatusNotFound || strings.Contains(r.body, "PK") {
		t.Fatalf("bob: %d", r.status)
	}
	// Signed out: sign in first.
	if r := e.browser().get(path); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/signin") {
		t.Fatalf("signed out: %d %s", r.status, r.location)
	}
	// Tokens we never issued.
	for _, bad := range []string{"/settings/export/download?token=nope", "/settings/export/download",
		"/settings/export/download?token=" + strings.Repeat("A", 43)} {
		if r := ada.get(bad); r.status != http.StatusNotFound {
			t.Fatalf("%s: %d", bad, r.status)
		}
	}

	// One at a time: while bob's is prepared, a second is refused.
	if _, err := e.pool.Exec(ctx, `INSERT INTO data_exports (user_id, n) VALUES ($1, 1)`, bobID); err != nil {
		t.Fatal(err)
	}
	if r := bob.post("/settings/export", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("second: %d", r.status)
	}
	// The section alone, as the poll controller reloads it while preparing.
	if r := bob.get("/settings/export"); r.status != http.StatusOK || !strings.Contains(r.body, `data-status="preparing"`) ||
		!strings.Contains(r.body, "bob@example.com") || !strings.Contains(r.body, `data-controller="poll"`) {
		t.Fatalf("the section alone: %d\n%s", r.status, r.body)
	}
	if page := bob.get("/settings").body; !strings.Contains(page, "already being prepared") || !strings.Contains(page, `data-status="preparing"`) {
		t.Fatalf("bob's settings:\n%s", page)
	}
	var bobs int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM data_exports WHERE user_id = $1`, bobID).Scan(&bobs); err != nil || bobs != 1 {
		t.Fatalf("bob has %d exports (%v)", bobs, err)
	}

	// Past its time: 410, whether or not the ZIP is deleted yet.
	if _, err := e.pool.Exec(ctx, `UPDATE data_exports SET expires_at = now() - interval '1 second' WHERE user_id = $1`, adaID); err != nil {
		t.Fatal(err)
	}
	if r := ada.get(path); r.status != http.StatusGone || !strings.Contains(r.body, "This link has expired") || r.header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("expired: %d %s", r.status, r.body)
	}
	if page := ada.get("/settings").body; !strings.Contains(page, `data-status="expired"`) {
		t.Fatalf("settings does not say expired:\n%s", page)
	}
}

// The workflow itself deletes the ZIP when the link expires (a short TTL
// in the workflow's input), and leaves the row so the link says 410; the
// run is recorded for the replay test.
func TestDataExportWorkflowDeletesTheZipAtExpiry(t *testing.T) {
	e := newExportEnv(t)
	ada := e.browser()
	ada.signUp("ada@example.com", "correct horse", "Ada")
	adaID := e.userID("ada@example.com")
	ctx := context.Background()
	var exportID string
	if err := e.pool.QueryRow(ctx, `INSERT INTO data_exports (user_id, n) VALUES ($1, 1) RETURNING id`, adaID).Scan(&exportID); err != nil {
		t.Fatal(err)
	}
	wid := workflows.DataExportWorkflowID(adaID, 1)
	run, err := e.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: e.queue}, workflows.DataExportWorkflowName,
		workflows.DataExportInput{ExportID: exportID, UserID: adaID, TTL: 3 * time.Second, BaseURL: e.cfg.PublicBaseURL})
	if err != nil {
		t.Fatal(err)
	}
	path := e.exportLink("ada@example.com")
	if r := ada.get(path); r.status != http.StatusOK {
		t.Fatalf("before expiry: %d", r.status)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := run.Get(wctx, nil); err != nil {
		t.Fatal(err)
	}
	var status string
	var zipNull bool
	if err := e.pool.QueryRow(ctx, `SELECT status, zip IS NULL FROM data_exports WHERE id = $1`, exportID).Scan(&status, &zipNull); err != nil {
		t.Fatal(err)
	}
	if status != workflows.DataExportExpired || !zipNull {
		t.Fatalf("after the workflow: %s, zip deleted %v", status, zipNull)
	}
	if r := ada.get(path); r.status != http.StatusGone {
		t.Fatalf("after expiry: %d", r.status)
	}
	// No email, no token, no ZIP in the workflow's history: ids and sizes.
	token := path[strings.Index(path, "token=")+len("token="):]
	iter := e.tc.GetWorkflowHistory(ctx, wid, "", false, 0)
	var history []byte
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := proto.Marshal(ev)
		history = append(history, b...)
	}
	for _, s := range []string{"ada@example.com", "Ada", token, "PK\x03\x04"} {
		if bytes.Contains(history, []byte(s)) {
			t.Fatalf("the workflow history holds %q", s)
		}
	}
	if !bytes.Contains(history, []byte(exportID)) {
		t.Fatal("the history does not even hold the export id: the check above proves nothing")
	}
	recordHistory(t, e.tc, wid, "data_export_expired.json")
}

// In the account's language: the flash, the email (subject, body, the
// link's expiry written for the language) and the 410 page are French for
// an account set to French.
func TestDataExportInTheAccountsLanguage(t *testing.T) {
	e := newExportEnv(t)
	amelie := e.browser()
	amelie.signUp("amelie@example.com", "correct horse", "Amélie")
	if r := amelie.post("/settings/language", url.Values{"locale": {"fr"}}); r.status != http.StatusSeeOther {
		t.Fatalf("language: %d %s", r.status, r.body)
	}
	if r := amelie.post("/settings/export", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("request: %d %s", r.status, r.body)
	}
	if page := html.UnescapeString(amelie.get("/settings").body); !strings.Contains(page, i18n.T("fr", "flash.data_export_started")) {
		t.Errorf("settings lacks the French flash:\n%s", page)
	}
	path := e.exportLink("amelie@example.com")
	var m mail.Message
	for _, msg := range e.mailbox.Messages() {
		if msg.To == "amelie@example.com" && exportLinkPattern.MatchString(msg.Text) {
			m = msg
		}
	}
	var expires time.Time
	if err := e.pool.QueryRow(context.Background(), `SELECT expires_at FROM data_exports WHERE user_id = $1`, e.userID("amelie@example.com")).Scan(&expires); err != nil {
		t.Fatal(err)
	}
	if m.Subject != i18n.T("fr", "mail.data_export.subject") || !strings.HasPrefix(m.Text, "Bonjour Amélie,") ||
		!strings.Contains(m.Text, i18n.DateTime("fr", expires.UTC())) || strings.Contains(m.Text, "Download") {
		t.Errorf("the email is not French: %q\n%s", m.Subject, m.Text)
	}
	if _, err := e.pool.Exec(context.Background(), `UPDATE data_exports SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if r := amelie.get(path); r.status != http.StatusGone || !strings.Contains(html.UnescapeString(r.body), i18n.T("fr", "error.export_expired.title")) {
		t.Errorf("expired: %d %s", r.status, r.body)
	}
}

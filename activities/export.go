package activities

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/i18n"
	"github.com/mobayilo/mobayilo/internal/mail"
	"github.com/mobayilo/mobayilo/workflows"
)

// "Download my data" (issue 22, item 2): the DataExport workflow's
// activities. The ZIP is read from Postgres and written back to Postgres
// here, and the link's token is made, hashed and mailed here: neither is
// ever an activity's input or result, so neither is in workflow history.

// errTypeNoMailer: the worker has no mailer; the link cannot be sent.
const errTypeNoMailer = "NoMailer"

// exportReadme is the README.txt of every export.
const exportReadme = `Your Mobayilo data

Each file is JSON. Amounts are in US cents (per-minute prices in millionths
of a dollar); times are UTC.

profile.json           your account and your wallet's balance
calls.json             every call you placed, with its price, length and cost
call_events.json       each call's status changes
transactions.json      every movement of your balance (the ledger)
topups.json            every top-up, paid or not
payment_failures.json  declined and failed payments
receipts.json          the receipts we emailed you
contacts.json          your contacts
call_ratings.json      how you rated your calls
caller_ids.json        the numbers you verified as your caller ID
saved_cards.json       the cards saved for one-tap top-ups (brand, last 4, expiry; Stripe keeps the numbers)
auto_topup.json        your automatic top-up settings and the top-ups they made
`

// savedCard is a saved card as the export shows it: never its number, nor
// the processor's id for it.
type savedCard struct {
	Brand    string `json:"brand"`
	Last4    string `json:"last4"`
	ExpMonth int64  `json:"exp_month"`
	ExpYear  int64  `json:"exp_year"`
}

// exportIDs parses the input's ids and checks that the export is the
// user's.
func (a *Activities) exportIDs(ctx context.Context, in workflows.DataExportInput) (db.GetDataExportMetaRow, error) {
	id, err := uuid.Parse(in.ExportID)
	if err != nil {
		return db.GetDataExportMetaRow{}, badInput("export id", err)
	}
	uid, err := uuid.Parse(in.UserID)
	if err != nil {
		return db.GetDataExportMetaRow{}, badInput("user id", err)
	}
	meta, err := db.New(a.Pool).GetDataExportMeta(ctx, id)
	if errors.Is(err, db.ErrNotFound) || err == nil && meta.UserID != uid {
		return meta, badInput("export", fmt.Errorf("no export %s of user %s", id, uid))
	}
	return meta, err
}

// BuildDataExport reads everything that is the user's in one statement,
// zips it (one JSON file per kind of row, and the saved cards from the
// processor) and stores the ZIP in the export's row. A retry after the
// ZIP was stored stores nothing more.
func (a *Activities) BuildDataExport(ctx context.Context, in workflows.DataExportInput) (workflows.DataExportBuilt, error) {
	meta, err := a.exportIDs(ctx, in)
	if err != nil {
		return workflows.DataExportBuilt{}, err
	}
	if meta.Status != workflows.DataExportPreparing || meta.BuiltAt != nil {
		var size int64
		if meta.SizeBytes != nil {
			size = *meta.SizeBytes
		}
		return workflows.DataExportBuilt{SizeBytes: size}, nil
	}
	q := db.New(a.Pool)
	data, err := q.ReadUserData(ctx, meta.UserID)
	if err != nil {
		return workflows.DataExportBuilt{}, fmt.Errorf("export: read the user's data: %w", err)
	}
	cards := []savedCard{}
	if data.PaymentCustomerID != "" && a.Payments != nil {
		list, err := a.Payments.ListCards(ctx, data.PaymentCustomerID)
		if err != nil {
			return workflows.DataExportBuilt{}, fmt.Errorf("export: list saved cards: %w", paymentsErr(err))
		}
		for _, c := range list {
			cards = append(cards, savedCard{Brand: c.Brand, Last4: c.Last4, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear})
		}
	}
	cardsJSON, err := json.Marshal(cards)
	if err != nil {
		return workflows.DataExportBuilt{}, err
	}
	autoTopUp, err := json.Marshal(map[string]json.RawMessage{"settings": orNull(data.AutoTopUp), "runs": orNull(data.AutoTopupRuns)})
	if err != nil {
		return workflows.DataExportBuilt{}, err
	}
	files := []struct {
		name string
		json []byte
	}{
		{"profile.json", data.Profile}, {"calls.json", data.Calls}, {"call_events.json", data.CallEvents},
		{"transactions.json", data.Transactions}, {"topups.json", data.Topups}, {"payment_failures.json", data.PaymentFailures},
		{"receipts.json", data.Receipts}, {"contacts.json", data.Contacts}, {"call_ratings.json", data.CallRatings},
		{"caller_ids.json", data.CallerIds}, {"saved_cards.json", cardsJSON}, {"auto_topup.json", autoTopUp},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, content []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: meta.RequestedAt})
		if err != nil {
			return err
		}
		_, err = w.Write(content)
		return err
	}
	if err := add("README.txt", []byte(exportReadme)); err != nil {
		return workflows.DataExportBuilt{}, err
	}
	for _, f := range files {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, orNull(f.json), "", "  "); err != nil {
			return workflows.DataExportBuilt{}, fmt.Errorf("export: %s: %w", f.name, err)
		}
		pretty.WriteByte('\n')
		if err := add(f.name, pretty.Bytes()); err != nil {
			return workflows.DataExportBuilt{}, err
		}
	}
	if err := zw.Close(); err != nil {
		return workflows.DataExportBuilt{}, err
	}
	if _, err := q.StoreDataExportZip(ctx, db.StoreDataExportZipParams{ID: meta.ID, Zip: buf.Bytes()}); err != nil {
		return workflows.DataExportBuilt{}, fmt.Errorf("export: store the zip: %w", err)
	}
	logInfo(ctx, "data export built", "UserID", in.UserID, "ExportID", in.ExportID, "SizeBytes", buf.Len())
	return workflows.DataExportBuilt{SizeBytes: int64(buf.Len())}, nil
}

// orNull is JSON's null for no value (a user with no auto top-up row).
func orNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// EmailDataExport issues the download link (a new random token, stored as
// its SHA-256) and emails it; the export is ready once the email went
// out. A retry issues a new token, so only the newest link sent works. An
// export already emailed (or expired) sends nothing.
func (a *Activities) EmailDataExport(ctx context.Context, in workflows.DataExportInput) (workflows.DataExportEmailed, error) {
	meta, err := a.exportIDs(ctx, in)
	if err != nil {
		return workflows.DataExportEmailed{}, err
	}
	if meta.Status != workflows.DataExportPreparing {
		var out workflows.DataExportEmailed
		if meta.ExpiresAt != nil {
			out.ExpiresAt = *meta.ExpiresAt
		}
		return out, nil
	}
	if a.Mailer == nil {
		return workflows.DataExportEmailed{}, temporal.NewNonRetryableApplicationError("no mailer: the export's link cannot be sent", errTypeNoMailer, nil)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return workflows.DataExportEmailed{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	hash := sha256.Sum256([]byte(token))
	ttl := in.TTL
	if ttl <= 0 {
		ttl = workflows.DefaultDataExportTTL
	}
	q := db.New(a.Pool)
	row, err := q.IssueDataExportToken(ctx, db.IssueDataExportTokenParams{ID: meta.ID, TokenHash: hash[:], TtlMs: ttl.Milliseconds()})
	if err != nil {
		return workflows.DataExportEmailed{}, fmt.Errorf("export: issue the link: %w", err)
	}
	loc, err := time.LoadLocation(row.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	// In the account's language (English without one), as the auto top-up
	// email is.
	lang := i18n.Default
	if row.Locale != nil && i18n.Valid(*row.Locale) {
		lang = *row.Locale
	}
	until := row.ExpiresAt.In(loc)
	expires := i18n.DateTime(lang, until) + " " + until.Format("MST")
	// In the query, not the path: request lines log the path.
	link := in.BaseURL + "/settings/export/download?token=" + token
	msg := mail.Message{
		To:      row.Email,
		Subject: i18n.T(lang, "mail.data_export.subject"),
		Text:    i18n.T(lang, "mail.data_export.text", "Name", row.DisplayName, "Link", link, "Until", expires),
	}
	if err := a.Mailer.Send(ctx, msg); err != nil {
		return workflows.DataExportEmailed{}, fmt.Errorf("export: send the link: %w", err)
	}
	if _, err := q.MarkDataExportEmailed(ctx, db.MarkDataExportEmailedParams{ID: meta.ID, TokenHash: hash[:]}); err != nil {
		return workflows.DataExportEmailed{}, fmt.Errorf("export: mark emailed: %w", err)
	}
	logInfo(ctx, "data export emailed", "UserID", in.UserID, "ExportID", in.ExportID, "ExpiresAt", *row.ExpiresAt)
	return workflows.DataExportEmailed{ExpiresAt: *row.ExpiresAt}, nil
}

// ExpireDataExport deletes the export's ZIP (its row stays, expired, so
// an old link is told so), or marks failed an export that never got out.
func (a *Activities) ExpireDataExport(ctx context.Context, in workflows.DataExportInput) error {
	meta, err := a.exportIDs(ctx, in)
	if err != nil {
		return err
	}
	n, err := db.New(a.Pool).ExpireDataExport(ctx, meta.ID)
	if err != nil {
		return fmt.Errorf("export: expire: %w", err)
	}
	if n > 0 {
		logInfo(ctx, "data export deleted", "UserID", in.UserID, "ExportID", in.ExportID, "WasStatus", meta.Status)
	}
	return nil
}

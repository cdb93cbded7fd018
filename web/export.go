package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/mobayilo/mobayilo/db"
	"github.com/mobayilo/mobayilo/internal/accounts"
	"github.com/mobayilo/mobayilo/workflows"
)

// "Download my data" (Settings; issue 22, item 2): POST /settings/export
// starts a DataExport workflow (workflows/export.go), which builds a ZIP of
// everything that is the user's into data_exports and emails a link. The
// link is GET /settings/export/download?token=...: the token is in the
// query, never the path, because request lines log the path. It works
// only for the signed-in owner and until it expires; another user's
// token, or one we never issued, is a 404, and an expired one a 410.

// dataExportData is Settings' export section.
type dataExportData struct {
	Row *db.LatestDataExportRow // nil: never asked for
	Now time.Time
}

// Preparing: the workflow is building or mailing it.
func (d dataExportData) Preparing() bool {
	return d.Row != nil && d.Row.Status == workflows.DataExportPreparing
}

// Ready: emailed, and the link still works.
func (d dataExportData) Ready() bool {
	return d.Row != nil && d.Row.Status == workflows.DataExportReady && d.Row.ExpiresAt != nil && d.Row.ExpiresAt.After(d.Now)
}

// Expired: the link no longer works (the ZIP is deleted, or about to be).
func (d dataExportData) Expired() bool {
	return d.Row != nil && (d.Row.Status == workflows.DataExportExpired || d.Row.Status == workflows.DataExportReady && !d.Ready())
}

// Failed: it could not be built or mailed.
func (d dataExportData) Failed() bool {
	return d.Row != nil && d.Row.Status == workflows.DataExportFailed
}

// SizeKB is the ZIP's size in kilobytes (at least 1).
func (d dataExportData) SizeKB() int64 {
	if d.Row == nil || d.Row.SizeBytes == nil {
		return 0
	}
	return max(1, (*d.Row.SizeBytes+1023)/1024)
}

func (s *Server) dataExportOf(ctx context.Context, userID uuid.UUID) (dataExportData, error) {
	d := dataExportData{Now: s.now()}
	row, err := db.New(s.pool).LatestDataExport(ctx, userID)
	if errors.Is(err, db.ErrNotFound) {
		return d, nil
	}
	if err != nil {
		return d, err
	}
	d.Row = &row
	return d, nil
}

// showDataExport is the section alone (partials/data_export.html), which
// the page reloads while the export is prepared (the poll controller).
func (s *Server) showDataExport(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	d, err := s.dataExportOf(r.Context(), u.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := s.templates["settings"].ExecuteTemplate(&buf, "data_export", pageData{Form: url.Values{}, User: &u.User, Zone: accounts.Location(u.User), Lang: langOf(r),
		Data: settingsData{DataExport: d}}); err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = buf.WriteTo(w)
}

// requestDataExport records a new export and starts its workflow; while
// one is being prepared, a second is refused (the flash says so).
func (s *Server) requestDataExport(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	u := currentUser(r)
	q := db.New(s.pool)
	n, err := q.NextDataExportNumber(r.Context(), u.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	row, err := q.CreateDataExport(r.Context(), db.CreateDataExportParams{UserID: u.ID, N: n})
	if _, dup := db.UniqueViolation(err); dup {
		s.setFlashError(r, "flash.data_export_busy")
		http.Redirect(w, r, "/settings#data-export", http.StatusSeeOther)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	in := workflows.DataExportInput{ExportID: row.ID.String(), UserID: u.ID.String(), TTL: s.cfg.DataExportTTL, BaseURL: s.cfg.PublicBaseURL}
	wid := workflows.DataExportWorkflowID(in.UserID, row.N)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	_, err = s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: wid, TaskQueue: s.cfg.TemporalTaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.DataExportWorkflowName, in)
	if err != nil {
		s.log.Error().Err(err).Str("workflow_id", wid).Str("user_id", in.UserID).Str("export_id", in.ExportID).Msg("data export: start workflow")
		// Not started: failed, so that the person can ask again.
		_, _ = q.ExpireDataExport(context.WithoutCancel(r.Context()), row.ID)
		s.setFlashError(r, "flash.data_export_failed")
		http.Redirect(w, r, "/settings#data-export", http.StatusSeeOther)
		return
	}
	s.log.Info().Str("workflow_id", wid).Str("user_id", in.UserID).Str("export_id", in.ExportID).Msg("data export started")
	s.setFlash(r, "flash.data_export_started")
	http.Redirect(w, r, "/settings#data-export", http.StatusSeeOther)
}

// downloadDataExport serves the ZIP to its owner while the link works.
func (s *Server) downloadDataExport(w http.ResponseWriter, r *http.Request) {
	// The token is in this page's address: no page it links to is told it.
	w.Header().Set("Referrer-Policy", "no-referrer")
	token := r.URL.Query().Get("token")
	if raw, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(raw) != 32 {
		s.notFound(w, r)
		return
	}
	u := currentUser(r)
	hash := sha256.Sum256([]byte(token))
	e, err := db.New(s.pool).GetDataExportDownload(r.Context(), db.GetDataExportDownloadParams{TokenHash: hash[:], UserID: u.ID})
	if !s.found(w, r, err) {
		return
	}
	switch {
	case e.Live && e.Zip != nil:
	case e.Status == workflows.DataExportReady || e.Status == workflows.DataExportExpired:
		s.log.Info().Str("user_id", u.ID.String()).Str("export_id", e.ID.String()).Msg("data export: expired link used")
		s.errorPage(w, r, http.StatusGone, "error.export_expired.title", "error.export_expired.message")
		return
	default:
		s.notFound(w, r)
		return
	}
	s.log.Info().Str("user_id", u.ID.String()).Str("export_id", e.ID.String()).Int("bytes", len(e.Zip)).Msg("data export downloaded")
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", `attachment; filename="mobayilo-data-`+strconv.Itoa(int(e.N))+`.zip"`)
	h.Set("Content-Length", strconv.Itoa(len(e.Zip)))
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(e.Zip)
}

// Package mail sends the few emails Mobayilo sends (email confirmations,
// password resets, receipts). In production it speaks SMTP with verified
// TLS; in development, with no SMTP_HOST, messages go to the log and to a
// mailbox listed at /dev/mail.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Message is one email: plain text, and an HTML alternative when HTML is
// set.
type Message struct {
	To      string
	Subject string
	Text    string
	// HTML, when set, is sent beside Text (multipart/alternative).
	HTML string
	// MessageID, when set, is the Message-ID header's address (without the
	// angle brackets). A message sent again under the same one (a receipt
	// whose sending was not recorded) is the same message to the mail
	// systems that deduplicate by it.
	MessageID string
	SentAt    time.Time
}

// Sender sends messages.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SMTP sends through a relay. Port 465 uses implicit TLS; any other port
// requires STARTTLS. The server's certificate is always verified: there is
// no switch to turn that off.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	// RootCAs verifies the server's certificate; nil means the system's.
	RootCAs *x509.CertPool
}

// Send delivers m, or returns why not.
func (s SMTP) Send(ctx context.Context, m Message) error {
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return fmt.Errorf("mail: SMTP_FROM: %w", err)
	}
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tlsConfig := &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12, RootCAs: s.RootCAs}

	var conn net.Conn
	if s.Port == 465 {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: tlsConfig}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("mail: connect to %s: %w", addr, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	} else {
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: %w", err)
	}
	defer c.Close()
	if s.Port != 465 {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("mail: server does not offer STARTTLS; refusing to send in the clear")
		}
		if err := c.StartTLS(tlsConfig); err != nil {
			return fmt.Errorf("mail: STARTTLS: %w", err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return fmt.Errorf("mail: authenticate: %w", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("mail: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := w.Write(Format(s.From, m)); err != nil {
		return fmt.Errorf("mail: write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: send: %w", err)
	}
	return c.Quit()
}

// Format renders m as an RFC 5322 message with CRLF line endings: plain
// text, or with HTML multipart/alternative (text first, as the simpler
// part), each part quoted-printable so no line is too long for SMTP.
func Format(from string, m Message) []byte {
	var b strings.Builder
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from)
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", time.Now().UTC().Format(time.RFC1123Z))
	if m.MessageID != "" {
		header("Message-ID", "<"+m.MessageID+">")
	}
	header("MIME-Version", "1.0")
	if m.HTML == "" {
		header("Content-Type", "text/plain; charset=utf-8")
		header("Content-Transfer-Encoding", "8bit")
		b.WriteString("\r\n")
		b.WriteString(crlf(m.Text))
		return []byte(b.String())
	}
	var body bytes.Buffer
	parts := multipart.NewWriter(&body)
	header("Content-Type", "multipart/alternative; boundary="+parts.Boundary())
	b.WriteString("\r\n")
	for _, p := range []struct{ kind, content string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		w, _ := parts.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.kind + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		qp := quotedprintable.NewWriter(w)
		_, _ = qp.Write([]byte(crlf(p.content)))
		_ = qp.Close()
	}
	_ = parts.Close()
	b.Write(body.Bytes())
	return []byte(b.String())
}

// crlf gives s CRLF line endings.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// Mailbox is the development sender: it logs that a message was sent
// (recipient and subject, never the body, which may hold a reset link) and
// keeps the newest messages for /dev/mail.
type Mailbox struct {
	log  zerolog.Logger
	mu   sync.Mutex
	msgs []Message
}

const mailboxSize = 50

// NewMailbox returns an empty development mailbox.
func NewMailbox(log zerolog.Logger) *Mailbox { return &Mailbox{log: log} }

// Send keeps m.
func (b *Mailbox) Send(_ context.Context, m Message) error {
	m.SentAt = time.Now()
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	if len(b.msgs) > mailboxSize {
		b.msgs = b.msgs[len(b.msgs)-mailboxSize:]
	}
	b.mu.Unlock()
	b.log.Info().Str("to", m.To).Str("subject", m.Subject).Msg("development mail kept; read it at /dev/mail")
	return nil
}

// Messages returns the kept messages, newest first.
func (b *Mailbox) Messages() []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Message, len(b.msgs))
	for i, m := range b.msgs {
		out[len(b.msgs)-1-i] = m
	}
	return out
}

package mail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http/httptest"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeSMTP is a minimal SMTP server on loopback that records what it was
// told. offerSTARTTLS decides whether EHLO offers it; cert is its TLS
// certificate (self-signed, so a verifying client must refuse it).
type fakeSMTP struct {
	addr          string
	offerSTARTTLS bool
	cert          tls.Certificate
	mu            sync.Mutex
	commands      []string
	body          string
}

func startFakeSMTP(t *testing.T, offerSTARTTLS bool) *fakeSMTP {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	// httptest's TLS server carries a self-signed certificate for 127.0.0.1.
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	cert := ts.TLS.Certificates[0]
	cert.Leaf = ts.Certificate()
	ts.Close()
	f := &fakeSMTP{addr: l.Addr().String(), offerSTARTTLS: offerSTARTTLS, cert: cert}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go f.serve(conn)
		}
	}()
	return f
}

func (f *fakeSMTP) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r, w := bufio.NewReader(conn), conn
	reply := func(s string) { _, _ = w.Write([]byte(s + "\r\n")) }
	reply("220 fake ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimSpace(line)
		f.mu.Lock()
		f.commands = append(f.commands, cmd)
		f.mu.Unlock()
		switch verb := strings.ToUpper(strings.SplitN(cmd, " ", 2)[0]); verb {
		case "EHLO", "HELO":
			if f.offerSTARTTLS {
				reply("250-fake\r\n250 STARTTLS")
			} else {
				reply("250 fake")
			}
		case "STARTTLS":
			reply("220 go ahead")
			tc := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{f.cert}})
			if err := tc.Handshake(); err != nil {
				return
			}
			r, w = bufio.NewReader(tc), tc
		case "AUTH":
			reply("235 authenticated")
		case "DATA":
			reply("354 go on")
			var body strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				body.WriteString(l)
			}
			f.mu.Lock()
			f.body = body.String()
			f.mu.Unlock()
			reply("250 queued")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("250 ok")
		}
	}
}

func (f *fakeSMTP) saw(verb string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.commands {
		if strings.HasPrefix(strings.ToUpper(c), verb) {
			return true
		}
	}
	return false
}

func smtpFor(t *testing.T, f *fakeSMTP) SMTP {
	host, port, _ := net.SplitHostPort(f.addr)
	p, _ := strconv.Atoi(port)
	return SMTP{Host: host, Port: p, Username: "user", Password: "secret", From: "Mobayilo <no-reply@example.com>"}
}

func TestSMTPRefusesToSendInTheClear(t *testing.T) {
	f := startFakeSMTP(t, false)
	err := smtpFor(t, f).Send(context.Background(), Message{To: "a@example.com", Subject: "s", Text: "reset link"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("want a refusal to send without STARTTLS, got %v", err)
	}
	if f.saw("AUTH") || f.saw("MAIL") || f.saw("DATA") {
		t.Fatal("credentials or mail were sent over a plaintext connection")
	}
}

func TestSMTPVerifiesTheServerCertificate(t *testing.T) {
	f := startFakeSMTP(t, true)
	err := smtpFor(t, f).Send(context.Background(), Message{To: "a@example.com", Subject: "s", Text: "reset link"})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("want a certificate verification failure, got %v", err)
	}
	if f.saw("AUTH") || f.saw("MAIL") {
		t.Fatal("credentials or mail were sent to an unverified server")
	}
}

func TestSMTPSendsOverVerifiedTLS(t *testing.T) {
	f := startFakeSMTP(t, true)
	s := smtpFor(t, f)
	s.RootCAs = x509.NewCertPool()
	s.RootCAs.AddCert(f.cert.Leaf)
	if err := s.Send(context.Background(), Message{To: "a@example.com", Subject: "Reset", Text: "the link"}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !strings.Contains(f.body, "the link") || !strings.Contains(f.body, "To: a@example.com") {
		t.Fatalf("body %q", f.body)
	}
	// STARTTLS came before AUTH and MAIL.
	order := strings.Join(f.commands, "|")
	if i, j := strings.Index(order, "STARTTLS"), strings.Index(order, "AUTH"); i < 0 || j < i {
		t.Fatalf("commands %s", order)
	}
}

func TestFormatUsesCRLFAndEncodesTheSubject(t *testing.T) {
	b := string(Format("Mobayilo <no-reply@example.com>", Message{To: "a@example.com", Subject: "Réinitialiser", Text: "line one\nline two"}))
	if !strings.Contains(b, "Subject: =?utf-8?q?R=C3=A9initialiser?=\r\n") || !strings.Contains(b, "\r\n\r\nline one\r\nline two") {
		t.Fatalf("message:\n%q", b)
	}
}

func TestMailboxKeepsNewestFirstAndLogsNoBody(t *testing.T) {
	var log strings.Builder
	b := NewMailbox(zerolog.New(&log))
	for i := range mailboxSize + 5 {
		_ = b.Send(context.Background(), Message{To: "a@example.com", Subject: "n" + strconv.Itoa(i), Text: "secret-token-" + strconv.Itoa(i)})
	}
	msgs := b.Messages()
	if len(msgs) != mailboxSize || msgs[0].Subject != "n"+strconv.Itoa(mailboxSize+4) {
		t.Fatalf("%d messages, newest %q", len(msgs), msgs[0].Subject)
	}
	if strings.Contains(log.String(), "secret-token") {
		t.Fatal("a message body reached the log")
	}
}

func TestFormatSendsHTMLAsAnAlternativeUnderItsMessageID(t *testing.T) {
	text := "Added: $10.00\nBalance after: $25.00\n" + strings.Repeat("long line ", 120)
	html := "<p>Added <b>$10.00</b></p>\n<p>" + strings.Repeat("long line ", 120) + "</p>"
	raw := Format("Mobayilo <no-reply@example.com>", Message{To: "a@example.com", Subject: "Receipt", Text: text, HTML: html,
		MessageID: "receipt-7@app.example.com"})
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("a line of %d characters", len(line))
		}
	}
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("Message-ID"); got != "<receipt-7@app.example.com>" {
		t.Fatalf("Message-ID %q", got)
	}
	media, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || media != "multipart/alternative" {
		t.Fatalf("content type %q: %v", m.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	var got []string
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p)
		got = append(got, p.Header.Get("Content-Type")+"\n"+strings.ReplaceAll(string(body), "\r\n", "\n"))
	}
	if len(got) != 2 || got[0] != "text/plain; charset=utf-8\n"+text || got[1] != "text/html; charset=utf-8\n"+html {
		t.Fatalf("parts %q", got)
	}
}

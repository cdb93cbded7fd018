package temporalx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"go.temporal.io/sdk/client"
)

// Security is how the client proves itself to Temporal and checks the
// server: mTLS (a client certificate and key, and optionally the CA that
// signed the server's certificate and the name it carries), an API key as
// Temporal Cloud issues (sent as a bearer token, always over TLS), both, or
// neither (plaintext, for a server on loopback or a private network).
type Security struct {
	CertFile, KeyFile string // PEM; both or neither
	CAFile            string // PEM; empty: the system's roots
	ServerName        string // empty: the host of the address
	APIKey            string // a secret: never logged
}

// Enabled reports whether the connection uses TLS: any setting turns it on
// (a server name alone: TLS checked against the system's roots).
func (s Security) Enabled() bool {
	return s.CertFile != "" || s.KeyFile != "" || s.CAFile != "" || s.ServerName != "" || s.APIKey != ""
}

// apply sets the TLS configuration and credentials on opts. A certificate,
// key or CA file that cannot be read or parsed is an error naming it.
func (s Security) apply(opts *client.Options) error {
	if !s.Enabled() {
		return nil
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		return errors.New("temporal: TLS needs both a client certificate and its key")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return fmt.Errorf("temporal: read CA %s: %w", s.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("temporal: CA %s holds no PEM certificate", s.CAFile)
		}
		cfg.RootCAs = pool
	}
	if s.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return fmt.Errorf("temporal: load client certificate %s and key %s: %w", s.CertFile, s.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	opts.ConnectionOptions.TLS = cfg
	if s.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(s.APIKey)
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// probeCommand is a container health check for an image with no shell or
// curl (distroless): GET a URL, exit 0 on a 2xx.
func probeCommand() command {
	c := command{
		name:    "probe",
		summary: "Health check: GET a URL (a role's /readyz) and exit 0 only on a 2xx answer.",
		usage: `For container health checks in an image without curl:
  mobayilo probe http://127.0.0.1:8080/readyz      (web)
  mobayilo probe http://127.0.0.1:9465/readyz      (worker: its metrics listener)
Gives up after -timeout.`,
	}
	c.run = func(ctx context.Context, e env, args []string) error {
		fs := flags(c, e)
		timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			fs.Usage()
			return errUsage
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fs.Arg(0), nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("probe: %s answered %s", fs.Arg(0), resp.Status)
		}
		return nil
	}
	return c
}

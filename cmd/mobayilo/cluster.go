package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/mobayilo/mobayilo/internal/cluster"
)

func clusterCommand() command {
	c := command{
		name:    "cluster",
		summary: "Run the real Temporal server on Postgres, with its Web UI, on loopback: production's shape on a laptop.",
		usage: `Creates and migrates the databases temporal and temporal_visibility when
missing, starts the Temporal server (every service in one process, on
127.0.0.1) and the Web UI, registers the namespaces (default, and
$TEMPORAL_NAMESPACE) and the project's search attributes, prints the
frontend address and the UI's URL, and runs until Ctrl-C. Workflows survive
a restart. The default ports are dev's TEMPORAL_ADDRESS and TEMPORAL_UI_URL,
so a ` + "`mobayilo dev`" + ` started next reuses this server instead of starting
the dev server. Needs bin/temporal-server, bin/temporal-sql-tool and
bin/temporal-ui-server (make builds them).`,
	}
	c.run = func(ctx context.Context, e env, args []string) error {
		fs := flags(c, e)
		port := fs.Int("port", 7233, "frontend gRPC port on 127.0.0.1 (0: a free one)")
		uiPort := fs.Int("ui-port", 8233, "Web UI port on 127.0.0.1 (0: a free one, -1: no UI)")
		dir := fs.String("dir", ".cluster", "directory for the server's configuration and logs")
		dbURL := fs.String("database-url", cluster.DefaultDatabaseURL, "Postgres URL of a user who may create databases (the path is ignored)")
		if err := parse(fs, args); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "starting the Temporal server %s (logs in %s/logs/temporal.log)\n", cluster.ServerVersion, *dir)
		srv, err := cluster.Start(ctx, cluster.Options{DatabaseURL: *dbURL, Port: *port, UIPort: *uiPort, Dir: *dir,
			Output: e.stderr, Namespace: strings.TrimSpace(e.getenv("TEMPORAL_NAMESPACE"))})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Temporal frontend: %s\n", srv.Address)
		if srv.UIURL != "" {
			fmt.Fprintf(e.stdout, "Temporal UI:       %s\n", srv.UIURL)
		}
		fmt.Fprintln(e.stdout, "Ctrl-C stops.")
		select {
		case <-ctx.Done():
		case <-srv.Exited():
			_ = srv.Stop()
			return fmt.Errorf("the Temporal server exited; see %s/logs/temporal.log", *dir)
		}
		return srv.Stop()
	}
	return c
}

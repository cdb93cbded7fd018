// Command mobayilo is Mobayilo's one binary. Its subcommands are the roles
// an operator runs (web, worker, migrate), the laptop setup (dev), and small
// operator commands (ledger verify). This package parses flags and wires
// the pieces together; the work lives in the packages it calls.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/mobayilo/mobayilo/db"

	"github.com/mobayilo/mobayilo/internal/config"
)

// env is what a command may touch of the process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

type command struct {
	name    string // one word, or two for a group ("ledger verify")
	summary string
	usage   string // the text after the summary in -h
	run     func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		webCommand(),
		workerCommand(),
		migrateCommand(),
		devCommand(),
		ledgerVerifyCommand(),
		grantAdminCommand(),
		ratesImportCommand(),
		loadCommand(),
		benchCommand(),
		clusterCommand(),
		probeCommand(),
	}
}

// errFailed means the command already said what went wrong.
var errFailed = errors.New("failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
}

// run dispatches args to a command and returns the process exit code: 0 on
// success, 1 on failure, 2 on a usage error.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		words := strings.Fields(c.name)
		if len(args) < len(words) || strings.Join(args[:len(words)], " ") != c.name {
			continue
		}
		err := c.run(ctx, e, args[len(words):])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		case errors.Is(err, errFailed):
			return 1
		default:
			fmt.Fprintf(e.stderr, "mobayilo %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "mobayilo: unknown command %q\n\n", strings.Join(args, " "))
	printUsage(e.stderr)
	return 2
}

var errUsage = errors.New("usage")

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: mobayilo <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-19s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `mobayilo <command> -h` for a command's flags. Settings come from the")
	fmt.Fprintln(w, "environment; see README.md and docs/ARCHITECTURE.md.")
}

// flags returns a flag set whose -h prints the command's summary and usage.
func flags(c command, e env) *flag.FlagSet {
	fs := flag.NewFlagSet("mobayilo "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: mobayilo %s [flags]\n\n%s\n", c.name, c.summary)
		if c.usage != "" {
			fmt.Fprintf(e.stderr, "\n%s\n", strings.TrimSpace(c.usage))
		}
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(e.stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses args; a bad flag is a usage error, -h is flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return errUsage
	}
	return nil
}

// setup loads the configuration and builds the logger, printing the
// configuration redacted. A wrong setting is reported and fails the command.
func setup(e env, role string) (config.Config, zerolog.Logger, error) {
	cfg, err := config.Load(e.getenv)
	if err != nil {
		fmt.Fprintf(e.stderr, "mobayilo %s: %v\n", role, err)
		return cfg, zerolog.Nop(), errFailed
	}
	log := newLogger(cfg, e.stderr).With().Str("role", role).Logger()
	if oneShot[role] {
		// A command that does one thing says that thing, not the
		// configuration: logs from info up unless LOG_LEVEL asks for more.
		if strings.TrimSpace(e.getenv("LOG_LEVEL")) == "" {
			log = log.Level(max(log.GetLevel(), zerolog.InfoLevel))
		}
		log.Debug().EmbedObject(cfg).Msg("configuration")
	} else {
		log.Info().EmbedObject(cfg).Msg("configuration")
	}
	if cfg.Env == config.Production && cfg.StripeTestMode {
		log.Warn().Bool("stripe_test_mode", true).
			Msg("STRIPE TEST MODE: this production deployment takes Stripe test-mode payments and moves no real money; never serve customers with it")
	}
	return cfg, log, nil
}

// requireAppEnv refuses to run a role that serves or changes real state
// (web, worker, migrate) without APP_ENV: unset, the configuration would be
// development's, with public default secrets and /dev/mail open to anyone.
// Only dev, the tests and the load harness assume development.
func requireAppEnv(e env, role string) error {
	if strings.TrimSpace(e.getenv("APP_ENV")) != "" {
		return nil
	}
	fmt.Fprintf(e.stderr, "mobayilo %s: APP_ENV is not set: set APP_ENV=production for a deployment "+
		"(or development or test); %s does not assume development, whose secrets are public\n", role, role)
	return errFailed
}

// oneShot are the commands that do one thing and exit: their output is
// what they did, one line, with the configuration only at debug level.
var oneShot = map[string]bool{"users": true, "ledger": true, "rates": true}

// setupDB is setup, then a Postgres pool on DATABASE_URL; the caller closes
// the pool.
func setupDB(ctx context.Context, e env, role string) (config.Config, zerolog.Logger, *pgxpool.Pool, error) {
	cfg, log, err := setup(e, role)
	if err != nil {
		return cfg, log, nil, err
	}
	pool, err := db.OpenSized(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
	return cfg, log, pool, err
}

// setupRole is setup for a long-running role (web, worker): its metrics
// and tracing, then its Postgres pool with queries traced; the caller
// closes the pool and shuts the observability down.
func setupRole(ctx context.Context, e env, role string) (config.Config, zerolog.Logger, *observability, *pgxpool.Pool, error) {
	cfg, log, err := setup(e, role)
	if err != nil {
		return cfg, log, nil, nil, err
	}
	obs, err := observe(ctx, cfg, role)
	if err != nil {
		return cfg, log, nil, nil, err
	}
	pool, err := obs.openDB(ctx, cfg)
	if err != nil {
		obs.shutdown(log)
		return cfg, log, nil, nil, err
	}
	return cfg, log, obs, pool, nil
}

func newLogger(cfg config.Config, w io.Writer) zerolog.Logger {
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(cfg.LogLevel).With().Timestamp().Logger()
}

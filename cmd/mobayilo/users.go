package main

import (
	"context"
	"fmt"

	"github.com/mobayilo/mobayilo/internal/accounts"
)

func grantAdminCommand() command {
	c := command{
		name:    "users grant-admin",
		summary: "Give the account with EMAIL the admin role.",
		usage: `Usage: mobayilo users grant-admin EMAIL

Admin pages check the role on the server; a user without it gets 404 there.`,
	}
	c.run = func(ctx context.Context, e env, args []string) error {
		fs := flags(c, e)
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			fs.Usage()
			return errUsage
		}
		_, _, pool, err := setupDB(ctx, e, "users")
		if err != nil {
			return err
		}
		defer pool.Close()
		svc, err := accounts.New(pool, 0)
		if err != nil {
			return err
		}
		u, err := svc.GrantAdmin(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s (%s) is now an admin\n", u.Email, u.ID)
		return nil
	}
	return c
}

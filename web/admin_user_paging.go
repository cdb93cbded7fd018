package web

import (
	"context"
	"net/url"
	"slices"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
)

// The support page of a user lists their calls and their top-ups, each a
// page at a time on its own keyset cursor (created_at, id, written as
// History's: callCursor): ?calls_before= (Older) and ?calls_after=
// (Newer), and the same with topups_. A row inserted meanwhile is newer
// than every cursor, so it never shifts a page: it shows on the first.

const adminUserPageSize = 20

// keyset is one list's cursor as the URL gives it: older than before, or
// newer than after (at most one set).
type keyset struct {
	before, after *callCursor
}

// readKeyset reads <name>_before and <name>_after; ok is false when one
// does not parse or both are given.
func readKeyset(qv url.Values, name string) (k keyset, ok bool) {
	for _, p := range []struct {
		param string
		into  **callCursor
	}{{name + "_before", &k.before}, {name + "_after", &k.after}} {
		v := qv.Get(p.param)
		if v == "" {
			continue
		}
		c, ok := parseCallCursor(v)
		if !ok {
			return keyset{}, false
		}
		*p.into = &c
	}
	return k, k.before == nil || k.after == nil
}

// keysetPage loads one page of size rows, newest first. older lists rows
// older than a cursor (nil: from the newest), newest first; newer lists
// rows newer than one, oldest first; each is asked for size+1. A Newer
// page with a page or less above it is the first page.
func keysetPage[T any](k keyset, size int, older func(before *callCursor, n int32) ([]T, error),
	newer func(after callCursor, n int32) ([]T, error)) (rows []T, hasOlder, hasNewer bool, err error) {
	if k.after != nil {
		if rows, err = newer(*k.after, int32(size+1)); err != nil {
			return nil, false, false, err
		}
		if len(rows) > size {
			rows = rows[:size]
			slices.Reverse(rows)
			// The cursor's own row is older than the page.
			return rows, true, true, nil
		}
		k = keyset{}
	}
	if rows, err = older(k.before, int32(size+1)); err != nil {
		return nil, false, false, err
	}
	rows, hasOlder = pageOf(rows, size)
	return rows, hasOlder, k.before != nil, nil
}

// pageLinks are the Older and Newer links of one list ("" for none).
type pageLinks struct {
	Of           string // what the list holds, for its label
	Older, Newer string
}

// keysetLinks builds the links of list name (also its heading's id on the
// page; of: what it holds, in words) on path from the page's query qv,
// where the other list keeps its cursor, and the cursors of the first and
// last rows shown (nil: an empty page, whose Newer is the first page).
func keysetLinks(path string, qv url.Values, name, of string, first, last *callCursor, hasOlder, hasNewer bool) pageLinks {
	l := pageLinks{Of: of}
	link := func(param string, c *callCursor) string {
		v := cloneValues(qv)
		v.Del(name + "_before")
		v.Del(name + "_after")
		if c != nil {
			v.Set(param, c.String())
		}
		if len(v) == 0 {
			return path + "#" + name
		}
		return path + "?" + v.Encode() + "#" + name
	}
	if hasOlder && last != nil {
		l.Older = link(name+"_before", last)
	}
	if hasNewer {
		l.Newer = link(name+"_after", first)
	}
	return l
}

// rowCursors are the cursors of the first and last rows (nil, nil
// for none).
func rowCursors[T any](rows []T, key func(T) callCursor) (first, last *callCursor) {
	if len(rows) == 0 {
		return nil, nil
	}
	f, l := key(rows[0]), key(rows[len(rows)-1])
	return &f, &l
}

// adminUserLists loads the page of the user's calls and of their top-ups
// that qv names; ok is false when a cursor in it does not parse.
func adminUserLists(ctx context.Context, q *db.Queries, userID uuid.UUID, qv url.Values) (calls []db.Call, topups []db.TopUp,
	callLinks, topUpLinks pageLinks, ok bool, err error) {
	ck, okCalls := readKeyset(qv, "calls")
	tk, okTopUps := readKeyset(qv, "topups")
	if !okCalls || !okTopUps {
		return nil, nil, callLinks, topUpLinks, false, nil
	}
	path := "/admin/users/" + userID.String()
	calls, older, newer, err := keysetPage(ck, adminUserPageSize,
		func(before *callCursor, n int32) ([]db.Call, error) {
			p := db.ListCallsPageParams{UserID: userID, PageSize: n}
			if before != nil {
				p.BeforeAt, p.BeforeID = &before.at, &before.id
			}
			return q.ListCallsPage(ctx, p)
		},
		func(after callCursor, n int32) ([]db.Call, error) {
			return q.ListUserCallsNewer(ctx, db.ListUserCallsNewerParams{UserID: userID, AfterAt: after.at, AfterID: after.id, PageSize: n})
		})
	if err != nil {
		return nil, nil, callLinks, topUpLinks, true, err
	}
	first, last := rowCursors(calls, func(c db.Call) callCursor { return callCursor{c.CreatedAt, c.ID} })
	callLinks = keysetLinks(path, qv, "calls", "calls", first, last, older, newer)
	topups, older, newer, err = keysetPage(tk, adminUserPageSize,
		func(before *callCursor, n int32) ([]db.TopUp, error) {
			p := db.ListUserTopUpsPageParams{UserID: userID, PageSize: n}
			if before != nil {
				p.BeforeAt, p.BeforeID = &before.at, &before.id
			}
			return q.ListUserTopUpsPage(ctx, p)
		},
		func(after callCursor, n int32) ([]db.TopUp, error) {
			return q.ListUserTopUpsNewer(ctx, db.ListUserTopUpsNewerParams{UserID: userID, AfterAt: after.at, AfterID: after.id, PageSize: n})
		})
	if err != nil {
		return nil, nil, callLinks, topUpLinks, true, err
	}
	first, last = rowCursors(topups, func(t db.TopUp) callCursor { return callCursor{t.CreatedAt, t.ID} })
	topUpLinks = keysetLinks(path, qv, "topups", "top-ups", first, last, older, newer)
	return calls, topups, callLinks, topUpLinks, true, nil
}

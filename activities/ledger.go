package activities

import (
	"context"
	"time"

	"github.com/mobayilo/mobayilo/workflows"
)

// VerifyLedger checks the books (see ledger.Verify). An unbalanced ledger
// is a result, not an error: the workflow decides what it means.
func (a *Activities) VerifyLedger(ctx context.Context) (workflows.LedgerAuditResult, error) {
	r, err := a.Ledger.Verify(ctx)
	if err != nil {
		return workflows.LedgerAuditResult{}, err
	}
	out := workflows.LedgerAuditResult{
		OK:            r.OK(),
		WalletsCents:  r.WalletsCents,
		HouseBalances: make(map[string]int64, len(r.HouseBalances)),
	}
	for h, v := range r.HouseBalances {
		out.HouseBalances[string(h)] = v
	}
	for _, p := range r.Problems {
		out.Problems = append(out.Problems, p.String())
	}
	a.Metrics.LedgerAudited(out.OK, len(out.Problems), time.Now())
	return out, nil
}

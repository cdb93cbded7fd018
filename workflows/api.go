// Package workflows holds Mobayilo's deterministic workflow code. This file
// names everything other packages may refer to: workflow names and ID
// schemes, activity names, search attributes and payload types. The web
// layer and the worker import these names, never string literals.
package workflows

import (
	"go.temporal.io/sdk/temporal"
)

// Search attributes operators filter on in the Temporal UI. Every one is a
// Keyword; every Temporal server the project starts registers them (the dev
// server by flag, a cluster by temporalx.RegisterSearchAttributes or the
// compose setup).
var (
	SearchAttrUserID             = temporal.NewSearchAttributeKeyKeyword("UserID")
	SearchAttrCallStatus         = temporal.NewSearchAttributeKeyKeyword("CallStatus")
	SearchAttrBillingState       = temporal.NewSearchAttributeKeyKeyword("BillingState")
	SearchAttrDestinationCountry = temporal.NewSearchAttributeKeyKeyword("DestinationCountry")
)

// SearchAttributeNames lists the custom search attributes, all Keyword, in
// the order they are registered.
func SearchAttributeNames() []string {
	return []string{
		SearchAttrUserID.GetName(),
		SearchAttrCallStatus.GetName(),
		SearchAttrBillingState.GetName(),
		SearchAttrDestinationCountry.GetName(),
	}
}

// The ledger audit: a workflow, run daily by a Temporal Schedule the worker
// creates, that checks the books the way `mobayilo ledger verify` does and
// fails, visibly in the Temporal UI, when they do not balance.
const (
	LedgerAuditWorkflowName = "LedgerAudit"
	LedgerAuditScheduleID   = "ledger-audit-daily"
	LedgerAuditWorkflowID   = "ledger-audit"
	// LedgerAuditCron runs the audit at 03:17 UTC, off the hour.
	LedgerAuditCron = "17 3 * * *"

	ActivityVerifyLedger = "VerifyLedger"

	// ErrTypeLedgerUnbalanced is the application error type of a failed audit.
	ErrTypeLedgerUnbalanced = "LedgerUnbalanced"
)

// LedgerAuditResult is what VerifyLedger returns and LedgerAudit reports.
type LedgerAuditResult struct {
	OK            bool
	Problems      []string         // one sentence per problem, naming the account
	WalletsCents  int64            // sum of the wallets' cached balances
	HouseBalances map[string]int64 // derived by SUM, never cached
}

// The pricing sync: a workflow, run daily by a Temporal Schedule the worker
// creates (unless the carrier simulator stands in for Twilio), that reads
// Twilio's voice prices for every country we sell and reprices the deck so
// that nothing is sold at a loss.
const (
	PricingSyncWorkflowName = "PricingSync"
	PricingSyncScheduleID   = "pricing-sync-daily"
	PricingSyncWorkflowID   = "pricing-sync"
	// PricingSyncCron runs the sync at 04:41 UTC.
	PricingSyncCron = "41 4 * * *"

	ActivityListPricedCountries = "ListPricedCountries"
	ActivityFetchCarrierCosts   = "FetchCarrierCosts"
	ActivityApplyCarrierCosts   = "ApplyCarrierCosts"

	// Application error types of FetchCarrierCosts that no retry fixes.
	ErrTypeCarrierUnknownCountry = "CarrierUnknownCountry"
	ErrTypeCarrierUnauthorized   = "CarrierUnauthorized"
)

// PricingCountryResult is what the sync did to one country's rates.
type PricingCountryResult struct {
	Country                             string
	Changed, Added, Disabled, Unchanged int
	Losses                              []string // rates whose cost had risen above our price, one sentence each
	Error                               string   // why the country was skipped
}

// PricingSyncResult is the whole run.
type PricingSyncResult struct {
	Countries []PricingCountryResult
	Failed    int
}

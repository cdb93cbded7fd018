package activities

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/mobayilo/mobayilo/workflows"
)

// Named pairs each activity with the name workflows schedule it by (the
// constants in workflows/api.go): a method renamed here still registers
// under its name, and a name with no method fails TestEveryActivityNameIsRegistered.
func (a *Activities) Named() map[string]any {
	return map[string]any{
		workflows.ActivityVerifyLedger:     a.VerifyLedger,
		workflows.ActivityPruneExpiredData: a.PruneExpiredData,

		workflows.ActivityListPricedCountries: a.ListPricedCountries,
		workflows.ActivityFetchCarrierCosts:   a.FetchCarrierCosts,
		workflows.ActivityApplyCarrierCosts:   a.ApplyCarrierCosts,

		workflows.ActivityAuthorizeCall:       a.AuthorizeCall,
		workflows.ActivityCancelUnclaimedCall: a.CancelUnclaimedCall,
		workflows.ActivityAbandonCall:         a.AbandonCall,
		workflows.ActivityRecordCallStatus:    a.RecordCallStatus,
		workflows.ActivityChargeCall:          a.ChargeCall,
		workflows.ActivityMarkCallBilling:     a.MarkCallBilling,
		workflows.ActivityFetchCarrierCall:    a.FetchCarrierCall,
		workflows.ActivityFindDialledLeg:      a.FindDialledLeg,
		workflows.ActivityLoadCallSids:        a.LoadCallSids,
		workflows.ActivityHangUpCarrierCall:   a.HangUpCarrierCall,
		workflows.ActivityCallAllowance:       a.CallAllowance,
		workflows.ActivityLimitCall:           a.LimitCall,

		workflows.ActivityLoadTopUp:            a.LoadTopUp,
		workflows.ActivityCreatePayment:        a.CreatePayment,
		workflows.ActivityFetchPayment:         a.FetchPayment,
		workflows.ActivityCancelPayment:        a.CancelPayment,
		workflows.ActivityRecordPaymentFailure: a.RecordPaymentFailure,
		workflows.ActivityCreditTopUp:          a.CreditTopUp,
		workflows.ActivityCancelTopUp:          a.CancelTopUp,
		workflows.ActivityReverseTopUp:         a.ReverseTopUp,
		workflows.ActivityMarkTopUpStuck:       a.MarkTopUpStuck,

		workflows.ActivityPlanAutoTopUp:             a.PlanAutoTopUp,
		workflows.ActivityStartAutoTopUp:            a.StartAutoTopUp,
		workflows.ActivityAwaitAutoTopUp:            a.AwaitAutoTopUp,
		workflows.ActivityTurnAutoTopUpOff:          a.TurnAutoTopUpOff,
		workflows.ActivityEmailAutoTopUpOff:         a.EmailAutoTopUpOff,
		workflows.ActivityRequestCallerIDValidation: a.RequestCallerIDValidation,
		workflows.ActivityFinishCallerID:            a.FinishCallerID,
		workflows.ActivityDeleteCallerID:            a.DeleteCallerID,

		workflows.ActivityBuildDataExport:        a.BuildDataExport,
		workflows.ActivityEmailDataExport:        a.EmailDataExport,
		workflows.ActivityExpireDataExport:       a.ExpireDataExport,
		workflows.ActivityBeginAccountDeletion:   a.BeginAccountDeletion,
		workflows.ActivitySignOutAccount:         a.SignOutAccount,
		workflows.ActivityDeleteAccountProviders: a.DeleteAccountProviders,
		workflows.ActivityEraseAccountData:       a.EraseAccountData,
		workflows.ActivityDeleteAccountWorkflows: a.DeleteAccountWorkflows,
	}
}

// Register registers every activity under its workflows name.
func (a *Activities) Register(r worker.ActivityRegistry) {
	for name, fn := range a.Named() {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

package web

import (
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/mobayilo/mobayilo/db"
)

// Sample data for the automatic top-up page and its banner
// (TestEveryPageRenders), with markup where a person's input or our
// reason could carry it.
func init() {
	extraPageSamples["autotopup"] = pageData{Tab: "credits", AutoTopUpNotice: "Your card was <y>declined</y>.",
		Form:   url.Values{"enabled": {"on"}, "threshold": {"<y>"}, "amount": {"1000"}, "cap": {"<y>"}},
		Errors: map[string]string{"form": "<y>", "threshold": "<y>", "amount": "<y>", "cap": "<y>"},
		Data: autoTopUpData{Packages: []int64{500, 1000}, Settings: db.AutoTopUp{Enabled: true, ThresholdCents: 500, AmountCents: 1000, MonthlyCapCents: 3000},
			Saved: true, SpentCents: 1000, Recent: []db.TopUp{{ID: uuid.New(), AmountCents: 1000, Status: "succeeded", CreatedAt: time.Now()}}}}
}

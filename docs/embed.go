// Package docs holds the operators' documents; the alerting rules and the
// dashboard are embedded so `mobayilo dev -metrics` can load the same
// rules into its local Prometheus.
package docs

import _ "embed"

// Alerts is alerts.yml: Prometheus alerting rules (docs/OPERATIONS.md says
// what each means and what to do).
//
//go:embed alerts.yml
var Alerts []byte

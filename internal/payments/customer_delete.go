package payments

import (
	"context"
	"errors"
	"net/http"

	"github.com/stripe/stripe-go/v76"
)

// DeleteCustomer deletes a Customer at Stripe, with the cards saved on it
// (an account's deletion, issue 22). One already deleted, or never known,
// is done.
func (s *Stripe) DeleteCustomer(ctx context.Context, customerID string) error {
	p := &stripe.CustomerParams{}
	p.Context = ctx
	_, err := s.api.Customers.Del(customerID, p)
	var se *stripe.Error
	if err == nil || (errors.As(err, &se) && se.Code == stripe.ErrorCodeResourceMissing) {
		return nil
	}
	return wrap("delete customer "+customerID, err)
}

// deleteCustomer is DELETE /v1/customers/{id}: the Customer and the cards
// attached to it are gone.
func (s *Simulator) deleteCustomer(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	if _, ok := s.customers[id]; !ok {
		apiError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such customer: '"+id+"'")
		return
	}
	delete(s.customers, id)
	for _, pm := range s.pms {
		if pm.customer == id {
			pm.customer, pm.detached = "", true
		}
	}
	writeJSON(w, map[string]any{"id": id, "object": "customer", "deleted": true})
}

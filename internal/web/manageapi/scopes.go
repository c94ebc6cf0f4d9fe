package manageapi

import (
	"net/http"

	"github.com/postern/postern/internal/account"
)

// GET /v3/scopes: the scopes of the key that asks (SendGrid's
// {"scopes": [...]}); any valid key may ask.
func (h *handler) scopeRoutes() []route {
	return []route{{method: "GET", pattern: "/v3/scopes", do: func(rq *request) error {
		var held []string
		for _, s := range account.KnownScopes() {
			if rq.actor.Can(s) {
				held = append(held, s)
			}
		}
		return rq.reply(http.StatusOK, map[string][]string{"scopes": held})
	}}}
}

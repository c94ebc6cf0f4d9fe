package manageapi

import (
	"net/http"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/store"
)

// API keys (tsg_api_keys_v3.json), over admin's keys:
//
//	POST   /v3/api_keys                create  201 {"api_key", "api_key_id", "name", "scopes"}
//	GET    /v3/api_keys?limit=         read    200 {"result": [{"name", "api_key_id"}…]}
//	GET    /v3/api_keys/{api_key_id}   read    200 {"api_key_id", "name", "scopes", "result": [the same]}
//	PATCH  /v3/api_keys/{api_key_id}   update  200 {"api_key_id", "name"}, body {"name"}
//	PUT    /v3/api_keys/{api_key_id}   update  200 {"api_key_id", "name", "scopes"}, body {"name", "scopes"}
//	DELETE /v3/api_keys/{api_key_id}   delete  204
//
// (scopes api_keys.*). The keys are the acting user's: with On-Behalf-Of,
// the subuser's. The secret is in POST's answer alone. Without "scopes",
// POST makes SendGrid's "Full Access" key: every scope the asking key
// holds, since a key never grants a scope it lacks (403). A revoked key
// is gone: 404, as another tenant's is.
func (h *handler) keyRoutes() []route {
	const list, one = "/v3/api_keys", "/v3/api_keys/{api_key_id}"
	return []route{
		{method: "POST", pattern: list, scope: admin.ScopeKeysCreate, do: func(rq *request) error {
			var in keyRequest
			if err := rq.decode(&in); err != nil {
				return err
			}
			if err := in.check(false); err != nil {
				return err
			}
			k, err := rq.h.cfg.Admin.CreateKey(rq.r.Context(), rq.actor, admin.NewKey{Name: *in.Name, Scopes: in.Scopes})
			if err != nil {
				return err
			}
			return rq.reply(http.StatusCreated, createdKeyJSON{APIKey: k.Secret, keyScopesJSON: keyScopes(k.APIKey)})
		}},
		{method: "GET", pattern: list, scope: admin.ScopeKeysRead, do: func(rq *request) error {
			limit, offset, err := rq.page(admin.MaxKeys, 1000)
			if err != nil {
				return err
			}
			keys, err := rq.h.cfg.Admin.ListKeys(rq.r.Context(), rq.actor, admin.KeyFilter{Limit: limit, Offset: offset})
			if err != nil {
				return err
			}
			out := make([]keyJSON, 0, len(keys))
			for _, k := range keys {
				out = append(out, keyJSON{ID: k.ID, Name: k.Name})
			}
			return rq.reply(http.StatusOK, map[string][]keyJSON{"result": out})
		}},
		{method: "GET", pattern: one, scope: admin.ScopeKeysRead, do: func(rq *request) error {
			k, err := rq.h.cfg.Admin.GetKey(rq.r.Context(), rq.actor, rq.r.PathValue("api_key_id"))
			if err != nil {
				return err
			}
			ks := keyScopes(k)
			return rq.reply(http.StatusOK, oneKeyJSON{keyScopesJSON: ks, Result: []keyScopesJSON{ks}})
		}},
		{method: "PATCH", pattern: one, scope: admin.ScopeKeysUpdate, do: func(rq *request) error {
			var in keyRequest
			if err := rq.decode(&in); err != nil {
				return err
			}
			if err := in.check(false); err != nil {
				return err
			}
			k, err := rq.h.cfg.Admin.RenameKey(rq.r.Context(), rq.actor, rq.r.PathValue("api_key_id"), *in.Name)
			if err != nil {
				return err
			}
			return rq.reply(http.StatusOK, keyJSON{ID: k.ID, Name: k.Name})
		}},
		{method: "PUT", pattern: one, scope: admin.ScopeKeysUpdate, do: func(rq *request) error {
			var in keyRequest
			if err := rq.decode(&in); err != nil {
				return err
			}
			if err := in.check(true); err != nil {
				return err
			}
			k, err := rq.h.cfg.Admin.UpdateKey(rq.r.Context(), rq.actor, rq.r.PathValue("api_key_id"), *in.Name, in.Scopes)
			if err != nil {
				return err
			}
			return rq.reply(http.StatusOK, keyScopes(k))
		}},
		{method: "DELETE", pattern: one, scope: admin.ScopeKeysDelete, do: func(rq *request) error {
			if err := rq.h.cfg.Admin.RevokeKey(rq.r.Context(), rq.actor, rq.r.PathValue("api_key_id")); err != nil {
				return err
			}
			return rq.noContent()
		}},
	}
}

// keyRequest is the body of POST, PATCH and PUT.
type keyRequest struct {
	Name   *string  `json:"name"`
	Scopes []string `json:"scopes"`
}

// check says whether the body has what SendGrid requires: a name, and
// with needScopes (PUT) at least one scope.
func (in keyRequest) check(needScopes bool) error {
	switch {
	case in.Name == nil || *in.Name == "":
		return admin.Invalid("name", "required")
	case needScopes && len(in.Scopes) == 0:
		return admin.Invalid("scopes", "name at least one scope")
	}
	return nil
}

type keyJSON struct {
	ID   string `json:"api_key_id"`
	Name string `json:"name"`
}

type keyScopesJSON struct {
	ID     string   `json:"api_key_id"`
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// oneKeyJSON is GET's answer: the key at the top, as SendGrid's API
// answers, and in "result" too, as its description has it.
type oneKeyJSON struct {
	keyScopesJSON
	Result []keyScopesJSON `json:"result"`
}

type createdKeyJSON struct {
	APIKey string `json:"api_key"`
	keyScopesJSON
}

func keyScopes(k store.APIKey) keyScopesJSON {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return keyScopesJSON{ID: k.ID, Name: k.Name, Scopes: scopes}
}

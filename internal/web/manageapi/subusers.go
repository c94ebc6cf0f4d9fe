package manageapi

import (
	"net/http"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/store"
)

// Subusers (tsg_subusers_v3.json), over admin's subusers:
//
//	GET    /v3/subusers?username=&limit=&offset=  read    200 [{"id", "username", "email", "disabled"}…]
//	POST   /v3/subusers                           create  201 {"username", "user_id", "email"},
//	                                                      body {"username", "email", "password", "ips"}
//	GET    /v3/subusers/{subuser_name}            read    200 {"id", "username", "email", "disabled"}
//	PATCH  /v3/subusers/{subuser_name}            update  204, body {"disabled": bool}
//	DELETE /v3/subusers/{subuser_name}            delete  204
//
// (scopes subusers.*). The subusers are the acting user's: a subuser, or
// an account acting on behalf of one, has none (an empty list, 404 for
// any name, 403 to create one). "ips" and "region" are taken and
// ignored: Postern sends from its host's addresses, in one region. The
// password is kept as a bcrypt hash and never returned. Disabling is a
// suspension: the subuser's keys are refused at once, on SMTP and here.
func (h *handler) subuserRoutes() []route {
	const list, one = "/v3/subusers", "/v3/subusers/{subuser_name}"
	return []route{
		{method: "GET", pattern: list, scope: admin.ScopeSubusersRead, do: func(rq *request) error {
			limit, offset, err := rq.page(100, 500)
			if err != nil {
				return err
			}
			f := admin.SubuserFilter{Name: rq.r.URL.Query().Get("username"), Limit: limit, Offset: offset}
			subs, err := rq.h.cfg.Admin.ListSubusers(rq.r.Context(), rq.actor, f)
			if err != nil {
				return err
			}
			out := make([]subuserJSON, 0, len(subs))
			for _, u := range subs {
				out = append(out, subuser(u))
			}
			return rq.reply(http.StatusOK, out)
		}},
		{method: "POST", pattern: list, scope: admin.ScopeSubusersCreate, do: func(rq *request) error {
			var in subuserRequest
			if err := rq.decode(&in); err != nil {
				return err
			}
			n, err := in.subuser()
			if err != nil {
				return err
			}
			u, err := rq.h.cfg.Admin.CreateSubuser(rq.r.Context(), rq.actor, n)
			if err != nil {
				return err
			}
			return rq.reply(http.StatusCreated, createdSubuserJSON{Username: u.Name, UserID: u.ID, Email: u.Email})
		}},
		{method: "GET", pattern: one, scope: admin.ScopeSubusersRead, do: func(rq *request) error {
			u, err := rq.h.cfg.Admin.GetSubuser(rq.r.Context(), rq.actor, rq.r.PathValue("subuser_name"))
			if err != nil {
				return err
			}
			return rq.reply(http.StatusOK, subuser(u))
		}},
		{method: "PATCH", pattern: one, scope: admin.ScopeSubusersUpdate, do: func(rq *request) error {
			var in disableRequest
			if err := rq.decode(&in); err != nil {
				return err
			}
			if err := in.check(); err != nil {
				return err
			}
			if err := rq.h.cfg.Admin.SetSubuserDisabled(rq.r.Context(), rq.actor, rq.r.PathValue("subuser_name"), *in.Disabled); err != nil {
				return err
			}
			return rq.noContent()
		}},
		{method: "DELETE", pattern: one, scope: admin.ScopeSubusersDelete, do: func(rq *request) error {
			if err := rq.h.cfg.Admin.DeleteSubuser(rq.r.Context(), rq.actor, rq.r.PathValue("subuser_name")); err != nil {
				return err
			}
			return rq.noContent()
		}},
	}
}

// subuserRequest is POST's body.
type subuserRequest struct {
	Username *string  `json:"username"`
	Email    *string  `json:"email"`
	Password *string  `json:"password"`
	IPs      []string `json:"ips"`
	Region   string   `json:"region"`
}

// subuser returns the subuser the body asks for, or what it lacks.
func (in subuserRequest) subuser() (admin.NewSubuser, error) {
	switch {
	case in.Username == nil || *in.Username == "":
		return admin.NewSubuser{}, admin.Invalid("username", "required")
	case in.Email == nil || *in.Email == "":
		return admin.NewSubuser{}, admin.Invalid("email", "required")
	case in.Password == nil || *in.Password == "":
		return admin.NewSubuser{}, admin.Invalid("password", "required")
	}
	return admin.NewSubuser{Name: *in.Username, Email: *in.Email, Password: *in.Password}, nil
}

// disableRequest is PATCH's body.
type disableRequest struct {
	Disabled *bool `json:"disabled"`
}

func (in disableRequest) check() error {
	if in.Disabled == nil {
		return admin.Invalid("disabled", "no fields provided")
	}
	return nil
}

type subuserJSON struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
	Disabled bool   `json:"disabled"`
}

func subuser(u store.User) subuserJSON {
	return subuserJSON{ID: u.ID, Username: u.Name, Email: u.Email, Disabled: u.Suspended()}
}

type createdSubuserJSON struct {
	Username string `json:"username"`
	UserID   int64  `json:"user_id"`
	Email    string `json:"email"`
}

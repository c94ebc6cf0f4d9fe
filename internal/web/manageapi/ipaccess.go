package manageapi

import (
	"net/http"
	"strconv"

	"github.com/postern/postern/internal/admin"
)

// IP access management, SendGrid's allow-list of the account
// (tsg_ip_access_management_v3.json), over admin's IP rules:
//
//	GET    /v3/access_settings/whitelist            read    200 {"result": [rule…]}
//	POST   /v3/access_settings/whitelist            create  201 {"result": [new rule…]}, body {"ips": [{"ip": "…"}]}
//	DELETE /v3/access_settings/whitelist            delete  204, body {"ids": [id…]}
//	GET    /v3/access_settings/whitelist/{rule_id}  read    200 {"result": [rule]}
//	DELETE /v3/access_settings/whitelist/{rule_id}  delete  204
//
// (scopes access_settings.whitelist.*). A rule is {"id", "ip",
// "created_at", "updated_at"}, times in Unix seconds. The rules are the
// account's: a subuser (its own key, or its account's On-Behalf-Of) is
// refused the list (403) and knows no rule id (404). They hold for the
// API too: the funnel that authenticates each request checks them.
func (h *handler) ipAccessRoutes() []route {
	const list, one = "/v3/access_settings/whitelist", "/v3/access_settings/whitelist/{rule_id}"
	return []route{
		{method: "GET", pattern: list, scope: admin.ScopeWhitelistRead, do: func(rq *request) error {
			rules, err := rq.h.cfg.Admin.ListIPRules(rq.r.Context(), rq.actor)
			if err != nil {
				return err
			}
			return rq.reply(http.StatusOK, ipRulesJSON(rules))
		}},
		{method: "POST", pattern: list, scope: admin.ScopeWhitelistCreate, do: func(rq *request) error {
			var in whitelistAdd
			if err := rq.decode(&in); err != nil {
				return err
			}
			ips, err := in.list()
			if err != nil {
				return err
			}
			rules, err := rq.h.cfg.Admin.AddIPRules(rq.r.Context(), rq.actor, ips)
			if err != nil {
				return err
			}
			return rq.reply(http.StatusCreated, ipRulesJSON(rules))
		}},
		{method: "DELETE", pattern: list, scope: admin.ScopeWhitelistDelete, do: func(rq *request) error {
			var in whitelistDelete
			if err := rq.decode(&in); err != nil {
				return err
			}
			if err := rq.h.cfg.Admin.DeleteIPRules(rq.r.Context(), rq.actor, in.IDs); err != nil {
				return err
			}
			return rq.noContent()
		}},
		{method: "GET", pattern: one, scope: admin.ScopeWhitelistRead, do: func(rq *request) error {
			id, err := ruleID(rq)
			if err != nil {
				return err
			}
			rule, err := rq.h.cfg.Admin.GetIPRule(rq.r.Context(), rq.actor, id)
			if err != nil {
				return err
			}
			return rq.reply(http.StatusOK, ipRulesJSON([]admin.IPRule{rule}))
		}},
		{method: "DELETE", pattern: one, scope: admin.ScopeWhitelistDelete, do: func(rq *request) error {
			id, err := ruleID(rq)
			if err != nil {
				return err
			}
			if err := rq.h.cfg.Admin.DeleteIPRule(rq.r.Context(), rq.actor, id); err != nil {
				return err
			}
			return rq.noContent()
		}},
	}
}

// whitelistAdd is the body of POST /v3/access_settings/whitelist.
type whitelistAdd struct {
	IPs []struct {
		IP string `json:"ip"`
	} `json:"ips"`
}

// list returns the IPs asked for; admin checks each.
func (b whitelistAdd) list() ([]string, error) {
	if len(b.IPs) == 0 {
		return nil, admin.Invalid("ips", "ips is required: a list of {\"ip\": \"…\"}")
	}
	out := make([]string, len(b.IPs))
	for i, e := range b.IPs {
		out[i] = e.IP
	}
	return out, nil
}

// whitelistDelete is the body of DELETE /v3/access_settings/whitelist.
type whitelistDelete struct {
	IDs []int64 `json:"ids"`
}

// ruleID reads {rule_id}: a positive number, or no rule at all (404).
func ruleID(rq *request) (int64, error) {
	id, err := strconv.ParseInt(rq.r.PathValue("rule_id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, admin.ErrNotFound
	}
	return id, nil
}

// ipRuleJSON is SendGrid's form of a rule.
type ipRuleJSON struct {
	ID        int64  `json:"id"`
	IP        string `json:"ip"`
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
}

func ipRulesJSON(rules []admin.IPRule) map[string][]ipRuleJSON {
	out := make([]ipRuleJSON, 0, len(rules))
	for _, r := range rules {
		out = append(out, ipRuleJSON{ID: r.ID, IP: r.IP, CreatedAt: r.Created.Unix(), UpdatedAt: r.Updated.Unix()})
	}
	return map[string][]ipRuleJSON{"result": out}
}

package account

import (
	"fmt"
	"slices"
	"strings"

	"github.com/postern/postern/internal/store"
)

// ScopeMailSend lets a key send mail, over SMTP or the send API. It is the
// scope a key gets when none is named.
const ScopeMailSend = "mail.send"

// KnownScopes returns, in a new slice, the scope names Postern accepts.
// They are SendGrid's names for the same permissions, so that keys and
// tooling carry over:
//
//	mail.send                                send mail
//	api_keys.{create,read,update,delete}     manage API keys
//	subusers.{create,read,update,delete}     manage subusers
//	access_settings.activity.read            see access attempts
//	access_settings.whitelist.{create,read,update,delete}
//	                                         manage IP access rules
//	suppression.{create,read,update,delete}  manage suppression lists
//	messages.read                            see queued and sent messages
//	user.scheduled_sends.update              retry or drop queued messages
//	user.webhooks.event.settings.{read,update}
//	                                         see and change event webhooks
//	user.webhooks.event.test.{create,read,update}
//	                                         test an event webhook (create;
//	                                         read and update are SendGrid's,
//	                                         accepted, needed by nothing)
//	stats.read, stats.global.read            read sending statistics
//	categories.stats.read                    read statistics per category
//	subusers.stats.read                      read the subusers' statistics
//	templates.{create,read,update,delete}    manage templates
//	tracking_settings.subscription.{read,update}
//	                                         one-click unsubscribe on or off
//	user.profile.{read,update}               read and change the profile
//	whitelabel.{create,read,update,delete}   domain authentication
func KnownScopes() []string {
	return []string{
		ScopeMailSend,
		"access_settings.activity.read",
		"access_settings.whitelist.create",
		"access_settings.whitelist.delete",
		"access_settings.whitelist.read",
		"access_settings.whitelist.update",
		"api_keys.create",
		"api_keys.delete",
		"api_keys.read",
		"api_keys.update",
		"categories.stats.read",
		"messages.read",
		"stats.global.read",
		"stats.read",
		"subusers.create",
		"subusers.delete",
		"subusers.read",
		"subusers.stats.read",
		"subusers.update",
		"suppression.create",
		"suppression.delete",
		"suppression.read",
		"suppression.update",
		"templates.create",
		"templates.delete",
		"templates.read",
		"templates.update",
		"tracking_settings.subscription.read",
		"tracking_settings.subscription.update",
		"user.profile.read",
		"user.profile.update",
		"user.scheduled_sends.update",
		"user.webhooks.event.settings.read",
		"user.webhooks.event.settings.update",
		"user.webhooks.event.test.create",
		"user.webhooks.event.test.read",
		"user.webhooks.event.test.update",
		"whitelabel.create",
		"whitelabel.delete",
		"whitelabel.read",
		"whitelabel.update",
	}
}

// ParseScopes parses a comma-separated list of scope names, as given to
// "postern apikey create --scopes". Names are trimmed of spaces and
// deduplicated, their order kept. An empty or blank list means
// []string{ScopeMailSend}. An unknown or empty name is an error.
func ParseScopes(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return []string{ScopeMailSend}, nil
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return normalizeScopes(parts)
}

// normalizeScopes checks that every name is known and drops repeats,
// keeping order; no names at all means the default, mail.send.
func normalizeScopes(names []string) ([]string, error) {
	if len(names) == 0 {
		return []string{ScopeMailSend}, nil
	}
	known := KnownScopes()
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n == "" {
			return nil, fmt.Errorf("account: empty scope name in list")
		}
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("account: unknown scope %q", n)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// HasScope reports whether key k grants scope.
func HasScope(k store.APIKey, scope string) bool {
	return slices.Contains(k.Scopes, scope)
}

// Package manageapi serves SendGrid's v3 management endpoints over
// internal/admin: API keys and scopes, subusers, domain authentication
// (whitelabel), verified senders, IP access (whitelist), suppressions and
// event webhook settings, with the request and response shapes, status
// codes and error bodies of SendGrid's API description, so SendGrid's
// client libraries work unchanged.
//
// Every request authenticates its bearer key through the submission
// funnel (lockout, pacing, suspension and the account's IP rules hold
// here as on SMTP), with any scope; each endpoint then needs its own
// SendGrid scope (403 without it). On-Behalf-Of: SUBUSER lets an account's
// key act for a subuser of its own; any other name is 404, as is another
// tenant's object: nothing confirms that it exists.
package manageapi

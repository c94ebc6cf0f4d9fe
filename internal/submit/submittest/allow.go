// Package submittest has the explicit allow-all doubles that tests pass to
// submit.New for the controls they do not exercise. The funnel has no
// default for any of them: leaving one out is a construction error, not a
// control that silently fails open. Never use these outside tests.
package submittest

import (
	"context"
	"net/netip"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/spamscan"
	"github.com/postern/postern/internal/submit"
)

// AnyIdentity lets every principal send as every address.
type AnyIdentity struct{}

func (AnyIdentity) CheckAddress(context.Context, account.Principal, string, string) error {
	return nil
}
func (AnyIdentity) CheckHeaders(context.Context, account.Principal, message.Header) error {
	return nil
}

// NoLimits admits every message.
type NoLimits struct{}

func (NoLimits) Check(context.Context, account.Principal, time.Time) (ratelimit.Decision, error) {
	return ratelimit.Decision{Allow: true}, nil
}
func (NoLimits) Reserve(context.Context, account.Principal, int, time.Time) (ratelimit.Decision, ratelimit.Reservation, error) {
	return ratelimit.Decision{Allow: true}, ratelimit.Reservation{}, nil
}

// AcceptAll is a scanner that accepts every message.
type AcceptAll struct{}

func (AcceptAll) Scan(context.Context, spamscan.Envelope, []byte) (spamscan.Verdict, error) {
	return spamscan.Verdict{Action: spamscan.ActionAccept}, nil
}

// NoSigning leaves every message unsigned.
type NoSigning struct{}

func (NoSigning) Sign(_ context.Context, _ account.Principal, msg []byte, _ message.Header) ([]byte, string, error) {
	return msg, "", nil
}

// NoLockout never locks anyone out.
type NoLockout struct{}

func (NoLockout) Check(netip.Addr, string, time.Time) (bool, time.Time) { return false, time.Time{} }
func (NoLockout) Fail(netip.Addr, string, time.Time) (bool, time.Time)  { return false, time.Time{} }
func (NoLockout) Succeed(netip.Addr, string, time.Time)                 {}

// NoAbuse counts nothing toward suspension.
type NoAbuse struct{}

func (NoAbuse) SpamRejected(context.Context, string, time.Time) (string, error) { return "", nil }

// NoListUnsubscribe makes no unsubscribe URL: no message gets the
// List-Unsubscribe fields.
type NoListUnsubscribe struct{}

func (NoListUnsubscribe) URL(int64, string, string) (string, error) { return "", nil }

// Config is a funnel config for tests: accounts and queue real, every
// other control an allow-all double of this package, hostname
// mx.postern.test, 1 MiB and 5 recipients per message. A test replaces
// the fields it exercises.
func Config(accounts submit.Accounts, queue submit.Enqueuer) submit.Config {
	return submit.Config{
		Hostname:        "mx.postern.test",
		MaxMessageBytes: 1 << 20,
		MaxRecipients:   5,
		Accounts:        accounts,
		Lockout:         NoLockout{},
		Identity:        AnyIdentity{},
		Quota:           NoLimits{},
		Scanner:         AcceptAll{},
		Abuse:           NoAbuse{},
		Signer:          NoSigning{},
		Queue:           queue,
		ListUnsubscribe: NoListUnsubscribe{},
	}
}

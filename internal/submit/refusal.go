package submit

import (
	"errors"
	"time"
)

// Reason says why the funnel refused, in no protocol's terms. Each way in
// maps every reason to its own reply with one table (smtpd: a reply code
// and enhanced code; the HTTP API: a status), so adding a reason means
// adding a row to each table; a reason a table lacks renders as that
// ingress's generic refusal, never as acceptance.
type Reason string

// The reasons.
const (
	// Authentication (Authenticate, and the recheck at Begin).
	ReasonBadCredentials Reason = "bad_credentials" // not "apikey", unknown/wrong/revoked key
	ReasonAuthzid        Reason = "authzid"         // SASL authorization identity ≠ username
	ReasonNoScope        Reason = "no_scope"        // the key lacks mail.send
	ReasonLockedOut      Reason = "locked_out"      // too many failures from this client; temporary
	ReasonRevoked        Reason = "revoked"         // revoked since the session authenticated
	ReasonSuspended      Reason = "suspended"       // the user or its account
	ReasonIPNotAllowed   Reason = "ip_not_allowed"  // the key's or the account's IP access rules

	// The envelope (Begin, AddRecipient).
	ReasonNullSender        Reason = "null_sender"
	ReasonSenderSyntax      Reason = "sender_syntax"
	ReasonRecipientSyntax   Reason = "recipient_syntax"
	ReasonTooManyRecipients Reason = "too_many_recipients"
	ReasonUnverified        Reason = "unverified" // an identity the user has not proven
	ReasonOneFrom           Reason = "one_from"   // not exactly one From address
	ReasonRateLimited       Reason = "rate_limited"
	ReasonQuotaExceeded     Reason = "quota_exceeded"

	// The message (Commit).
	ReasonTooBig       Reason = "too_big"
	ReasonLineEndings  Reason = "line_endings" // a bare CR or LF: SMTP smuggling
	ReasonLineTooLong  Reason = "line_too_long"
	ReasonMalformed    Reason = "malformed" // a header section that does not parse
	ReasonBadSMTPAPI   Reason = "bad_smtpapi"
	ReasonSpam         Reason = "spam"           // permanent
	ReasonSpamDeferred Reason = "spam_deferred"  // greylisted, soft-rejected or not scanned; temporary
	ReasonShuttingDown Reason = "shutting_down"  // temporary
	ReasonSendAt       Reason = "send_at_future" // scheduled too far ahead
)

// Refusal is the funnel's answer to something it will not accept. Text is
// safe to show the client; nothing internal is in it.
type Refusal struct {
	Reason    Reason
	Temporary bool
	Text      string
	// RetryAt is when a temporary refusal may pass (a rate-limit window's
	// end, a lockout's end); zero when unknown.
	RetryAt time.Time
	// Limit is the count of the limit that refused (rate limits), 0 otherwise.
	Limit int64
}

func (r *Refusal) Error() string { return "submit: refused (" + string(r.Reason) + "): " + r.Text }

// AsRefusal returns the *Refusal in err's chain, or nil: an error that is
// not a refusal has no meaning for the client and is rendered as an
// internal error.
func AsRefusal(err error) *Refusal {
	var r *Refusal
	if errors.As(err, &r) {
		return r
	}
	return nil
}

func refuse(reason Reason, text string) *Refusal {
	return &Refusal{Reason: reason, Text: text}
}

func deferred(reason Reason, text string, at time.Time) *Refusal {
	return &Refusal{Reason: reason, Temporary: true, Text: text, RetryAt: at}
}

package spamscan

import (
	"fmt"
	"maps"

	"github.com/postern/postern/internal/smtperr"
)

// Decision is what the SMTP server does with a scanned message. Code,
// Enhanced and Text are set only when Refuse is: an accepted message gets
// the server's usual reply once it is queued.
type Decision struct {
	Refuse     bool // reply Code Enhanced Text to the end of DATA; store nothing
	Temporary  bool // the refusal is a 4xx: the client may retry
	Code       int
	Enhanced   [3]int
	Text       string            // safe to send
	AddHeaders map[string]string // fields to add before storing an accepted message
}

// Err returns the refusal as an SMTP reply, or nil when the message is
// accepted.
func (d Decision) Err() *smtperr.Error {
	if !d.Refuse {
		return nil
	}
	return smtperr.New(smtperr.Code(d.Code), smtperr.Enhanced(d.Enhanced), d.Text)
}

// Decide maps a verdict to the SMTP server's action:
//
//	reject       550 5.7.1, permanent
//	soft_reject  451 4.7.1, temporary
//	greylist     451 4.7.1, temporary
//	add_header   accepted, with the verdict's headers
//	accept       accepted
//
// userThreshold is the user's own threshold, 0 for none: a score at or
// over it is a reject whatever the scanner advised. It only ever makes
// the decision stricter. An action Decide does not know is a temporary
// refusal: the mail is not lost, and the operator sees the replies.
func Decide(v Verdict, userThreshold float64) Decision {
	action := v.Action
	reason := safeText(v.Reason)
	if userThreshold > 0 && v.Score >= userThreshold && ActionReject.Stricter(action) {
		action = ActionReject
		reason = fmt.Sprintf("message looks like spam (score %.1f, over this account's threshold %.1f)", v.Score, userThreshold)
	}
	refuse := func(code smtperr.Code, enh smtperr.Enhanced, text string) Decision {
		if reason != "" {
			text = reason
		}
		return Decision{Refuse: true, Temporary: code/100 == 4, Code: int(code), Enhanced: enh, Text: text}
	}
	switch action {
	case ActionAccept:
		return Decision{}
	case ActionAddHeader:
		return Decision{AddHeaders: maps.Clone(cleanHeaders(v.Headers))}
	case ActionReject:
		return refuse(smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized, "message refused as spam")
	case ActionSoftReject:
		return refuse(smtperr.C451LocalError, smtperr.SecTempPolicy, "message temporarily refused by the spam filter, try again later")
	case ActionGreylist:
		return refuse(smtperr.C451LocalError, smtperr.SecTempPolicy, "greylisted, try again later")
	}
	reason = ""
	return refuse(smtperr.C451LocalError, smtperr.SecTempPolicy, "message could not be scanned, try again later")
}

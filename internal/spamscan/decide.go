package spamscan

import (
	"fmt"
	"maps"
)

// Decision is what to do with a scanned message, in no protocol's terms:
// the submission funnel turns a refusal into its own reason, and each way
// in renders that.
type Decision struct {
	Refuse     bool              // store nothing
	Temporary  bool              // the refusal may pass later: the client may retry
	Text       string            // why, safe to show the client; set when Refuse is
	AddHeaders map[string]string // fields to add before storing an accepted message
}

// Decide maps a verdict to an action:
//
//	reject       refused, permanent
//	soft_reject  refused, temporary
//	greylist     refused, temporary
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
	refuse := func(temporary bool, text string) Decision {
		if reason != "" {
			text = reason
		}
		return Decision{Refuse: true, Temporary: temporary, Text: text}
	}
	switch action {
	case ActionAccept:
		return Decision{}
	case ActionAddHeader:
		return Decision{AddHeaders: maps.Clone(cleanHeaders(v.Headers))}
	case ActionReject:
		return refuse(false, "message refused as spam")
	case ActionSoftReject:
		return refuse(true, "message temporarily refused by the spam filter, try again later")
	case ActionGreylist:
		return refuse(true, "greylisted, try again later")
	}
	reason = ""
	return refuse(true, "message could not be scanned, try again later")
}

package sendapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/web"
)

// row is how one refusal reason is answered.
type row struct {
	status int
	field  string // the field the error names; "" for none
	limits bool   // a rate limit: Retry-After and the X-RateLimit-* fields
	retry  bool   // Retry-After when the refusal says when
}

// Field placeholders resolved per request.
const (
	fieldFrom            = "from.email"         // the request's or the personalization's from
	fieldPersonalization = "personalizations.N" // the personalization at fault
)

// reasons is the one table from submit.Reason to the API's reply. A
// reason missing here is answered 400 when permanent and 503 when
// temporary (rowFor), never as accepted.
var reasons = map[submit.Reason]row{
	submit.ReasonBadCredentials: {status: http.StatusUnauthorized},
	submit.ReasonRevoked:        {status: http.StatusUnauthorized},
	submit.ReasonAuthzid:        {status: http.StatusUnauthorized},

	submit.ReasonNoScope:      {status: http.StatusForbidden},
	submit.ReasonSuspended:    {status: http.StatusForbidden},
	submit.ReasonIPNotAllowed: {status: http.StatusForbidden},
	submit.ReasonUnverified:   {status: http.StatusForbidden},
	submit.ReasonSpam:         {status: http.StatusForbidden},

	submit.ReasonLockedOut:     {status: http.StatusTooManyRequests, limits: true},
	submit.ReasonRateLimited:   {status: http.StatusTooManyRequests, limits: true},
	submit.ReasonQuotaExceeded: {status: http.StatusTooManyRequests, limits: true},

	submit.ReasonTooBig: {status: http.StatusRequestEntityTooLarge},

	submit.ReasonNullSender:        {status: http.StatusBadRequest, field: fieldFrom},
	submit.ReasonSenderSyntax:      {status: http.StatusBadRequest, field: fieldFrom},
	submit.ReasonRecipientSyntax:   {status: http.StatusBadRequest, field: fieldPersonalization},
	submit.ReasonTooManyRecipients: {status: http.StatusBadRequest, field: fieldPersonalization},
	submit.ReasonOneFrom:           {status: http.StatusBadRequest},
	submit.ReasonLineEndings:       {status: http.StatusBadRequest},
	submit.ReasonLineTooLong:       {status: http.StatusBadRequest},
	submit.ReasonMalformed:         {status: http.StatusBadRequest},
	submit.ReasonBadSMTPAPI:        {status: http.StatusBadRequest},
	submit.ReasonSendAt:            {status: http.StatusBadRequest},

	submit.ReasonSpamDeferred: {status: http.StatusServiceUnavailable, retry: true},
	submit.ReasonShuttingDown: {status: http.StatusServiceUnavailable, retry: true},
}

// textBadKey is what SendGrid answers for a key it does not accept.
const textBadKey = web.TextBadKey

// rowFor is ref's row, or the generic one for a reason the table lacks.
func rowFor(ref *submit.Refusal) row {
	if rw, ok := reasons[ref.Reason]; ok {
		return rw
	}
	if ref.Temporary {
		return row{status: http.StatusServiceUnavailable, retry: true}
	}
	return row{status: http.StatusBadRequest}
}

// at says where in the request a refusal arose.
type at struct {
	n        int    // the personalization; -1 before any (authentication)
	multi    bool   // the request has more than one personalization
	fromPath string // the from.email path of personalization n
	queued   int    // messages of earlier personalizations already queued
}

// writeRefusal answers ref as its row says and returns the status.
func writeRefusal(w http.ResponseWriter, ref *submit.Refusal, where at, now time.Time) int {
	rw := rowFor(ref)
	e := web.APIError{Message: ref.Text}
	if rw.status == http.StatusUnauthorized {
		// SendGrid's words; the funnel's name the SMTP username.
		e.Message = textBadKey
	}
	switch {
	case rw.field == fieldFrom:
		e.Field = where.fromPath
	case rw.field == fieldPersonalization && where.n >= 0:
		e.Field = fmt.Sprintf("personalizations.%d", where.n)
	case rw.field == "" && where.n >= 0 && where.multi:
		e.Field = fmt.Sprintf("personalizations.%d", where.n)
	}
	if where.queued > 0 {
		e.Help = fmt.Sprintf("the messages of personalizations 0 to %d were accepted and will be sent (X-Message-Id names the first); send again only from personalization %d", where.queued-1, where.n)
	}
	h := w.Header()
	if rw.limits || rw.retry {
		if !ref.RetryAt.IsZero() {
			h.Set("Retry-After", strconv.FormatInt(retryAfter(ref.RetryAt, now), 10))
		}
	}
	if rw.limits {
		if ref.Limit > 0 {
			h.Set("X-RateLimit-Limit", strconv.FormatInt(ref.Limit, 10))
		}
		h.Set("X-RateLimit-Remaining", "0")
		if !ref.RetryAt.IsZero() {
			h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilUnix(ref.RetryAt), 10))
		}
	}
	web.WriteErrors(w, rw.status, e)
	return rw.status
}

// retryAfter is the whole seconds from now until t, at least 1.
func retryAfter(t, now time.Time) int64 {
	s := int64(math.Ceil(t.Sub(now).Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// ceilUnix is t in unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

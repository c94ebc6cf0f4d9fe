package spamscan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultRspamdTimeout bounds a whole rspamd request when Rspamd.Timeout
// is not set.
const DefaultRspamdTimeout = 10 * time.Second

// maxReplyBytes bounds an rspamd reply; a longer one is an error.
const maxReplyBytes = 1 << 20

// ErrUnavailable is wrapped by every error of Rspamd.Scan: the scanner
// could not be asked, did not answer in time, or answered something that
// is not a verdict.
var ErrUnavailable = errors.New("spam scanner unavailable")

// Rspamd asks a running rspamd for its verdict over its HTTP protocol:
// POST URL/checkv2 with the message as the body and the envelope in
// request headers (IP, Helo, From, one Rcpt per recipient, User,
// Queue-Id).
type Rspamd struct {
	URL     string        // the normal worker or proxy, e.g. "http://127.0.0.1:11333"
	Timeout time.Duration // DefaultRspamdTimeout when 0 or less
	Client  *http.Client  // http.DefaultClient when nil
}

// Scan asks rspamd about msg. Any failure, including a reply that is not
// an rspamd verdict, is an error that wraps ErrUnavailable; the caller
// applies its fail-open or fail-closed policy.
func (r *Rspamd) Scan(ctx context.Context, env Envelope, msg []byte) (Verdict, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultRspamdTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(r.URL, "/")+"/checkv2", bytes.NewReader(msg))
	if err != nil {
		return Verdict{}, fmt.Errorf("spamscan: rspamd request: %w: %w", ErrUnavailable, err)
	}
	if env.ClientIP.IsValid() {
		req.Header.Set("IP", env.ClientIP.Unmap().String())
	}
	setIf(req.Header, "Helo", env.Helo)
	setIf(req.Header, "From", env.From)
	for _, rcpt := range env.Recipients {
		req.Header.Add("Rcpt", rcpt)
	}
	setIf(req.Header, "User", env.User)
	setIf(req.Header, "Queue-Id", env.QueueID)

	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Verdict{}, fmt.Errorf("spamscan: rspamd %s: %w: %w", r.URL, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return Verdict{}, fmt.Errorf("spamscan: rspamd %s: read reply: %w: %w", r.URL, ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Verdict{}, fmt.Errorf("spamscan: rspamd %s: HTTP status %d: %w", r.URL, resp.StatusCode, ErrUnavailable)
	}
	if len(body) > maxReplyBytes {
		return Verdict{}, fmt.Errorf("spamscan: rspamd %s: reply over %d bytes: %w", r.URL, maxReplyBytes, ErrUnavailable)
	}
	v, err := parseReply(body)
	if err != nil {
		return Verdict{}, fmt.Errorf("spamscan: rspamd %s: %w: %w", r.URL, ErrUnavailable, err)
	}
	return v, nil
}

func setIf(h http.Header, name, value string) {
	if value != "" {
		h.Set(name, value)
	}
}

// rspamdReply is the part of a /checkv2 reply Postern uses.
type rspamdReply struct {
	Action        *string  `json:"action"`
	Score         *float64 `json:"score"`
	RequiredScore float64  `json:"required_score"`
	Symbols       map[string]struct {
		Score float64 `json:"score"`
	} `json:"symbols"`
	Messages struct {
		SMTPMessage string `json:"smtp_message"`
	} `json:"messages"`
	Milter struct {
		AddHeaders map[string]json.RawMessage `json:"add_headers"`
	} `json:"milter"`
	Error string `json:"error"`
}

// rspamdActions maps rspamd's action names to Postern's. "rewrite
// subject" becomes a header (Postern does not rewrite its users'
// subjects); "discard" and "quarantine" become a refusal (Postern never
// drops mail silently).
var rspamdActions = map[string]Action{
	"no action":       ActionAccept,
	"add header":      ActionAddHeader,
	"rewrite subject": ActionAddHeader,
	"greylist":        ActionGreylist,
	"soft reject":     ActionSoftReject,
	"reject":          ActionReject,
	"discard":         ActionReject,
	"quarantine":      ActionReject,
}

// parseReply turns a /checkv2 reply into a Verdict.
func parseReply(body []byte) (Verdict, error) {
	var rep rspamdReply
	if err := json.Unmarshal(body, &rep); err != nil {
		return Verdict{}, fmt.Errorf("unparseable reply: %w", err)
	}
	if rep.Error != "" {
		return Verdict{}, fmt.Errorf("rspamd error: %s", safeText(rep.Error))
	}
	if rep.Action == nil || rep.Score == nil {
		return Verdict{}, errors.New("reply without action or score")
	}
	action, ok := rspamdActions[*rep.Action]
	if !ok {
		return Verdict{}, fmt.Errorf("unknown action %q", safeText(*rep.Action))
	}
	v := Verdict{Action: action, Score: *rep.Score}
	names := make([]string, 0, len(rep.Symbols))
	for name := range rep.Symbols {
		names = append(names, name)
	}
	v.Symbols = sortedSymbols(names)
	detail := safeText(rep.Messages.SMTPMessage)
	if detail == "" {
		detail = fmt.Sprintf("score %.1f", v.Score)
	}
	switch action {
	case ActionReject:
		v.Reason = safeText("message looks like spam (" + detail + ")")
	case ActionSoftReject:
		v.Reason = safeText("message temporarily refused by the spam filter (" + detail + ")")
	case ActionGreylist:
		v.Reason = "greylisted, try again later"
	}
	v.Headers = spamHeaders(v.Score, nil)
	if v.Headers == nil {
		v.Headers = map[string]string{}
	}
	for name, raw := range rep.Milter.AddHeaders {
		if value, ok := milterHeaderValue(raw); ok && validFieldName(name) && validFieldValue(value) {
			v.Headers[name] = value
		}
	}
	if action != ActionAddHeader {
		v.Headers = nil
	}
	return v, nil
}

// milterHeaderValue reads one "add_headers" entry, which rspamd writes as
// a string, as {"value": …, "order": …}, or as a list of those (the
// first is taken: Verdict.Headers holds one value per name).
func milterHeaderValue(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	type entry struct {
		Value *string `json:"value"`
	}
	var e entry
	if json.Unmarshal(raw, &e) == nil && e.Value != nil {
		return *e.Value, true
	}
	var list []entry
	if json.Unmarshal(raw, &list) == nil {
		for _, e := range list {
			if e.Value != nil {
				return *e.Value, true
			}
		}
	}
	return "", false
}

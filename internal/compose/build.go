package compose

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/postern/postern/internal/message"
)

// Build checks req and composes one message per personalization. A
// request the client must fix yields a *Errors with every problem found;
// any other error is Postern's own (a nil req, a zero Options.Now, Rand
// failing). Build does not modify req.
func Build(req *Request, opts Options) ([]Message, error) {
	if req == nil {
		return nil, errors.New("compose: Build: nil Request")
	}
	if opts.Now.IsZero() {
		return nil, errors.New("compose: Build: Options.Now is required")
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	var errs Errors
	checkLimits(req, &errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	c := check(req, opts, &errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(c.plans))
	total := 0
	for i := range c.plans {
		m, err := c.compose(i, opts, &errs)
		if err != nil {
			return nil, err
		}
		if err := errs.err(); err != nil {
			return nil, err
		}
		total += len(m.Body)
		if total > opts.maxTotal() {
			errs.addf("personalizations", "the messages of this request would be over %d bytes together; send fewer personalizations per request", opts.maxTotal())
			return nil, &errs
		}
		out = append(out, m)
	}
	return out, nil
}

// request is a checked request, ready to compose.
type request struct {
	replyTo []mailbox
	body    body
	sandbox bool
	plans   []plan
}

// plan is a checked personalization.
type plan struct {
	from        mailbox
	to, cc, bcc []mailbox
	subject     string // substituted
	headers     []userHeader
	rep         *strings.Replacer
	meta        Meta
}

// check runs every check on req, reporting on errs.
func check(req *Request, opts Options, errs *Errors) *request {
	c := &request{}
	if req.From.Email == "" && req.From.Name == "" {
		errs.add("from", "is required")
	} else {
		checkMailbox("from", req.From, errs)
	}
	switch {
	case req.ReplyTo != nil && len(req.ReplyToList) > 0:
		errs.add("reply_to_list", "cannot be given together with reply_to")
	case req.ReplyTo != nil:
		m, _ := checkMailbox("reply_to", *req.ReplyTo, errs)
		c.replyTo = []mailbox{m}
	default:
		seen := make(map[string]bool)
		for i, a := range req.ReplyToList {
			path := "reply_to_list." + itoa(i)
			m, ok := checkMailbox(path, a, errs)
			key := strings.ToLower(m.Email)
			if ok && seen[key] {
				errs.add(path+".email", "is given more than once")
			}
			seen[key] = true
			c.replyTo = append(c.replyTo, m)
		}
	}
	checkContent(req.Content, errs, &c.body)
	checkAttachments(req.Attachments, errs, &c.body)
	headers := checkHeaders("headers", req.Headers, errs)
	if h, ok := headers["message-id"]; ok && len(req.Personalizations) > 1 {
		errs.add(join("headers", h.name), "would repeat on every personalization's message; set it in each personalization's headers")
	}
	subject := strings.Trim(req.Subject, " \t")
	if r := textProblem(subject, MaxSubjectLength); r != "" {
		errs.add("subject", r)
	}
	base := Meta{
		Categories: checkCategories("categories", req.Categories, errs),
		BatchID:    req.BatchID,
	}
	checkArgs("custom_args", req.CustomArgs, errs)
	base.SendAt = checkSendAt("send_at", req.SendAt, opts, errs)
	checkBatchID("batch_id", req.BatchID, errs)
	if req.ASM != nil {
		if req.ASM.GroupID <= 0 {
			errs.add("asm.group_id", "must be a positive integer")
		}
		base.ASMGroupID = req.ASM.GroupID
	}
	if ms := req.MailSettings; ms != nil && ms.SandboxMode != nil {
		c.sandbox = ms.SandboxMode.Enable
	}

	if len(req.Personalizations) == 0 {
		errs.add("personalizations", "must have at least one item")
	}
	noSubject := false
	msgIDs := make(map[string]bool)
	for i, p := range req.Personalizations {
		path := "personalizations." + itoa(i)
		pl := plan{meta: base}
		if p.From != nil {
			pl.from, _ = checkMailbox(path+".from", *p.From, errs)
		} else {
			pl.from = mailbox{Email: req.From.Email, Name: req.From.Name}
		}
		if len(p.To) == 0 {
			errs.add(path+".to", "must have at least one recipient")
		}
		seen := make(map[string]bool)
		rcpts := func(kind string, as []Address) []mailbox {
			var ms []mailbox
			for j, a := range as {
				ap := path + "." + kind + "." + itoa(j)
				m, ok := checkMailbox(ap, a, errs)
				key := strings.ToLower(m.Email)
				if ok && seen[key] {
					errs.add(ap+".email", "is already a recipient of this personalization; an address may appear only once in to, cc and bcc")
				}
				seen[key] = true
				ms = append(ms, m)
			}
			return ms
		}
		pl.to, pl.cc, pl.bcc = rcpts("to", p.To), rcpts("cc", p.Cc), rcpts("bcc", p.Bcc)

		pl.rep = checkSubstitutions(path+".substitutions", p.Substitutions, errs)
		subj, subjPath := subject, "subject"
		if s := strings.Trim(p.Subject, " \t"); s != "" {
			subj, subjPath = s, path+".subject"
			if r := textProblem(subj, MaxSubjectLength); r != "" {
				errs.add(subjPath, r)
			}
		}
		if subj == "" {
			noSubject = true
		} else if pl.rep != nil {
			s, ok := substitute(pl.rep, subj, MaxSubjectLength)
			s = strings.Trim(s, " \t")
			if r := textProblem(s, MaxSubjectLength); !ok || r != "" {
				errs.add(path+".substitutions", "make the subject invalid (too long, or with control characters)")
			}
			subj = s
		}
		pl.subject = subj

		ph := checkHeaders(path+".headers", p.Headers, errs)
		if h, ok := ph["message-id"]; ok {
			if msgIDs[h.value] {
				errs.add(join(path+".headers", h.name), "repeats another personalization's Message-ID")
			}
			msgIDs[h.value] = true
		}
		pl.headers = mergeHeaders(headers, ph)

		checkArgs(path+".custom_args", p.CustomArgs, errs)
		pl.meta.CustomArgs = mergeArgs(req.CustomArgs, p.CustomArgs)
		if len(p.CustomArgs) > 0 && len(req.CustomArgs) > 0 {
			checkMapBytes(path+".custom_args", pl.meta.CustomArgs, MaxCustomArgsBytes, errs)
		}
		if p.SendAt != 0 {
			pl.meta.SendAt = checkSendAt(path+".send_at", p.SendAt, opts, errs)
		}
		c.plans = append(c.plans, pl)
	}
	if subject == "" && noSubject {
		errs.add("subject", "is required unless every personalization has one")
	}
	return c
}

// checkSubstitutions checks substitutions and returns their replacer, nil
// if there are none. Longer keys are tried first, so the result does not
// depend on map order.
func checkSubstitutions(path string, subs map[string]string, errs *Errors) *strings.Replacer {
	if len(subs) == 0 {
		return nil
	}
	keys := make([]string, 0, len(subs))
	for k := range subs {
		if k == "" {
			errs.add(path, "has an empty key")
			continue
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) > len(keys[j])
		}
		return keys[i] < keys[j]
	})
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, subs[k])
	}
	if len(pairs) == 0 {
		return nil
	}
	return strings.NewReplacer(pairs...)
}

// substitute applies rep to s, failing when the result passes max bytes.
func substitute(rep *strings.Replacer, s string, max int) (string, bool) {
	w := &limitedBuilder{max: max}
	if _, err := rep.WriteString(w, s); err != nil {
		return "", false
	}
	return w.b.String(), true
}

type limitedBuilder struct {
	b   strings.Builder
	max int
}

type tooLong struct{}

func (tooLong) Error() string { return "too long" }

func (w *limitedBuilder) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		return 0, tooLong{}
	}
	return w.b.Write(p)
}

func (w *limitedBuilder) WriteString(s string) (int, error) {
	if w.b.Len()+len(s) > w.max {
		return 0, tooLong{}
	}
	return w.b.WriteString(s)
}

// mergeHeaders returns the request's headers with the personalization's
// over them, sorted by lower-case name.
func mergeHeaders(req, pers map[string]userHeader) []userHeader {
	m := make(map[string]userHeader, len(req)+len(pers))
	for k, h := range req {
		m[k] = h
	}
	for k, h := range pers {
		m[k] = h
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]userHeader, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

func mergeArgs(req, pers map[string]string) map[string]string {
	if len(req)+len(pers) == 0 {
		return nil
	}
	m := make(map[string]string, len(req)+len(pers))
	for k, v := range req {
		m[k] = v
	}
	for k, v := range pers {
		m[k] = v
	}
	return m
}

// checkSendAt turns a send_at at path into a time (zero: at once).
func checkSendAt(path string, unix int64, opts Options, errs *Errors) time.Time {
	if unix < 0 {
		errs.add(path, "must be a unix time in seconds")
		return time.Time{}
	}
	if unix == 0 {
		return time.Time{}
	}
	t, err := CheckSendAt(time.Unix(unix, 0).UTC(), opts)
	if err != nil {
		errs.add(path, sendAheadMessage(opts))
	}
	return t
}

// CheckSendAt checks a send time against opts (Now and MaxSendAhead): it
// returns the zero time (send at once) for a zero, past or present at, as
// SendGrid does, at itself when it is within MaxSendAhead, and a *Errors
// with field "send_at" when it is further ahead. ParseSMTPAPI does not
// check the time; its caller passes Meta.SendAt through CheckSendAt.
func CheckSendAt(at time.Time, opts Options) (time.Time, error) {
	if at.IsZero() || !at.After(opts.Now) {
		return time.Time{}, nil
	}
	if at.Sub(opts.Now) > opts.sendAhead() {
		return time.Time{}, &Errors{{Field: "send_at", Message: sendAheadMessage(opts)}}
	}
	return at, nil
}

func sendAheadMessage(opts Options) string {
	d := opts.sendAhead()
	if d%time.Hour == 0 {
		return fmt.Sprintf("cannot be more than %d hours ahead", d/time.Hour)
	}
	return fmt.Sprintf("cannot be more than %s ahead", d)
}

// compose writes the message of plan i.
func (c *request) compose(i int, opts Options, errs *Errors) (Message, error) {
	pl := &c.plans[i]
	path := "personalizations." + itoa(i)
	h := make([]byte, 0, 1024)
	h = appendField(h, "From", addressListTokens("From", []mailbox{pl.from}))
	if len(c.replyTo) > 0 {
		h = appendField(h, "Reply-To", addressListTokens("Reply-To", c.replyTo))
	}
	h = appendField(h, "To", addressListTokens("To", pl.to))
	if len(pl.cc) > 0 {
		h = appendField(h, "Cc", addressListTokens("Cc", pl.cc))
	}
	h = appendField(h, "Subject", textTokens("Subject", pl.subject))
	h = appendField(h, "Date", []string{opts.Now.Format(message.DateLayout)})
	h = appendField(h, "MIME-Version", []string{"1.0"})
	for _, u := range pl.headers {
		h = appendField(h, u.name, u.toks)
	}
	// The top part adds at most a Content-Type (MaxMediaTypeLength and a
	// boundary) and a Content-Transfer-Encoding.
	if len(h)+1024 > message.MaxHeaderBytes {
		errs.addf(path, "makes a message header over %d bytes", message.MaxHeaderBytes)
		return Message{}, nil
	}

	texts := make([]*part, len(c.body.content))
	for j, ct := range c.body.content {
		v := ct.Value
		if pl.rep != nil {
			s, ok := substitute(pl.rep, v, opts.maxMessage())
			if !ok {
				errs.addf(path+".substitutions", "make the message over %d bytes", opts.maxMessage())
				return Message{}, nil
			}
			v = s
		}
		texts[j] = textPart(c.body.ctypes[j], v)
	}
	root := c.tree(texts)
	if len(h)+root.size() > opts.maxMessage() {
		errs.addf(path, "makes a message over %d bytes", opts.maxMessage())
		return Message{}, nil
	}
	bs := &boundaries{}
	if root.subtype != "" {
		var err error
		if bs, err = newBoundaries(opts.Rand); err != nil {
			return Message{}, err
		}
	}
	b := make([]byte, 0, len(h)+root.size())
	b = append(b, h...)
	b = root.write(b, bs, true)

	m := Message{
		From:       pl.from.Email,
		Recipients: make([]string, 0, len(pl.to)+len(pl.cc)+len(pl.bcc)),
		Body:       b,
		Meta:       pl.meta,
		Sandbox:    c.sandbox,
	}
	for _, l := range [][]mailbox{pl.to, pl.cc, pl.bcc} {
		for _, r := range l {
			m.Recipients = append(m.Recipients, r.Email)
		}
	}
	m.Meta.Categories = append([]string(nil), pl.meta.Categories...)
	return m, nil
}

// tree arranges the parts: the texts (one, or multipart/alternative, RFC
// 2046 §5.1.4), inside multipart/related with the inline attachments (RFC
// 2387), inside multipart/mixed with the other attachments (RFC 2046
// §5.1.3). A level with nothing to add is left out.
func (c *request) tree(texts []*part) *part {
	root := texts[0]
	rootType := c.body.content[0].Type
	if len(texts) > 1 {
		root = &part{subtype: "alternative", parts: texts}
		rootType = "multipart/alternative"
	}
	if len(c.body.inline) > 0 {
		root = &part{subtype: "related", related: rootType, parts: append([]*part{root}, c.body.inline...)}
	}
	if len(c.body.attachments) > 0 {
		root = &part{subtype: "mixed", parts: append([]*part{root}, c.body.attachments...)}
	}
	return root
}

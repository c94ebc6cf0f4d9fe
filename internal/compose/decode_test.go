package compose

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// minimal is the smallest valid request; %s is spliced in as more
// top-level members.
const minimal = `{"personalizations":[{"to":[{"email":"to@example.com"}]}],
"from":{"email":"from@example.com"},"subject":"Hi",
"content":[{"type":"text/plain","value":"Hello"}]%s}`

func withTop(extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return fmt.Sprintf(minimal, extra)
}

func TestDecodeGood(t *testing.T) {
	tests := []struct {
		name string
		body string
		want func(*Request) bool
	}{
		{"minimal", withTop(""), func(r *Request) bool {
			return r.From.Email == "from@example.com" && r.Subject == "Hi" && len(r.Personalizations) == 1 &&
				r.Personalizations[0].To[0].Email == "to@example.com" && r.Content[0].Value == "Hello"
		}},
		{"nulls are absent", withTop(`"reply_to":null,"asm":null,"send_at":null,"template_id":null,"categories":null,"mail_settings":null`), func(r *Request) bool {
			return r.ReplyTo == nil && r.ASM == nil && r.SendAt == 0 && r.Categories == nil
		}},
		{"empty template_id", withTop(`"template_id":""`), nil},
		{"empty dynamic_template_data", `{"personalizations":[{"to":[{"email":"a@b.example"}],"dynamic_template_data":{}}],"from":{"email":"f@b.example"}}`, nil},
		{"ignored fields", withTop(`"ip_pool_name":"transactional","tracking_settings":{"click_tracking":{"enable":true,"enable_text":false},"open_tracking":{"enable":true,"substitution_tag":"%open%"},"subscription_tracking":{"enable":false},"ganalytics":{"enable":false}},
			"mail_settings":{"bypass_list_management":{"enable":false},"footer":{"enable":false,"text":"t"},"sandbox_mode":{"enable":true}},"asm":{"group_id":7,"groups_to_display":[7,8]}`), func(r *Request) bool {
			return r.MailSettings.SandboxMode.Enable && r.ASM.GroupID == 7
		}},
		{"everything", `{"personalizations":[{"to":[{"email":"a@b.example","name":"A"}],"cc":[{"email":"c@b.example"}],"bcc":[{"email":"d@b.example"}],
			"from":{"email":"p@b.example"},"subject":"S","headers":{"X-A":"1"},"substitutions":{"-n-":"N"},"custom_args":{"k":"v"},"send_at":1700000000}],
			"from":{"email":"f@b.example","name":"F"},"reply_to_list":[{"email":"r@b.example"}],"subject":"T","content":[{"type":"text/plain","value":"v"}],
			"attachments":[{"content":"eA==","type":"text/plain","filename":"x.txt","disposition":"inline","content_id":"x"}],"headers":{"X-B":"2"},
			"categories":["c1"],"custom_args":{"a":"b"},"send_at":1700000001,"batch_id":"B1"}`, func(r *Request) bool {
			p := r.Personalizations[0]
			return p.From.Email == "p@b.example" && p.Cc[0].Email == "c@b.example" && p.Bcc[0].Email == "d@b.example" &&
				p.Subject == "S" && p.Headers["X-A"] == "1" && p.Substitutions["-n-"] == "N" && p.CustomArgs["k"] == "v" &&
				p.SendAt == 1700000000 && r.ReplyToList[0].Email == "r@b.example" && r.Attachments[0].ContentID == "x" &&
				r.Headers["X-B"] == "2" && r.Categories[0] == "c1" && r.CustomArgs["a"] == "b" && r.SendAt == 1700000001 && r.BatchID == "B1"
		}},
		{"whitespace around", " \r\n" + withTop("") + "\n\t ", nil},
		{"deep but allowed", withTop(`"tracking_settings":{"ganalytics":{"a":` + strings.Repeat("[", 28) + strings.Repeat("]", 28) + `}}`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatalf("Decode: %v\n%s", err, errList(err))
			}
			if tt.want != nil && !tt.want(r) {
				t.Fatalf("Decode = %+v", r)
			}
		})
	}
}

func TestDecodeBad(t *testing.T) {
	many := func(n int, item string) string {
		return strings.TrimSuffix(strings.Repeat(item+",", n), ",")
	}
	tests := []struct {
		name  string
		body  string
		field string // a Field that must be among the errors
	}{
		{"empty", ``, ""},
		{"not JSON", `{"personalizations":`, ""},
		{"syntax", `{"from":{"email":"a@b.example"}x}`, ""},
		{"array", `[1]`, ""},
		{"trailing data", withTop("") + `{}`, ""},
		{"too deep", withTop(`"tracking_settings":{"ganalytics":{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`), ""},
		{"too big", `{"subject":"` + strings.Repeat("a", MaxRequestBytes) + `"}`, ""},
		{"no personalizations", `{"from":{"email":"a@b.example"}}`, "personalizations"},
		{"no from", `{"personalizations":[{"to":[{"email":"a@b.example"}]}]}`, "from"},
		{"from not object", withTop(`"from":"a@b.example"`), "from"},
		{"no to", `{"personalizations":[{"cc":[{"email":"a@b.example"}]}],"from":{"email":"f@b.example"}}`, "personalizations.0.to"},
		{"personalization not object", `{"personalizations":[5],"from":{"email":"f@b.example"}}`, "personalizations.0"},
		{"email not string", `{"personalizations":[{"to":[{"email":"a@b.example"},{"email":5}]}],"from":{"email":"f@b.example"}}`, "personalizations.0.to.1.email"},
		{"email missing", `{"personalizations":[{"to":[{"name":"x"}]}],"from":{"email":"f@b.example"}}`, "personalizations.0.to.0.email"},
		{"unknown top", withTop(`"subjekt":"typo"`), "subjekt"},
		{"unknown in personalization", `{"personalizations":[{"to":[{"email":"a@b.example"}],"tos":[]}],"from":{"email":"f@b.example"}}`, "personalizations.0.tos"},
		{"unknown in address", withTop(`"reply_to":{"email":"a@b.example","mail":"x"}`), "reply_to.mail"},
		{"unknown in content", `{"personalizations":[{"to":[{"email":"a@b.example"}]}],"from":{"email":"f@b.example"},"content":[{"type":"text/plain","value":"v","charset":"x"}]}`, "content.0.charset"},
		{"unknown in attachment", withTop(`"attachments":[{"content":"eA==","filename":"x","size":1}]`), "attachments.0.size"},
		{"unknown mail setting", withTop(`"mail_settings":{"bcc":{"enable":true,"email":"spy@b.example"}}`), "mail_settings.bcc"},
		{"unknown in sandbox", withTop(`"mail_settings":{"sandbox_mode":{"enabled":true}}`), "mail_settings.sandbox_mode.enabled"},
		{"unknown tracking", withTop(`"tracking_settings":{"pixel":{}}`), "tracking_settings.pixel"},
		{"legacy sections", withTop(`"sections":{"a":"b"}`), "sections"},
		{"duplicate key", withTop(`"subject":"again"`), "subject"},
		{"duplicate nested key", `{"personalizations":[{"to":[{"email":"a@b.example","email":"c@b.example"}]}],"from":{"email":"f@b.example"}}`, "personalizations.0.to.0.email"},
		{"template_id", withTop(`"template_id":"d-123"`), "template_id"},
		{"dynamic_template_data", `{"personalizations":[{"to":[{"email":"a@b.example"}],"dynamic_template_data":{"x":1}}],"from":{"email":"f@b.example"}}`, "personalizations.0.dynamic_template_data"},
		{"top dynamic_template_data", withTop(`"dynamic_template_data":{"x":1}`), "dynamic_template_data"},
		{"custom_args number", withTop(`"custom_args":{"order":42}`), "custom_args.order"},
		{"personalization custom_args bool", `{"personalizations":[{"to":[{"email":"a@b.example"}],"custom_args":{"ok":true}}],"from":{"email":"f@b.example"}}`, "personalizations.0.custom_args.ok"},
		{"substitution number", `{"personalizations":[{"to":[{"email":"a@b.example"}],"substitutions":{"-n-":1}}],"from":{"email":"f@b.example"}}`, "personalizations.0.substitutions.-n-"},
		{"header number", withTop(`"headers":{"X-Count":1}`), "headers.X-Count"},
		{"send_at float", withTop(`"send_at":1.5`), "send_at"},
		{"send_at string", withTop(`"send_at":"1700000000"`), "send_at"},
		{"send_at huge", withTop(`"send_at":1e30`), "send_at"},
		{"group_id missing", withTop(`"asm":{"groups_to_display":[1]}`), "asm.group_id"},
		{"groups_to_display too many", withTop(`"asm":{"group_id":1,"groups_to_display":[` + many(26, "1") + `]}`), "asm.groups_to_display"},
		{"sandbox not bool", withTop(`"mail_settings":{"sandbox_mode":{"enable":"yes"}}`), "mail_settings.sandbox_mode.enable"},
		{"categories not array", withTop(`"categories":"a"`), "categories"},
		{"category not string", withTop(`"categories":["a",2]`), "categories.1"},
		{"too many categories", withTop(`"categories":[` + many(11, `"c"`) + `]`), "categories"},
		{"too many personalizations", `{"from":{"email":"f@b.example"},"personalizations":[` + many(1001, `{"to":[{"email":"a@b.example"}]}`) + `]}`, "personalizations"},
		{"too many recipients", `{"from":{"email":"f@b.example"},"personalizations":[{"to":[` + many(1001, `{"email":"a@b.example"}`) + `]}]}`, "personalizations.0"},
		{"too many in all", `{"from":{"email":"f@b.example"},"personalizations":[` + many(2, `{"to":[`+many(600, `{"email":"a@b.example"}`)+`]}`) + `]}`, "personalizations"},
		{"too many headers", withTop(`"headers":{` + manyKeys(101) + `}`), "headers"},
		{"too many attachments", withTop(`"attachments":[` + many(101, `{"content":"eA==","filename":"x"}`) + `]`), "attachments"},
		{"too many content", `{"from":{"email":"f@b.example"},"personalizations":[{"to":[{"email":"a@b.example"}]}],"content":[` + many(11, `{"type":"text/plain","value":"v"}`) + `]}`, "content"},
		{"custom_args too big", withTop(`"custom_args":{"k":"` + strings.Repeat("v", MaxCustomArgsBytes) + `"}`), "custom_args"},
		{"substitutions too big", `{"from":{"email":"f@b.example"},"personalizations":[{"to":[{"email":"a@b.example"}],"substitutions":{"k":"` + strings.Repeat("v", MaxSubstitutionsBytes) + `"}}]}`, "personalizations.0.substitutions"},
		{"long key cut", withTop(`"` + strings.Repeat("k", 100) + `":1`), strings.Repeat("k", 64) + "..."},
		{"control key cleaned", withTop(`"a\u0000\nb":1`), "a??b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode([]byte(tt.body))
			if err == nil {
				t.Fatalf("Decode = %+v, want an error for %q", r, tt.field)
			}
			fs := fields(t, err)
			if !hasField(fs, tt.field) {
				t.Fatalf("fields %q, want %q\n%s", fs, tt.field, errList(err))
			}
			checkSafe(t, err)
		})
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"X-H%d":"v"`, i)
	}
	return b.String()
}

// checkSafe fails if an error message is long or carries Go's text.
func checkSafe(t *testing.T, err error) {
	t.Helper()
	var errs *Errors
	if !asErrors(err, &errs) {
		t.Fatalf("not *Errors: %v", err)
	}
	for _, e := range *errs {
		for _, bad := range []string{"json:", "invalid character", "mail:", "mime:", "illegal base64", "strconv", "cannot unmarshal"} {
			if strings.Contains(e.Message, bad) {
				t.Fatalf("message %q has Go error text", e.Message)
			}
		}
		if len(e.Message) > 200 || len(e.Field) > 200 {
			t.Fatalf("FieldError too long: %q %q", e.Field, e.Message)
		}
	}
}

func TestDecodeTooManyErrors(t *testing.T) {
	body := `{"from":{"email":"f@b.example"},"personalizations":[{"to":[` + strings.Repeat(`{"email":1},`, 300) + `{"email":1}]}]}`
	_, err := Decode([]byte(body))
	var errs *Errors
	if !asErrors(err, &errs) || len(*errs) != MaxErrors+1 || (*errs)[MaxErrors].Field != "" {
		t.Fatalf("got %d errors", len(*errs))
	}
}

func TestDecodeRoundTripsRequest(t *testing.T) {
	// Request's JSON tags are SendGrid's: marshaling one and decoding it
	// gives it back.
	req := baseRequest()
	req.ReplyTo = &Address{Email: "r@example.com", Name: "R"}
	req.ASM = &ASM{GroupID: 3}
	req.MailSettings = &MailSettings{SandboxMode: &Setting{Enable: true}}
	req.Attachments = []Attachment{{Content: "eA==", Filename: "x", Disposition: "inline", ContentID: "c"}}
	got, err := Decode(mustJSON(t, req))
	if err != nil {
		t.Fatalf("%v\n%s", err, errList(err))
	}
	if !reflect.DeepEqual(got, req) {
		t.Fatalf("got %+v\nwant %+v", got, req)
	}
}

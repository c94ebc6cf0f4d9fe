package compose

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// specPath is SendGrid's description of mail send, beside the checkout.
const specPath = "../../../shared/sendgrid-api/tsg_mail_v3.json"

// TestSendGridExamples composes the request examples of SendGrid's OpenAPI
// description: the one without a template must be accepted as it is, the
// one with a dynamic template refused for the template alone.
func TestSendGridExamples(t *testing.T) {
	b, err := os.ReadFile(specPath)
	if err != nil {
		t.Skipf("SendGrid API description not available: %v", err)
	}
	var spec struct {
		Components struct {
			RequestBodies map[string]struct {
				Content map[string]struct {
					Examples map[string]struct {
						Value json.RawMessage `json:"value"`
					} `json:"examples"`
				} `json:"content"`
			} `json:"requestBodies"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	examples := spec.Components.RequestBodies["PostMailSend"].Content["application/json"].Examples
	if len(examples) == 0 {
		t.Fatal("no examples in the description")
	}

	ms := compose(t, string(examples["MailSendNoTemplate"].Value))
	if len(ms) != 2 {
		t.Fatalf("%d messages", len(ms))
	}
	for _, m := range ms {
		checkWire(t, m.Body)
		if m.Meta.ASMGroupID != 12345 || m.Meta.BatchID == "" || len(m.Meta.Categories) != 3 || !m.Meta.SendAt.IsZero() {
			t.Errorf("meta %+v", m.Meta)
		}
		pm := parseMessage(t, m.Body)
		if pm.shape != "mixed[text/html,text/html]" {
			t.Errorf("shape %s", pm.shape)
		}
	}
	if ms[0].From != "orders@example.com" || ms[1].From != "sales@example.com" {
		t.Errorf("senders %q, %q", ms[0].From, ms[1].From)
	}
	if strings.Join(ms[0].Recipients, " ") != "alex@example.com bola@example.com charlie@example.com dana@example.com" {
		t.Errorf("recipients %q", ms[0].Recipients)
	}

	_, err = Decode(examples["MailSendDynamicTemplate"].Value)
	fs := fields(t, err)
	if len(fs) != 2 || !hasField(fs, "template_id") || !hasField(fs, "personalizations.0.dynamic_template_data") {
		t.Fatalf("dynamic template: %s", errList(err))
	}
}

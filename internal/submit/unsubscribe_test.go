package submit_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/submit/submittest"
	"github.com/postern/postern/internal/unsub"
)

// seenSigner records what it was given to sign, and signs nothing.
type seenSigner struct{ msg []byte }

func (s *seenSigner) Sign(_ context.Context, _ account.Principal, msg []byte, _ message.Header) ([]byte, string, error) {
	s.msg = append([]byte(nil), msg...)
	return msg, "", nil
}

// One-click unsubscribe (issue 15): a user with list_unsubscribe on gets
// List-Unsubscribe and List-Unsubscribe-Post in a single-recipient
// message, before the DKIM signature; not with several recipients, not
// over the sender's own, never for a user with it off; the body is left.
func TestListUnsubscribeStamped(t *testing.T) {
	links := unsub.Links{Codec: unsub.Codec{Key: []byte("0123456789abcdef0123456789abcdef")}, Base: "https://mail.postern.test"}
	const body = "\r\nHello.\r\n"
	cases := []struct {
		name   string
		on     bool
		to     []string
		extra  string // header fields of the sender's own
		want   bool   // Postern's fields added
		listed int    // List-Unsubscribe fields in the queued message
	}{
		{"off", false, []string{"user@example.test"}, "", false, 0},
		{"on, one recipient", true, []string{"User@Example.test"}, "", true, 1},
		{"on, two recipients", true, []string{"user@example.test", "other@example.test"}, "", false, 0},
		{"on, the sender's own", true, []string{"user@example.test"}, "List-Unsubscribe: <mailto:leave@example.test>\r\n", false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sig := &seenSigner{}
			fx := newFixture(t, func(c *submit.Config) {
				c.ListUnsubscribe = links
				c.Signer = sig
			})
			on := tc.on
			if err := fx.st.UpdateUserSettings(context.Background(), "acme", store.UserSettings{ListUnsubscribe: &on}); err != nil {
				t.Fatal(err)
			}
			msg := "From: app@example.test\r\nTo: user@example.test\r\nSubject: hi\r\n" + tc.extra + body
			rc, err := fx.send(t, "app@example.test", tc.to, msg, submit.CommitOptions{})
			if err != nil {
				t.Fatal(err)
			}
			stored, err := fx.st.MessageBody(context.Background(), rc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(stored, sig.msg) {
				t.Fatal("the queued message is not what was given to the signer")
			}
			if !bytes.HasSuffix(stored, []byte(body)) {
				t.Errorf("the body changed:\n%s", stored)
			}
			h, err := message.ParseHeader(stored)
			if err != nil {
				t.Fatal(err)
			}
			lists, posts := h.Values("List-Unsubscribe"), h.Values("List-Unsubscribe-Post")
			if len(lists) != tc.listed {
				t.Fatalf("List-Unsubscribe fields %q, want %d", lists, tc.listed)
			}
			if !tc.want {
				if len(posts) != 0 || tc.listed > 0 && lists[0] != "<mailto:leave@example.test>" {
					t.Errorf("fields changed: %q %q", lists, posts)
				}
				return
			}
			if len(posts) != 1 || posts[0] != "List-Unsubscribe=One-Click" {
				t.Errorf("List-Unsubscribe-Post %q", posts)
			}
			tok, ok := strings.CutPrefix(lists[0], "<https://mail.postern.test/unsubscribe/")
			tok, ok2 := strings.CutSuffix(tok, ">")
			if !ok || !ok2 {
				t.Fatalf("List-Unsubscribe %q", lists[0])
			}
			got, err := links.Codec.Decode(tok)
			if err != nil || got.MessageID != rc.ID || got.Recipient != "User@Example.test" || got.UserID != fx.client.Principal.User.ID {
				t.Errorf("token names %+v, %v; want message %s, User@Example.test", got, err, rc.ID)
			}
		})
	}
}

func TestNewRequiresListUnsubscribe(t *testing.T) {
	cfg := submittest.Config(&account.Service{}, queue.Direct{})
	cfg.ListUnsubscribe = nil
	if _, err := submit.New(cfg); err == nil || !strings.Contains(err.Error(), "ListUnsubscribe") {
		t.Errorf("New without ListUnsubscribe: %v", err)
	}
}

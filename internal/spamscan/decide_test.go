package spamscan

import (
	"maps"
	"testing"
)

func TestDecide(t *testing.T) {
	hdrs := map[string]string{"X-Spam": "Yes", "X-Spam-Score": "7.00"}
	cases := []struct {
		name      string
		v         Verdict
		threshold float64
		want      Decision
	}{
		{"accept", Verdict{Action: ActionAccept, Score: 1}, 0, Decision{}},
		{"add_header", Verdict{Action: ActionAddHeader, Score: 7, Headers: hdrs}, 0,
			Decision{AddHeaders: hdrs}},
		{"add_header drops invalid fields", Verdict{Action: ActionAddHeader, Headers: map[string]string{
			"X-Ok": "a\r\n\tfolded", "Bad Name": "x", "X-Injected": "x\r\nBcc: victim@example.com", "X-Bare-LF": "a\nb",
		}}, 0, Decision{AddHeaders: map[string]string{"X-Ok": "a\r\n\tfolded"}}},
		{"reject with reason", Verdict{Action: ActionReject, Score: 15, Reason: "message looks like spam (GTUBE)"}, 0,
			Decision{Refuse: true, Text: "message looks like spam (GTUBE)"}},
		{"reject without reason", Verdict{Action: ActionReject, Score: 15}, 0,
			Decision{Refuse: true, Text: "message refused as spam"}},
		{"reject, reason made safe", Verdict{Action: ActionReject, Reason: "bad\r\n250 ok\x00\xff  end"}, 0,
			Decision{Refuse: true, Text: "bad??250 ok?? end"}},
		{"soft_reject", Verdict{Action: ActionSoftReject, Score: 9}, 0,
			Decision{Refuse: true, Temporary: true, Text: "message temporarily refused by the spam filter, try again later"}},
		{"greylist", Verdict{Action: ActionGreylist, Score: 4}, 0,
			Decision{Refuse: true, Temporary: true, Text: "greylisted, try again later"}},
		{"unknown action", Verdict{Action: "discard", Reason: "whatever"}, 0,
			Decision{Refuse: true, Temporary: true, Text: "message could not be scanned, try again later"}},
		{"zero verdict", Verdict{}, 0,
			Decision{Refuse: true, Temporary: true, Text: "message could not be scanned, try again later"}},

		// The user's threshold.
		{"user threshold: add_header over it", Verdict{Action: ActionAddHeader, Score: 7, Headers: hdrs}, 6,
			Decision{Refuse: true, Text: "message looks like spam (score 7.0, over this account's threshold 6.0)"}},
		{"user threshold: accept at it", Verdict{Action: ActionAccept, Score: 3}, 3,
			Decision{Refuse: true, Text: "message looks like spam (score 3.0, over this account's threshold 3.0)"}},
		{"user threshold: greylist over it", Verdict{Action: ActionGreylist, Score: 8}, 6,
			Decision{Refuse: true, Text: "message looks like spam (score 8.0, over this account's threshold 6.0)"}},
		{"user threshold: under it", Verdict{Action: ActionAddHeader, Score: 5.9, Headers: hdrs}, 6,
			Decision{AddHeaders: hdrs}},
		{"user threshold never softens a reject", Verdict{Action: ActionReject, Score: 15, Reason: "message looks like spam (GTUBE)"}, 100,
			Decision{Refuse: true, Text: "message looks like spam (GTUBE)"}},
		{"user threshold never softens a soft_reject", Verdict{Action: ActionSoftReject, Score: 1}, 100,
			Decision{Refuse: true, Temporary: true, Text: "message temporarily refused by the spam filter, try again later"}},
		{"negative threshold is none", Verdict{Action: ActionAccept, Score: 0}, -1, Decision{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Decide(c.v, c.threshold)
			if got.Refuse != c.want.Refuse || got.Temporary != c.want.Temporary ||
				got.Text != c.want.Text || !maps.Equal(got.AddHeaders, c.want.AddHeaders) {
				t.Fatalf("Decide = %+v\nwant     %+v", got, c.want)
			}
		})
	}
}

func TestDecideDoesNotShareHeaders(t *testing.T) {
	v := Verdict{Action: ActionAddHeader, Headers: map[string]string{"X-Spam": "Yes"}}
	d := Decide(v, 0)
	d.AddHeaders["X-Other"] = "x"
	if len(v.Headers) != 1 {
		t.Fatal("the decision's headers are the verdict's map")
	}
}

func TestActionStricter(t *testing.T) {
	order := []Action{ActionAccept, ActionAddHeader, ActionGreylist, ActionSoftReject, ActionReject, "unknown"}
	for i, a := range order {
		for j, b := range order {
			if got := a.Stricter(b); got != (i > j) {
				t.Errorf("%s.Stricter(%s) = %v", a, b, got)
			}
		}
	}
}

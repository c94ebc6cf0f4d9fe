package message

import "testing"

func TestSafeField(t *testing.T) {
	cases := []struct {
		name, value string
		ok          bool
	}{
		{"X-Spam-Score", "2.0", true},
		{"X-Spamd-Result", "default: False [1.0 / 15.0];\r\n\tSYMBOL(1.0)", true},
		{"X-Bad", "a\r\nBcc: victim@example.test", false},
		{"X-Bad", "a\nb", false},
		{"X-Bad", "a\r", false},
		{"X-Bad", "a\r\n", false},
		{"Bad Name", "v", false},
		{"Bad:Name", "v", false},
		{"", "v", false},
	}
	for _, tc := range cases {
		if got := safeField(tc.name, tc.value); got != tc.ok {
			t.Errorf("safeField(%q, %q) = %v", tc.name, tc.value, got)
		}
	}
}

func TestAddFieldsOrder(t *testing.T) {
	msg := []byte("From: a@b.test\r\n\r\nbody\r\n")
	h, err := ParseHeader(msg)
	if err != nil {
		t.Fatal(err)
	}
	out, oh, err := AddFields(msg, h, map[string]string{"X-Spam-Status": "No", "X-Spam": "No", "X-Bad": "a\r\nBcc: v@x.test"})
	if err != nil {
		t.Fatal(err)
	}
	want := "X-Spam: No\r\nX-Spam-Status: No\r\nFrom: a@b.test\r\n\r\nbody\r\n"
	if string(out) != want {
		t.Fatalf("AddFields = %q, want %q", out, want)
	}
	if len(oh.Fields) != 3 || oh.Fields[2].Name != "From" || string(out[oh.BodyOffset:]) != "body\r\n" {
		t.Fatalf("header of the result %+v", oh)
	}
}

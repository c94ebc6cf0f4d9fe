package manageapi

import "testing"

// FuzzSuppressionBodies: the bodies of DELETE /v3/suppression/{list} and
// POST /v3/asm/suppressions/global decode, or are refused as the
// client's fault (400); a delete asks for exactly one of delete_all and
// emails. (The addresses are admin's to check, with mailaddr, which has
// its own fuzz test.)
func FuzzSuppressionBodies(f *testing.F) {
	for _, s := range []string{
		`{"delete_all":true}`, `{"emails":["a@example.test","b@example.test"]}`,
		`{"delete_all":true,"emails":["a@example.test"]}`, `{"delete_all":false}`, `{"delete_all":"yes"}`,
		`{"recipient_emails":["test1@example.com","test2@example.com"]}`, `{"recipient_emails":[1]}`,
		`{"recipient_emails":["\u001b[2J@x.test"]}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var del suppressionDelete
		if err := decodeJSON(body, &del); err != nil {
			clientFault(t, err)
		} else if err := del.check(); err != nil {
			clientFault(t, err)
		} else if del.DeleteAll == (len(del.Emails) > 0) {
			t.Fatalf("accepted %+v: not exactly one of delete_all and emails", del)
		}
		var add globalSuppressions
		if err := decodeJSON(body, &add); err != nil {
			clientFault(t, err)
		}
	})
}

package sqlstore

import "testing"

func TestRebind(t *testing.T) {
	numbered := &Dialect{Numbered: true}
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{`SELECT '?' , ? FROM "we?ird" WHERE x = ?`, `SELECT '?' , $1 FROM "we?ird" WHERE x = $2`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{`LIKE ? ESCAPE '\'`, `LIKE $1 ESCAPE '\'`},
	} {
		if got := numbered.rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := (&Dialect{}).rebind(tc.in); got != tc.in {
			t.Errorf("unnumbered rebind(%q) = %q, want it unchanged", tc.in, got)
		}
	}
}

package mailaddr_test

import (
	"errors"
	"fmt"

	"github.com/postern/postern/internal/mailaddr"
)

func ExampleParse() {
	a, err := mailaddr.Parse(`"ceo@b.test"@sub.test`)
	if err != nil {
		panic(err)
	}
	fmt.Printf("local %s, domain %s, on the wire <%s>\n", a.Local, a.Domain, a)

	_, err = mailaddr.Parse("a\x1b[2Jb@x.test")
	fmt.Println(errors.Is(err, mailaddr.ErrControl))
	// Output:
	// local ceo@b.test, domain sub.test, on the wire <"ceo@b.test"@sub.test>
	// true
}

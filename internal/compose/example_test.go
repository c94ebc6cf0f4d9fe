package compose_test

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/postern/postern/internal/compose"
)

func ExampleBuild() {
	body := []byte(`{
	  "personalizations": [{
	    "to": [{"email": "alex@example.com", "name": "Alex Müller"}],
	    "bcc": [{"email": "audit@example.com"}],
	    "substitutions": {"-order-": "123"}
	  }],
	  "from": {"email": "orders@example.com", "name": "Example, Inc."},
	  "subject": "Your order -order-",
	  "content": [{"type": "text/plain", "value": "Thank you for order -order-.\n"}],
	  "headers": {"X-Order": "123"},
	  "categories": ["orders"]
	}`)
	req, err := compose.Decode(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	msgs, err := compose.Build(req, compose.Options{
		Now: time.Date(2024, 3, 5, 10, 30, 0, 0, time.UTC),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := msgs[0]
	fmt.Println("envelope:", m.From, "->", m.Recipients)
	fmt.Println("categories:", m.Meta.Categories)
	fmt.Print(string(bytes.ReplaceAll(m.Body, []byte("\r\n"), []byte("\n"))))
	// Output:
	// envelope: orders@example.com -> [alex@example.com audit@example.com]
	// categories: [orders]
	// From: "Example, Inc." <orders@example.com>
	// To: =?utf-8?q?Alex_M=C3=BCller?= <alex@example.com>
	// Subject: Your order 123
	// Date: Tue, 05 Mar 2024 10:30:00 +0000
	// MIME-Version: 1.0
	// X-Order: 123
	// Content-Type: text/plain; charset=utf-8
	// Content-Transfer-Encoding: quoted-printable
	//
	// Thank you for order 123.
}

func ExampleDecode_errors() {
	_, err := compose.Decode([]byte(`{
	  "personalizations": [{"to": [{"email": "alex@example.com"}], "dynamic_template_data": {"n": 1}}],
	  "from": {"email": "orders@example.com"},
	  "template_id": "d-0123",
	  "subjet": "typo"
	}`))
	var errs *compose.Errors
	if errors.As(err, &errs) {
		for _, e := range *errs {
			fmt.Printf("%s: %s\n", e.Field, e.Message)
		}
	}
	// Output:
	// personalizations.0.dynamic_template_data: dynamic templates are not supported by Postern; send subject and content instead
	// template_id: templates are not supported by Postern; send subject and content instead
	// subjet: is not a field Postern knows; check its spelling
}

func ExampleParseSMTPAPI() {
	meta, err := compose.ParseSMTPAPI(`{"category": ["welcome"], "unique_args": {"user": "42"}, "asm_group_id": 7}`)
	fmt.Println(meta.Categories, meta.CustomArgs, meta.ASMGroupID, err)

	_, err = compose.ParseSMTPAPI(`{"to": ["a@example.com", "b@example.com"]}`)
	fmt.Println(err)
	// Output:
	// [welcome] map[user:42] 7 <nil>
	// compose: to: is not supported by Postern: send one message per recipient list, or use the mail send API's personalizations
}

// Package smtperr is the one SMTP error type of Postern.
//
// Handlers return *Error values built from named reply codes (RFC 5321 §4.2)
// and enhanced status codes (RFC 3463); only the protocol boundary turns them
// into a reply line. An error that carries no SMTP meaning never reaches the
// client as text: Reply maps it to a generic "451 4.3.0" naming the session,
// so internal details stay in the log.
package smtperr

import (
	"errors"
	"fmt"
)

// Code is an SMTP reply code (RFC 5321 §4.2.3).
type Code int

// Reply codes used by Postern.
const (
	C221Closing             Code = 221
	C235AuthOK              Code = 235
	C250OK                  Code = 250
	C421Unavailable         Code = 421
	C451LocalError          Code = 451
	C452InsufficientStorage Code = 452
	C454TempAuthFailure     Code = 454
	C500SyntaxError         Code = 500
	C501ArgumentSyntax      Code = 501
	C503BadSequence         Code = 503
	C530AuthRequired        Code = 530
	C535AuthInvalid         Code = 535
	C550MailboxUnavailable  Code = 550
	C552StorageExceeded     Code = 552
	C554TransactionFailed   Code = 554
)

// Enhanced is an enhanced mail system status code (RFC 3463), class.subject.detail.
type Enhanced [3]int

// Enhanced status codes used by Postern.
var (
	SecOK                  = Enhanced{2, 0, 0}
	SecTempSystem          = Enhanced{4, 3, 0} // other or undefined mail system status
	SecTempShutdown        = Enhanced{4, 3, 2} // system not accepting network messages
	SecTempSecurity        = Enhanced{4, 7, 0} // other or undefined security status
	SecTooManyRecipients   = Enhanced{4, 5, 3}
	SecPermSystem          = Enhanced{5, 3, 0}
	SecMessageTooBig       = Enhanced{5, 3, 4}
	SecBadSequence         = Enhanced{5, 5, 1}
	SecSyntax              = Enhanced{5, 5, 2}
	SecBadArguments        = Enhanced{5, 5, 4}
	SecMedia               = Enhanced{5, 6, 0} // other or undefined media error
	SecSecurity            = Enhanced{5, 7, 0} // other or undefined security status
	SecPolicyUnauthorized  = Enhanced{5, 7, 1} // delivery not authorized, message refused
	SecBadCredentials      = Enhanced{5, 7, 8} // authentication credentials invalid
	SecTempPolicy          = Enhanced{4, 7, 1}
	SecTooManyErrors       = Enhanced{4, 7, 0}
	SecPermTooManyErrors   = Enhanced{5, 5, 0}
	SecRelayDenied         = Enhanced{5, 7, 1}
	SecBadMailbox          = Enhanced{5, 1, 1} // bad destination mailbox address
	SecTempTooManyMessages = Enhanced{4, 5, 3}
)

// Error is an SMTP reply meant for the client. Its Text is safe to send.
type Error struct {
	Code     Code
	Enhanced Enhanced
	Text     string
	// Close asks the boundary to close the connection after the reply.
	Close bool
}

// New returns an error reply with the given code, enhanced code and text.
func New(code Code, enh Enhanced, text string) *Error {
	return &Error{Code: code, Enhanced: enh, Text: text}
}

// Closing returns a copy of e that closes the connection after it is sent.
func (e *Error) Closing() *Error {
	c := *e
	c.Close = true
	return &c
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %d.%d.%d %s", e.Code, e.Enhanced[0], e.Enhanced[1], e.Enhanced[2], e.Text)
}

// Temporary reports whether the reply is a 4xx.
func (e *Error) Temporary() bool { return e.Code/100 == 4 }

// Reply returns the client-safe reply for err. An *Error (possibly wrapped)
// is returned as it is; anything else becomes a generic temporary failure
// that names the session so an operator can find the cause in the log.
func Reply(err error, sessionID string) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(sessionID)
}

// Internal is the reply for an error without an SMTP meaning.
func Internal(sessionID string) *Error {
	return New(C451LocalError, SecTempSystem, "internal error, try again later (session "+sessionID+")")
}

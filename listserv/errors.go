package listserv

import "fmt"

// Kind classifies why the service refused or could not take a message.
// The protocol packages turn a Kind into their wire reply in one place
// (smtpin.reply); nothing else in the service knows SMTP codes.
type Kind int

// Kinds of refusal.
const (
	// Unavailable: a temporary local failure (the store); the sender
	// should retry and nothing is lost. The default for untyped errors.
	Unavailable Kind = iota
	// NoSuchRecipient: an unknown group, alias or address form, or a
	// foreign domain.
	NoSuchRecipient
	// NotAllowed: the sender may not do this (not a member, not an admin
	// of an announce group, failed authentication).
	NotAllowed
	// Malformed: the message cannot be relayed safely.
	Malformed
	// TooLarge: over the size limit.
	TooLarge
	// RateLimited: over a sending limit; try later.
	RateLimited
	// TooManyRecipients: one recipient per transaction; send the others
	// again in a new one.
	TooManyRecipients
)

// String names the kind in a word, for metrics labels and logs.
func (k Kind) String() string {
	switch k {
	case NoSuchRecipient:
		return "no_such_recipient"
	case NotAllowed:
		return "not_allowed"
	case Malformed:
		return "malformed"
	case TooLarge:
		return "too_large"
	case RateLimited:
		return "rate_limited"
	case TooManyRecipients:
		return "too_many_recipients"
	}
	return "unavailable"
}

// Error is a refusal with a text safe to show the sender (never an
// address, a roster fact or an internal detail) and a cause for the log.
type Error struct {
	Kind   Kind
	Public string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Public, e.Err)
	}
	return e.Public
}

func (e *Error) Unwrap() error { return e.Err }

func refuse(k Kind, public string) *Error { return &Error{Kind: k, Public: public} }

func unavailable(err error) *Error {
	return &Error{Kind: Unavailable, Public: "temporary local problem, please try again later", Err: err}
}

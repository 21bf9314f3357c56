package listserv

import (
	"context"

	"listserv/listserv/anon"
	"listserv/mailstore"
)

// AuthenticatedSender is the SenderCheck of every service: a message
// submitted with credentials (Envelope.AuthUser set, the submission port)
// whose From is the authenticated address is proven without any DNS
// check; any other message is judged by Next (the configured check).
// Receive has already refused an authenticated message whose From is
// another address.
type AuthenticatedSender struct{ Next SenderCheck }

// Check implements SenderCheck.
func (a AuthenticatedSender) Check(ctx context.Context, env *Envelope, raw []byte, msg *anon.Message) error {
	if env.AuthUser != "" {
		if sameAddr(env.AuthUser, msg.From.Addr) {
			return nil
		}
		return fromNotAuthUser()
	}
	return a.Next.Check(ctx, env, raw, msg)
}

// sameAddr compares two addresses as the store does (case-insensitive).
func sameAddr(a, b string) bool {
	return b != "" && mailstore.NormAddr(a) == mailstore.NormAddr(b)
}

func fromNotAuthUser() error {
	return refuse(NotAllowed, "the From address must be the one you authenticated as")
}

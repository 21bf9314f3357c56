package senderauth

import (
	"context"
	"net"
	"time"
)

// Resolver is the DNS the checks ask: TXT records for DKIM keys and SPF
// policies, and the MX, address and PTR lookups that SPF mechanisms
// need. *net.Resolver implements it; tests pass a fake. A lookup that
// finds nothing returns a *net.DNSError with IsNotFound set, and a
// temporary failure one with IsTemporary (or IsTimeout) set: the DKIM and
// SPF libraries tell a 451 from a 550 by these flags.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// NewResolver returns the system's resolver when server is "", and
// otherwise a resolver that sends every query to server ("host:port"; a
// bare host means port 53), over UDP or TCP as the query needs: the
// config key dns.resolver.
func NewResolver(server string) Resolver {
	if server == "" {
		return net.DefaultResolver
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "53")
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, server)
		},
	}
}

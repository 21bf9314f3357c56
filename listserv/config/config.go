// Package config owns listserv's configuration: the documented struct,
// its defaults (what `listserv serve` uses with no file), and loading a
// TOML file over them. Every key is optional; an unknown key is an error
// that names it, so a typo never silently falls back to a default.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration. deploy/listserv.toml lists every key
// with its default.
type Config struct {
	// Domain is the lists' mail domain: recovery@Domain.
	Domain string `toml:"domain"`
	// Hostname is the HELO name and the name in banners.
	Hostname string `toml:"hostname"`
	// DataDir holds the database, the control socket and the outbox.
	DataDir string `toml:"data_dir"`

	SMTP     SMTP     `toml:"smtp"`
	IMAP     IMAP     `toml:"imap"`
	TLS      TLS      `toml:"tls"`
	Delivery Delivery `toml:"delivery"`
	Auth     Auth     `toml:"auth"`
	DKIM     DKIM     `toml:"dkim"`
	DNS      DNS      `toml:"dns"`
	Metrics  Metrics  `toml:"metrics"`
	Log      Log      `toml:"log"`
	Tokens   Tokens   `toml:"tokens"`
}

// SMTP configures the inbound listeners.
type SMTP struct {
	Listen           string `toml:"listen"`
	SubmissionListen string `toml:"submission_listen"`
	LMTPListen       string `toml:"lmtp_listen"`
	MaxMessageBytes  int64  `toml:"max_message_bytes"`
	// DataTimeout is the deadline for a whole DATA transfer.
	DataTimeout Duration `toml:"data_timeout"`
	// Abuse limits of the port-25 and submission listeners, per client
	// IP (loopback included) and per connection; see smtpin.Options.
	MaxConnectionsPerIP       int `toml:"max_connections_per_ip"`
	ConnectionsPerMinutePerIP int `toml:"connections_per_minute_per_ip"`
	MaxErrorsPerConnection    int `toml:"max_errors_per_connection"`
}

// LMTPNetwork splits LMTPListen (the LMTP listener for a front MTA) into
// a network for net.Listen and its address: "unix:/path" and "/path" are
// a unix socket (created mode 0660), anything else is a TCP host:port.
func (s SMTP) LMTPNetwork() (network, address string) {
	if p, ok := strings.CutPrefix(s.LMTPListen, "unix:"); ok {
		return "unix", p
	}
	if strings.HasPrefix(s.LMTPListen, "/") {
		return "unix", s.LMTPListen
	}
	return "tcp", s.LMTPListen
}

// IMAP configures the archive listeners.
type IMAP struct {
	Listen    string `toml:"listen"`
	TLSListen string `toml:"tls_listen"`
}

// TLS names the certificate for STARTTLS and implicit TLS.
type TLS struct {
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
}

// Delivery configures the outbound queue.
type Delivery struct {
	// Transport is "outbox", "smarthost" or "mx".
	Transport string `toml:"transport"`
	// Smarthost is host:port for the smarthost transport.
	Smarthost string `toml:"smarthost"`
	// SmarthostTLS is "starttls" (use it when offered), "tls" (implicit
	// TLS) or "none".
	SmarthostTLS string `toml:"smarthost_tls"`
	// SmarthostUsername and SmarthostPassword enable AUTH PLAIN.
	SmarthostUsername string `toml:"smarthost_username"`
	SmarthostPassword string `toml:"smarthost_password"`
	// Workers is the number of concurrent deliveries (and connections).
	Workers int `toml:"workers"`
	// MXPort is the port tried on MX hosts (tests only).
	MXPort int `toml:"mx_port"`
	// MaxPerDomain caps the connections the mx transport keeps open to
	// one recipient domain, across all workers.
	MaxPerDomain int `toml:"max_per_domain"`
	// RetryInitial is the first retry delay; it doubles each attempt.
	RetryInitial Duration `toml:"retry_initial"`
	// RetryMax caps one retry delay.
	RetryMax Duration `toml:"retry_max"`
	// GiveUpAfter ends retries of a delivery this long after it was queued.
	GiveUpAfter Duration `toml:"give_up_after"`
	// BounceThreshold is the bounce score at which delivery to a member
	// is suspended (a hard bounce scores 1, a soft one 0.5).
	BounceThreshold int `toml:"bounce_threshold"`
	// BounceResetDays: a score whose last bounce is older than this
	// starts again from zero, and a suspended member is probed this long
	// after the suspension.
	BounceResetDays int `toml:"bounce_reset_days"`
}

// Auth configures who may post.
type Auth struct {
	SenderAuth        string `toml:"sender_auth"`
	TrustedAuthservID string `toml:"trusted_authserv_id"`
	// PasswordCost is the bcrypt cost of archive passwords (4..31).
	PasswordCost int `toml:"password_cost"`
}

// DKIM configures outbound signing.
type DKIM struct {
	Selector string `toml:"selector"`
	KeyFile  string `toml:"key_file"`
}

// DNS names the resolver ("" = the system's).
type DNS struct {
	Resolver string `toml:"resolver"`
}

// Metrics configures the Prometheus and health endpoint.
type Metrics struct {
	Listen string `toml:"listen"`
}

// Tokens sets how long confirmation tokens live.
type Tokens struct {
	// ConfirmTTL bounds a join or leave confirmation.
	ConfirmTTL Duration `toml:"confirm_ttl"`
	// ApprovalTTL bounds an admin's approval of a join request or a
	// held post's token.
	ApprovalTTL Duration `toml:"approval_ttl"`
}

// Log configures logging.
type Log struct {
	// Level is "debug", "info", "warn" or "error".
	Level string `toml:"level"`
	// Format is "text" or "json".
	Format string `toml:"format"`
}

// Duration is a time.Duration written as a Go duration string ("90s").
type Duration struct{ time.Duration }

// UnmarshalText parses "1m30s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the configuration `listserv serve` uses with no file.
func Default() Config {
	return Config{
		Domain:   "localhost",
		Hostname: "localhost",
		DataDir:  "./data",
		SMTP: SMTP{
			Listen:          "127.0.0.1:2525",
			MaxMessageBytes: 10 << 20,
			DataTimeout:     Duration{5 * time.Minute},

			MaxConnectionsPerIP:       20,
			ConnectionsPerMinutePerIP: 60,
			MaxErrorsPerConnection:    10,
		},
		IMAP: IMAP{Listen: "127.0.0.1:1143"},
		Delivery: Delivery{
			Transport:    "outbox",
			SmarthostTLS: "starttls",
			Workers:      8,
			MXPort:       25,
			MaxPerDomain: 4,
			RetryInitial: Duration{time.Minute},
			RetryMax:     Duration{4 * time.Hour},
			GiveUpAfter:  Duration{5 * 24 * time.Hour},

			BounceThreshold: 5,
			BounceResetDays: 7,
		},
		Auth: Auth{SenderAuth: "none", PasswordCost: 10},
		Log:  Log{Level: "info", Format: "text"},
		Tokens: Tokens{
			ConfirmTTL:  Duration{3 * 24 * time.Hour},
			ApprovalTTL: Duration{14 * 24 * time.Hour},
		},
	}
}

// Load reads path over the defaults; path "" means the defaults alone.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, cfg.Validate()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	md, err := toml.Decode(string(b), &cfg)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return cfg, fmt.Errorf("%s: unknown key %s", path, strings.Join(keys, ", "))
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Validate checks values that would otherwise fail later, far from the
// file.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	c.Domain = strings.ToLower(strings.TrimSpace(c.Domain))
	if c.Domain == "" || strings.ContainsAny(c.Domain, " @/\\\r\n") {
		bad("domain %q is not a mail domain", c.Domain)
	} else if _, err := mail.ParseAddress("x@" + c.Domain); err != nil {
		bad("domain %q is not a mail domain", c.Domain)
	}
	if c.Hostname == "" || strings.ContainsAny(c.Hostname, " \r\n") {
		bad("hostname %q is not a host name", c.Hostname)
	}
	if c.DataDir == "" {
		bad("data_dir is empty")
	}
	if c.SMTP.MaxMessageBytes <= 0 {
		bad("smtp.max_message_bytes must be positive")
	}
	if c.SMTP.MaxConnectionsPerIP < 1 || c.SMTP.ConnectionsPerMinutePerIP < 1 || c.SMTP.MaxErrorsPerConnection < 1 {
		bad("smtp.max_connections_per_ip, smtp.connections_per_minute_per_ip and smtp.max_errors_per_connection must be positive")
	}
	if c.SMTP.LMTPListen != "" {
		if network, addr := c.SMTP.LMTPNetwork(); network == "unix" && addr == "" {
			bad("smtp.lmtp_listen %q: the socket path is empty", c.SMTP.LMTPListen)
		} else if network == "tcp" {
			if _, _, err := net.SplitHostPort(addr); err != nil {
				bad("smtp.lmtp_listen %q: want host:port, unix:/path or /path", c.SMTP.LMTPListen)
			}
		}
	}
	if strings.ContainsAny(c.Auth.TrustedAuthservID, " \t;()\"\r\n") {
		bad("auth.trusted_authserv_id %q is not an authserv-id (a host name, no spaces)", c.Auth.TrustedAuthservID)
	}
	switch c.Delivery.Transport {
	case "outbox", "mx":
	case "smarthost":
		if c.Delivery.Smarthost == "" {
			bad("delivery.smarthost is required with transport \"smarthost\"")
		}
	default:
		bad("delivery.transport %q: want outbox, smarthost or mx", c.Delivery.Transport)
	}
	switch c.Delivery.SmarthostTLS {
	case "starttls", "tls", "none":
	default:
		bad("delivery.smarthost_tls %q: want starttls, tls or none", c.Delivery.SmarthostTLS)
	}
	if c.Delivery.Workers < 1 || c.Delivery.Workers > 1024 {
		bad("delivery.workers must be 1..1024")
	}
	if c.Delivery.MaxPerDomain < 1 {
		bad("delivery.max_per_domain must be positive")
	}
	if c.Delivery.MXPort < 1 || c.Delivery.MXPort > 65535 {
		bad("delivery.mx_port must be 1..65535")
	}
	if c.Delivery.RetryInitial.Duration <= 0 || c.Delivery.RetryMax.Duration < c.Delivery.RetryInitial.Duration {
		bad("delivery.retry_initial must be positive and at most delivery.retry_max")
	}
	if c.Delivery.BounceThreshold < 1 || c.Delivery.BounceThreshold > 1000 {
		bad("delivery.bounce_threshold must be 1..1000")
	}
	if c.Delivery.BounceResetDays < 1 || c.Delivery.BounceResetDays > 365 {
		bad("delivery.bounce_reset_days must be 1..365")
	}
	switch c.Auth.SenderAuth {
	case "none", "dmarc":
	default:
		bad("auth.sender_auth %q: want none or dmarc", c.Auth.SenderAuth)
	}
	if c.Auth.PasswordCost < 4 || c.Auth.PasswordCost > 31 {
		bad("auth.password_cost must be 4..31")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls.cert_file and tls.key_file must be set together")
	}
	if c.IMAP.TLSListen != "" && c.TLS.CertFile == "" {
		bad("imap.tls_listen needs tls.cert_file and tls.key_file")
	}
	if c.Tokens.ConfirmTTL.Duration < time.Minute || c.Tokens.ApprovalTTL.Duration < time.Minute {
		bad("tokens.confirm_ttl and tokens.approval_ttl must be at least 1m")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format %q: want text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

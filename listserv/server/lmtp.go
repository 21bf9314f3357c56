package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"listserv/listserv/config"
	"listserv/listserv/smtpin"
)

// LMTPSocketMode is the mode of the LMTP unix socket: the server's user
// and group may connect. Give the front MTA's user that group, e.g. with
// a setgid directory owned by group postfix (deploy/postfix-lmtp.md).
const LMTPSocketMode fs.FileMode = 0o660

// startLMTP opens smtp.lmtp_listen (if set) with a third smtpin server in
// LMTP mode: the same recipient checks and message handling as port 25,
// several recipients per transaction with a reply each, and no per-IP
// limits (the client is the operator's front MTA). A unix socket is
// created mode 0660 and removed when the server stops. The caller starts
// serving it.
func (s *Server) startLMTP(cfg config.Config) (net.Listener, error) {
	if cfg.SMTP.LMTPListen == "" {
		return nil, nil
	}
	network, addr := cfg.SMTP.LMTPNetwork()
	var ln net.Listener
	var err error
	if network == "unix" {
		ln, err = listenUnix(addr, LMTPSocketMode)
	} else {
		ln, err = net.Listen("tcp", addr)
		if err == nil && !loopbackOnly(ln.Addr()) {
			s.log.Warn("smtp.lmtp_listen is a TCP address beyond loopback: LMTP has no authentication, so only the front MTA may reach it (firewall it)",
				"lmtp", cfg.SMTP.LMTPListen)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("smtp.lmtp_listen: %w", err)
	}
	if cfg.Auth.SenderAuth == "dmarc" && cfg.Auth.TrustedAuthservID == "" {
		s.log.Info("LMTP with sender_auth \"dmarc\" and no auth.trusted_authserv_id: posts over LMTP need an aligned DKIM signature (SPF cannot be judged behind a front MTA)")
	}
	s.lmtp = smtpin.New(smtpin.Options{
		Service:         s.Service,
		Hostname:        cfg.Hostname,
		MaxMessageBytes: cfg.SMTP.MaxMessageBytes,
		DataTimeout:     cfg.SMTP.DataTimeout.Duration,
		Logger:          s.log.With("listener", "lmtp"),
		OnRefused:       s.metrics.Refused,
		LMTP:            true,
	})
	s.lmtpAddr = ln.Addr()
	return ln, nil
}

// LMTPAddr is the LMTP listener's address: host:port, or the socket path
// ("" when smtp.lmtp_listen is empty).
func (s *Server) LMTPAddr() string {
	if s.lmtpAddr == nil {
		return ""
	}
	return s.lmtpAddr.String()
}

// shutdownLMTP stops the LMTP server like the port-25 one; closing its
// listener removes the socket file.
func (s *Server) shutdownLMTP(ctx context.Context) {
	if s.lmtp != nil {
		if err := s.lmtp.Shutdown(ctx); err != nil {
			s.lmtp.Close()
		}
	}
}

// listenUnix creates a unix socket at path with mode, without a moment
// where it is reachable with wider permissions: it binds a random name
// in the same directory, sets the mode, and renames it into place. A
// stale socket left by a crash is replaced; a live one (another process
// answers), or any other kind of file, is an error. The listener's Close
// removes the socket, unless another has replaced it meanwhile.
func listenUnix(path string, mode fs.FileMode) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another process is listening on this socket", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%s: cannot tell whether the socket is in use: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b := make([]byte, 8)
	rand.Read(b)
	tmp := filepath.Join(filepath.Dir(path), ".lmtp-"+hex.EncodeToString(b)+".sock")
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, err
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // the name it would unlink is tmp
	fail := func(err error) (net.Listener, error) {
		ul.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(tmp)
	if err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	return &unixListener{UnixListener: ul, path: path, fi: fi}, nil
}

// unixListener removes its socket file when closed.
type unixListener struct {
	*net.UnixListener
	path string
	fi   fs.FileInfo
	once sync.Once
}

// Addr names the socket by its final path.
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if fi, e := os.Lstat(l.path); e == nil && os.SameFile(fi, l.fi) {
			os.Remove(l.path)
		}
	})
	return err
}

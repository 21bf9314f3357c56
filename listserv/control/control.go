// Package control is the admin channel between `listserv` commands and a
// running server: a Unix socket, <data_dir>/control.sock, mode 0600 in a
// 0700 directory, so only the server's own user can use it. A client
// sends one JSON request (the command's arguments) and reads one JSON
// reply (exit code, standard output, standard error). The server runs
// the same command code a stopped data directory would, so both behave
// alike.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// SocketName is the socket's file name in the data directory.
const SocketName = "control.sock"

// Request carries a command's arguments, without the program name or
// global flags.
type Request struct {
	Args []string `json:"args"`
}

// Reply is what the command printed and its exit status.
type Reply struct {
	Code   int    `json:"code"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
}

// Handler runs one command.
type Handler func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Server serves the control socket.
type Server struct {
	ln      net.Listener
	handle  Handler
	log     *slog.Logger
	wg      sync.WaitGroup
	closing chan struct{}
}

// Listen creates the socket in dataDir (removing a stale one: the caller
// holds the database lock, so no other server uses it).
func Listen(dataDir string, h Handler, log *slog.Logger) (*Server, error) {
	path := filepath.Join(dataDir, SocketName)
	os.Remove(path)
	old := umask(0o077)
	ln, err := net.Listen("unix", path)
	umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return &Server{ln: ln, handle: h, log: log, closing: make(chan struct{})}, nil
}

// Serve answers requests until Close.
func (s *Server) Serve(ctx context.Context) error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.closing:
				return nil
			default:
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, c)
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	var req Request
	if err := json.NewDecoder(io.LimitReader(c, 1<<20)).Decode(&req); err != nil {
		s.log.Warn("control: bad request", "err", err)
		return
	}
	var out, errw strings.Builder
	code := s.handle(ctx, req.Args, &out, &errw)
	json.NewEncoder(c).Encode(Reply{Code: code, Stdout: out.String(), Stderr: errw.String()})
}

// Close stops serving, removes the socket and waits for running commands.
func (s *Server) Close() error {
	close(s.closing)
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// ErrNoServer means no server answers on the data directory's socket.
var ErrNoServer = errors.New("no server is running on this data directory")

// Call sends args to the server on dataDir's socket.
func Call(dataDir string, args []string) (Reply, error) {
	var r Reply
	c, err := net.DialTimeout("unix", filepath.Join(dataDir, SocketName), 2*time.Second)
	if err != nil {
		return r, ErrNoServer
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	if err := json.NewEncoder(c).Encode(Request{Args: args}); err != nil {
		return r, err
	}
	if err := json.NewDecoder(c).Decode(&r); err != nil {
		return r, err
	}
	return r, nil
}

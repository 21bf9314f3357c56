package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestCallAndServe(t *testing.T) {
	dir := t.TempDir()
	if _, err := Call(dir, []string{"x"}); !errors.Is(err, ErrNoServer) {
		t.Fatalf("no server: %v", err)
	}
	srv, err := Listen(dir, func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		fmt.Fprintf(stdout, "ran %v", args)
		fmt.Fprint(stderr, "warned")
		return 3
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background())
	fi, err := os.Stat(filepath.Join(dir, SocketName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	r, err := Call(dir, []string{"member", "list", "g"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != 3 || r.Stdout != "ran [member list g]" || r.Stderr != "warned" {
		t.Fatalf("reply = %+v", r)
	}
	srv.Close()
	if _, err := Call(dir, []string{"x"}); !errors.Is(err, ErrNoServer) {
		t.Fatalf("after Close: %v", err)
	}
}

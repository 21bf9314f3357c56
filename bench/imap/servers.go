package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// freePort returns a loopback address with a port free right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitPort waits until addr accepts connections.
func waitPort(addr string, proc *exec.Cmd) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		if proc.ProcessState != nil {
			return fmt.Errorf("%s exited", proc.Path)
		}
	}
	return fmt.Errorf("%s never listened on %s", proc.Path, addr)
}

// startListserv runs `listserv serve` on the prepared data directory.
func startListserv(work, bin string, a *archive) (*server, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(work, "listserv.toml")
	err = os.WriteFile(conf, []byte(fmt.Sprintf("domain = %q\ndata_dir = %q\n[smtp]\nlisten = \"127.0.0.1:0\"\n[imap]\nlisten = %q\n[log]\nlevel = \"warn\"\n",
		domain, a.dataDir, addr)), 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "-config", conf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go cmd.Wait()
	s := &server{name: "listserv", addr: addr, pid: cmd.Process.Pid,
		stop: func() { cmd.Process.Signal(os.Interrupt); time.Sleep(200 * time.Millisecond); cmd.Process.Kill() }}
	s.rss = func() (int64, int64) { return procRSS(s.pid) }
	return s, waitPort(addr, cmd)
}

// startDovecot runs Dovecot from a configuration in the work directory:
// one user in a passwd-file, the Maildir, plaintext login on loopback.
// As root, mail is accessed as the package's "dovecot" user (Dovecot
// refuses uid 0).
func startDovecot(work string, a *archive) (*server, error) {
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		return nil, fmt.Errorf("dovecot is not installed (Debian: apt-get install dovecot-imapd): %w", err)
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	dir := filepath.Join(work, "dovecot")
	uid, gid := os.Getuid(), os.Getgid()
	me, _ := user.Current()
	internal := me.Username
	if uid == 0 {
		du, err := user.Lookup("dovecot")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the dovecot user: %w", err)
		}
		uid, _ = strconv.Atoi(du.Uid)
		gid, _ = strconv.Atoi(du.Gid)
		internal = "dovecot"
		if err := chownAll(a.maildir, uid, gid); err != nil {
			return nil, err
		}
	}
	os.WriteFile(filepath.Join(dir, "passwd"), []byte(reader+":{PLAIN}"+a.pass+"::::::\n"), 0o644)
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = %[4]s
default_login_user = %[4]s
first_valid_uid = 1
mail_location = maildir:%[5]s
passdb {
  driver = passwd-file
  args = %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[2]d gid=%[3]d home=%[5]s
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[6]s
  }
  inet_listener imaps {
    port = 0
  }
}
`, dir, uid, gid, internal, a.maildir, port)
	cf := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-F", "-c", cf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go cmd.Wait()
	s := &server{name: "dovecot", addr: addr, pid: cmd.Process.Pid,
		stop: func() { cmd.Process.Signal(os.Interrupt); time.Sleep(200 * time.Millisecond); cmd.Process.Kill() }}
	s.rss = func() (int64, int64) { return sessionRSS(s.pid) }
	return s, waitPort(addr, cmd)
}

func chownAll(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
}

// procRSS reads a process's resident memory (VmRSS) and its anonymous
// part (RssAnon), in bytes.
func procRSS(pid int) (total, anon int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			total = kb << 10
		case "RssAnon":
			anon = kb << 10
		}
	}
	return total, anon
}

// mappedRSS sums the resident pages of a process's mappings of files
// named name (smaps), in bytes.
func mappedRSS(pid int, name string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	var total int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = strings.HasSuffix(line, "/"+name)
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok && in {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			total += kb << 10
		}
	}
	return total
}

// sessionRSS finds Dovecot's imap processes (children of the master
// that serve sessions) and returns the largest one's memory.
func sessionRSS(master int) (total, anon int64) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		comm, _ := os.ReadFile(filepath.Join(d, "comm"))
		if len(f) < 2 || f[1] != strconv.Itoa(master) || strings.TrimSpace(string(comm)) != "imap" {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		if t, a := procRSS(pid); t > total {
			total, anon = t, a
		}
	}
	return total, anon
}

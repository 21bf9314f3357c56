package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"

	"listserv/listserv/config"
	"listserv/listserv/dkimsign"
)

// dkimCmd runs `listserv dkim keygen [-type rsa|ed25519] [-out FILE]`:
// it writes a new key (0600, never over an existing file) and prints the
// DNS TXT record to publish. It needs no data directory and no server.
func dkimCmd(cfg config.Config, args []string, stdout, stderr io.Writer) int {
	usage := func(msg string) int {
		fmt.Fprintln(stderr, "listserv:", msg)
		fmt.Fprintln(stderr, "usage: listserv dkim keygen [-type rsa|ed25519] [-out FILE]")
		return 2
	}
	if len(args) == 0 || args[0] != "keygen" {
		return usage("dkim: unknown command")
	}
	fl := flag.NewFlagSet("dkim keygen", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	typ := fl.String("type", dkimsign.RSA, "rsa | ed25519")
	out := fl.String("out", cfg.DKIM.KeyFile, "where the key is written")
	if err := fl.Parse(args[1:]); err != nil {
		return usage("dkim keygen: " + err.Error())
	}
	if fl.NArg() > 0 {
		return usage("dkim keygen takes no arguments")
	}
	if *typ != dkimsign.RSA && *typ != dkimsign.Ed25519 {
		return usage(fmt.Sprintf("dkim keygen: -type %q: want rsa or ed25519", *typ))
	}
	if *out == "" {
		return usage("dkim keygen: -out FILE is needed (or dkim.key_file in the config)")
	}
	key, pemBytes, err := dkimsign.GenerateKey(*typ)
	if err == nil {
		err = dkimsign.WriteKeyFile(*out, pemBytes)
	}
	if errors.Is(err, fs.ErrExist) {
		fmt.Fprintf(stderr, "listserv: %s exists: not replacing a key (remove it first if it was never published)\n", *out)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "listserv:", err)
		return 1
	}
	selector := cfg.DKIM.Selector
	if selector == "" {
		selector = "SELECTOR"
		fmt.Fprintln(stderr, "listserv: dkim.selector is not set: choose one (e.g. \"2026a\"), set it with dkim.key_file in the config, and publish the record under it")
	}
	line, err := dkimsign.ZoneLine(selector, cfg.Domain, key.Public())
	if err != nil {
		fmt.Fprintln(stderr, "listserv:", err)
		return 1
	}
	fmt.Fprintf(stderr, "listserv: wrote a new %s key to %s; publish this DNS record, then set dkim.key_file and dkim.selector:\n", *typ, *out)
	fmt.Fprintln(stdout, line)
	return 0
}

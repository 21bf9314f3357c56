package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"listserv/listserv"
)

// archiveExport writes a group's archive to FILE as an mbox. FILE is
// created (0600: the archive is the group's private history) and must
// not exist.
func archiveExport(args []string) (Action, error) {
	pos, err := parse(flag.NewFlagSet("archive export", flag.ContinueOnError), args, 2, "GROUP FILE")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		f, err := os.OpenFile(pos[1], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		n, err := svc.ExportArchive(ctx, pos[0], f)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(pos[1])
			return err
		}
		fmt.Fprintf(out, "exported %d posts to %s\n", n, pos[1])
		return nil
	}, nil
}

// archiveImport anonymizes the messages of an mbox FILE into a group's
// archive.
func archiveImport(args []string) (Action, error) {
	pos, err := parse(flag.NewFlagSet("archive import", flag.ContinueOnError), args, 2, "GROUP FILE")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, svc *listserv.Service, out io.Writer) error {
		f, err := os.Open(pos[1])
		if err != nil {
			return err
		}
		defer f.Close()
		rep, err := svc.ImportArchive(ctx, pos[0], f)
		if err != nil {
			if rep.Imported > 0 {
				// What was committed stays: say so, so that a second run
				// is not made blindly (it would import those again).
				return fmt.Errorf("%w (stopped after importing %d posts, %d skipped, %d former members added)", err, rep.Imported, rep.Skipped, rep.Authors)
			}
			return err
		}
		fmt.Fprintf(out, "imported %d posts (%d skipped, %d former members added)\n", rep.Imported, rep.Skipped, rep.Authors)
		return nil
	}, nil
}

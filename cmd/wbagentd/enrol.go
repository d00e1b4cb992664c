package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/paths"
	"github.com/writeback-agent/wbagent/agent/seal"
	"github.com/writeback-agent/wbagent/agent/source"
)

// stdin is where enrol reads the credential without --credential-file (tests replace it).
var stdin io.Reader = os.Stdin

// enrolStages says enrol leaves the credential for the service to seal (source.StageCredential)
// instead of sealing it itself: on Windows, where the data key opens only for the service's
// account and enrol runs as an administrator. Tests set it elsewhere.
var enrolStages = runtime.GOOS == "windows"

// maxCredentialFile bounds what enrol reads: a credential is a short token.
const maxCredentialFile = 64 << 10

// enrol is `wbagentd enrol [--data DIR] [--config FILE] [--credential-file FILE]`: it seals
// the platform enrolment credential, read from the file or from standard input (never from
// the command line, which other users of the PC can see), into DIR/source-credential. The
// service reads it at start. On Windows (enrolStages) it leaves it protected in
// DIR/source-credential.pending for the service to seal at its next start.
func enrol(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wbagentd enrol", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var file string
	fs.StringVar(&file, "credential-file", "", "`file` holding the enrolment credential (default: read standard input)")
	var locArgs []string
	fs.Func("data", "data `folder` (default: the machine's data folder)", func(v string) error {
		locArgs = append(locArgs, "--data", v)
		return nil
	})
	fs.Func("config", "configuration `file` (default: DIR/config.toml)", func(v string) error {
		locArgs = append(locArgs, "--config", v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "wbagentd enrol: the credential is never given on the command line: use --credential-file FILE or standard input")
		return exitUsage
	}
	loc, err := parseLocation("enrol", locArgs, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "wbagentd:", err)
		return exitUsage
	}
	if err := enrolAt(loc, file, stdout); err != nil {
		fmt.Fprintln(stderr, "wbagentd: enrol:", err)
		return exitError
	}
	return exitOK
}

func enrolAt(loc location, file string, stdout io.Writer) error {
	in := stdin
	if file != "" && file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("read the credential file: %w", err)
		}
		defer f.Close()
		in = f
	}
	raw, err := io.ReadAll(io.LimitReader(in, maxCredentialFile))
	if err != nil {
		return fmt.Errorf("read the credential: %w", err)
	}
	if err := os.MkdirAll(loc.dataDir, 0o700); err != nil {
		return fmt.Errorf("create the data folder: %w", err)
	}
	if err := paths.Secure(loc.dataDir); err != nil {
		return err
	}
	if enrolStages {
		// The data key opens only for the service's account: the service seals the
		// credential at its next start.
		if err := source.StageCredential(loc.dataDir, string(raw)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wbagentd: the enrolment credential is stored, protected, in %s; the service encrypts it with the data key when it next starts.\n",
			filepath.Join(loc.dataDir, source.PendingCredentialFile))
	} else {
		key, err := seal.LoadOrCreateKey(loc.dataDir)
		if err != nil {
			return err
		}
		sealer, err := seal.New(key)
		if err != nil {
			return err
		}
		if err := source.SealCredential(loc.dataDir, sealer, string(raw)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wbagentd: the enrolment credential is stored encrypted in %s.\n",
			filepath.Join(loc.dataDir, source.CredentialFile))
	}
	if file != "" && file != "-" {
		fmt.Fprintf(stdout, "Delete %s now.\n", file)
	}
	cfg, err := config.Load(loc.files()...)
	var ce *config.Error
	if (err == nil || errors.As(err, &ce)) && cfg.Source.Credential != "" {
		fmt.Fprintf(stdout, "Remove %s from %s: while it is set, it replaces the enrolled credential at every start.\n",
			config.SettingSourceCred, loc.configFile)
	}
	fmt.Fprintln(stdout, "Restart the Writeback Agent service to use it.")
	return nil
}

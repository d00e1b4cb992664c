// Command wbagentd is the Writeback Agent service: the only process that opens the queue.
// It serves the local API (package localapi) to the CLI, the tray and the windows.
//
//	wbagentd run [--data DIR] [--config FILE]      in the foreground (development); Ctrl-C stops it
//	wbagentd service [--data DIR] [--config FILE]  under the service manager (what the installer registers)
//	wbagentd install|uninstall|start|stop [--data DIR] [--config FILE]   for developers
//	wbagentd --check-config [--data DIR] [--config FILE]
//	wbagentd enrol [--data DIR] [--credential-file FILE]  seal the platform enrolment credential (FILE or standard input)
//	wbagentd remove-data [--data DIR]   delete the data folder (the uninstaller, with REMOVE_DATA=1)
//	wbagentd version
//
// DIR defaults to the machine's data folder (%ProgramData%\WritebackAgent, /Library/Application
// Support/WritebackAgent, /var/lib/writeback-agent); the configuration is DIR/install.toml
// (values set at install) overridden by FILE (default DIR/config.toml). Nothing depends on
// the working directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/dropfolder"
	"github.com/writeback-agent/wbagent/agent/logging"
	"github.com/writeback-agent/wbagent/agent/paths"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/source"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const usage = `usage:
  wbagentd run [--data DIR] [--config FILE]      run in the foreground (Ctrl-C stops)
  wbagentd service [--data DIR] [--config FILE]  run under the service manager
  wbagentd install|uninstall|start|stop [--data DIR] [--config FILE]   (developers)
  wbagentd --check-config [--data DIR] [--config FILE]
  wbagentd enrol [--data DIR] [--credential-file FILE]   store the platform enrolment credential
                                                          encrypted (FILE, or standard input)
  wbagentd remove-data [--data DIR]   delete the data folder (what the uninstaller
                                      runs with REMOVE_DATA=1; stop the service first)
  wbagentd version`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	if cmd == "--check-config" || cmd == "-check-config" {
		cmd = "check-config"
	}
	if cmd == "version" {
		fmt.Fprintln(stdout, "wbagentd", version)
		return exitOK
	}
	if cmd == "enrol" || cmd == "enroll" {
		return enrol(rest, stdout, stderr)
	}
	switch cmd {
	case "run", "service", "check-config", "install", "uninstall", "start", "stop", "remove-data":
	default:
		fmt.Fprintf(stderr, "wbagentd: unknown command %q\n%s\n", cmd, usage)
		return exitUsage
	}
	loc, err := parseLocation(cmd, rest, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "wbagentd:", err)
		return exitUsage
	}
	if cmd == "run" || cmd == "service" {
		// The queue allocates several KB per write: a larger GC target halves the
		// collector's runs under load (queue.GCPercent gives the measurements). GOGC, if
		// set, wins.
		queue.TuneGC()
	}
	switch cmd {
	case "check-config":
		return checkConfig(loc, stdout, stderr)
	case "run":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = foreground(ctx, loc, stderr)
	case "service":
		err = underManager(loc)
	case "remove-data":
		err = removeData(loc, stdout)
	default:
		err = control(cmd, loc)
	}
	if err != nil {
		fmt.Fprintln(stderr, "wbagentd:", err)
		return exitError
	}
	return exitOK
}

// location is where the service's files are.
type location struct {
	dataDir    string
	configFile string
	explicit   []string // the flags given, for the service manager to start the service with
}

func parseLocation(cmd string, args []string, stderr io.Writer) (location, error) {
	fs := flag.NewFlagSet("wbagentd "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var loc location
	fs.StringVar(&loc.dataDir, "data", "", "data `folder` (default: the machine's data folder)")
	fs.StringVar(&loc.configFile, "config", "", "configuration `file` (default: DIR/config.toml)")
	if err := fs.Parse(args); err != nil {
		return location{}, err
	}
	if fs.NArg() > 0 {
		return location{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if loc.dataDir == "" {
		dir, err := paths.DataDir()
		if err != nil {
			return location{}, err
		}
		loc.dataDir = dir
	}
	var err error
	if loc.dataDir, err = filepath.Abs(loc.dataDir); err != nil {
		return location{}, err
	}
	if loc.configFile == "" {
		loc.configFile = filepath.Join(loc.dataDir, paths.ConfigFile)
	} else if loc.configFile, err = filepath.Abs(loc.configFile); err != nil {
		return location{}, err
	}
	// The service manager starts the service elsewhere: give it absolute paths.
	if set["data"] {
		loc.explicit = append(loc.explicit, "--data", loc.dataDir)
	}
	if set["config"] {
		loc.explicit = append(loc.explicit, "--config", loc.configFile)
	}
	return loc, nil
}

// files are the configuration files, in the order they are read.
func (l location) files() []string {
	return []string{filepath.Join(l.dataDir, paths.InstallFile), l.configFile}
}

// loadConfig reads the configuration files and, on Windows, the Group Policy values that
// override them (config.PolicyKey).
func loadConfig(loc location) (config.Config, config.Policy, error) {
	policy, err := config.ReadPolicy()
	if err != nil {
		return config.Config{}, nil, err
	}
	cfg, err := config.LoadWithPolicy(policy, loc.files()...)
	return cfg, policy, err
}

// checkConfig is --check-config: every problem with its fix, or the effective configuration.
func checkConfig(loc location, stdout, stderr io.Writer) int {
	cfg, policy, err := loadConfig(loc)
	if err != nil {
		printConfigError(stderr, err)
		return exitError
	}
	text, err := cfg.Redacted().TOML()
	if err != nil {
		fmt.Fprintln(stderr, "wbagentd:", err)
		return exitError
	}
	read := fmt.Sprintf("read %s, then %s", loc.files()[0], loc.files()[1])
	if len(policy) > 0 {
		read += `, then Group Policy (HKLM\` + config.PolicyKey + ")"
	}
	fmt.Fprintf(stdout, "wbagentd: the configuration is valid (%s). In effect, secrets redacted:\n\n%s", read, text)
	return exitOK
}

func printConfigError(w io.Writer, err error) {
	var ce *config.Error
	if !errors.As(err, &ce) {
		fmt.Fprintln(w, "wbagentd:", err)
		return
	}
	fmt.Fprintf(w, "wbagentd: the configuration has %d problem(s):\n", len(ce.Problems))
	for _, p := range ce.Problems {
		fmt.Fprintln(w, "  -", describeProblem(p))
	}
}

// start loads the configuration, opens the log and starts the service. sys, if not nil,
// receives the log's important lines (the system log); console, if not nil, all of them.
func start(loc location, sys logging.SystemLogger, console io.Writer) (*service.Service, func() error, error) {
	cfg, _, err := loadConfig(loc)
	if err != nil {
		return nil, nil, err
	}
	logDir := filepath.Join(loc.dataDir, paths.LogsDir)
	log, closeLog, err := logging.New(logging.Options{Dir: logDir, Level: cfg.LogLevel(), MaxSizeMB: cfg.Log.MaxSizeMB,
		MaxFiles: cfg.Log.MaxFiles, System: sys, Console: console})
	if err != nil {
		return nil, nil, err
	}
	svc, err := service.Start(service.Options{DataDir: loc.dataDir, Config: cfg, Logger: log, LogDir: logDir,
		Version: version, Components: components()})
	if err != nil {
		var unsafe *paths.UnsafeError
		if errors.As(err, &unsafe) {
			// The system log (Event Log) is where IT looks when the service will not start.
			log.Error("the service will not start: a folder is not safe for patient data", "code", paths.CodeUnsafeFolder,
				"folder", unsafe.Path, "problem", unsafe.Problem, "fix", unsafe.Fix)
		}
		log.Error("service did not start", "err", err)
		closeLog()
		return nil, nil, err
	}
	return svc, closeLog, nil
}

// components are the parts plugged into the service: the filing engine with the
// integration watcher, the platform link and the drop folder.
func components() []service.Component {
	return []service.Component{filing{}, source.Component{}, dropfolder.Component{}}
}

// foreground runs the service until ctx ends, logging to the console and the log file.
func foreground(ctx context.Context, loc location, stderr io.Writer) error {
	svc, closeLog, err := start(loc, nil, stderr)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			printConfigError(stderr, err)
			return errors.New("not started: fix the configuration (wbagentd --check-config)")
		}
		return err
	}
	defer closeLog()
	<-ctx.Done()
	return svc.Stop()
}

// Package logging builds the service's structured logger (log/slog): JSON lines to a
// size-rotated file in the data folder, and plain text to the system log (the Windows
// Event Log or the macOS system log, through the service manager's logger) or, in the
// foreground, to the console.
//
// What is logged is the caller's business; the rule for every caller is: codes, counts,
// record ids and job ids, never patient data, tokens or secrets.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"gopkg.in/natefinch/lumberjack.v2"
)

// FileName is the current log file in the logs folder; rotated files are named after it
// with a timestamp.
const FileName = "wbagentd.log"

// SystemLogger is the operating system's log, as the service manager offers it
// (github.com/kardianos/service's Logger has these methods).
type SystemLogger interface {
	Info(v ...any) error
	Warning(v ...any) error
	Error(v ...any) error
}

// Options configure New.
type Options struct {
	Dir       string       // logs folder (created 0700); "" writes no file
	Level     slog.Level   // the least severe level written anywhere
	MaxSizeMB int          // rotate the file at this size
	MaxFiles  int          // keep this many rotated files
	System    SystemLogger // info and above go to the system log; nil for none
	Console   io.Writer    // e.g. os.Stderr in the foreground; nil for none
}

// New returns the logger and a function that closes the log file.
func New(opts Options) (*slog.Logger, func() error, error) {
	var handlers []slog.Handler
	closeFile := func() error { return nil }
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("logging: create %s: %w", opts.Dir, err)
		}
		f := &lumberjack.Logger{
			Filename:   filepath.Join(opts.Dir, FileName),
			MaxSize:    opts.MaxSizeMB,
			MaxBackups: opts.MaxFiles,
		}
		closeFile = f.Close
		handlers = append(handlers, slog.NewJSONHandler(f, &slog.HandlerOptions{Level: opts.Level}))
	}
	if opts.Console != nil {
		handlers = append(handlers, slog.NewTextHandler(opts.Console, &slog.HandlerOptions{Level: opts.Level}))
	}
	if opts.System != nil {
		handlers = append(handlers, newSystemHandler(opts.System, max(opts.Level, slog.LevelInfo)))
	}
	return slog.New(fanout(handlers)), closeFile, nil
}

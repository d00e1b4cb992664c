package logging

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
)

// fanout sends each record to every handler that wants it.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

// newSystemHandler formats records as text without a time (the system log stamps its own)
// and hands each to the system logger's method for its level.
func newSystemHandler(sys SystemLogger, level slog.Level) slog.Handler {
	return slog.NewTextHandler(&systemWriter{sys: sys}, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
}

// systemWriter receives one formatted record per Write (slog's text handler writes each
// record whole), which starts with its level: "level=WARN msg=…".
type systemWriter struct {
	sys SystemLogger
}

func (w *systemWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimRight(p, "\n"))
	level, rest, _ := strings.Cut(line, " ")
	var err error
	switch {
	case strings.HasPrefix(level, "level=ERROR"):
		err = w.sys.Error(rest)
	case strings.HasPrefix(level, "level=WARN"):
		err = w.sys.Warning(rest)
	default:
		err = w.sys.Info(rest)
	}
	return len(p), err
}

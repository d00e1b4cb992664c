// Package dropfolder is the drop folder (source.drop_folder): a folder IT drops
// writeback/v1 files into, for testing, which the service queues exactly as `wbagent
// enqueue` does (package intake: the same validation, the same deduplication on the job id).
//
// The convention (docs/deploying.md): write the file under another name (NAME.json.tmp, or
// anywhere else on the same disk) and rename it to NAME.json when it is complete. Only
// *.json files are read, and only once no change has been seen to them for the settle time,
// so a file copied straight in is read once the copy is done; a file still changing while it
// is read is read again later.
//
// Each file read is moved, never deleted: to processed/ once it is queued (a job id already
// queued counts: queueing is idempotent), or to failed/ with NAME.error.txt beside it
// naming each field at fault and the fix. The error never quotes the document's values. A
// file that could not be read or queued for another reason (the queue stopping, the file
// locked by its writer) stays where it is and is tried again later.
//
// The folder is watched (fsnotify: ReadDirectoryChangesW, kqueue, inotify) and scanned once
// at start, so files left behind while the service was stopped are picked up; it is never
// polled.
package dropfolder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/durable"
	"github.com/writeback-agent/wbagent/agent/intake"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Folder and file names. Serialised (IT relies on them): never change them.
const (
	ProcessedDir = "processed"
	FailedDir    = "failed"
	ErrorSuffix  = ".error.txt"
	Extension    = ".json"
)

// Name is the component's name, also the actor in the queue's audit trail.
const Name = "drop-folder"

// CodeUnavailable is the condition reported when the drop folder cannot be created or
// watched. Serialised: never change it.
const CodeUnavailable = "drop-folder-unavailable"

// DefaultSettle is how long a file must stay unchanged before it is read.
const DefaultSettle = 2 * time.Second

// retryAfter is how long a file that could not be read or queued waits for another try.
const retryAfter = time.Minute

var actor = queue.Actor{Component: Name}

// Component watches the drop folder. Its zero value uses the configuration
// (source.drop_folder); without it the component does nothing.
type Component struct {
	Settle time.Duration // quiet time before a file is read; zero: DefaultSettle
}

// Name implements service.Component.
func (Component) Name() string { return Name }

// Run implements service.Component: it queues the files dropped until ctx ends.
func (c Component) Run(ctx context.Context, env service.Env) error {
	dir := env.Config.Source.DropFolder
	if dir == "" {
		<-ctx.Done()
		return nil
	}
	if c.Settle <= 0 {
		c.Settle = DefaultSettle
	}
	w, err := open(dir)
	if err != nil {
		env.Logger.Error("drop folder unavailable", "folder", dir, "err", err)
		env.Conditions.Set(Name, []condition.Condition{{
			Code: CodeUnavailable, Severity: condition.Warning, Owner: condition.IT,
			Title: "The drop folder cannot be used",
			Fix: "Check that the folder in " + config.SettingDropFolder + " (config.toml) exists on a local disk and the service may write to it, or remove the setting.\n" +
				"Then restart the Writeback Agent service.",
		}})
		<-ctx.Done()
		return nil
	}
	defer w.Close()
	env.Conditions.Set(Name, nil)
	l := &loop{c: c, env: env, dir: dir, timers: map[string]*time.Timer{}, due: make(chan string)}
	defer l.stopTimers()
	l.scan(ctx)
	env.Logger.Info("watching the drop folder", "folder", dir)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("drop folder: watcher closed")
			}
			if ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename|fsnotify.Chmod) != 0 && filepath.Dir(ev.Name) == filepath.Clean(dir) {
				l.schedule(ctx, filepath.Base(ev.Name), c.Settle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("drop folder: watcher closed")
			}
			env.Logger.Warn("drop folder: watch error; scanning the folder", "err", err)
			l.scan(ctx)
		case name := <-l.due:
			delete(l.timers, name)
			l.process(ctx, name)
		}
	}
}

// open creates the drop folder and its subfolders if need be, and watches it.
func open(dir string) (*fsnotify.Watcher, error) {
	for _, d := range []string{dir, filepath.Join(dir, ProcessedDir), filepath.Join(dir, FailedDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("drop folder: create: %w", err)
		}
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("drop folder: watch: %w", err)
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("drop folder: watch: %w", err)
	}
	return w, nil
}

type loop struct {
	c      Component
	env    service.Env
	dir    string
	timers map[string]*time.Timer // files waiting to settle, by name (touched by Run only)
	due    chan string
}

// isDropFile reports whether name is a file to read (NAME.json, any case).
func isDropFile(name string) bool {
	return strings.EqualFold(filepath.Ext(name), Extension) && !strings.HasPrefix(name, ".")
}

// scan schedules every file already in the folder.
func (l *loop) scan(ctx context.Context) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		l.env.Logger.Warn("drop folder: cannot list the folder", "err", err)
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			l.schedule(ctx, e.Name(), l.c.Settle)
		}
	}
}

// schedule reads name after it has been quiet for d (the wait starts again at each change).
func (l *loop) schedule(ctx context.Context, name string, d time.Duration) {
	if !isDropFile(name) {
		return
	}
	if t, ok := l.timers[name]; ok {
		t.Reset(d)
		return
	}
	l.timers[name] = time.AfterFunc(d, func() {
		select {
		case l.due <- name:
		case <-ctx.Done():
		}
	})
}

func (l *loop) stopTimers() {
	for _, t := range l.timers {
		t.Stop()
	}
}

// process reads one file, queues it and moves it.
func (l *loop) process(ctx context.Context, name string) {
	path := filepath.Join(l.dir, name)
	log := l.env.Logger
	before, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return // moved away (by us, or by IT)
	case err != nil:
		log.Warn("drop folder: cannot read a file; trying again later", "err", err)
		l.schedule(ctx, name, retryAfter)
		return
	case !before.Mode().IsRegular():
		return
	case before.Size() > intake.MaxDocumentBytes:
		l.fail(name, fmt.Sprintf("The file is larger than %d bytes, the most a writeback/v1 document may be.\n"+
			"Fix: make the attachments smaller or fewer, then drop the file again.\n", intake.MaxDocumentBytes))
		return
	}
	res, err := l.submit(ctx, path)
	if after, serr := os.Lstat(path); serr != nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		// Still being written: whatever was read is not the file. (Queued regardless if it
		// was valid; the job id deduplicates the next read.)
		l.schedule(ctx, name, l.c.Settle)
		return
	}
	var ve *writeback.ValidationError
	switch {
	case errors.As(err, &ve):
		log.Warn("drop folder: a file is not a valid writeback; moved to failed", "problems", ve.Error())
		l.fail(name, errorText(ve))
	case err != nil:
		if ctx.Err() != nil {
			return
		}
		log.Warn("drop folder: a file could not be queued; trying again later", "err", err, "retryIn", retryAfter)
		l.schedule(ctx, name, retryAfter)
	case res.Conflict:
		log.Warn("drop folder: job id already queued with different content; the first is kept; moved to failed",
			"record", res.ID, "jobId", res.JobID)
		l.fail(name, "A writeback with the jobId of this file is already queued with different content; the one queued first is kept.\n"+
			"Fix: give this writeback a new jobId, then drop the file again.\n")
	default:
		log.Info("writeback queued from the drop folder", "record", res.ID, "jobId", res.JobID, "created", res.Created)
		if _, err := l.move(name, ProcessedDir, ""); err != nil {
			log.Error("drop folder: a queued file could not be moved to processed", "err", err)
		}
	}
}

// submit queues the file at path through intake (the same path as wbagent enqueue).
func (l *loop) submit(ctx context.Context, path string) (queue.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return queue.Result{}, fmt.Errorf("drop folder: open: %w", err)
	}
	defer f.Close()
	return intake.Submit(ctx, l.env.Queue, io.LimitReader(f, intake.MaxDocumentBytes+1), actor)
}

// errorText is the content of NAME.error.txt: each problem, naming the field and the fix.
func errorText(ve *writeback.ValidationError) string {
	var b strings.Builder
	b.WriteString("This file was not queued: it is not a valid writeback/v1 document (docs/writeback.schema.json).\n\n")
	for _, p := range ve.Problems {
		b.WriteString("- ")
		b.WriteString(p.String())
		b.WriteString("\n")
	}
	b.WriteString("\nFix each problem above, then drop the corrected file into the drop folder again.\n")
	return b.String()
}

// fail moves name to failed/, with the error text beside it.
func (l *loop) fail(name, text string) {
	if _, err := l.move(name, FailedDir, text); err != nil {
		l.env.Logger.Error("drop folder: an invalid file could not be moved to failed", "err", err)
	}
}

// move moves name into sub, under a new name if one of that name is already there, having
// first written errText (if any) beside where it goes. It returns the name it was given.
func (l *loop) move(name, sub, errText string) (string, error) {
	base := strings.TrimSuffix(name, filepath.Ext(name))
	ext := filepath.Ext(name)
	target := name
	for i := 2; ; i++ {
		_, err1 := os.Lstat(filepath.Join(l.dir, sub, target))
		_, err2 := os.Lstat(filepath.Join(l.dir, sub, strings.TrimSuffix(target, ext)+ErrorSuffix))
		if errors.Is(err1, fs.ErrNotExist) && errors.Is(err2, fs.ErrNotExist) {
			break
		}
		target = base + "-" + strconv.Itoa(i) + ext
	}
	if errText != "" {
		errPath := filepath.Join(l.dir, sub, strings.TrimSuffix(target, ext)+ErrorSuffix)
		if err := durable.WriteFile(errPath, []byte(errText), 0o600); err != nil {
			return "", fmt.Errorf("drop folder: write %s: %w", filepath.Base(errPath), err)
		}
	}
	if err := os.Rename(filepath.Join(l.dir, name), filepath.Join(l.dir, sub, target)); err != nil {
		return "", fmt.Errorf("drop folder: move to %s: %w", sub, err)
	}
	return target, nil
}

// Package config is the service's configuration: one TOML file IT edits (config.toml), on
// top of the values IT set at install (install.toml, written by the installer), on top of
// defaults. It is validated at start, and every problem names the setting, the file it
// belongs in and the fix.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Setting names, as written in the file. Serialised: never change them.
const (
	SettingIssuer        = "clinical.issuer"
	SettingClientID      = "clinical.client_id"
	SettingScopes        = "clinical.scopes"
	SettingAPIURL        = "clinical.api_url"
	SettingApplicationID = "clinical.application_id"
	SettingSocket        = "local_api.socket"
	SettingLogLevel      = "log.level"
	SettingLogMaxSizeMB  = "log.max_size_mb"
	SettingLogMaxFiles   = "log.max_files"
	SettingRetentionDays = "queue.retention_days"
	SettingPracticeODS   = "practice.ods"
	SettingSourceURL     = "source.url"
	SettingSourceCred    = "source.credential"
	SettingSourcePoll    = "source.poll_seconds"
	SettingDropFolder    = "source.drop_folder"
)

// Redacted replaces secret values in Redacted's output.
const Redacted = "REDACTED"

// Config is the whole configuration.
type Config struct {
	Practice Practice `toml:"practice"`
	Clinical Clinical `toml:"clinical"`
	LocalAPI LocalAPI `toml:"local_api"`
	Log      Log      `toml:"log"`
	Queue    Queue    `toml:"queue"`
	Source   Source   `toml:"source"`
	EMIS     EMIS     `toml:"emis"` // emis.go
	Watch    Watch    `toml:"watch"`
}

// Source says where writebacks come from: the online consultation platform
// (docs/platform-api.md). Without url the agent pulls nothing (writebacks arrive only
// through wbagent enqueue).
type Source struct {
	// URL is the platform's base address (the API is under URL/platform/v1).
	URL string `toml:"url"`
	// Credential is the enrolment credential the platform issued to this installation, the
	// old way: the service now keeps it sealed in the data folder (wbagentd enrol), and one
	// found here is sealed there at start, with a warning to remove it from the file. It is
	// a secret: redacted in diagnostics, never logged.
	Credential string `toml:"credential"`
	// PollSeconds is how often the platform is asked for new writebacks (default 30).
	PollSeconds int `toml:"poll_seconds"`
	// DropFolder, if set, is an absolute path to a folder IT drops writeback/v1 files into,
	// for testing (package dropfolder, docs/deploying.md). The service creates it.
	DropFolder string `toml:"drop_folder"`
}

// Practice identifies the GP practice this PC belongs to.
type Practice struct {
	// ODS is the practice's ODS code (e.g. A12345). Writebacks for another practice are
	// never filed here, and filings are made for this organisation.
	ODS string `toml:"ods"`
}

// Clinical says how to reach the clinical system.
type Clinical struct {
	// Issuer is the OpenID Connect issuer clinicians sign in at (linking).
	Issuer string `toml:"issuer"`
	// ClientID is the agent's public OAuth client id at the issuer.
	ClientID string `toml:"client_id"`
	// Scopes are requested when a clinician links; they must include openid and
	// offline_access (the service refreshes tokens without the clinician).
	Scopes []string `toml:"scopes"`
	// APIURL is the base URL of the clinical system's API (the EMIS-X Partner API).
	APIURL string `toml:"api_url"`
	// ApplicationID identifies the agent to the clinical system's API (the applicationId
	// header). It is treated as a secret: redacted in diagnostics, never logged.
	ApplicationID string `toml:"application_id"`
}

// LocalAPI configures the local API.
type LocalAPI struct {
	// Socket overrides where the local API listens (a socket path, or \\.\pipe\NAME on
	// Windows). Empty: the platform's default.
	Socket string `toml:"socket"`
}

// Log configures the log file.
type Log struct {
	Level     string `toml:"level"` // debug, info, warn or error
	MaxSizeMB int    `toml:"max_size_mb"`
	MaxFiles  int    `toml:"max_files"`
}

// Queue configures the writeback queue.
type Queue struct {
	// RetentionDays is how long filed, rejected and cancelled writebacks keep their patient
	// content before it is wiped.
	RetentionDays int `toml:"retention_days"`
}

// DefaultScopes are requested when clinical.scopes is not set: OpenID Connect with a
// refresh token, and the Partner API operations the agent uses.
var DefaultScopes = []string{"openid", "profile", "offline_access",
	"papi-cr.write", "papi-cr.read", "papi-subjects.read", "papi-config.read"}

// Default returns the defaults of every setting that has one.
func Default() Config {
	return Config{
		Clinical: Clinical{Scopes: DefaultScopes},
		Log:      Log{Level: "info", MaxSizeMB: 10, MaxFiles: 5},
		Queue:    Queue{RetentionDays: 30},
		Source:   Source{PollSeconds: 30},
		EMIS:     DefaultEMIS(),
		Watch:    Watch{ProbeSeconds: DefaultWatchProbeSeconds},
	}
}

// LogLevel returns log.level as a slog level (validated by Load).
func (c Config) LogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Log.Level)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Retention returns queue.retention_days as a duration.
func (c Config) Retention() time.Duration {
	return time.Duration(c.Queue.RetentionDays) * 24 * time.Hour
}

// Redacted returns c with its secrets replaced by Redacted, for diagnostics.
func (c Config) Redacted() Config {
	if c.Clinical.ApplicationID != "" {
		c.Clinical.ApplicationID = Redacted
	}
	if c.Source.Credential != "" {
		c.Source.Credential = Redacted
	}
	return c
}

// TOML returns c as a TOML document.
func (c Config) TOML() ([]byte, error) {
	var b bytes.Buffer
	enc := toml.NewEncoder(&b)
	enc.SetIndentTables(true)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	return b.Bytes(), nil
}

// Load reads the files in order, each overriding the settings it sets (a file that does not
// exist is skipped), over the defaults, and validates the result. Errors are an *Error
// listing every problem; the last file is the one problems tell IT to edit.
func Load(files ...string) (Config, error) {
	return LoadWithPolicy(nil, files...)
}

// LoadWithPolicy is Load with the Group Policy values p (ReadPolicy) overriding every file.
// A problem with a value p sets names the policy value.
func LoadWithPolicy(p Policy, files ...string) (Config, error) {
	cfg := Default()
	l := loader{source: map[string]string{}}
	if len(files) > 0 {
		l.editFile = files[len(files)-1]
	}
	for _, f := range files {
		l.read(f, &cfg)
	}
	l.applyPolicy(p, &cfg)
	if !l.unreadable {
		l.validate(cfg)
	}
	if len(l.problems) > 0 {
		return cfg, &Error{Problems: l.problems}
	}
	return cfg, nil
}

// Problem is one thing wrong with the configuration.
type Problem struct {
	Setting string // e.g. "clinical.issuer"; "" for the file as a whole
	File    string // the file that sets it, or should
	Message string // what is wrong (never a secret's value)
	Fix     string // how to put it right
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Setting != "" {
		b.WriteString(p.Setting)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.File != "" {
		fmt.Fprintf(&b, " (in %s)", p.File)
	}
	if p.Fix != "" {
		b.WriteString(". Fix: ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

// Error lists the problems found in a configuration.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "config: " + strings.Join(lines, "; ")
}

// loader collects problems while reading and validating.
type loader struct {
	editFile   string
	source     map[string]string // setting → the file that set it last
	problems   []Problem
	unreadable bool // a file could not be read or decoded: its values are not known
}

func (l *loader) read(file string, cfg *Config) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		l.unreadable = true
		l.problems = append(l.problems, Problem{File: file, Message: fmt.Sprintf("cannot read the file: %v", err),
			Fix: "check the file exists and the service may read it"})
		return
	}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		l.decodeProblems(file, err)
		return
	}
	var keys map[string]any
	if err := toml.Unmarshal(data, &keys); err == nil {
		for _, k := range flatten("", keys) {
			l.source[k] = file
		}
	}
}

func (l *loader) decodeProblems(file string, err error) {
	var strict *toml.StrictMissingError
	var de *toml.DecodeError
	switch {
	case errors.As(err, &strict):
		// Everything else was decoded: the known settings are still checked.
		for _, e := range strict.Errors {
			l.problems = append(l.problems, Problem{Setting: strings.Join(e.Key(), "."), File: file,
				Message: "not a setting Writeback Agent knows",
				Fix:     "correct its name or remove it (docs/deploying.md lists the settings)"})
		}
	case errors.As(err, &de):
		l.unreadable = true
		row, col := de.Position()
		l.problems = append(l.problems, Problem{Setting: strings.Join(de.Key(), "."), File: file,
			Message: fmt.Sprintf("line %d, column %d: %s", row, col, strings.TrimPrefix(de.Error(), "toml: ")),
			Fix:     "correct the TOML syntax or the value's type"})
	default:
		l.unreadable = true
		l.problems = append(l.problems, Problem{File: file, Message: err.Error(), Fix: "correct the TOML syntax"})
	}
}

// flatten returns the dotted names of the leaf settings in m.
func flatten(prefix string, m map[string]any) []string {
	var keys []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			keys = append(keys, flatten(prefix+k+".", sub)...)
			continue
		}
		keys = append(keys, prefix+k)
	}
	return keys
}

// problem records that setting is wrong.
func (l *loader) problem(setting, message, fix string) {
	file := l.source[setting]
	if file == "" {
		file = l.editFile
	}
	l.problems = append(l.problems, Problem{Setting: setting, File: file, Message: message, Fix: fix})
}

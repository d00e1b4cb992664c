package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/durable"
	"github.com/writeback-agent/wbagent/agent/paths"
	"github.com/writeback-agent/wbagent/agent/seal"
	"github.com/writeback-agent/wbagent/agent/source"
)

// installProperty is one MSI property IT may give at install (docs/deploying.md lists them),
// the registry value the MSI writes it to, and the setting of install.toml it becomes.
// Serialised (MSI command lines, the registry, install.toml): never change the names.
type installProperty struct {
	Property string // the MSI property, e.g. PRACTICE_ODS
	Value    string // the registry value under installKey (or secretKey)
	Setting  string // the install.toml setting; "" for ENROLMENT_CODE (sealed, not a setting)
	Secret   bool   // written under secretKey, deleted once moved into the data folder
}

// The registry keys the MSI writes the properties to (under HKLM, 64-bit view).
const (
	installKey = `SOFTWARE\Writeback Agent\Install`
	secretKey  = `SOFTWARE\Writeback Agent\InstallSecrets`
)

// enrolmentProperty is the platform enrolment code: sealed into the data folder on the
// service's first start after install, then deleted from the registry.
const enrolmentProperty = "ENROLMENT_CODE"

var installProperties = []installProperty{
	{Property: "PRACTICE_ODS", Value: "PracticeODS", Setting: config.SettingPracticeODS},
	{Property: "CLINICAL_API_URL", Value: "ClinicalAPIURL", Setting: config.SettingAPIURL},
	{Property: "CLINICAL_ISSUER", Value: "ClinicalIssuer", Setting: config.SettingIssuer},
	{Property: "CLINICAL_CLIENT_ID", Value: "ClinicalClientID", Setting: config.SettingClientID},
	{Property: "APPLICATION_ID", Value: "ApplicationID", Setting: config.SettingApplicationID, Secret: true},
	{Property: "PLATFORM_URL", Value: "PlatformURL", Setting: config.SettingSourceURL},
	{Property: "LOCAL_API_PIPE", Value: "LocalAPIPipe", Setting: config.SettingSocket},
	{Property: "DROP_FOLDER", Value: "DropFolder", Setting: config.SettingDropFolder},
	{Property: enrolmentProperty, Value: "EnrolmentCode", Secret: true},
}

// propertyFor returns the MSI property that sets setting, or "".
func propertyFor(setting string) string {
	for _, p := range installProperties {
		if p.Setting != "" && p.Setting == setting {
			return p.Property
		}
	}
	return ""
}

// describeProblem names a configuration problem for IT, with the MSI property that sets
// the setting when there is one: "PRACTICE_ODS (practice.ods): …".
func describeProblem(p config.Problem) string {
	if prop := propertyFor(p.Setting); prop != "" && p.File != "" && filepath.Base(p.File) == paths.InstallFile {
		return fmt.Sprintf("MSI property %s (%s)", prop, p)
	}
	return p.String()
}

// mergeInstallTOML returns install.toml with the settings in values (setting → value) set
// over those of existing (the file as it was, or nil). An empty value leaves the setting as
// it was: an upgrade or repair given no properties keeps what the first install set.
func mergeInstallTOML(existing []byte, values map[string]string) ([]byte, error) {
	doc := map[string]any{}
	if len(bytes.TrimSpace(existing)) > 0 {
		if err := toml.Unmarshal(existing, &doc); err != nil {
			return nil, fmt.Errorf("read the existing %s: %w", paths.InstallFile, err)
		}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, setting := range keys {
		v := strings.TrimSpace(values[setting])
		if v == "" {
			continue
		}
		table, name, ok := strings.Cut(setting, ".")
		if !ok {
			return nil, fmt.Errorf("setting %q has no table", setting)
		}
		t, _ := doc[table].(map[string]any)
		if t == nil {
			t = map[string]any{}
			doc[table] = t
		}
		t[name] = v
	}
	var b bytes.Buffer
	b.WriteString("# Values IT set at install (MSI properties), written by the Writeback Agent service.\n" +
		"# Edit config.toml instead: it overrides this file, which the next install may rewrite.\n")
	enc := toml.NewEncoder(&b)
	enc.SetIndentTables(true)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("write %s: %w", paths.InstallFile, err)
	}
	return b.Bytes(), nil
}

// applyInstallSettings moves what the installer left (MSI property → value; empty or absent:
// not given) into the data folder: the settings into DIR/install.toml, the enrolment code
// sealed into DIR/source-credential. It first checks the configuration they make together
// with configFile: if that has problems, nothing is written and the *config.Error returned
// names install.toml for the settings the properties set (describeProblem names the
// properties). It returns the properties applied, for the log (names only, never values).
func applyInstallSettings(dataDir, configFile string, props map[string]string) ([]string, error) {
	values := map[string]string{}
	var applied []string
	for _, p := range installProperties {
		v := strings.TrimSpace(props[p.Property])
		if v == "" || p.Setting == "" {
			continue
		}
		values[p.Setting] = v
		applied = append(applied, p.Property)
	}
	code := strings.TrimSpace(props[enrolmentProperty])
	if len(values) == 0 && code == "" {
		return nil, nil
	}
	if err := paths.Secure(dataDir); err != nil {
		return nil, err
	}
	if len(values) > 0 {
		file := filepath.Join(dataDir, paths.InstallFile)
		old, err := os.ReadFile(file)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		merged, err := mergeInstallTOML(old, values)
		if err != nil {
			return nil, err
		}
		candidate := file + ".new"
		if err := durable.WriteFile(candidate, merged, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", candidate, err)
		}
		if _, err := config.Load(candidate, configFile); err != nil {
			os.Remove(candidate)
			var ce *config.Error
			if errors.As(err, &ce) {
				for i := range ce.Problems {
					if ce.Problems[i].File == candidate {
						ce.Problems[i].File = file
					}
				}
			}
			return nil, err
		}
		if err := durable.Rename(candidate, file); err != nil {
			return nil, fmt.Errorf("replace %s: %w", file, err)
		}
	}
	if code != "" {
		key, err := seal.LoadOrCreateKey(dataDir)
		if err != nil {
			return nil, err
		}
		sealer, err := seal.New(key)
		if err != nil {
			return nil, err
		}
		if err := source.SealCredential(dataDir, sealer, code); err != nil {
			return nil, fmt.Errorf("MSI property %s: %w", enrolmentProperty, err)
		}
		applied = append(applied, enrolmentProperty)
	}
	return applied, nil
}

// removeData is `wbagentd remove-data [--data DIR]`: the uninstaller runs it, once the
// service has stopped, when IT gives REMOVE_DATA=1. It deletes the data folder: queued
// writebacks, links, the sealed credential, configuration and logs.
func removeData(loc location, stdout io.Writer) error {
	// The service must have let go of its files: the uninstaller stops it first, but make sure
	// (IT may run this by hand), and give a stopping process a few seconds to close them.
	if err := stopServiceForRemoval(); err != nil {
		return err
	}
	var err error
	for range 20 {
		if err = removeTree(loc.dataDir); err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("remove the data folder %s: %w", loc.dataDir, err)
	}
	fmt.Fprintf(stdout, "wbagentd: removed the data folder %s\n", loc.dataDir)
	return nil
}

// removeTree removes dir and everything in it with plain deletes, deepest first (os.RemoveAll
// on Windows uses file-system calls Wine does not implement). A dir that does not exist is
// not an error.
func removeTree(dir string) error {
	var all []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		all = append(all, path)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if err := os.Remove(all[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

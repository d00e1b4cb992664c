// Command devstack does the JSON work of scripts/dev-stack.sh, so the script needs no jq or
// curl: it reads the simulated practice's admin API and writes the agent's configuration,
// names the clinician to link, and builds example writebacks to feed the agent.
//
//	devstack wait URL                              wait (up to 30 s) until URL answers 200
//	devstack config SIM_URL SIM_ADMIN_URL SOCKET   print the agent's config.toml for the simulator
//	devstack credential SIM_ADMIN_URL              print the simulated platform's enrolment credential
//	devstack clinician SIM_ADMIN_URL               print "USERID USERNAME PASSWORD" of a GP who can file
//	devstack feed SIM_ADMIN_URL CLINICIAN_ID N DIR write N writebacks to DIR and print their paths
//	devstack platform-feed SIM_ADMIN_URL CLINICIAN_ID N
//	                                               have the simulated platform offer N writebacks, and
//	                                               wait (up to 120 s) until the agent acknowledged them
//
// It is development tooling: nothing in the product uses it.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/writeback-agent/wbagent/agent/writeback"
	"github.com/writeback-agent/wbagent/docs"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: devstack wait|config|credential|clinician|feed ...")
	}
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "wait" && len(rest) == 1:
		return wait(rest[0])
	case cmd == "config" && len(rest) == 3:
		return printConfig(rest[0], rest[1], rest[2])
	case cmd == "credential" && len(rest) == 1:
		return printCredential(rest[0])
	case cmd == "clinician" && len(rest) == 1:
		u, err := clinician(rest[0])
		if err != nil {
			return err
		}
		fmt.Println(u.UserID, u.Username, u.Password)
		return nil
	case cmd == "feed" && len(rest) == 4:
		n, err := strconv.Atoi(rest[2])
		if err != nil || n < 0 {
			return fmt.Errorf("feed: %q is not a count", rest[2])
		}
		return feed(rest[0], rest[1], n, rest[3])
	case cmd == "platform-feed" && len(rest) == 3:
		n, err := strconv.Atoi(rest[2])
		if err != nil || n < 1 {
			return fmt.Errorf("platform-feed: %q is not a count", rest[2])
		}
		return platformFeed(rest[0], rest[1], n)
	}
	return fmt.Errorf("unknown command or wrong arguments: %s", strings.Join(args, " "))
}

var hc = &http.Client{Timeout: 10 * time.Second}

func getJSON(url string, v any) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func wait(url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within 30 s (last: %v)", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// info is what GET /admin/info says (the fields used here).
type info struct {
	ApplicationID   string `json:"applicationId"`
	DesktopClientID string `json:"desktopClientId"`
	ODSCode         string `json:"odsCode"`
}

func printConfig(simURL, adminURL, socket string) error {
	var in info
	if err := getJSON(adminURL+"/info", &in); err != nil {
		return err
	}
	fmt.Printf(`# Writeback Agent configured for the simulated practice (written by scripts/dev-stack.sh).
[practice]
ods = %q

[clinical]
issuer = %q
client_id = %q
api_url = %q
application_id = %q

[local_api]
socket = %q

[log]
level = "debug"

# The simulated online consultation platform (docs/platform-api.md), in practicesim. Its
# enrolment credential is sealed into the data folder by wbagentd enrol, as IT does it.
[source]
url = %q
poll_seconds = 2
`, in.ODSCode, simURL, in.DesktopClientID, simURL, in.ApplicationID, socket, simURL)
	return nil
}

// printCredential prints the simulated platform's enrolment credential, for wbagentd enrol.
func printCredential(adminURL string) error {
	var plat struct {
		Credential string `json:"credential"`
	}
	if err := getJSON(adminURL+"/platform/info", &plat); err != nil {
		return err
	}
	fmt.Println(plat.Credential)
	return nil
}

// user is a member of staff as GET /admin/users lists them (the fields used here).
type user struct {
	UserID      int32  `json:"userId"`
	Username    string `json:"username"`
	Password    string `json:"password"`
	Name        string `json:"name"`
	JobCategory string `json:"jobCategory"`
	Locum       bool   `json:"locum"`
	Enabled     bool   `json:"enabled"`
	AllowLogin  bool   `json:"allowLogin"`
	AutoLogin   bool   `json:"autoLogin"`
	Active      bool   `json:"active"`
}

// clinician returns the first salaried GP whose access is fully set up.
func clinician(adminURL string) (user, error) {
	var users []user
	if err := getJSON(adminURL+"/users", &users); err != nil {
		return user{}, err
	}
	for _, u := range users {
		if strings.Contains(u.JobCategory, "Practitioner") && !u.Locum && u.Enabled && u.AllowLogin && u.AutoLogin && u.Active {
			return u, nil
		}
	}
	return user{}, errors.New("no GP with full access in the simulated practice")
}

// patient is a patient as GET /admin/patients lists them (the fields used here).
type patient struct {
	NHSNumber   string `json:"nhsNumber"`
	FamilyName  string `json:"familyName"`
	GivenNames  string `json:"givenNames"`
	DateOfBirth string `json:"dateOfBirth"`
	Sex         string `json:"sex"`
	Deceased    bool   `json:"deceased"`
	Registered  bool   `json:"registered"`
}

var sexes = map[string]string{"M": "male", "F": "female", "U": "unknown"}

// feed writes n writebacks built from docs/examples/writeback.json: each for a registered,
// living patient with an NHS number, by the clinician, with a job id of its own.
func feed(adminURL, clinicianID string, n int, dir string) error {
	var in info
	if err := getJSON(adminURL+"/info", &in); err != nil {
		return err
	}
	var author user
	if err := getJSON(adminURL+"/users/"+clinicianID, &author); err != nil {
		return err
	}
	var all []patient
	if err := getJSON(adminURL+"/patients", &all); err != nil {
		return err
	}
	var patients []patient
	for _, p := range all {
		if p.Registered && !p.Deceased && p.NHSNumber != "" {
			patients = append(patients, p)
		}
	}
	if len(patients) == 0 {
		return errors.New("no registered, living patient with an NHS number")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	stamp := time.Now().UTC().Format("20060102T150405")
	for i := range n {
		doc, err := writeback.DecodeBytes(docs.ExampleWriteback)
		if err != nil {
			return fmt.Errorf("the example writeback: %w", err)
		}
		p := patients[(i*37)%len(patients)] // spread over the list
		doc.JobID = fmt.Sprintf("devstack-%s-%d", stamp, i+1)
		doc.PracticeODS = in.ODSCode
		doc.Author = writeback.Author{ClinicalUserID: strconv.Itoa(int(author.UserID)), DisplayName: author.Name}
		doc.Patient = writeback.Patient{NHSNumber: p.NHSNumber, FamilyName: p.FamilyName, GivenNames: p.GivenNames,
			DateOfBirth: p.DateOfBirth, Sex: sexes[p.Sex], IdentityVerified: true}
		doc.CreatedAt = time.Now().UTC().Truncate(time.Second)
		b, err := writeback.Marshal(doc)
		if err != nil {
			return err
		}
		if _, err := writeback.DecodeBytes(b); err != nil {
			return fmt.Errorf("writeback %d: %w", i+1, err)
		}
		path := filepath.Join(dir, doc.JobID+".json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
		fmt.Println(path)
	}
	return nil
}

// platformFeed asks the simulated platform for n writebacks by the clinician, then waits
// until the agent has pulled and acknowledged them (they are durably queued by then).
func platformFeed(adminURL, clinicianID string, n int) error {
	id, err := strconv.Atoi(clinicianID)
	if err != nil {
		return fmt.Errorf("platform-feed: %q is not a clinician id", clinicianID)
	}
	body, _ := json.Marshal(map[string]int{"count": n, "clinicianId": id})
	resp, err := http.Post(adminURL+"/platform/feed", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	var fed struct {
		JobIDs []string `json:"jobIds"`
		Error  string   `json:"error"`
	}
	err = json.NewDecoder(resp.Body).Decode(&fed)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("platform-feed: %s %s", resp.Status, fed.Error)
	}
	want := map[string]bool{}
	for _, j := range fed.JobIDs {
		want[j] = true
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		var jobs []struct {
			JobID string `json:"jobId"`
			Acked bool   `json:"acked"`
		}
		if err := getJSON(adminURL+"/platform/jobs", &jobs); err != nil {
			return err
		}
		acked := 0
		for _, j := range jobs {
			if want[j.JobID] && j.Acked {
				acked++
			}
		}
		if acked == len(want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("platform-feed: the agent acknowledged %d of %d writebacks in 120 s", acked, len(want))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

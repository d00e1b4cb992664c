package watch

import (
	"strconv"
	"strings"

	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/condition"
)

// Condition codes the watcher reports. Serialised (local API, CLI --json, metrics labels):
// never change a value.
const (
	CodeUnreachable             = "clinical-system-unreachable"
	CodeApplicationNotActivated = "application-not-activated"
	CodeUserNotEnabled          = "user-not-enabled"
	CodeLoginAccess             = "login-access-missing"
	CodeAccountDisabled         = "clinical-account-disabled"
	CodeSessionPredatesAccess   = "session-predates-access-change"
	CodeSessionEnded            = "clinical-session-ended"
	CodeRoleCannotFile          = "role-cannot-file"
	CodeAuthorNotLinked         = "author-not-linked"
	CodeUserIDUnknown           = "clinical-user-id-unknown"
	CodeLinkChanged             = "linked-user-changed"
	CodeWrongPractice           = "wrong-practice"
	CodeAccessDenied            = "clinical-access-denied"
)

// Codes lists every condition code the watcher reports.
var Codes = []string{CodeUnreachable, CodeApplicationNotActivated, CodeUserNotEnabled, CodeLoginAccess,
	CodeAccountDisabled, CodeSessionPredatesAccess, CodeSessionEnded, CodeRoleCannotFile, CodeAuthorNotLinked,
	CodeUserIDUnknown, CodeLinkChanged, CodeWrongPractice, CodeAccessDenied}

// SystemCodes are the codes that concern every clinician at once (the clinical system, the
// application, the practice), whoever they name.
var SystemCodes = []string{CodeUnreachable, CodeApplicationNotActivated, CodeWrongPractice}

// Source is the name the watcher reports under on the condition board.
const Source = "watch"

// codeFor returns the condition code for a failed probe or a paused author, and "" for an
// error that is not a condition of the integration (a bad request is the agent's own bug,
// reported on the records it affects).
func codeFor(err *clinical.Error) string {
	switch err.Kind {
	case clinical.ErrTransient, clinical.ErrTokenExpired:
		return CodeUnreachable
	case clinical.ErrApplicationNotActivated:
		return CodeApplicationNotActivated
	case clinical.ErrNoLoginAccess:
		switch err.Cause {
		case "user-not-enabled":
			return CodeUserNotEnabled
		case "user-inactive":
			return CodeAccountDisabled
		default:
			return CodeLoginAccess
		}
	case clinical.ErrInsufficientRole:
		return CodeRoleCannotFile
	case clinical.ErrRelinkNeeded:
		if err.Cause == "session-predates-access-change" {
			return CodeSessionPredatesAccess
		}
		return CodeSessionEnded
	case clinical.ErrNotLinked:
		return CodeAuthorNotLinked
	case clinical.ErrUserNotFound:
		return CodeUserIDUnknown
	case clinical.ErrWrongPractice:
		return CodeWrongPractice
	case clinical.ErrAccessDenied:
		return CodeAccessDenied
	}
	return ""
}

// emasPath is where the Partner API settings are in EMIS Web, as the practice guides say.
const emasPath = "In EMIS Web: EMIS button > System Tools > EMAS Manager > Partner API (tab, bottom left), " +
	"then select the Writeback Agent application in the list on the left."

// describe returns the condition for code, naming the clinicians it concerns (staff names
// and clinical user ids: never patient data). vision selects the texts for Vision practices.
func describe(code string, who []string, vision bool) condition.Condition {
	names := strings.Join(who, ", ")
	n := len(who)
	c := condition.Condition{Code: code}
	switch code {
	case CodeUnreachable:
		c.Severity, c.Owner = condition.Warning, condition.IT
		c.Title = "The clinical system cannot be reached: filing waits, nothing is lost"
		c.Fix = "Nothing is lost: writebacks stay queued and are filed once the clinical system answers again; nobody needs to resend anything.\n" +
			"Check that this PC is on the network and can reach the clinical system (open EMIS Web on this PC).\n" +
			"If the clinical system is down for everyone, wait for the supplier to restore it (check its service status page).\n" +
			"If only this PC is affected, ask IT to check the network, proxy and firewall for the Partner API address in the agent's configuration (clinical.api_url)."
	case CodeApplicationNotActivated:
		c.Severity, c.Owner = condition.Blocking, condition.PracticeManager
		c.Title = "The Writeback Agent application is not activated in EMAS Manager (Partner API)"
		c.Fix = emasPath + "\n" +
			"If it has no green tick, click Activate Application (top left).\n" +
			"If it is ticked but filing still fails, it has become deactivated: click Deactivate Application, then Activate Application, to reset it.\n" +
			"This needs someone in the practice with full administrative rights; filing resumes by itself within minutes."
	case CodeUserNotEnabled:
		c.Severity, c.Owner = condition.Blocking, condition.PracticeManager
		c.Title = plural(n, "clinician is", "clinicians are") + " not enabled for the Writeback Agent application: " + names
		c.Fix = emasPath + "\n" +
			"Click Edit Users (top row), tick each clinician named above, click OK.\n" +
			"Check Login Access too (Allow Login and Auto Login ticked for each of them).\n" +
			"Each of them then logs out of EMIS Web and back in for the change to take effect."
	case CodeLoginAccess:
		c.Severity, c.Owner = condition.Blocking, condition.PracticeManager
		c.Title = plural(n, "clinician lacks", "clinicians lack") + " Login Access for the Writeback Agent application: " + names
		c.Fix = emasPath + "\n" +
			"Click Login Access (along the top), scroll to each clinician named above and tick both Allow Login and Auto Login, click OK.\n" +
			"Each of them then logs out of EMIS Web and back in for the change to take effect."
	case CodeAccountDisabled:
		c.Severity, c.Owner = condition.Blocking, condition.PracticeManager
		c.Title = plural(n, "clinician's", "clinicians'") + " clinical system account is disabled: " + names
		c.Fix = "In EMIS Web: Configuration > Organisation Configuration, find each clinician named above and make their user account active again.\n" +
			"If they have left the practice, cancel their waiting writebacks instead (wbagent queue list; wbagent cancel ID)."
	case CodeSessionPredatesAccess:
		c.Severity, c.Owner = condition.Blocking, condition.Clinician
		c.Title = plural(n, "clinician must", "clinicians must") + " sign in again since their access changed: " + names
		c.Fix = "Access to the Writeback Agent application was granted after the clinician last signed in, and the clinical system only applies it at the next sign-in.\n" +
			"Each clinician named above should log out of the clinical system and back in (refresh the session),\n" +
			"then open Writeback Agent and choose Link account (or run: wbagent link) and sign in."
	case CodeSessionEnded:
		c.Severity, c.Owner = condition.Blocking, condition.Clinician
		c.Title = plural(n, "clinician's", "clinicians'") + " sign-in is no longer accepted by the clinical system: " + names
		c.Fix = "The sign-in was ended, revoked or has expired.\n" +
			"Each clinician named above opens Writeback Agent and chooses Link account (or runs: wbagent link) and signs in again."
	case CodeRoleCannotFile:
		c.Severity, c.Owner = condition.Blocking, condition.PracticeManager
		c.Title = plural(n, "clinician's", "clinicians'") + " role cannot file into patient records: " + names
		c.Fix = "In EMIS Web: Configuration > Organisation Configuration, open each clinician named above, User Role Profiles:\n" +
			"give their default profile the RBAC role \"Manage Detailed Health Records B8029\" or \"Perform Detailed Health Record B0380\", and make sure 'Default' is ticked on a profile that can file to patient records.\n" +
			"Each of them then logs out of EMIS Web and back in. The warning clears once one of their filings succeeds."
		if vision {
			c.Fix = "In Vision: make each clinician named above a member of the 'Clinicians' user group (Partner, Assistant, Locum, GP Registrar, Practice Nurse and other health care professional user types can file).\n" +
				"The warning clears once one of their filings succeeds."
		}
	case CodeAuthorNotLinked:
		c.Severity, c.Owner = condition.Warning, condition.Clinician
		c.Title = "Writebacks are waiting for " + plural(n, "clinician who has", "clinicians who have") + " not linked their account on this PC: " + names
		c.Fix = "Each clinician named above signs in to this PC, opens Writeback Agent and chooses Link account (or runs: wbagent link), then signs in to the clinical system.\n" +
			"If the writebacks were meant for another practice PC, ask the online consultation platform which PC files for that clinician."
	case CodeUserIDUnknown:
		c.Severity, c.Owner = condition.Blocking, condition.PracticeManager
		c.Title = "The clinical system does not know the user id of " + plural(n, "clinician", "clinicians") + ": " + names
		c.Fix = "In the online consultation platform's staff settings, put right the clinician's Medical Record System User ID:\n" +
			emisOrVision(vision) + "\n" +
			"If the id was changed while the clinician had the platform open, they refresh their browser."
	case CodeLinkChanged:
		c.Severity, c.Owner = condition.Info, condition.Clinician
		c.Title = "The clinical user linked on this PC changed for: " + names
		c.Fix = "Close and reopen Writeback Agent's windows (or refresh the online consultation platform in the browser) so they show the new user's writebacks."
	case CodeWrongPractice:
		c.Severity, c.Owner = condition.Blocking, condition.IT
		c.Title = "The clinical system answering is not this practice's"
		c.Fix = "Check the agent's configuration: practice.ods must be this practice's ODS code, and clinical.api_url the practice's Partner API address (wbagentd --check-config)."
	default: // CodeAccessDenied
		c.Code = CodeAccessDenied
		c.Severity, c.Owner = condition.Blocking, condition.IT
		c.Title = "The clinical system refuses the Writeback Agent for a reason it did not name: " + names
		c.Fix = emasPath + "\n" +
			"Check the application is activated and, for each clinician named above, Edit Users and Login Access (Allow Login, Auto Login).\n" +
			"If all is set, make a diagnostics bundle (wbagent diag --out diag.zip) for the Writeback Agent supplier: the outcome number may need configuring."
	}
	return c
}

func emisOrVision(vision bool) string {
	if vision {
		return "for Vision, the forename and surname as in the Vision staff record, separated by one space (e.g. 'James Smith'): not the username, a login id or initials."
	}
	return "for EMIS, the clinician's EMIS username."
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

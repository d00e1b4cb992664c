package client

import (
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// CodeServiceNotRunning is the condition clients show when the service cannot be reached.
// Serialised: never change it.
const CodeServiceNotRunning = "service-not-running"

// OfflineStatus is the status to show when the service cannot be reached: state offline,
// every count zero, and one blocking condition saying so.
func OfflineStatus(err *NotRunningError) *apitype.Status {
	counts := make(map[queue.State]int, len(queue.States))
	for _, s := range queue.States {
		counts[s] = 0
	}
	return &apitype.Status{
		State:  condition.Offline,
		Counts: counts,
		Conditions: []condition.Condition{{
			Code: CodeServiceNotRunning, Severity: condition.Blocking, Owner: condition.IT,
			Title: "The Writeback Agent service is not running",
			Fix: "Start it: Services > Writeback Agent > Start (Windows), or ask IT. " +
				"If it stops again, look in the Event Log (Application, source WritebackAgent). Detail: " + err.Err.Error(),
		}},
	}
}

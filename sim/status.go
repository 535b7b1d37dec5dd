package sim

import (
	"fmt"
	"strings"

	"github.com/replsm/replsm/replica"
)

// statusText renders the instance's status data for `info`: the instance,
// then a line per slot.
func statusText(i replica.Info) string {
	var b strings.Builder
	up := "down"
	if i.LinkUp {
		up = "up"
	}
	fmt.Fprintf(&b, "instance: state=%s master=%s link=%s session=%d attempts_left=%d/%d exhausted=%t in_state=%s\n",
		i.State, or(i.Master, "-"), up, i.Session, i.AttemptsLeft, i.Cap, i.Exhausted, i.InState)
	if i.LastError != "" {
		fmt.Fprintf(&b, "instance: last_error=%q\n", i.LastError)
	}
	for _, s := range i.Slots {
		fmt.Fprintf(&b, "%s: state=%s session=%d attempts_left=%d/%d exhausted=%t probing=%t full_sync_due=%t in_state=%s\n",
			s.ID, s.State, s.Session, s.AttemptsLeft, s.Cap, s.Exhausted, s.Probing, s.FullSyncDue, s.InState)
		st := s.Stats
		fmt.Fprintf(&b, "%s: full_syncs=%d partial_syncs=%d recoveries=%d probes=%d busy_retries=%d stale_dropped=%d exhaustions=%d",
			s.ID, st.FullSyncs, st.PartialSyncs, st.Recoveries, st.Probes, st.BusyRetries, st.StaleDropped, st.Exhaustions)
		if s.Endpoint != "" {
			fmt.Fprintf(&b, " endpoint=%s", s.Endpoint)
		}
		if s.LastError != "" {
			fmt.Fprintf(&b, " last_error=%q", s.LastError)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

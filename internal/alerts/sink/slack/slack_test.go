package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
)

// The message is JSON with a text fallback and blocks; mrkdwn's reserved
// characters are escaped in the blocks.
func TestMessage(t *testing.T) {
	a := alerts.Alert{ID: "x", Status: alerts.Resolved, Tenant: "contoso", Summary: "1603 <spike> & more",
		Code: 1603, CodeSpace: "win32", FirstSeen: time.Unix(0, 0), ResolvedAt: time.Unix(60, 0), Query: "SELECT 1"}
	b, err := Message(&a)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type   string            `json:"type"`
			Text   map[string]string `json:"text"`
			Fields []map[string]string
		} `json:"blocks"`
	}
	if err := json.Unmarshal(b, &msg); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(msg.Text, ":white_check_mark: ") || len(msg.Blocks) != 4 {
		t.Fatalf("message %s", b)
	}
	if got := msg.Blocks[0].Text["text"]; !strings.Contains(got, "1603 &lt;spike&gt; &amp; more") {
		t.Errorf("summary block %q, want mrkdwn escaped", got)
	}
	if n := len(msg.Blocks[1].Fields); n == 0 || n > 10 {
		t.Errorf("%d fields, want 1 to 10 (Slack's limit)", n)
	}
}

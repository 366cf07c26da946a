package teams

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
)

// The message is one Adaptive Card attachment whose first block is the
// summary, coloured by status.
func TestMessage(t *testing.T) {
	a := alerts.Alert{ID: "x", Status: alerts.Firing, Tenant: "contoso", Summary: "spike", Advice: "look",
		Code: 1603, CodeSpace: "win32", FirstSeen: time.Unix(0, 0), Query: "SELECT 1"}
	b, err := Message(&a)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type string           `json:"type"`
				Body []map[string]any `json:"body"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(b, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || len(msg.Attachments) != 1 || msg.Attachments[0].Content.Type != "AdaptiveCard" {
		t.Fatalf("message %s", b)
	}
	body := msg.Attachments[0].Content.Body
	if len(body) < 2 || body[0]["text"] != "spike" || body[0]["color"] != "Attention" || body[1]["type"] != "FactSet" {
		t.Errorf("card body %v", body)
	}
}

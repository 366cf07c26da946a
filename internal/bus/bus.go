// Package bus holds cspwatch's use of NATS JetStream: the names of its
// streams and subjects, the creation of those streams, the client connection
// built from configuration, and the nats-server embedded by single-node runs
// and by tests.
package bus

import "github.com/cspwatch/cspwatch/internal/event"

// Stream and subject names shared by every cspwatch process. They are part of
// the contract in DESIGN.md: they change only by adding.
const (
	// StreamName is the stream of install events.
	StreamName = "CSPWATCH_INSTALL"
	// Subjects is the subject filter of StreamName.
	// Install event subjects start with event.SubjectPrefix:
	// cspwatch.install.<tenant>.<csp>.<outcome> (event.AppendSubject).
	Subjects = event.SubjectPrefix + ">"

	// AlertStreamName is the stream that keeps spike alerts.
	AlertStreamName = "CSPWATCH_ALERTS"
	// AlertSubjects is the subject filter of AlertStreamName.
	AlertSubjects = "cspwatch.alert.>"
	// AlertSubjectPrefix starts spike alert subjects: cspwatch.alert.spike.<tenant>.
	AlertSubjectPrefix = "cspwatch.alert.spike."

	// DeadLetterStreamName is the stream of messages a consumer gave up on.
	DeadLetterStreamName = "CSPWATCH_DLQ"
	// DeadLetterSubjects is the subject filter of DeadLetterStreamName.
	DeadLetterSubjects = "cspwatch.dlq.>"
	// DeadLetterSubjectPrefix starts dead-letter subjects; by convention the
	// rest is the name of the stream the message came from, e.g.
	// cspwatch.dlq.CSPWATCH_INSTALL.
	DeadLetterSubjectPrefix = "cspwatch.dlq."
)

// MsgIDHeader is the JetStream de-duplication header; ingest sets it to the
// event's event_id.
const MsgIDHeader = "Nats-Msg-Id"

package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Persist modes of a stream: when JetStream acknowledges a publish.
const (
	// PersistDefault acknowledges after the write reached the store (the
	// server's file, flushed to the OS; fsync follows the server's
	// sync_interval, or every write with sync_always). With replicas, after a
	// quorum of servers stored it. A 2xx from ingest then survives a crash of
	// the ingest process and of one server of a replicated stream.
	PersistDefault = "default"
	// PersistAsync acknowledges before the write is flushed: faster, and a
	// hard kill of the server can lose acknowledged events.
	PersistAsync = "async"
)

// StreamConfig is what an operator may tune of a cspwatch stream. Storage is
// always file.
type StreamConfig struct {
	Name     string
	Subjects []string
	// Replicas is the number of servers holding the stream: 1 for a single
	// node, 3 for a production cluster.
	Replicas int
	// MaxAge bounds how long messages are kept; 0 keeps them until MaxBytes.
	MaxAge time.Duration
	// MaxBytes bounds the stream's size; -1 is unlimited. The oldest
	// messages are discarded first.
	MaxBytes int64
	// Duplicates is the de-duplication window of Nats-Msg-Id. It must be
	// longer than the longest time an MDM server keeps retrying a webhook, so
	// that a retry of an acknowledged message is recognised as a duplicate.
	Duplicates time.Duration
	// Persist is PersistDefault or PersistAsync.
	Persist string
}

// DefaultStreamConfig returns the install stream's defaults: one replica,
// 30 days, unbounded size, a one-hour duplicate window, default persistence.
func DefaultStreamConfig() StreamConfig {
	return streamConfig(StreamName, Subjects, 30*24*time.Hour, time.Hour)
}

// DeadLetterStreamConfig returns the dead-letter stream's defaults: kept 90
// days so that an operator has time to look, a two-minute duplicate window.
func DeadLetterStreamConfig() StreamConfig {
	return streamConfig(DeadLetterStreamName, DeadLetterSubjects, 90*24*time.Hour, 2*time.Minute)
}

// AlertStreamConfig returns the spike alert stream's defaults: kept 90 days,
// a one-hour duplicate window so that replicas publishing the same alert id
// store it once.
func AlertStreamConfig() StreamConfig {
	return streamConfig(AlertStreamName, AlertSubjects, 90*24*time.Hour, time.Hour)
}

// streamConfig is what every cspwatch stream starts from: one replica,
// unbounded size, default persistence.
func streamConfig(name, subjects string, maxAge, duplicates time.Duration) StreamConfig {
	return StreamConfig{
		Name:       name,
		Subjects:   []string{subjects},
		Replicas:   1,
		MaxAge:     maxAge,
		MaxBytes:   -1,
		Duplicates: duplicates,
		Persist:    PersistDefault,
	}
}

// Validate reports the first setting that JetStream would refuse or that
// breaks cspwatch's guarantees.
func (c StreamConfig) Validate() error {
	switch {
	case c.Name == "":
		return errors.New("stream: empty name")
	case len(c.Subjects) == 0:
		return errors.New("stream: no subjects")
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("stream: replicas %d, want 1 to 5", c.Replicas)
	case c.MaxAge < 0:
		return fmt.Errorf("stream: negative max age %v", c.MaxAge)
	case c.MaxBytes == 0 || c.MaxBytes < -1:
		return fmt.Errorf("stream: max bytes %d, want -1 (unlimited) or positive", c.MaxBytes)
	case c.Duplicates <= 0:
		return fmt.Errorf("stream: duplicate window %v, want positive", c.Duplicates)
	case c.MaxAge > 0 && c.Duplicates > c.MaxAge:
		return fmt.Errorf("stream: duplicate window %v longer than max age %v", c.Duplicates, c.MaxAge)
	case c.Persist != PersistDefault && c.Persist != PersistAsync:
		return fmt.Errorf("stream: persist mode %q, want %q or %q", c.Persist, PersistDefault, PersistAsync)
	}
	return nil
}

// JetStream returns the JetStream form of c.
func (c StreamConfig) JetStream() jetstream.StreamConfig {
	pm := jetstream.DefaultPersistMode
	if c.Persist == PersistAsync {
		pm = jetstream.AsyncPersistMode
	}
	return jetstream.StreamConfig{
		Name:        c.Name,
		Subjects:    c.Subjects,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Replicas:    c.Replicas,
		MaxAge:      c.MaxAge,
		MaxBytes:    c.MaxBytes,
		MaxMsgs:     -1,
		Duplicates:  c.Duplicates,
		PersistMode: pm,
	}
}

// EnsureStream creates the stream of cfg, or updates it to cfg when it
// exists. Settings JetStream cannot change in place (storage, for one) make
// it fail rather than recreate the stream and lose its messages.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := js.CreateOrUpdateStream(ctx, cfg.JetStream())
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
	}
	return s, nil
}
